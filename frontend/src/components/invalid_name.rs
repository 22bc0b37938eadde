use yew::prelude::*;

use super::open_counter::OpenCounter;

#[derive(PartialEq, Properties)]
pub struct InvalidNameProps {
    /// What the URL gave as the name, to quote back.
    pub given: AttrValue,
}

/// The page for a URL that names no valid counter.
#[function_component]
pub fn InvalidName(props: &InvalidNameProps) -> Html {
    let sentence = if props.given.is_empty() {
        "This link names no counter.".to_owned()
    } else {
        format!(
            "“{}” is not a counter name: names are 1 to 64 letters, digits, “-” or “_”.",
            props.given
        )
    };
    html! {
        <main class="invalid" data-testid="invalid-name">
            <h1>{ "No counter here" }</h1>
            <p>{ sentence }</p>
            <p><a class="home-link" href="/">{ "Open the global counter" }</a></p>
            <OpenCounter />
        </main>
    }
}
