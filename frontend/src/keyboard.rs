//! The keyboard shortcuts: + = ArrowUp add one, - ArrowDown take one away, anywhere on the
//! page but in a text field.

use gloo_events::{EventListener, EventListenerOptions};
use wasm_bindgen::JsCast;
use yew::prelude::*;

/// Tells `onpress` the delta of every shortcut key pressed while the page is mounted.
#[hook]
pub fn use_change_keys(onpress: Callback<i64>) {
    use_effect_with((), move |()| {
        // Not passive (gloo-events' default), or `preventDefault` would be ignored and the
        // arrow keys would scroll the page as well.
        let options = EventListenerOptions::enable_prevent_default();
        let listener = web_sys::window().map(|window| {
            EventListener::new_with_options(&window, "keydown", options, move |event| {
                if let Some(delta) = key_delta(event) {
                    event.prevent_default();
                    onpress.emit(delta);
                }
            })
        });
        move || drop(listener)
    });
}

/// The change a key press asks for, if any: not while typing in a field, not with Ctrl,
/// Alt or Meta (browser shortcuts such as zoom), not on auto-repeat.
fn key_delta(event: &web_sys::Event) -> Option<i64> {
    let key = event.dyn_ref::<web_sys::KeyboardEvent>()?;
    if key.ctrl_key() || key.alt_key() || key.meta_key() || key.repeat() {
        return None;
    }
    let in_field = key
        .target()
        .and_then(|target| target.dyn_into::<web_sys::Element>().ok())
        .is_some_and(|element| matches!(element.tag_name().as_str(), "INPUT" | "TEXTAREA"));
    if in_field {
        return None;
    }
    match key.key().as_str() {
        "+" | "=" | "ArrowUp" => Some(1),
        "-" | "ArrowDown" => Some(-1),
        _ => None,
    }
}
