//! The owner's three links — staff, display, owner — each with its QR code and a copy
//! button. Keys travel in the fragment (`#staff=KEY`), which browsers never send to a server.

use gloo_timers::callback::Timeout;
use yew::prelude::*;

use crate::web;

/// How long "Copied" stays on a copy button, in milliseconds.
const COPIED_MS: u32 = 2_500;

/// The links of a counter, absolute so they work pasted anywhere.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Links {
    /// `None` when this device does not hold the staff key (the server keeps only hashes).
    pub staff: Option<String>,
    pub display: String,
    pub owner: String,
}

impl Links {
    /// The links on `origin` (`https://counter.example`) of `name`.
    pub fn new(origin: &str, name: &str, staff_key: Option<&str>, owner_key: &str) -> Self {
        let page = format!("{origin}/c/{name}");
        Self {
            staff: staff_key.map(|key| format!("{page}#staff={key}")),
            display: format!("{page}/display"),
            owner: format!("{page}#owner={owner_key}"),
        }
    }
}

/// One link's card: heading, what it is for, an optional warning, the QR code, the link and
/// its copy button, then `extra` (the staff link's "new link" button).
pub struct Card {
    /// `staff-link`, `display-link` or `owner-link`: the link's test id.
    pub testid: &'static str,
    pub heading: &'static str,
    pub about: &'static str,
    pub warning: Option<&'static str>,
}

/// Draws `card` for `link` with its (memoised) QR code. `copied` names the card whose link
/// was copied last, for its button to say so for a moment.
pub fn link_card(
    card: Card,
    link: &str,
    qr: Html,
    copied: &UseStateHandle<Option<&'static str>>,
    extra: Html,
) -> Html {
    let onclick = {
        let copied = copied.clone();
        let link = link.to_owned();
        let testid = card.testid;
        move |_: MouseEvent| {
            let (copied, link) = (copied.clone(), link.clone());
            wasm_bindgen_futures::spawn_local(async move {
                // Where the clipboard is refused the link stays on screen to select.
                if web::copy_text(&link).await {
                    copied.set(Some(testid));
                    let clear = copied.clone();
                    Timeout::new(COPIED_MS, move || clear.set(None)).forget();
                }
            });
        }
    };
    let done = **copied == Some(card.testid);
    html! {
        <section class={classes!("link-card", card.warning.is_some().then_some("private"))}
            data-link={card.testid}>
            <h3>{ card.heading }</h3>
            <p class="help">{ card.about }</p>
            { card.warning.map(|warning| html! { <p class="warning" role="note">{ warning }</p> }) }
            <div class="link-body">
                { qr }
                <div class="link-text">
                    <a href={link.to_owned()} data-testid={card.testid} rel="noreferrer"
                        target="_blank">{ link }</a>
                    <button type="button" class="copy" data-testid="copy" {onclick}>
                        { if done { "Copied" } else { "Copy link" } }
                    </button>
                    <span class="visually-hidden" role="status">
                        { if done { "Link copied to the clipboard" } else { "" } }
                    </span>
                    { extra }
                </div>
            </div>
        </section>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_go_in_the_fragment_only() {
        let links = Links::new("https://counter.example", "door-2", Some("S3cr-t_"), "0wn");
        assert_eq!(
            links.staff.as_deref(),
            Some("https://counter.example/c/door-2#staff=S3cr-t_")
        );
        assert_eq!(links.display, "https://counter.example/c/door-2/display");
        assert_eq!(links.owner, "https://counter.example/c/door-2#owner=0wn");
        let without = Links::new("http://localhost:8080", "x", None, "k");
        assert_eq!(without.staff, None);
    }
}
