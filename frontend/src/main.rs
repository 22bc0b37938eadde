//! The Shared Counter app: one counter per page (`/` is `global`, `/c/{name}` any other),
//! live, with + and − buttons for those who may count, that keeps working offline; and a
//! display page per counter (`/c/{name}/display`).
//!
//! - [`state`]: everything a page knows, as a pure reducer, tested natively; it decides
//!   what goes out on the socket and when.
//! - [`page`]: the counter's page and its display page, which wire the rest together.
//! - [`connection`]: the WebSocket, reconnected until the counter is gone, turned into
//!   reducer actions; it presents the device's key first on every socket.
//! - [`storage`]: the offline queue in `localStorage`, so presses survive a reload;
//!   [`device`]: the keys, role, label and last place this device keeps.
//! - [`start`]: before the first render, a link's key is kept and taken out of the address
//!   bar, and an installed app goes to its person's last counter.
//! - [`deferred`]: the work that follows the number (title, saved value, announcement), after
//!   the paint and at a bounded rate (the title more rarely while the page is visible).
//! - [`keyboard`]: the keys that press + and −.
//! - [`route`]: which counter and view the URL names, and the key in its fragment.
//! - [`shell`]: the server's first screen, with the value before the app loaded: where the
//!   page starts, where the app renders, and what its first render replaces.
//! - [`web`]: the other browser APIs (title, haptics, share, visibility, service worker,
//!   timing marks, history); [`wake_lock`]: the display's screen kept on.
//! - [`components`]: the view.

mod components;
mod connection;
mod deferred;
mod device;
mod keyboard;
mod page;
mod route;
mod shell;
mod start;
mod state;
mod storage;
mod wake_lock;
mod web;

use yew::prelude::*;

use components::app_bar::AppBar;
use components::create::CreateCounter;
use components::invalid_name::InvalidName;
use page::counter::CounterPage;
use page::display::DisplayPage;
use route::Route;

#[derive(PartialEq, Properties)]
struct AppProps {
    /// The element the app renders into, which takes the place of the server's first screen
    /// once the first render is complete (see `shell`).
    root: web_sys::Element,
}

#[function_component(App)]
fn app(props: &AppProps) -> Html {
    // Effects run after the render of every component below: the page is complete.
    let root = props.root.clone();
    use_effect_with((), move |()| {
        shell::take_over(&root);
        web::mark("app-rendered");
    });
    match Route::from_path(&web::location_path()) {
        Route::Counter(name) => html! { <CounterPage {name} /> },
        Route::Display(name) => html! { <DisplayPage {name} /> },
        Route::New => html! {
            <div class="app">
                <AppBar />
                <CreateCounter />
            </div>
        },
        Route::Invalid(given) => html! {
            <div class="app">
                <AppBar />
                <InvalidName given={given} />
            </div>
        },
    }
}

fn main() {
    // The wasm is compiled and instantiated: the start-up stage the benchmark and a profiler
    // read as "app start".
    web::mark("app-start");
    // Before anything reads the address: a key leaves it, an app start finds its counter.
    start::settle_location();
    start::watch_fragment();
    web::register_service_worker();
    let Some(root) = shell::app_root() else {
        return;
    };
    yew::Renderer::<App>::with_root_and_props(root.clone(), AppProps { root }).render();
}
