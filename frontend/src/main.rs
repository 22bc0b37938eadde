//! The Shared Counter page: one counter (`/` is `global`, `/c/{name}` any other), live, with
//! + and − buttons, that keeps working offline.
//!
//! - [`state`]: everything the page knows, as a pure reducer, tested natively; it decides
//!   what goes out on the socket and when.
//! - [`connection`]: the WebSocket, reconnected forever, turned into reducer actions.
//! - [`storage`]: the offline queue in `localStorage`, so presses survive a reload.
//! - [`deferred`]: the work that follows the number (title, saved value, announcement), after
//!   the paint and at a bounded rate (the title more rarely while the page is visible).
//! - [`keyboard`]: the keys that press + and −.
//! - [`route`]: which counter the URL names.
//! - [`shell`]: the server's first screen, with the value before the app loaded: where the
//!   page starts, where the app renders, and what its first render replaces.
//! - [`web`]: the other browser APIs (title, haptics, share, visibility, service worker,
//!   timing marks).
//! - [`components`]: the view.
//!
//! [`CounterPage`] wires them: frames and socket events go into the reducer, and after every
//! render changed presses are stored, the ops the reducer handed out are written to the
//! socket, and the rest is left to [`deferred`]. A state frame's own work is the number's
//! text.

mod components;
mod connection;
mod deferred;
mod keyboard;
mod keys;
mod route;
mod shell;
mod state;
mod storage;
mod web;

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
use deferred::Deferred;
use gloo_timers::callback::Timeout;
use route::Route;
use state::saved::Confirmed;
use state::{Action, State, Status};
use storage::OfflineQueue;

/// How long refused ops wait before they are sent again.
const RETRY_PAUSE_MS: u32 = 1_500;
/// The shortest time between two writes of the saved value and the announcement: they may lag
/// the number by this much (a press is saved at once).
const FOLLOW_UP_PERIOD_MS: u64 = 1_000;

