//! The counter's settings: title, capacity and warn level (`PATCH`), as everyone sees them.

use shared::owned::{MAX_CAPACITY, MAX_TITLE_LEN};
use shared::{CounterMeta, SettingsPatch};
use web_sys::HtmlInputElement;
use yew::prelude::*;

use crate::api;
use crate::panel::{Note, OwnerContext};

/// The patch that turns `loaded` into what the fields say, sending only what changed: a
/// new capacity with an untouched warn level lets the server reset the warn level to 90 % of
/// it. Empty fields remove the setting.
pub fn patch_from(
    loaded: &CounterMeta,
    title: &str,
    capacity: &str,
    warn_at: &str,
) -> Result<SettingsPatch, String> {
    let title = title.trim();
    if title.chars().count() > MAX_TITLE_LEN {
        return Err(format!("A title is at most {MAX_TITLE_LEN} characters."));
    }
    let number = |text: &str, what: &str| -> Result<Option<u64>, String> {
        match text.trim() {
            "" => Ok(None),
            text => text
                .parse::<u64>()
                .ok()
                .filter(|n| (1..=MAX_CAPACITY).contains(n))
                .map(Some)
                .ok_or_else(|| {
                    format!("The {what} is a whole number from 1 to {MAX_CAPACITY}, or empty.")
                }),
        }
    };
    let capacity = number(capacity, "capacity")?;
    let warn_at = number(warn_at, "warn level")?;
    let capacity_changed = capacity != loaded.capacity;
    let warn_changed = warn_at != loaded.warn_at;
    // An untouched warn level follows a new capacity: the server sets 90 % of it.
    let wanted_warn = if capacity_changed && !warn_changed {
        None
    } else {
        warn_at
    };
    match (capacity, wanted_warn) {
        (None, Some(_)) if warn_changed => {
            return Err("A warn level needs a capacity.".to_owned());
        }
        (Some(capacity), Some(warn)) if warn > capacity => {
            return Err("The warn level cannot be above the capacity.".to_owned());
        }
        _ => {}
    }
    let title = (!title.is_empty()).then(|| title.to_owned());
    Ok(SettingsPatch {
        title: (title != loaded.title).then_some(title),
        capacity: capacity_changed.then_some(capacity),
        // Without a capacity there is no warn level to send.
        warn_at: (capacity.is_some() && warn_changed).then_some(warn_at),
    })
}

#[derive(PartialEq, Properties)]
pub struct SettingsProps {
    pub owner: OwnerContext,
}

