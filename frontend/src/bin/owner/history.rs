//! Today's chart, read from the history pages, and the CSV download of the whole history.

use gloo_timers::callback::Interval;
use shared::HistoryEntry;
use yew::prelude::*;

use crate::api::{self, ApiError};
use crate::chart::history_chart;
use crate::panel::{Note, OwnerContext};
use crate::today::{self, Today};
use crate::{browser, web};

/// Entries per history page: the most the server gives.
const PAGE: usize = 1000;
/// Pages read back for one day at most: a very busy day shows its latest 20,000 changes.
const MAX_PAGES: usize = 20;
/// How often the chart reads the day again while the owner view is open.
const REFRESH_MS: u32 = 30_000;

/// Today's entries, newest first, and the last one before today if there is one.
async fn read_today(
    owner: &OwnerContext,
    day_start_ms: i64,
) -> Result<Vec<HistoryEntry>, ApiError> {
    let mut entries = Vec::new();
    let mut before: Option<String> = None;
    for _ in 0..MAX_PAGES {
        let page = api::history(&owner.name, &owner.key, before.as_deref(), PAGE).await?;
        entries.extend(page.entries);
        if today::reaches_before(&entries, day_start_ms) || page.next.is_none() {
            break;
        }
        before = page.next;
    }
    Ok(entries)
}

#[derive(PartialEq, Properties)]
pub struct HistoryProps {
    pub owner: OwnerContext,
}

#[function_component]
pub fn HistorySection(props: &HistoryProps) -> Html {
    let today = use_state(|| None::<Today>);
    let note = use_state(Note::default);
    // Bumped to read the day again: by the button, and every half minute.
    let reads = use_state(|| 0_u32);
    {
        let (today, note) = (today.clone(), note.clone());
        let owner = props.owner.clone();
        use_effect_with(*reads, move |_| {
            wasm_bindgen_futures::spawn_local(async move {
                let day_start = browser::local_day_start_ms();
                match read_today(&owner, day_start).await {
                    Ok(entries) => {
                        today.set(Some(today::summarize(
                            &entries,
                            day_start,
                            web::now_ms() as i64,
                        )));
                        note.set(Note::None);
                    }
                    Err(err) => note.set(Note::Problem(err.words())),
                }
            });
        });
    }
    // Counted here, not read from `reads`, which a timer's closure sees only as it was.
    let bump = {
        let reads = reads.setter();
        let count = use_mut_ref(|| 0_u32);
        use_callback((), move |(), ()| {
            *count.borrow_mut() += 1;
            reads.set(*count.borrow());
        })
    };
    {
        let bump = bump.clone();
        use_effect_with((), move |()| {
            let interval = Interval::new(REFRESH_MS, move || bump.emit(()));
            move || drop(interval)
        });
    }
    let refresh = Callback::from(move |_: MouseEvent| bump.emit(()));
    let export_note = use_state(Note::default);
    let exporting = use_state(|| false);
    let export = {
        let (note, busy) = (export_note.clone(), exporting.clone());
        let owner = props.owner.clone();
        Callback::from(move |_: MouseEvent| {
            let (note, busy, owner) = (note.clone(), busy.clone(), owner.clone());
            busy.set(true);
            wasm_bindgen_futures::spawn_local(async move {
                note.set(export_csv(&owner).await);
                busy.set(false);
            });
        })
    };
    html! {
        <section class="owner-section history">
            <h3>{ "Today" }</h3>
            { (*today).as_ref().map(history_chart) }
            { note.view() }
            <div class="row">
                <button type="button" data-testid="history-refresh" onclick={refresh}>
                    { "Refresh" }
                </button>
                <button type="button" data-testid="export-csv" onclick={export}
                    disabled={*exporting}>
                    { "Download history (CSV)" }
                </button>
            </div>
            { export_note.view() }
        </section>
    }
}

/// Downloads the whole history as `{name}-history.csv`: read with the key in a header, then
/// handed to the browser as a file.
async fn export_csv(owner: &OwnerContext) -> Note {
    match api::history_csv(&owner.name, &owner.key).await {
        Ok(csv) => {
            let file = format!("{}-history.csv", owner.name);
            if browser::download(&file, "text/csv", &csv) {
                Note::Done(format!("Saved {file}."))
            } else {
                Note::Problem("This browser refused to save the file.".into())
            }
        }
        Err(err) => Note::Problem(err.words()),
    }
}
