use yew::prelude::*;

#[derive(PartialEq, Properties)]
pub struct ChangeButtonProps {
    /// What one press adds: positive makes the + button, negative the − button.
    pub delta: i64,
    /// Told the delta on every press.
    pub onpress: Callback<i64>,
}

/// The + or − button, with the test id and accessible name the contract fixes, and the keys
/// that press it announced to assistive technology.
#[function_component]
pub fn ChangeButton(props: &ChangeButtonProps) -> Html {
    let (testid, label, symbol, keys) = if props.delta > 0 {
        ("increment", "Increment", "+", "+ = ArrowUp")
    } else {
        // U+2212, the minus sign, is as wide as + where a hyphen would look lost.
        ("decrement", "Decrement", "\u{2212}", "- ArrowDown")
    };
    let delta = props.delta;
    html! {
        <button
            type="button"
            class={classes!("change", testid)}
            data-testid={testid}
            aria-label={label}
            aria-keyshortcuts={keys}
            onclick={props.onpress.reform(move |_| delta)}
        >
            <span aria-hidden="true">{ symbol }</span>
        </button>
    }
}