#[function_component]
pub fn SettingsForm(props: &SettingsProps) -> Html {
    let loaded = use_state(|| None::<CounterMeta>);
    let note = use_state(Note::default);
    let busy = use_state(|| false);
    let (title, capacity, warn) = (use_node_ref(), use_node_ref(), use_node_ref());
    {
        let loaded = loaded.clone();
        let note = note.clone();
        let name = props.owner.name.clone();
        use_effect_with((), move |()| {
            wasm_bindgen_futures::spawn_local(async move {
                match api::settings(&name).await {
                    Ok(meta) => loaded.set(Some(meta)),
                    Err(err) => note.set(Note::Problem(err.words())),
                }
            });
        });
    }
    let onsubmit = {
        let (loaded, note, busy) = (loaded.clone(), note.clone(), busy.clone());
        let (title, capacity, warn) = (title.clone(), capacity.clone(), warn.clone());
        let owner = props.owner.clone();
        Callback::from(move |event: SubmitEvent| {
            event.prevent_default();
            let Some(current) = (*loaded).clone() else {
                return;
            };
            let value = |field: &NodeRef| {
                field
                    .cast::<HtmlInputElement>()
                    .map(|input| input.value())
                    .unwrap_or_default()
            };
            let patch = match patch_from(&current, &value(&title), &value(&capacity), &value(&warn))
            {
                Ok(patch) => patch,
                Err(words) => return note.set(Note::Problem(words)),
            };
            if patch == SettingsPatch::default() {
                return note.set(Note::Done("Nothing changed.".to_owned()));
            }
            busy.set(true);
            let (loaded, note, busy, owner) =
                (loaded.clone(), note.clone(), busy.clone(), owner.clone());
            wasm_bindgen_futures::spawn_local(async move {
                match api::configure(&owner.name, &owner.key, &patch).await {
                    Ok(meta) => {
                        loaded.set(Some(meta));
                        note.set(Note::Done("Saved: every screen shows it now.".to_owned()));
                    }
                    Err(err) => note.set(Note::Problem(err.words())),
                }
                busy.set(false);
            });
        })
    };
    let Some(meta) = (*loaded).clone() else {
        return html! {
            <section class="owner-section" data-testid="settings">
                <h3>{ "Settings" }</h3>
                { note.view() }
            </section>
        };
    };
    let shown = |value: Option<u64>| value.map(|v| v.to_string()).unwrap_or_default();
    // Keyed on the loaded settings, so the fields show what was saved.
    let key = format!("{meta:?}");
    html! {
        <form class="owner-section settings" data-testid="settings" {onsubmit} novalidate=true
            key={key}>
            <h3>{ "Settings" }</h3>
            <label for="settings-title">{ "Title" }</label>
            <input id="settings-title" ref={title} data-testid="settings-title" type="text"
                maxlength={MAX_TITLE_LEN.to_string()} value={meta.title.clone().unwrap_or_default()} />
            <label for="settings-capacity">{ "Capacity (empty: none)" }</label>
            <input id="settings-capacity" ref={capacity} data-testid="settings-capacity"
                type="number" inputmode="numeric" min="1" value={shown(meta.capacity)} />
            <label for="settings-warn">{ "Nearly full at (empty: 90 % of the capacity)" }</label>
            <input id="settings-warn" ref={warn} data-testid="settings-warn"
                type="number" inputmode="numeric" min="1" value={shown(meta.warn_at)} />
            <button type="submit" data-testid="settings-save" disabled={*busy}>
                { "Save settings" }
            </button>
            { note.view() }
        </form>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta(title: Option<&str>, capacity: Option<u64>, warn_at: Option<u64>) -> CounterMeta {
        CounterMeta {
            title: title.map(str::to_owned),
            capacity,
            warn_at,
        }
    }

    #[test]
    fn only_what_changed_is_sent() {
        let loaded = meta(Some("Hall"), Some(200), Some(180));
        assert_eq!(
            patch_from(&loaded, "Hall", "200", "180"),
            Ok(SettingsPatch::default())
        );
        assert_eq!(
            patch_from(&loaded, " Main hall ", "200", "180").unwrap(),
            SettingsPatch {
                title: Some(Some("Main hall".into())),
                ..SettingsPatch::default()
            }
        );
        // A new capacity with the old warn level: the server picks 90 % of the new one.
        assert_eq!(
            patch_from(&loaded, "Hall", "300", "180").unwrap(),
            SettingsPatch {
                capacity: Some(Some(300)),
                ..SettingsPatch::default()
            }
        );
        // A smaller capacity with the old warn level above it: the server's default again.
        assert_eq!(
            patch_from(&loaded, "Hall", "2", "180").unwrap(),
            SettingsPatch {
                capacity: Some(Some(2)),
                ..SettingsPatch::default()
            }
        );
        assert_eq!(
            patch_from(&loaded, "", "", "").unwrap(),
            SettingsPatch {
                title: Some(None),
                capacity: Some(None),
                warn_at: None,
            }
        );
        assert_eq!(
            patch_from(&loaded, "Hall", "200", "150").unwrap(),
            SettingsPatch {
                warn_at: Some(Some(150)),
                ..SettingsPatch::default()
            }
        );
    }

    #[test]
    fn impossible_settings_are_explained() {
        let loaded = meta(None, None, None);
        assert!(
            patch_from(&loaded, "", "", "5")
                .unwrap_err()
                .contains("needs a capacity")
        );
        assert!(
            patch_from(&loaded, "", "10", "11")
                .unwrap_err()
                .contains("above")
        );
        assert!(
            patch_from(&loaded, "", "0", "")
                .unwrap_err()
                .contains("whole number")
        );
        assert!(
            patch_from(&loaded, "", "ten", "")
                .unwrap_err()
                .contains("whole number")
        );
    }
}
