//! What happens to the address before the first render.
//!
//! - A link's key (`/c/door-2#staff=KEY`) is kept on the device and taken out of the address
//!   bar at once (`history.replaceState`), so it is not shared, bookmarked or shown on a
//!   screen by accident; the fragment never reached a server to begin with.
//! - An installed app starts at the manifest's `start_url` (`/?start=app`): it goes to the
//!   counter and view its person last worked on, with the key kept on the device, instead of
//!   `global`. A person who opens `/` in a browser gets `global` as always.

use crate::device;
use crate::route::{Route, key_in_fragment};
use crate::web;

/// The query the manifest's `start_url` carries.
const APP_START: &str = "start=app";

/// Settles the address: keeps a key out of its fragment, and sends an app start to its
/// person's last place.
pub fn settle_location() {
    keep_key_from_fragment();
    let path = web::location_path();
    let app_start = web::location_search()
        .trim_start_matches('?')
        .split('&')
        .any(|part| part == APP_START);
    if path == "/" && app_start {
        let target = device::last_place().map_or_else(|| "/".to_owned(), |place| place.path());
        web::replace_url(&target);
    }
}

/// Keeps the key in the address's fragment, if any, and takes the fragment out of the
/// address bar. Says whether a key was kept.
fn keep_key_from_fragment() -> bool {
    let path = web::location_path();
    let fragment = web::location_hash();
    let mut kept = false;
    if let Some((role, key)) = key_in_fragment(&fragment)
        && let Some((name, _)) = Route::from_path(&path).place()
    {
        device::remember_key(name, role, &key);
        kept = true;
    }
    if !fragment.is_empty() {
        web::replace_url(&format!("{path}{}", web::location_search()));
    }
    kept
}

/// A link to the page already open that differs only in its fragment (a new staff link
/// opened in the same tab) does not load a page: the key is kept and the page loaded again,
/// so it presents the new key.
pub fn watch_fragment() {
    let Some(window) = web_sys::window() else {
        return;
    };
    let listener = gloo_events::EventListener::new(&window, "hashchange", |_| {
        if keep_key_from_fragment() {
            web::reload();
        }
    });
    // For the page's whole life.
    listener.forget();
}
