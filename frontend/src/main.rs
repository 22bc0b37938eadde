//! The Shared Counter page: one counter (`/` is `global`, `/c/{name}` any other), live, with
//! + and − buttons, that keeps working offline.
//!
//! - [`state`]: everything the page knows, as a pure reducer, tested natively; it decides
//!   what goes out on the socket and when.
//! - [`connection`]: the WebSocket, reconnected forever, turned into reducer actions.
//! - [`storage`]: the offline queue in `localStorage`, so presses survive a reload.
//! - [`route`]: which counter the URL names.
//! - [`web`]: the other browser APIs (title, haptics, share, visibility, service worker).
//! - [`components`]: the view.
//!
//! [`CounterPage`] wires them: frames and socket events go into the reducer, and after every
//! render the ops the reducer handed out are written to the socket and what must outlive the
//! page is stored.

mod components;
mod connection;
mod route;
mod state;
mod storage;
mod web;

use gloo_events::{EventListener, EventListenerOptions};
use shared::CounterName;
use yew::prelude::*;

use components::app_bar::AppBar;
use components::change_button::ChangeButton;
use components::count_display::CountDisplay;
use components::invalid_name::InvalidName;
use components::notice::Notice;
use components::open_counter::OpenCounter;
use components::status_badge::StatusBadge;
use connection::{Connection, counter_url};
use route::Route;
use state::{Action, State, Status};
use storage::OfflineQueue;

/// How long refused ops wait before they are sent again.
const RETRY_PAUSE_MS: u32 = 1_500;

#[function_component(App)]
fn app() -> Html {
    match Route::from_path(&web::location_path()) {
        Route::Counter(name) => html! { <CounterPage {name} /> },
        Route::Invalid(given) => html! {
            <div class="app">
                <AppBar />
                <InvalidName given={given} />
            </div>
        },
    }
}

#[derive(PartialEq, Properties)]
struct CounterPageProps {
    /// The counter this page shows, for its whole life (another counter is another page).
    name: CounterName,
}

#[function_component(CounterPage)]
fn counter_page(props: &CounterPageProps) -> Html {
    let name = props.name.clone();
    let queue = use_mut_ref(|| OfflineQueue::new(&name));
    // `_eq`: actions that change nothing (an old `state` frame) cost no render.
    let state = {
        let queue = queue.clone();
        use_reducer_eq(move || {
            let saved = queue.borrow_mut().load();
            State::restore(client_id(), saved, web::now_ms())
        })
    };
    let connection = use_mut_ref(|| None::<Connection>);

    {
        let connection = connection.clone();
        let dispatcher = state.dispatcher();
        let name = name.clone();
        use_effect_with((), move |()| {
            let on_action = Callback::from(move |action: Action| {
                // Presses that waited too long must go before the new socket sends them.
                if action == Action::Connected {
                    dispatcher.dispatch(Action::Expire {
                        now_ms: web::now_ms(),
                    });
                }
                dispatcher.dispatch(action);
            });
            let url = counter_url(name.as_str());
            *connection.borrow_mut() = Some(Connection::open(url, on_action));
            move || drop(connection.borrow_mut().take())
        });
    }

    // The send loop: after a render, write what the reducer has handed to the socket since
    // the last write. The reducer already counts it as out, so a press costs one render.
    {
        let state = state.clone();
        let connection = connection.clone();
        let written = use_mut_ref(|| 0);
        use_effect(move || {
            let mut written = written.borrow_mut();
            if let Some(connection) = connection.borrow().as_ref() {
                for op in state.outbox(*written) {
                    connection.send(&op.frame());
                }
            }
            *written = state.handed_out();
        });
    }

    // What must outlive the page: the last value and the unsettled presses.
    use_effect_with(state.saved(), move |saved| queue.borrow_mut().save(saved));

    // The title carries the value, so a tab or the task switcher shows it.
    {
        let title = match state.displayed_value() {
            Some(value) => format!("{value} · {name} — Shared Counter"),
            None => format!("{name} — Shared Counter"),
        };
        use_effect_with(title, |title| web::set_title(title));
    }

    // After a passing refusal (`unavailable`, `rate_limited`) the refused ops go again after a
    // pause; dropping the timer (the effect's cleanup) cancels it.
    {
        let dispatcher = state.dispatcher();
        use_effect_with(state.retry_wanted(), move |&wanted| {
            let timer = wanted.then(|| {
                gloo_timers::callback::Timeout::new(RETRY_PAUSE_MS, move || {
                    dispatcher.dispatch(Action::RetryDue)
                })
            });
            move || drop(timer)
        });
    }

    let onpress = {
        let dispatcher = state.dispatcher();
        Callback::from(move |delta| {
            web::tick();
            dispatcher.dispatch(Action::Press {
                delta,
                at_ms: web::now_ms(),
            });
        })
    };

    // Keyboard: + = ArrowUp add, - ArrowDown take away, anywhere but in a text field.
    {
        let onpress = onpress.clone();
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

    let share_title = AttrValue::from(format!("{name} — Shared Counter"));
    html! {
        <div class="app">
            <AppBar share_title={share_title} />
            <main class="counter">
                <CountDisplay name={AttrValue::from(name.to_string())} value={state.displayed_value()} />
                <StatusBadge
                    status={state.status()}
                    online={state.online()}
                    pending={state.unsettled_presses()}
                />
                <Notice
                    error={state.error().cloned()}
                    queue_full={state.queue_full()}
                    expired={state.expired()}
                    unsettled={state.unsettled_presses()}
                    live={state.status() == Status::Live}
                />
                <div class="buttons">
                    <ChangeButton delta={-1} onpress={onpress.clone()} />
                    <ChangeButton delta={1} {onpress} />
                </div>
                <p class="keys" aria-hidden="true">
                    { "Keys: " }<kbd>{ "+" }</kbd>{ " or " }<kbd>{ "↑" }</kbd>{ " adds, " }
                    <kbd>{ "−" }</kbd>{ " or " }<kbd>{ "↓" }</kbd>{ " takes one away" }
                </p>
            </main>
            <footer class="foot">
                <details>
                    <summary>{ "Another counter" }</summary>
                    <OpenCounter />
                </details>
            </footer>
        </div>
    }
}

/// The change a key press asks for, if any: not while typing in a field, not with Ctrl,
/// Alt or Meta (browser shortcuts such as zoom), not on auto-repeat.
fn key_delta(event: &web_sys::Event) -> Option<i64> {
    use wasm_bindgen::JsCast;
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

/// A random name for this page load, the prefix of its `op_id`s: ten base-36 digits drawn
/// from `Math.random`, about 51 bits, so two of the counter's clients sharing one is not a
/// worry.
fn client_id() -> String {
    let mut bits = (js_sys::Math::random() * (1u64 << 52) as f64) as u64;
    (0..10)
        .map(|_| {
            let digit = (bits % 36) as u32;
            bits /= 36;
            char::from_digit(digit, 36).expect("a digit below 36 is a base-36 digit")
        })
        .collect()
}

fn main() {
    web::register_service_worker();
    yew::Renderer::<App>::new().render();
}
