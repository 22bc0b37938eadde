//! The owner view, shown on the counter's page when the socket's role is owner: the three
//! links with QR codes, the settings, set and reset, a new staff link, today's chart and the
//! CSV, and delete.
//!
//! - [`links`]: the links, each with a copy button and a [`qr`] code.
//! - [`settings`]: title, capacity, warn level.
//! - [`history`]: today's chart ([`today`] counts, [`chart`] draws) and the CSV download.
//! - [`confirm`]: the "are you sure" step of reset, set, rotate and delete.
//!
//! Every call carries the owner key in a header ([`crate::api`]); a key is shown only inside
//! a link's fragment.

mod chart;
mod confirm;
mod history;
mod links;
mod qr;
mod settings;
mod today;

use shared::{CounterName, Role, SetRequest};
use web_sys::HtmlInputElement;
use yew::prelude::*;

use crate::{api, keys, web};
use confirm::ConfirmButton;
use history::HistorySection;
use links::{LinkCard, Links};
use settings::SettingsForm;

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
    fn view(&self) -> Html {
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

#[function_component]
pub fn OwnerPanel(props: &OwnerPanelProps) -> Html {
    let owner = OwnerContext {
        name: props.name.clone(),
        key: AttrValue::from(props.owner_key.clone()),
    };
    let staff_key = use_state(|| keys::recall(&props.name, Role::Staff));
    let deleted = use_state(|| false);
    if *deleted {
        return html! {
            <section class="owner-panel" data-testid="deleted">
                <h2>{ "Counter deleted" }</h2>
                <p>{ format!("“{}” and its history are gone; its links no longer work.", props.name) }</p>
                <p><a href="/new">{ "Create a new counter" }</a></p>
            </section>
        };
    }
    let links = Links::new(
        &web::origin(),
        props.name.as_str(),
        staff_key.as_deref(),
        &props.owner_key,
    );
    let ondeleted = {
        let deleted = deleted.clone();
        Callback::from(move |()| deleted.set(true))
    };
    html! {
        <section class="owner-panel" data-testid="owner-panel" aria-labelledby="owner-heading">
            <h2 id="owner-heading">{ "Owner" }</h2>
            <StaffLink owner={owner.clone()} link={links.staff.clone()} {staff_key} />
            <LinkCard testid="display-link" heading="Display link"
                about="For a big screen at the entrance: the number, the title and how full it is; no buttons."
                link={links.display.clone()} />
            <LinkCard testid="owner-link" heading="Owner link"
                about="Opens this owner view on another device."
                warning={AttrValue::from("Keep this link private: anyone who has it controls the counter (settings, reset, delete, history).")}
                link={links.owner.clone()} />
            <SettingsForm owner={owner.clone()} />
            <ValueSection owner={owner.clone()} />
            <HistorySection owner={owner.clone()} />
            <DeleteSection {owner} {ondeleted} />
        </section>
    }
}

#[derive(PartialEq, Properties)]
struct StaffLinkProps {
    owner: OwnerContext,
    link: Option<String>,
    staff_key: UseStateHandle<Option<String>>,
}

/// The staff link when this device holds the staff key (it created the counter, or made the
/// key), and the button that makes a new one: the old one stops working at once.
#[function_component]
fn StaffLink(props: &StaffLinkProps) -> Html {
    let note = use_state(Note::default);
    let busy = use_state(|| false);
    let onconfirm = {
        let (note, busy) = (note.clone(), busy.clone());
        let owner = props.owner.clone();
        let staff_key = props.staff_key.clone();
        Callback::from(move |()| {
            let (note, busy, owner, staff_key) =
                (note.clone(), busy.clone(), owner.clone(), staff_key.clone());
            busy.set(true);
            wasm_bindgen_futures::spawn_local(async move {
                match api::rotate(&owner.name, &owner.key, Role::Staff).await {
                    Ok(key) => {
                        keys::remember(&owner.name, Role::Staff, &key);
                        staff_key.set(Some(key));
                        note.set(Note::Done(
                            "New staff link made: send it to your staff. The old one no longer works."
                                .to_owned(),
                        ));
                    }
                    Err(err) => note.set(Note::Problem(err.words())),
                }
                busy.set(false);
            });
        })
    };
    let rotate = html! {
        <>
            <ConfirmButton testid="rotate-staff" label="New staff link" busy={*busy}
                question="Phones that have the current staff link stop being able to count at once, on every screen, until they get the new link. Make a new staff link?"
                yes="Yes, make a new staff link" {onconfirm} />
            { note.view() }
        </>
    };
    match &props.link {
        Some(link) => html! {
            <LinkCard testid="staff-link" heading="Staff link"
                about="For the people who count: + and − on their phones. Anyone with it can change the number."
                link={link.clone()}>
                { rotate }
            </LinkCard>
        },
        None => html! {
            <section class="link-card" data-link="staff-link">
                <h3>{ "Staff link" }</h3>
                <p class="help">
                    { "The staff link is shown only on the device that created the counter or \
                       last made a new one. Make a new one to see it here; the old one stops working." }
                </p>
                { rotate }
            </section>
        },
    }
}

#[derive(PartialEq, Properties)]
struct SectionProps {
    owner: OwnerContext,
}

/// Set the value, or reset it to 0, after a confirmation; recorded in the history as a set.
#[function_component]
fn ValueSection(props: &SectionProps) -> Html {
    let note = use_state(Note::default);
    let busy = use_state(|| false);
    let field = use_node_ref();
    let set_to = {
        let (note, busy) = (note.clone(), busy.clone());
        let owner = props.owner.clone();
        Callback::from(move |value: i64| {
            let (note, busy, owner) = (note.clone(), busy.clone(), owner.clone());
            busy.set(true);
            wasm_bindgen_futures::spawn_local(async move {
                let request = SetRequest {
                    value,
                    op_id: Some(op_id()),
                };
                match api::set(&owner.name, &owner.key, &request).await {
                    Ok(state) => note.set(Note::Done(format!(
                        "The counter is {} on every screen.",
                        state.value
                    ))),
                    Err(err) => note.set(Note::Problem(err.words())),
                }
                busy.set(false);
            });
        })
    };
    let reset = {
        let set_to = set_to.clone();
        Callback::from(move |()| set_to.emit(0))
    };
    let set = {
        let (field, note) = (field.clone(), note.clone());
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
    html! {
        <section class="owner-section value">
            <h3>{ "Value" }</h3>
            <ConfirmButton testid="reset" label="Reset to 0" busy={*busy}
                question="Set the counter to 0 on every screen? The history keeps the reset."
                yes="Yes, reset to 0" onconfirm={reset} />
            <div class="row">
                <label for="set-value">{ "Set to" }</label>
                <input id="set-value" ref={field} data-testid="set-value" type="number"
                    inputmode="numeric" />
                <ConfirmButton testid="set" label="Set" busy={*busy}
                    question="Set the counter to this value on every screen?"
                    yes="Yes, set it" onconfirm={set} />
            </div>
            { note.view() }
        </section>
    }
}

#[derive(PartialEq, Properties)]
struct DeleteProps {
    owner: OwnerContext,
    ondeleted: Callback<()>,
}

/// Deletes the counter, its keys and its history, after a confirmation.
#[function_component]
fn DeleteSection(props: &DeleteProps) -> Html {
    let note = use_state(Note::default);
    let busy = use_state(|| false);
    let onconfirm = {
        let (note, busy) = (note.clone(), busy.clone());
        let owner = props.owner.clone();
        let ondeleted = props.ondeleted.clone();
        Callback::from(move |()| {
            let (note, busy, owner, ondeleted) =
                (note.clone(), busy.clone(), owner.clone(), ondeleted.clone());
            busy.set(true);
            wasm_bindgen_futures::spawn_local(async move {
                match api::delete(&owner.name, &owner.key).await {
                    Ok(()) => {
                        keys::forget(&owner.name);
                        ondeleted.emit(());
                    }
                    Err(err) => {
                        note.set(Note::Problem(err.words()));
                        busy.set(false);
                    }
                }
            });
        })
    };
    html! {
        <section class="owner-section danger-zone">
            <h3>{ "Delete" }</h3>
            <ConfirmButton testid="delete" label="Delete this counter" busy={*busy}
                question="Delete the counter, its history and all its links for everyone? This cannot be undone."
                yes="Yes, delete it" {onconfirm} />
            { note.view() }
        </section>
    }
}
