//! The page of one counter, `/` (`global`) and `/c/{name}`.
//!
//! Frames and socket events go into the reducer, and after every render changed presses are
//! stored, the ops the reducer handed out are written to the socket, and the rest is left to
//! [`crate::deferred`]. A state frame's own work is the number's text.
//!
//! What it shows depends on the role the server gives (`access`): staff and owners (everyone
//! on an open counter) get + and −, **Undo**, the label field and the offline queue; a viewer
//! of an owned counter gets the number live and a sentence on how to count instead of
//! buttons that would do nothing.

use gloo_timers::callback::Timeout;
use shared::{CounterName, Role};
use yew::prelude::*;

use super::{client_id, title, use_connection};
use crate::components::app_bar::AppBar;
use crate::components::capacity_state::CapacityState;
use crate::components::change_button::ChangeButton;
use crate::components::count_display::CountDisplay;
use crate::components::gone_notice::GoneNotice;
use crate::components::label_field::LabelField;
use crate::components::notice::Notice;
use crate::components::open_counter::OpenCounter;
use crate::components::owner::OwnerPanel;
use crate::components::role_badge::RoleBadge;
use crate::components::status_badge::StatusBadge;
use crate::components::undo_button::UndoButton;
use crate::components::viewer_notice::ViewerNotice;
use crate::deferred::Deferred;
use crate::device::{self, Standing};
use crate::keyboard;
use crate::route::View;
use crate::shell;
use crate::state::saved::Confirmed;
use crate::state::{Action, State, Status};
use crate::storage::OfflineQueue;
use crate::web;

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
pub struct CounterPageProps {
    /// The counter this page shows, for its whole life (another counter is another page).
    pub name: CounterName,
}

#[function_component(CounterPage)]
pub fn counter_page(props: &CounterPageProps) -> Html {
    let name = props.name.clone();
    let queue = use_mut_ref(|| OfflineQueue::new(&name));
    // The key a link brought to this device (the owner's when it holds both), read once.
    let key = use_memo(name.clone(), device::key_for);
    // `_eq`: actions that change nothing (an old `state` frame) cost no render.
    let state = {
        let queue = queue.clone();
        let name = name.clone();
        let has_key = key.is_some();
        use_reducer_eq(move || {
            let mut saved = queue.borrow_mut().load();
            // The server read the value for this very page load: newer than anything the
            // device kept, whose unsettled presses still count on top of it.
            if let Some(seed) = shell::seed(&name) {
                saved.confirmed = Some(seed);
            }
            let Standing { role, label } = device::standing(&name);
            // A key that just came in a link is not judged by the role of a visit without it.
            let role = role.filter(|role| !has_key || *role >= Role::Staff);
            State::restore(client_id(), saved, web::now_ms()).with_access(has_key, role, label)
        })
    };
    let connection = use_connection(&name, key.as_ref().clone().map(|(_, key)| key), &state);
    {
        let name = name.clone();
        use_effect_with((), move |()| device::keep_place(&name, View::Counter));
    }
    // The role the server gives is remembered for the next visit, with the label.
    {
        let name = name.clone();
        let remembered = (
            state.role_known().then(|| state.role()),
            state.label().map(str::to_owned),
        );
        use_effect_with(remembered, move |(role, label)| {
            if role.is_some() {
                let standing = Standing {
                    role: *role,
                    label: label.clone(),
                };
                if device::standing(&name) != standing {
                    device::keep_standing(&name, &standing);
                }
            }
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
    // The Undo button goes when its window is over.
    {
        let dispatcher = state.dispatcher();
        use_effect_with(state.undo_deadline(), move |&deadline| {
            let timer = deadline.map(|deadline| {
                let wait = deadline.saturating_sub(web::now_ms());
                Timeout::new(u32::try_from(wait).unwrap_or(u32::MAX), move || {
                    dispatcher.dispatch(Action::UndoExpire {
                        now_ms: web::now_ms(),
                    })
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
    let onundo = {
        let dispatcher = state.dispatcher();
        use_callback((), move |(), ()| {
            dispatcher.dispatch(Action::Undo {
                at_ms: web::now_ms(),
            })
        })
    };
    let onlabel = {
        let dispatcher = state.dispatcher();
        use_callback((), move |label: Option<String>, ()| {
            dispatcher.dispatch(Action::SetLabel(label))
        })
    };

    // The reducer ignores a viewer's keys.
    keyboard::use_change_keys(onpress.clone());

    // Made again only when the title changes; compared on every render.
    let labels = use_memo(state.meta().title.clone(), |given| Labels {
        heading: AttrValue::from(given.clone().unwrap_or_else(|| name.to_string())),
        share_title: AttrValue::from(title(&name, None)),
    });
    let label = use_memo(state.label().map(str::to_owned), |label| {
        label.clone().map(AttrValue::from)
    });
    if let Some(gone) = state.gone() {
        return html! {
            <div class="app">
                <AppBar />
                <GoneNotice {gone} name={AttrValue::from(props.name.to_string())} />
            </div>
        };
    }
    let role = state.role();
    let counts = role >= Role::Staff;
    // The owner's panel once the server has accepted the owner key on this page.
    let owner_key = key
        .as_ref()
        .as_ref()
        .filter(|(given, _)| *given == Role::Owner && role == Role::Owner && state.role_known())
        .map(|(_, key)| key.clone());
    let capacity_of = state
        .meta()
        .capacity
        .zip(state.displayed_value())
        .map(|(capacity, value)| (value, capacity));
    html! {
        <div class="app">
            <AppBar share_title={labels.share_title.clone()} />
            <main class="counter">
                <CountDisplay
                    name={labels.heading.clone()}
                    value={state.displayed_value()}
                    announced={*announced}
                />
                <CapacityState state={state.capacity()} of={capacity_of} />
                <div class="chips">
                    <RoleBadge {role} />
                    <StatusBadge
                        status={state.status()}
                        online={state.online()}
                        pending={state.unsettled_presses()}
                    />
                </div>
                <Notice
                    error={state.error().cloned()}
                    queue_full={state.queue_full()}
                    expired={state.expired()}
                    unsettled={state.unsettled_presses()}
                    live={state.status() == Status::Live}
                    key_refused={state.key_refused()}
                />
                if counts {
                    <div class="buttons">
                        <ChangeButton delta={-1} onpress={onpress.clone()} />
                        <ChangeButton delta={1} {onpress} />
                    </div>
                    <div class="staff-row">
                        <UndoButton available={state.undo_available()} {onundo} />
                        <LabelField label={(*label).clone()} onchange={onlabel} />
                    </div>
                    <p class="keys" aria-hidden="true">
                        { "Keys: " }<kbd>{ "+" }</kbd>{ " or " }<kbd>{ "↑" }</kbd>{ " adds, " }
                        <kbd>{ "−" }</kbd>{ " or " }<kbd>{ "↓" }</kbd>{ " takes one away" }
                    </p>
                } else {
                    <ViewerNotice key_refused={state.key_refused()} />
                }
                if let Some(owner_key) = owner_key {
                    <OwnerPanel name={props.name.clone()} {owner_key} />
                }
            </main>
            <footer class="foot">
                <p><a class="home-link" href={View::Display.path(&props.name)}
                    data-testid="open-display">{ "Open the display screen" }</a></p>
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

/// The page's fixed labels, made once per title.
struct Labels {
    /// The page's heading: the counter's title, else its name.
    heading: AttrValue,
    /// What a share is titled: the title without a value.
    share_title: AttrValue,
}
