use yew::prelude::*;

use super::share_button::ShareButton;

#[derive(PartialEq, Properties)]
pub struct AppBarProps {
    /// What a share is titled, e.g. "door-2 — Shared Counter"; no share button when `None`.
    #[prop_or_default]
    pub share_title: Option<AttrValue>,
}

/// The bar at the top: the app's mark and name (a link home), "New counter" and the share
/// button.
#[function_component]
pub fn AppBar(props: &AppBarProps) -> Html {
    html! {
        <header class="bar">
            <a class="brand" href="/">
                <img src="/icons/favicon-48.png" alt="" width="28" height="28" />
                <span>{ "Shared Counter" }</span>
            </a>
            <nav class="bar-actions">
                <a class="new-counter" href="/new" data-testid="new-counter">
                    <span aria-hidden="true">{ "+ " }</span>{ "New counter" }
                </a>
                if let Some(title) = &props.share_title {
                    <ShareButton title={title.clone()} />
                }
            </nav>
        </header>
    }
}
