//! The display page, `/c/{name}/display`: the number as large as the screen allows, for a
//! screen at the entrance or a projector. No buttons and no key: anyone may show it.
//!
//! It shows the title, the capacity as a bar with its nearly-full and full states, and a
//! sign that cannot be missed when the screen is not live (since when), so nobody trusts a
//! frozen number. It keeps the screen on (Screen Wake Lock) where the browser has it.

use shared::CounterName;
use yew::prelude::*;

use super::{client_id, title, use_connection};
use crate::components::capacity_state::CapacityState;
use crate::components::gone_notice::GoneNotice;
use crate::components::status_badge::StatusBadge;
use crate::device;
use crate::route::View;
use crate::state::saved::Saved;
use crate::state::{State, Status};
use crate::storage::OfflineQueue;
use crate::wake_lock::{self, WakeLock};
use crate::web;

#[derive(PartialEq, Properties)]
pub struct DisplayPageProps {
    pub name: CounterName,
}

#[function_component(DisplayPage)]
pub fn display_page(props: &DisplayPageProps) -> Html {
    let name = props.name.clone();
    let state = {
        let name = name.clone();
        use_reducer_eq(move || {
            // The last value this device saw is shown at once (marked not live); a display
            // makes no presses, so none are taken over.
            let kept = OfflineQueue::new(&name).load();
            let saved = Saved {
                confirmed: kept.confirmed,
                ops: Vec::new(),
            };
            State::restore(client_id(), saved, web::now_ms())
        })
    };
    let _connection = use_connection(&name, None, &state);
    {
        let name = name.clone();
        use_effect_with((), move |()| {
            device::keep_place(&name, View::Display);
            web::set_title(&title(&name, None));
        });
    }
    let wake = wake_lock::use_wake_lock();

    // When the screen stopped being live; `None` while live.
    let not_live_since = use_state_eq(|| Some(web::now_ms()));
    let ever_live = use_mut_ref(|| false);
    {
        let not_live_since = not_live_since.clone();
        let ever_live = ever_live.clone();
        use_effect_with(state.status(), move |status| {
            if *status == Status::Live {
                *ever_live.borrow_mut() = true;
                not_live_since.set(None);
            } else if not_live_since.is_none() {
                not_live_since.set(Some(web::now_ms()));
            }
        });
    }

    // As large as the screen allows: the digits fill the width, within most of the height.
    // Set on the number's box when the number of digits changes, not on every change.
    let number = use_node_ref();
    {
        let number = number.clone();
        let digits = state
            .displayed_value()
            .map_or(1, |value| value.to_string().len())
            .max(2);
        use_effect_with((digits, state.gone().is_none()), move |(digits, _)| {
            // A bold tabular digit is about 0.6 em wide; 0.7 leaves room for wider faces.
            let width = 92.0 / (0.7 * *digits as f64);
            web::set_style(&number, "font-size", &format!("min(58vh, {width:.1}vw)"));
        });
    }

    if let Some(gone) = state.gone() {
        return html! {
            <div class="app">
                <GoneNotice {gone} name={AttrValue::from(name.to_string())} />
            </div>
        };
    }
    let heading = state
        .meta()
        .title
        .clone()
        .unwrap_or_else(|| name.to_string());
    let value = state.displayed_value();
    let text = value.map(|value| value.to_string());
    // As large as the screen allows: the digits fill the width, within most of the height.
    let capacity_of = state
        .meta()
        .capacity
        .zip(value)
        .map(|(capacity, value)| (value, capacity));
    let live = state.status() == Status::Live;
    html! {
        <div class={classes!("display-page", (!live).then_some("stale"))}>
            <header class="display-head">
                <h1 class="display-title" id="counter-name">{ heading }</h1>
                <StatusBadge status={state.status()} online={None::<u64>} pending={0} />
            </header>
            <main class="display-main" ref={number}>
                if let Some(text) = text {
                    <output class="display-count" data-testid="count"
                        aria-labelledby="counter-name" aria-live="polite">
                        { text }
                    </output>
                } else {
                    <span class="display-count placeholder">{ "…" }</span>
                }
            </main>
            if let Some(since) = *not_live_since {
                <p class="not-live" data-testid="not-live" role="alert">
                    if *ever_live.borrow() {
                        { format!("Not live since {} — the number may be out of date", clock(since)) }
                    } else {
                        { "Connecting… the number may be out of date" }
                    }
                </p>
            }
            <CapacityState state={state.capacity()} of={capacity_of} bar=true />
            <footer class="display-foot">
                <a href={View::Counter.path(&name)}>{ name.to_string() }</a>
                <span>{ match wake {
                    WakeLock::Held => "Screen kept on",
                    WakeLock::Unavailable => "Keep this screen from sleeping in its settings",
                    WakeLock::Asking => "",
                } }</span>
            </footer>
        </div>
    }
}

/// A time of day in the device's time zone, `14:03:07`.
fn clock(ms: u64) -> String {
    let date = js_sys::Date::new(&(ms as f64).into());
    format!(
        "{:02}:{:02}:{:02}",
        date.get_hours(),
        date.get_minutes(),
        date.get_seconds()
    )
}