/// The shortest time between two title changes. A title change is the dearest thing a change
/// can make a page do — about 8 ms of CPU over the browser's processes (history, session,
/// window title), six times a plain page's whole cost of a change (BENCHMARKS.md, "Click to
/// every screen") — so a visible page, which shows the number itself, retitles its tab every
/// 5 s; a hidden one, whose tab may be all that shows the count, every second.
fn title_period_ms() -> u64 {
    if web::document_visible() {
        5_000
    } else {
        1_000
    }
}

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
        let name = name.clone();
        use_reducer_eq(move || {
            let mut saved = queue.borrow_mut().load();
            // The server read the value for this very page load: newer than anything the
            // device kept, whose unsettled presses still count on top of it.
            if let Some(seed) = shell::seed(&name) {
                saved.confirmed = Some(seed);
            }
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

    // The screen reader's announcement of the value follows the number like the title does.
    let announced = use_state_eq(|| None::<i64>);
    // Everything a change triggers besides the number's text, after it has painted.
    let follow_up = {
        let queue = queue.clone();
        let announce = announced.setter();
        use_memo((), move |()| {
            Deferred::new(
                || FOLLOW_UP_PERIOD_MS,
                move |state: UseReducerHandle<State>| {
                    // The last value, shown at once after a reload or offline.
                    queue.borrow_mut().save(&state.saved());
                    announce.set(state.displayed_value());
                },
            )
        })
    };
    // The title carries the value, so a tab or the task switcher shows it.
    let title_follow_up = {
        let name = name.clone();
        use_memo((), move |()| {
            Deferred::new(title_period_ms, move |value: Option<i64>| {
                web::set_title(&title(&name, value));
            })
        })
    };

    // After every render: the presses are stored, then written to the socket, then the rest
    // is handed to the follow-up. A state frame from another client reaches only the last
    // step, and that only compares two keys.
    {
        let state = state.clone();
        let connection = connection.clone();
        let marks = use_mut_ref(Marks::default);
        use_effect(move || {
            let mut marks = marks.borrow_mut();
            // A press is on the device before it can reach the server, so a reload or a
            // crash in between never loses it.
            let ops_changed = marks.ops_revision != Some(state.ops_revision());
            if ops_changed {
                queue.borrow_mut().save(&state.saved());
                marks.ops_revision = Some(state.ops_revision());
            }
            // The reducer already counts what it handed out as out, so a press costs one
            // render.
            if let Some(connection) = connection.borrow().as_ref() {
                for op in state.outbox(marks.written) {
                    connection.send(&op.frame());
                }
            }
            marks.written = state.handed_out();
            // The follow-up is given the newest state whenever anything it writes changed,
            // the ops included: a later run must not store ops older than the ones above.
            let shown = (state.confirmed(), state.displayed_value());
            if ops_changed || marks.shown != Some(shown) {
                if marks.shown.map(|(_, value)| value) != Some(shown.1) {
                    title_follow_up.want(shown.1);
                }
                marks.shown = Some(shown);
                follow_up.want(state.clone());
            }
        });
    }

    // After a passing refusal (`unavailable`, `rate_limited`) the refused ops go again after a
    // pause; dropping the timer (the effect's cleanup) cancels it.
    {
        let dispatcher = state.dispatcher();
        use_effect_with(state.retry_wanted(), move |&wanted| {
            let timer = wanted.then(|| {
                Timeout::new(RETRY_PAUSE_MS, move || {
                    dispatcher.dispatch(Action::RetryDue)
                })
            });
            move || drop(timer)
        });
    }

    // Made once, so the buttons' props stay equal and a state frame does not re-render them.
    let onpress = {
        let dispatcher = state.dispatcher();
        let tick = use_mut_ref(|| None::<Timeout>);
        use_callback((), move |delta, ()| {
            dispatcher.dispatch(Action::Press {
                delta,
                at_ms: web::now_ms(),
            });
            // The haptic tick comes in the next task, once the press is stored and sent.
            *tick.borrow_mut() = Some(Timeout::new(0, web::tick));
        })
    };

    keyboard::use_change_keys(onpress.clone());

    // Made once: the page's name never changes, and these are compared on every render.
    let labels = use_memo((), |()| Labels {
        name: AttrValue::from(name.to_string()),
        share_title: AttrValue::from(title(&name, None)),
    });
    html! {
        <div class="app">
            <AppBar share_title={labels.share_title.clone()} />
            <main class="counter">
                <CountDisplay
                    name={labels.name.clone()}
                    value={state.displayed_value()}
                    announced={*announced}
                />
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

/// What the page last did with the state after a render, so the next render does only what
/// changed.
#[derive(Default)]
struct Marks {
    /// The ops revision last stored; `None` before the first render, which stores what the
    /// page restored (minus the ops that expired meanwhile).
    ops_revision: Option<u64>,
    /// The number of the last frame written to the socket.
    written: u64,
    /// The confirmed and displayed values last handed to the follow-up.
    shown: Option<(Option<Confirmed>, Option<i64>)>,
}

/// The page's fixed labels, made once.
struct Labels {
    /// The counter's name, the page's heading.
    name: AttrValue,
    /// What a share is titled: the title without a value.
    share_title: AttrValue,
}

/// The document's title: the value first, so a narrow tab still shows it.
fn title(name: &CounterName, value: Option<i64>) -> String {
    match value {
        Some(value) => format!("{value} · {name} — Shared Counter"),
        None => format!("{name} — Shared Counter"),
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
    // The wasm is compiled and instantiated: the start-up stage the benchmark and a profiler
    // read as "app start".
    web::mark("app-start");
    web::register_service_worker();
    let Some(root) = shell::app_root() else {
        return;
    };
    yew::Renderer::<App>::with_root_and_props(root.clone(), AppProps { root }).render();
}
