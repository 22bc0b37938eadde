//! The owner view itself: the three links with QR codes, the settings, set and reset, a new
//! staff link, today's chart and the CSV, and delete. Every call carries the owner key in a
//! header ([`crate::api`]); a key is shown only inside a link's fragment.

use shared::{CounterName, Role, SetRequest};
use web_sys::HtmlInputElement;
use yew::prelude::*;

use futures_util::future::LocalBoxFuture;

use crate::confirm::{Confirm, confirm_button};
use crate::history::HistorySection;
use crate::links::{Card, Links, link_card};
use crate::qr;
use crate::settings::SettingsForm;
use crate::{api, browser, keys};

/// What every part of the owner view calls the server with.
#[derive(Clone, PartialEq)]
pub struct OwnerContext {
    pub name: CounterName,
    pub key: AttrValue,
}

/// The outcome of an owner's action, shown under it.
#[derive(Clone, Debug, Default, PartialEq)]
pub enum Note {
    #[default]
    None,
    Done(String),
    Problem(String),
}

impl Note {
    pub fn view(&self) -> Html {
        match self {
            Self::None => html! {},
            Self::Done(words) => html! { <p class="help" role="status">{ words }</p> },
            Self::Problem(words) => html! { <p class="help error" role="alert">{ words }</p> },
        }
    }
}

/// An `op_id` for one owner action, so a retried set is applied once.
fn op_id() -> String {
    let random = (js_sys::Math::random() * 1e15) as u64;
    format!("owner-{random:x}")
}

#[derive(PartialEq, Properties)]
pub struct OwnerPanelProps {
    pub name: CounterName,
    pub owner_key: String,
}

