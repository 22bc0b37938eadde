//! The Screen Wake Lock (`navigator.wakeLock.request('screen')`) for the display page: a
//! screen at the entrance must not go dark. Browsers release the lock whenever the page is
//! hidden, so it is asked for again each time the page becomes visible. Where the browser
//! lacks the API (or refuses: battery saver, no user gesture on some), the page says so.
//! Reached through `Reflect`, since web-sys marks the API unstable.

use std::cell::RefCell;
use std::rc::Rc;

use js_sys::{Function, Promise, Reflect};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use yew::prelude::*;

use crate::web;

/// Whether the screen is kept on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WakeLock {
    /// Asked for, not answered yet.
    Asking,
    /// Granted: the screen stays on while the page is visible.
    Held,
    /// The browser has no wake lock, or refused it.
    Unavailable,
}

/// Holds the screen on while the component is mounted; returns how that went.
#[hook]
pub fn use_wake_lock() -> WakeLock {
    let status = use_state_eq(|| WakeLock::Asking);
    {
        let status = status.setter();
        use_effect_with((), move |()| {
            let sentinel = Rc::new(RefCell::new(None::<JsValue>));
            request(&sentinel, status.clone());
            let listener = web_sys::window()
                .and_then(|window| window.document())
                .map(|document| {
                    let sentinel = sentinel.clone();
                    gloo_events::EventListener::new(&document, "visibilitychange", move |_| {
                        if web::document_visible() {
                            request(&sentinel, status.clone());
                        }
                    })
                });
            move || {
                drop(listener);
                if let Some(lock) = sentinel.borrow_mut().take() {
                    call(&lock, "release", None);
                }
            }
        });
    }
    *status
}

/// Asks for the lock, keeping the sentinel that releases it.
fn request(sentinel: &Rc<RefCell<Option<JsValue>>>, status: UseStateSetter<WakeLock>) {
    let Some(window) = web_sys::window() else {
        return;
    };
    let wake_lock =
        Reflect::get(&window.navigator(), &"wakeLock".into()).unwrap_or(JsValue::UNDEFINED);
    let Some(promise) = call(&wake_lock, "request", Some(&"screen".into())) else {
        status.set(WakeLock::Unavailable);
        return;
    };
    let Ok(promise) = promise.dyn_into::<Promise>() else {
        status.set(WakeLock::Unavailable);
        return;
    };
    let sentinel = sentinel.clone();
    wasm_bindgen_futures::spawn_local(async move {
        match JsFuture::from(promise).await {
            Ok(lock) => {
                *sentinel.borrow_mut() = Some(lock);
                status.set(WakeLock::Held);
            }
            Err(_) => status.set(WakeLock::Unavailable),
        }
    });
}

/// Calls `object.name(argument)` if it is a method; its result, or `None`.
fn call(object: &JsValue, name: &str, argument: Option<&JsValue>) -> Option<JsValue> {
    if !object.is_object() {
        return None;
    }
    let method = Reflect::get(object, &name.into())
        .ok()?
        .dyn_into::<Function>()
        .ok()?;
    match argument {
        Some(argument) => method.call1(object, argument).ok(),
        None => method.call0(object).ok(),
    }
}
