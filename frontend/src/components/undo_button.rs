use yew::prelude::*;

#[derive(PartialEq, Properties)]
pub struct UndoButtonProps {
    /// Whether the last press can be undone now; the button is there only then.
    pub available: bool,
    pub onundo: Callback<()>,
}

/// **Undo** of the last press, for a few seconds after it. Its place is kept while it is
/// absent, so nothing moves under a finger when it comes and goes.
#[function_component]
pub fn UndoButton(props: &UndoButtonProps) -> Html {
    html! {
        <div class="undo-slot">
            if props.available {
                <button type="button" class="undo" data-testid="undo"
                    aria-label="Undo the last press"
                    onclick={props.onundo.reform(|_| ())}>
                    { "Undo" }
                </button>
            }
        </div>
    }
}