/// The whole owner view. The links, the value and delete are drawn here rather than as
/// components of their own: each component costs the app's first download several KB.
#[function_component]
pub fn OwnerPanel(props: &OwnerPanelProps) -> Html {
    let owner = OwnerContext {
        name: props.name.clone(),
        key: AttrValue::from(props.owner_key.clone()),
    };
    // The server keeps only hashes: the staff link shows where this device holds the key.
    let staff_key = use_state(|| keys::recall(&props.name, Role::Staff));
    let deleted = use_state(|| false);
    // Which confirmation is open, which link was copied last, whether a call is under way.
    let asking = use_state(|| None::<&'static str>);
    let copied = use_state(|| None::<&'static str>);
    let busy = use_state(|| false);
    let staff_note = use_state(Note::default);
    let value_note = use_state(Note::default);
    let delete_note = use_state(Note::default);
    let set_field = use_node_ref();
    let links = Links::new(
        &browser::origin(),
        props.name.as_str(),
        staff_key.as_deref(),
        &props.owner_key,
    );
    // Encoding three codes takes a few milliseconds: once per set of links.
    let codes = use_memo(links.clone(), |links| {
        let code = |link: &str, what: &str| qr::qr_svg(link, format!("QR code of the {what}"));
        [
            links
                .staff
                .as_deref()
                .map(|link| code(link, "staff link"))
                .unwrap_or_default(),
            code(&links.display, "display link"),
            code(&links.owner, "owner link"),
        ]
    });
    if *deleted {
        return html! {
            <section class="owner-panel" data-testid="deleted">
                <h2>{ "Counter deleted" }</h2>
                <p>{ format!("“{}” and its history are gone; its links no longer work.", props.name) }</p>
                <p><a href="/new">{ "Create a new counter" }</a></p>
            </section>
        };
    }

    // Runs one owner call: the buttons wait, its outcome goes to `note`.
    let run = {
        let busy = busy.clone();
        move |note: &UseStateHandle<Note>, call: LocalBoxFuture<'static, Note>| {
            let (busy, note) = (busy.clone(), note.clone());
            busy.set(true);
            wasm_bindgen_futures::spawn_local(async move {
                let outcome = call.await;
                busy.set(false);
                if outcome != Note::None {
                    note.set(outcome);
                }
            });
        }
    };
    let rotate = {
        let (run, note, owner, staff_key) = (
            run.clone(),
            staff_note.clone(),
            owner.clone(),
            staff_key.clone(),
        );
        Callback::from(move |()| {
            let (owner, staff_key) = (owner.clone(), staff_key.clone());
            run(
                &note,
                Box::pin(async move {
                    match api::rotate(&owner.name, &owner.key, Role::Staff).await {
                        Ok(key) => {
                            keys::remember(&owner.name, Role::Staff, &key);
                            staff_key.set(Some(key));
                            Note::Done("New staff link made: send it to your staff. The old one no                                     longer works.".to_owned())
                        }
                        Err(err) => Note::Problem(err.words()),
                    }
                }),
            );
        })
    };
    let set_to = {
        let (run, note, owner) = (run.clone(), value_note.clone(), owner.clone());
        Callback::from(move |value: i64| {
            let owner = owner.clone();
            run(
                &note,
                Box::pin(async move {
                    let request = SetRequest {
                        value,
                        op_id: Some(op_id()),
                    };
                    match api::set(&owner.name, &owner.key, &request).await {
                        Ok(state) => {
                            Note::Done(format!("The counter is {} on every screen.", state.value))
                        }
                        Err(err) => Note::Problem(err.words()),
                    }
                }),
            );
        })
    };
    let reset = {
        let set_to = set_to.clone();
        Callback::from(move |()| set_to.emit(0))
    };
    let set = {
        let (field, note) = (set_field.clone(), value_note.clone());
        Callback::from(move |()| {
            let text = field
                .cast::<HtmlInputElement>()
                .map(|input| input.value())
                .unwrap_or_default();
            match text.trim().parse::<i64>() {
                Ok(value) if value.unsigned_abs() <= shared::owned::MAX_SET_VALUE as u64 => {
                    set_to.emit(value);
                }
                _ => note.set(Note::Problem(
                    "Type a whole number to set the counter to.".into(),
                )),
            }
        })
    };
    let delete = {
        let (note, owner, deleted) = (delete_note.clone(), owner.clone(), deleted.clone());
        Callback::from(move |()| {
            let (owner, deleted) = (owner.clone(), deleted.clone());
            run(
                &note,
                Box::pin(async move {
                    match api::delete(&owner.name, &owner.key).await {
                        Ok(()) => {
                            keys::forget(&owner.name);
                            deleted.set(true);
                            Note::None
                        }
                        Err(err) => Note::Problem(err.words()),
                    }
                }),
            );
        })
    };

    let rotate_button = html! {
        <>
            { confirm_button(Confirm {
                testid: "rotate-staff",
                label: "New staff link",
                question: "Phones that have the current staff link stop being able to count at \
                           once, on every screen, until they get the new link. Make a new staff link?",
                yes: "Yes, make a new staff link",
            }, &asking, *busy, rotate) }
            { staff_note.view() }
        </>
    };
    let [staff_qr, display_qr, owner_qr] = (*codes).clone();
    let staff = match &links.staff {
        Some(link) => link_card(
            Card {
                testid: "staff-link",
                heading: "Staff link",
                about: "For the people who count: + and − on their phones. Anyone with it can \
                    change the number.",
                warning: None,
            },
            link,
            staff_qr,
            &copied,
            rotate_button,
        ),
        None => html! {
            <section class="link-card" data-link="staff-link">
                <h3>{ "Staff link" }</h3>
                <p class="help">
                    { "The staff link is shown only on the device that created the counter or \
                       last made a new one. Make a new one to see it here: the old one stops working." }
                </p>
                { rotate_button }
            </section>
        },
    };
    html! {
        <section class="owner-panel" data-testid="owner-panel" aria-labelledby="owner-heading">
            <h2 id="owner-heading">{ "Owner" }</h2>
            { staff }
            { link_card(Card {
                testid: "display-link",
                heading: "Display link",
                about: "For a big screen at the entrance: the number, the title and how full it \
                        is; no buttons.",
                warning: None,
            }, &links.display, display_qr, &copied, html! {}) }
            { link_card(Card {
                testid: "owner-link",
                heading: "Owner link",
                about: "Opens this owner view on another device.",
                warning: Some("Keep this link private: anyone who has it controls the counter \
                               (settings, reset, delete, history)."),
            }, &links.owner, owner_qr, &copied, html! {}) }
            <SettingsForm owner={owner.clone()} />
            <section class="owner-section value">
                <h3>{ "Value" }</h3>
                { confirm_button(Confirm {
                    testid: "reset",
                    label: "Reset to 0",
                    question: "Set the counter to 0 on every screen? The history keeps the reset.",
                    yes: "Yes, reset to 0",
                }, &asking, *busy, reset) }
                <div class="row">
                    <label for="set-value">{ "Set to" }</label>
                    <input id="set-value" ref={set_field} data-testid="set-value" type="number"
                        inputmode="numeric" />
                    { confirm_button(Confirm {
                        testid: "set",
                        label: "Set",
                        question: "Set the counter to this value on every screen?",
                        yes: "Yes, set it",
                    }, &asking, *busy, set) }
                </div>
                { value_note.view() }
            </section>
            <HistorySection owner={owner.clone()} />
            <section class="owner-section danger-zone">
                <h3>{ "Delete" }</h3>
                { confirm_button(Confirm {
                    testid: "delete",
                    label: "Delete this counter",
                    question: "Delete the counter, its history and all its links for everyone? \
                               This cannot be undone.",
                    yes: "Yes, delete it",
                }, &asking, *busy, delete) }
                { delete_note.view() }
            </section>
        </section>
    }
}
