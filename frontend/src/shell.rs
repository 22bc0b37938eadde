//! The server's first screen: `index.html`'s template, filled in with the counter's value by
//! the backend (`backend/src/static_files/shell.rs`), so the number is on screen before this
//! app has loaded.
//!
//! The screen is a picture of the app's first render: inert, hidden from assistive technology
//! (the document's title says the value meanwhile) and without the contract's test ids. So the
//! page's one `count` element is always the app's, and finding it still means the app runs
//! and its buttons work — tests, ours and anyone's, that wait for the number and then press +
//! keep working.
//!
//! The app starts from the value the screen shows ([`seed`]). It renders off the page, into a
//! root that is not in the document yet ([`app_root`]), and once its first render is complete
//! that root takes the screen's place in one DOM operation ([`take_over`]). So the number is on
//! screen the whole time, never twice and never changing on the way (unless this device has
//! unsettled presses to add) — even when Yew yields to the browser in the middle of a long
//! first render. A page without the screen (the plain shell: served offline by the service
//! worker, or when the store did not answer in time) renders straight into the page and starts
//! as before, from what the device kept.

use shared::CounterName;

use crate::state::saved::Confirmed;

/// The id of the server's screen in the page.
const SHELL_ID: &str = "shell";

/// The value and version the server's screen shows for `name`; `None` without such a screen
/// (or one for another counter, which a server would not send).
pub fn seed(name: &CounterName) -> Option<Confirmed> {
    let shell = screen()?;
    if shell.get_attribute("data-name")? != name.as_str() {
        return None;
    }
    Some(Confirmed {
        value: shell.get_attribute("data-value")?.parse().ok()?,
        version: shell.get_attribute("data-version")?.parse().ok()?,
    })
}

/// The element the app renders into: off the page while the server's screen stands in for
/// it, else appended to the body at once.
pub fn app_root() -> Option<web_sys::Element> {
    let document = web_sys::window()?.document()?;
    let root = document.create_element("div").ok()?;
    if document.get_element_by_id(SHELL_ID).is_none() {
        document.body()?.append_with_node_1(&root).ok()?;
    }
    Some(root)
}

/// Puts the app's `root`, its first render complete, in the place of the server's screen.
pub fn take_over(root: &web_sys::Element) {
    if let Some(shell) = screen() {
        // Only fails for a screen without a parent, which `screen` never finds.
        let _ = shell.replace_with_with_node_1(root);
    }
}

fn screen() -> Option<web_sys::Element> {
    web_sys::window()?.document()?.get_element_by_id(SHELL_ID)
}
