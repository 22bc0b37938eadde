//! A button for something that cannot be taken back (reset, rotate, delete): the first press
//! asks, in words that say what will happen; only "Yes" does it.

use yew::prelude::*;

#[derive(PartialEq, Properties)]
pub struct ConfirmProps {
    /// The first button's test id; the answer buttons get `{testid}-confirm` and
    /// `{testid}-cancel`.
    pub testid: &'static str,
    pub label: AttrValue,
    /// What will happen, asked before doing it.
    pub question: AttrValue,
    pub yes: AttrValue,
    /// While the request is under way: the buttons are disabled.
    #[prop_or_default]
    pub busy: bool,
    pub onconfirm: Callback<()>,
}

#[function_component]
pub fn ConfirmButton(props: &ConfirmProps) -> Html {
    let asking = use_state(|| false);
    let ask = {
        let asking = asking.clone();
        Callback::from(move |_: MouseEvent| asking.set(true))
    };
    let cancel = {
        let asking = asking.clone();
        Callback::from(move |_: MouseEvent| asking.set(false))
    };
    let confirm = {
        let asking = asking.clone();
        let onconfirm = props.onconfirm.clone();
        Callback::from(move |_: MouseEvent| {
            asking.set(false);
            onconfirm.emit(());
        })
    };
    if !*asking {
        return html! {
            <button type="button" class="danger" data-testid={props.testid} onclick={ask}
                disabled={props.busy}>
                { props.label.clone() }
            </button>
        };
    }
    html! {
        <div class="confirm" role="alertdialog" aria-label={props.label.clone()}>
            <p class="warning">{ props.question.clone() }</p>
            <button type="button" class="danger" data-testid={format!("{}-confirm", props.testid)}
                onclick={confirm}>
                { props.yes.clone() }
            </button>
            <button type="button" data-testid={format!("{}-cancel", props.testid)} onclick={cancel}>
                { "Cancel" }
            </button>
        </div>
    }
}
