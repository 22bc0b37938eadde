use yew::prelude::*;

#[derive(PartialEq, Properties)]
pub struct CountDisplayProps {
    /// The counter's name, the page's heading.
    pub name: AttrValue,
    /// The number to show; `None` until the server (or this device's memory of it) has
    /// reported once.
    pub value: Option<i64>,
}

/// The counter's name and its number, in the `count` element that tests read.
///
/// Before the first report the `count` element is left out altogether and a grey "…" stands
/// in its place: a test (or a person) that sees a `count` can trust it, and never mistakes a
/// placeholder 0 for the real value. Screen readers hear every new value through a separate
/// polite live region that names the counter.
#[function_component]
pub fn CountDisplay(props: &CountDisplayProps) -> Html {
    let number = match props.value {
        // `i64`'s `Display` is exactly the contract's text: ASCII digits, a leading '-'.
        Some(value) => html! {
            <output class="count" data-testid="count" aria-labelledby="counter-name">
                { value.to_string() }
            </output>
        },
        None => html! {
            <span class="count placeholder" title="Waiting for the server">{ "…" }</span>
        },
    };
    let announcement = props
        .value
        .map(|value| format!("{}: {value}", props.name))
        .unwrap_or_default();
    html! {
        <section class="display">
            <h1 class="name" id="counter-name">{ props.name.clone() }</h1>
            { number }
            <p class="visually-hidden" aria-live="polite" aria-atomic="true">{ announcement }</p>
        </section>
    }
}
