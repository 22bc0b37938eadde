//! The two pages of one counter, and what they share.
//!
//! - [`counter`]: `/` and `/c/{name}`: the number live, and for staff and owners the
//!   buttons, **Undo**, the label and the offline queue; for a viewer of an owned counter the
//!   number and a word on how to count.
//! - [`display`]: `/c/{name}/display`: the number as large as the screen allows, no buttons.
//!
//! Both feed the socket's events into the reducer ([`crate::state`]) the same way
//! ([`use_connection`]).

pub mod counter;
pub mod display;

use std::cell::RefCell;
use std::rc::Rc;

use shared::CounterName;
use yew::prelude::*;

use crate::connection::Connection;
use crate::state::{Action, State};
use crate::web;

/// The counter's socket for the page's life, presenting `key` first on every socket; its
/// events go to the reducer. The send loop writes through the returned handle.
#[hook]
pub fn use_connection(
    name: &CounterName,
    key: Option<String>,
    state: &UseReducerHandle<State>,
) -> Rc<RefCell<Option<Connection>>> {
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
            *connection.borrow_mut() = Some(Connection::open(&name, key, on_action));
            move || drop(connection.borrow_mut().take())
        });
    }
    connection
}

/// The document's title: the value first, so a narrow tab still shows it.
pub fn title(name: &CounterName, value: Option<i64>) -> String {
    match value {
        Some(value) => format!("{value} · {name} — Shared Counter"),
        None => format!("{name} — Shared Counter"),
    }
}

/// A random name for this page load, the prefix of its `op_id`s: ten base-36 digits drawn
/// from `Math.random`, about 51 bits, so two of the counter's clients sharing one is not a
/// worry.
pub fn client_id() -> String {
    let mut bits = (js_sys::Math::random() * (1u64 << 52) as f64) as u64;
    (0..10)
        .map(|_| {
            let digit = (bits % 36) as u32;
            bits /= 36;
            char::from_digit(digit, 36).expect("a digit below 36 is a base-36 digit")
        })
        .collect()
}
