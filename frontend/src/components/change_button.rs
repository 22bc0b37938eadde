use yew::prelude::*;

#[derive(PartialEq, Properties)]
pub struct ChangeButtonProps {
    /// What one press adds: positive makes the + button, negative the − button.
    pub delta: i64,
    /// Told the delta on every press.
    pub onpress: Callback<i64>,
}

/// The + or − button, with the test id and accessible name the contract fixes.
#[function_component]
pub fn ChangeButton(props: &ChangeButtonProps) -> Html {
    let (testid, label, symbol) = if props.delta > 0 {
        ("increment", "Increment", "+")
    } else {
        // U+2212, the minus sign, is as wide as + where a hyphen would look lost.
        ("decrement", "Decrement", "\u{2212}")
    };
    let delta = props.delta;
    html! {
        <button
            type="button"
            class={classes!("change", testid)}
            data-testid={testid}
            aria-label={label}
            onclick={props.onpress.reform(move |_| delta)}
        >
            { symbol }
        </button>
    }
}
