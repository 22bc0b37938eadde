use yew::prelude::*;

use crate::state::Gone;

#[derive(PartialEq, Properties)]
pub struct GoneNoticeProps {
    pub gone: Gone,
    /// The counter's name, to quote.
    pub name: AttrValue,
}

/// The page of a counter that does not exist, or was deleted while open.
#[function_component]
pub fn GoneNotice(props: &GoneNoticeProps) -> Html {
    let (testid, heading, sentence) = match props.gone {
        Gone::NotFound => (
            "not-found",
            "No such counter",
            format!(
                "There is no counter called “{}”. Check the link, or create one.",
                props.name
            ),
        ),
        Gone::Deleted => (
            "deleted",
            "This counter is gone",
            format!(
                "The owner deleted “{}”. Its number and history are no longer kept.",
                props.name
            ),
        ),
    };
    html! {
        <main class="invalid" data-testid={testid}>
            <h1>{ heading }</h1>
            <p role="alert">{ sentence }</p>
            <p><a class="home-link" href="/new">{ "Create a counter" }</a></p>
            <p><a class="home-link" href="/">{ "Open the shared counter" }</a></p>
        </main>
    }
}
