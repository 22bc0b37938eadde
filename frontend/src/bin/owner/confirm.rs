//! The "are you sure" step of what cannot be taken back (reset, set, rotate, delete): the
//! first press asks, in words that say what will happen; only "Yes" does it.
//!
//! A plain function, not a component: the owner view keeps which question is open in one
//! state, and each component costs the app's download several kilobytes.

use yew::prelude::*;

/// What one such button says and does.
pub struct Confirm {
    /// The first button's test id; the answers get `{testid}-confirm` and `{testid}-cancel`.
    pub testid: &'static str,
    pub label: &'static str,
    /// What will happen, asked before doing it.
    pub question: &'static str,
    pub yes: &'static str,
}

/// The button, or the question with its answers while `asking` names this button.
pub fn confirm_button(
    confirm: Confirm,
    asking: &UseStateHandle<Option<&'static str>>,
    busy: bool,
    onconfirm: Callback<()>,
) -> Html {
    let testid = confirm.testid;
    if **asking != Some(testid) {
        let asking = asking.clone();
        return html! {
            <button type="button" class="danger" data-testid={testid} disabled={busy}
                onclick={move |_| asking.set(Some(testid))}>
                { confirm.label }
            </button>
        };
    }
    let (yes, no) = (asking.clone(), asking.clone());
    html! {
        <div class="confirm" role="alertdialog" aria-label={confirm.label}>
            <p class="warning">{ confirm.question }</p>
            <button type="button" class="danger" data-testid={format!("{testid}-confirm")}
                onclick={move |_| { yes.set(None); onconfirm.emit(()); }}>
                { confirm.yes }
            </button>
            <button type="button" data-testid={format!("{testid}-cancel")}
                onclick={move |_| no.set(None)}>
                { "Cancel" }
            </button>
        </div>
    }
}
