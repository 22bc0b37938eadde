//! The few browser APIs the page uses besides the socket and storage: the clock, the title,
//! haptics, sharing, navigation, visibility, page events, timing marks and the service worker.
//!
//! Each call checks that the API exists before using it: Web Share, the clipboard and
//! service workers are missing in some browsers and in insecure contexts, and calling an
//! `undefined` would throw into the wasm.

use std::rc::Rc;

use gloo_events::EventListener;
use js_sys::{Function, Reflect};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;

/// Calls `handler` with `owner` on every `event` of `target` while `owner` lives: the listener
/// holds it weakly, so a page-wide listener never keeps a dropped socket or timer alive.
/// Removed when the returned listener is dropped.
pub fn listen<T: 'static>(
    target: &web_sys::EventTarget,
    event: &'static str,
    owner: &Rc<T>,
    handler: impl Fn(&Rc<T>) + 'static,
) -> EventListener {
    let weak = Rc::downgrade(owner);
    EventListener::new(target, event, move |_| {
        if let Some(owner) = weak.upgrade() {
            handler(&owner);
        }
    })
}

/// Milliseconds since the epoch, as the offline queue stamps presses.
pub fn now_ms() -> u64 {
    js_sys::Date::now() as u64
}

/// The path of the page's URL, e.g. `/c/door-2`.
pub fn location_path() -> String {
    web_sys::window()
        .and_then(|window| window.location().pathname().ok())
        .unwrap_or_else(|| "/".to_owned())
}

/// The URL's fragment, with its `#` (empty when there is none).
pub fn location_hash() -> String {
    web_sys::window()
        .and_then(|window| window.location().hash().ok())
        .unwrap_or_default()
}

/// The URL's query, with its `?` (empty when there is none).
pub fn location_search() -> String {
    web_sys::window()
        .and_then(|window| window.location().search().ok())
        .unwrap_or_default()
}

/// Changes the address bar to `url` (same origin) without loading anything or adding a
/// history entry.
pub fn replace_url(url: &str) {
    if let Some(history) = web_sys::window().and_then(|window| window.history().ok()) {
        // Fails only for a URL of another origin, which the app never builds.
        let _ = history.replace_state_with_url(&JsValue::NULL, "", Some(url));
    }
}

/// Whether the service says counter `api_url` does not exist: `Some(true)` for a 404
/// `not_found`, `Some(false)` for any other answer, `None` when no answer came (no
/// network, server down). Asked when a socket cannot open, since a browser does not tell a
/// page why an upgrade failed.
pub async fn counter_missing(api_url: &str) -> Option<bool> {
    let window = web_sys::window()?;
    let response = JsFuture::from(window.fetch_with_str(api_url)).await.ok()?;
    let response: web_sys::Response = response.dyn_into().ok()?;
    if response.status() != 404 {
        return Some(false);
    }
    // A proxy's own 404 page is not the service saying the name is unknown.
    let text = JsFuture::from(response.text().ok()?).await.ok()?;
    Some(
        text.as_string()
            .is_some_and(|text| text.contains("\"not_found\"")),
    )
}

/// Sets one CSS property of the element behind `node`. Through the CSSOM, because the
/// service's Content-Security-Policy (`style-src 'self'`) refuses `style` attributes.
pub fn set_style(node: &yew::NodeRef, property: &str, value: &str) {
    if let Some(element) = node.cast::<web_sys::HtmlElement>() {
        // Fails only for a read-only declaration, which an element's own never is.
        let _ = element.style().set_property(property, value);
    }
}

/// The page's full URL, to share.
pub fn location_href() -> String {
    web_sys::window()
        .and_then(|window| window.location().href().ok())
        .unwrap_or_default()
}

/// Loads another page of the app.
pub fn navigate_to(path: &str) {
    if let Some(window) = web_sys::window() {
        // Navigation only fails for malformed URLs; the paths given here are built from valid
        // counter names.
        let _ = window.location().set_href(path);
    }
}

/// Loads the page again.
pub fn reload() {
    if let Some(window) = web_sys::window() {
        let _ = window.location().reload();
    }
}

/// Sets the document's title, which task switchers and tabs show.
pub fn set_title(title: &str) {
    if let Some(document) = web_sys::window().and_then(|window| window.document()) {
        document.set_title(title);
    }
}

/// A short haptic tick, where the device has a vibrator and the browser allows it.
pub fn tick() {
    if let Some(window) = web_sys::window() {
        let navigator = window.navigator();
        if has_method(&navigator, "vibrate") {
            navigator.vibrate_with_duration(10);
        }
    }
}

/// A User Timing mark (`performance.mark`): the start-up stages the benchmark reads
/// (`bench/src/load_stages.rs`), and any profiler shows.
pub fn mark(name: &str) {
    if let Some(performance) = web_sys::window().and_then(|window| window.performance()) {
        // A mark only fails for names the Navigation Timing API reserves.
        let _ = performance.mark(name);
    }
}

/// Registers the service worker that keeps the app working offline (`pwa/sw.js`).
pub fn register_service_worker() {
    let Some(window) = web_sys::window() else {
        return;
    };
    let navigator = window.navigator();
    if !Reflect::has(&navigator, &"serviceWorker".into()).unwrap_or(false) {
        return;
    }
    // The promise is left to run: a page without a worker still works online.
    let _ = navigator.service_worker().register("/sw.js");
}

/// How a share ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shared {
    /// The system share sheet took it (or the person closed it).
    Sheet,
    /// The link is on the clipboard.
    Copied,
    /// Neither works here; the page shows the link to copy by hand.
    Unavailable,
}

/// Shares `url` through the system share sheet where the browser has one (phones), else
/// copies it to the clipboard.
pub async fn share(title: &str, url: &str) -> Shared {
    let Some(window) = web_sys::window() else {
        return Shared::Unavailable;
    };
    let navigator = window.navigator();
    if has_method(&navigator, "share") {
        let data = web_sys::ShareData::new();
        data.set_title(title);
        data.set_url(url);
        // A rejection means the person closed the sheet: nothing to report.
        let _ = JsFuture::from(navigator.share_with_data(&data)).await;
        return Shared::Sheet;
    }
    if copy_text(url).await {
        Shared::Copied
    } else {
        Shared::Unavailable
    }
}

/// Puts `text` on the clipboard (the Clipboard API); `false` where the browser has none or
/// refuses (insecure contexts, no permission), and the page shows the text to copy by hand.
pub async fn copy_text(text: &str) -> bool {
    let Some(window) = web_sys::window() else {
        return false;
    };
    let navigator = window.navigator();
    let clipboard = Reflect::get(&navigator, &"clipboard".into()).unwrap_or(JsValue::UNDEFINED);
    if clipboard.is_object() && has_method(&clipboard, "writeText") {
        let clipboard: web_sys::Clipboard = clipboard.unchecked_into();
        return JsFuture::from(clipboard.write_text(text)).await.is_ok();
    }
    false
}

/// Whether `object.name` is a function.
fn has_method(object: &JsValue, name: &str) -> bool {
    Reflect::get(object, &name.into()).is_ok_and(|value| value.is_instance_of::<Function>())
}

/// Whether the document is visible now.
pub fn document_visible() -> bool {
    web_sys::window()
        .and_then(|window| window.document())
        .is_none_or(|document| document.visibility_state() == web_sys::VisibilityState::Visible)
}
