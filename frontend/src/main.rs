//! The Shared Counter page: the `global` counter, live, with + and − buttons.
//!
//! - [`state`]: everything the page knows, as a pure reducer, tested natively.
//! - [`connection`]: the WebSocket, reconnected forever, turned into reducer actions.
//! - [`components`]: the heading, the buttons, the notice line and the status badge.
//!
//! The [`App`] below wires them: frames and socket events go into the reducer, and after
//! every render the ops the reducer wants sent are written to the socket.

mod components;
mod connection;
mod state;

use std::rc::Rc;

use shared::{DEFAULT_COUNTER, OpId};
use yew::prelude::*;

use components::change_button::ChangeButton;
use components::count_heading::CountHeading;
use components::notice::Notice;
use components::status_badge::StatusBadge;
use connection::{Connection, counter_url};
use state::{Action, State, Status};

impl Reducible for State {
    type Action = Action;

    fn reduce(self: Rc<Self>, action: Action) -> Rc<Self> {
        let mut state = Rc::unwrap_or_clone(self);
        state.apply(action);
        Rc::new(state)
    }
}

/// How long refused ops wait before they are sent again.
const RETRY_PAUSE_MS: u32 = 1_500;

#[function_component(App)]
fn app() -> Html {
    // `_eq`: actions that change nothing (an old `state` frame) cost no render.
    let state = use_reducer_eq(|| State::new(client_id()));
    let connection = use_mut_ref(|| None::<Connection>);

    {
        let connection = connection.clone();
        let dispatcher = state.dispatcher();
        use_effect_with((), move |()| {
            let url = counter_url(DEFAULT_COUNTER);
            *connection.borrow_mut() = Some(Connection::open(url, dispatcher.to_callback()));
            move || drop(connection.borrow_mut().take())
        });
    }

    // The send loop: after every render, write what the reducer has queued and report it,
    // so that what was sent on which socket stays the reducer's business.
    {
        let state = state.clone();
        let connection = connection.clone();
        use_effect(move || {
            let sent: Vec<OpId> = match connection.borrow().as_ref() {
                Some(connection) => state
                    .outbox()
                    .take_while(|op| connection.send(&op.frame()))
                    .map(|op| op.op_id.clone())
                    .collect(),
                None => Vec::new(),
            };
            if !sent.is_empty() {
                state.dispatch(Action::Sent {
                    connection: state.connection(),
                    op_ids: sent,
                });
            }
        });
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
        Callback::from(move |delta| dispatcher.dispatch(Action::Press(delta)))
    };

    html! {
        <main class="counter">
            <CountHeading value={state.displayed_value()} />
            <div class="buttons">
                <ChangeButton delta={-1} onpress={onpress.clone()} />
                <ChangeButton delta={1} {onpress} />
            </div>
            <Notice
                error={state.error().map(AttrValue::from)}
                unsettled={state.unsettled_presses()}
                live={state.status() == Status::Live}
            />
            <StatusBadge status={state.status()} online={state.online()} />
        </main>
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
    yew::Renderer::<App>::new().render();
}
