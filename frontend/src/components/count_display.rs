use yew::prelude::*;

#[derive(PartialEq, Properties)]
pub struct CountDisplayProps {
    /// The counter's name, the page's heading.
    pub name: AttrValue,
    /// The number to show; `None` until the server (or this device's memory of it) has
    /// reported once.
    pub value: Option<i64>,
    /// The value screen readers are told, which follows `value` at a calmer pace: a burst of
    /// changes is one announcement, not a queue of stale numbers.
    pub announced: Option<i64>,
}

/// The counter's name and its number, in the `count` element that tests read.
///
/// Before the first report the `count` element is left out altogether and a grey "…" stands
/// in its place: a test (or a person) that sees a `count` can trust it, and never mistakes a
/// placeholder 0 for the real value. Screen readers hear the value through a separate polite
/// live region that names the counter; it is updated after the number, so a state frame
/// changes one text node.
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
    // Made again only when it changes, not on every frame that re-renders the number.
    let announcement = use_memo(
        (props.name.clone(), props.announced),
        |(name, announced)| {
            announced
                .map(|value| AttrValue::from(format!("{name}: {value}")))
                .unwrap_or_default()
        },
    );
    html! {
        <section class="display">
            <h1 class="name" id="counter-name">{ props.name.clone() }</h1>
            { number }
            <p class="visually-hidden" aria-live="polite" aria-atomic="true">{ (*announcement).clone() }</p>
        </section>
    }
}
