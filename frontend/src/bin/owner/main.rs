//! The owner module (`owner.js` + `owner_bg.wasm`): creating a counter and managing it. The
//! app loads it only on `/new` and when a page's role is owner; its forms, charts, QR codes
//! and REST calls would otherwise be in every visitor's first download (about 50 KB
//! compressed, of a 150 KB budget). The app's `components::create::CreateCounter` and
//! `components::owner::OwnerPanel` load it and call [`mount_create`] or [`mount`].
//!
//! - [`create`]: the "New counter" form.
//! - [`panel`]: the owner view; [`links`] with their [`qr`] codes, [`settings`], [`history`]
//!   (today's chart: [`today`] counts, [`chart`] draws; the CSV), and [`confirm`], the "are
//!   you sure" step of reset, set, rotate and delete.
//! - [`api`]: the REST calls, the key in a header.
//! - [`browser`]: the browser calls only this module makes.
//! - [`keys`]: the keys this device keeps, in the app's own entries.
//! - `web` is the app's own module, compiled in here too, so a browser call is written once.

mod api;
mod browser;
mod chart;
mod confirm;
mod create;
mod history;
mod keys;
mod links;
mod panel;
mod qr;
mod settings;
mod today;
// The app's browser calls; this module uses a few of them.
#[allow(dead_code)]
#[path = "../../web.rs"]
mod web;

use std::cell::RefCell;

use shared::CounterName;
use wasm_bindgen::prelude::*;
use yew::AppHandle;

use create::CreateCounter;
use panel::{OwnerPanel, OwnerPanelProps};

/// The view this module has mounted.
enum Mounted {
    Create(AppHandle<CreateCounter>),
    Panel(AppHandle<OwnerPanel>),
}

thread_local! {
    /// The mounted view, until [`unmount`]; a page shows one at a time.
    static MOUNTED: RefCell<Option<Mounted>> = const { RefCell::new(None) };
}

/// How many event-root numbers the app's own page may use (its root, and portals if it ever
/// has some); see [`leave_the_app_its_root_ids`].
const APP_ROOT_IDS: u32 = 8;

/// Yew numbers the event roots of each wasm instance from 1 and decides which root handles
/// an event by that number, stored on the DOM nodes. This module's views sit inside the
/// app's page, so a view numbered like the app's root would make the app run its own
/// handlers for clicks in here (a click on "Copy link" pressed −; the browser test caught
/// it). So, once, before the first view, renderers on a detached element use up the numbers
/// the app has.
fn leave_the_app_its_root_ids() {
    thread_local! {
        static DONE: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
    }
    if DONE.with(|done| done.replace(true)) {
        return;
    }
    let Some(document) = web_sys::window().and_then(|window| window.document()) else {
        return;
    };
    for _ in 0..APP_ROOT_IDS {
        if let Ok(detached) = document.create_element("div") {
            yew::Renderer::<Nothing>::with_root(detached)
                .render()
                .destroy();
        }
    }
}

/// A view of nothing, for [`leave_the_app_its_root_ids`].
#[yew::function_component]
fn Nothing() -> yew::Html {
    yew::Html::default()
}

fn replace(view: Mounted) {
    unmount();
    MOUNTED.with(|mounted| *mounted.borrow_mut() = Some(view));
}

/// Renders the owner view of `name` into `root`. The key comes as an argument, never in a
/// URL.
#[wasm_bindgen]
pub fn mount(root: web_sys::Element, name: &str, owner_key: String) -> Result<(), JsError> {
    let name: CounterName = name
        .parse()
        .map_err(|_| JsError::new("not a counter name"))?;
    let props = OwnerPanelProps { name, owner_key };
    leave_the_app_its_root_ids();
    replace(Mounted::Panel(
        yew::Renderer::<OwnerPanel>::with_root_and_props(root, props).render(),
    ));
    Ok(())
}

/// Renders the "New counter" form into `root`.
#[wasm_bindgen]
pub fn mount_create(root: web_sys::Element) {
    leave_the_app_its_root_ids();
    replace(Mounted::Create(
        yew::Renderer::<CreateCounter>::with_root(root).render(),
    ));
}

/// Removes the mounted view (the page left it, or its role is no longer owner).
#[wasm_bindgen]
pub fn unmount() {
    match MOUNTED.with(|mounted| mounted.borrow_mut().take()) {
        Some(Mounted::Create(handle)) => handle.destroy(),
        Some(Mounted::Panel(handle)) => handle.destroy(),
        None => {}
    }
}

/// Nothing runs on load: the app calls [`mount`] or [`mount_create`].
fn main() {}
