use yew::prelude::*;

#[derive(PartialEq, Properties)]
pub struct ViewerNoticeProps {
    /// Whether this device held a staff link that the server no longer accepts.
    pub key_refused: bool,
}

/// What a viewer of an owned counter sees instead of buttons that would do nothing.
#[function_component]
pub fn ViewerNotice(props: &ViewerNoticeProps) -> Html {
    html! {
        <div class="viewer-notice" data-testid="owned-notice">
            if props.key_refused {
                <p class="error" role="alert">
                    { "Your staff link no longer works; ask the owner for the new one." }
                </p>
            }
            <p>
                { "This counter is owned: you can watch it live here. " }
                { "Staff count with the staff link the owner gives them." }
            </p>
        </div>
    }
}
