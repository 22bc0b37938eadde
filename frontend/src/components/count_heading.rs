use yew::prelude::*;

#[derive(PartialEq, Properties)]
pub struct CountHeadingProps {
    /// The number to show; `None` until the server has reported once.
    pub value: Option<i64>,
}

/// "Shared Counter: 42", with the number in the `count` element that tests read.
///
/// Before the first report the `count` element is left out altogether and a grey "…" stands
/// in its place: a test (or a person) that sees a `count` can trust it, and never mistakes a
/// placeholder 0 for the real value.
#[function_component]
pub fn CountHeading(props: &CountHeadingProps) -> Html {
    let number = match props.value {
        // `i64`'s `Display` is exactly the contract's text: ASCII digits, a leading '-'.
        Some(value) => html! {
            <span class="count" data-testid="count" aria-live="polite">{ value.to_string() }</span>
        },
        None => html! {
            <span class="count placeholder" title="Waiting for the server">{ "…" }</span>
        },
    };
    html! {
        <h1>
            <span class="title">{ "Shared Counter: " }</span>
            { number }
        </h1>
    }
}
