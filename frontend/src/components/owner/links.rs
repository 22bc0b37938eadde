//! The owner's three links — staff, display, owner — each with its QR code and a copy
//! button. Keys travel in the fragment (`#staff=KEY`), which browsers never send to a server.

use gloo_timers::callback::Timeout;
use yew::prelude::*;

use super::qr::Qr;
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

#[derive(PartialEq, Properties)]
pub struct LinkCardProps {
    /// `staff-link`, `display-link` or `owner-link`: the link's test id.
    pub testid: &'static str,
    pub heading: AttrValue,
    /// What the link is for, in a sentence.
    pub about: AttrValue,
    pub link: AttrValue,
    /// A warning shown above the link (the owner link's).
    #[prop_or_default]
    pub warning: Option<AttrValue>,
    #[prop_or_default]
    pub children: Html,
}

/// One link: heading, what it is for, the link itself, a copy button and its QR code.
#[function_component]
pub fn LinkCard(props: &LinkCardProps) -> Html {
    let copied = use_state(|| None::<bool>);
    let timer = use_mut_ref(|| None::<Timeout>);
    let onclick = {
        let copied = copied.clone();
        let link = props.link.clone();
        Callback::from(move |_: MouseEvent| {
            let copied = copied.clone();
            let link = link.clone();
            let timer = timer.clone();
            wasm_bindgen_futures::spawn_local(async move {
                copied.set(Some(web::copy_text(&link).await));
                let clear = copied.clone();
                *timer.borrow_mut() = Some(Timeout::new(COPIED_MS, move || clear.set(None)));
            });
        })
    };
    let button_text = match *copied {
        Some(true) => "Copied",
        Some(false) => "Select and copy the link by hand",
        None => "Copy link",
    };
    html! {
        <section class={classes!("link-card", props.warning.is_some().then_some("private"))}
            data-link={props.testid}>
            <h3>{ props.heading.clone() }</h3>
            <p class="help">{ props.about.clone() }</p>
            { props.warning.as_ref().map(|warning| html! {
                <p class="warning" role="note">{ warning.clone() }</p>
            }) }
            <div class="link-body">
                <Qr text={props.link.clone()} label={format!("QR code of the {}", props.heading)} />
                <div class="link-text">
                    <a href={props.link.clone()} data-testid={props.testid} rel="noreferrer"
                        target="_blank">{ props.link.clone() }</a>
                    <button type="button" class="copy" data-testid="copy" {onclick}>
                        { button_text }
                    </button>
                    <span class="visually-hidden" role="status">
                        { if *copied == Some(true) { "Link copied to the clipboard" } else { "" } }
                    </span>
                    { props.children.clone() }
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
