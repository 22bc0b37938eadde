//! What this device keeps about the counters its person works on, besides the offline queue
//! (`storage.rs`): the keys links brought, the role the server last gave, the label of the
//! place, and the last counter and view, where an installed app opens.
//!
//! Keys travel in a link's fragment only (never a path or query, which reach servers and
//! logs); here each is one `localStorage` entry per counter and role,
//! `shared-counter:v2:key:{name}:{staff|owner}`, the entry the owner's view reads too.
//! Unreadable entries count as absent: a device that lost them shows the counter as a viewer.

use serde::{Deserialize, Serialize};
use shared::{CounterName, Role};

use crate::route::View;
use crate::storage::local_storage;

/// The entry that holds `name`'s key for `role`.
fn key_entry(name: &CounterName, role: Role) -> String {
    let role = match role {
        Role::Viewer => "viewer",
        Role::Staff => "staff",
        Role::Owner => "owner",
    };
    format!("shared-counter:v2:key:{name}:{role}")
}

/// Keeps a key that a link brought. A full or disabled storage only costs the key after a
/// reload: the page holds it meanwhile.
pub fn remember_key(name: &CounterName, role: Role, key: &str) {
    if let Some(storage) = local_storage() {
        let _ = storage.set_item(&key_entry(name, role), key);
    }
}

/// The key this page presents for `name`: the owner's if the device holds it (an owner may
/// do everything staff may), else the staff key.
pub fn key_for(name: &CounterName) -> Option<(Role, String)> {
    let storage = local_storage()?;
    [Role::Owner, Role::Staff].into_iter().find_map(|role| {
        let key = storage.get_item(&key_entry(name, role)).ok().flatten()?;
        (!key.is_empty()).then_some((role, key))
    })
}

/// What the device remembers of its standing with one counter. A stored format: later
/// releases must still read it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Standing {
    /// The role the server gave last, shown at once on the next visit (no buttons flashing
    /// on a viewer's screen) until the server says it again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<Role>,
    /// The label sent with every press from here ("North door").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
}

fn standing_entry(name: &CounterName) -> String {
    format!("shared-counter:v2:standing:{name}")
}

/// What the device remembers of `name`.
pub fn standing(name: &CounterName) -> Standing {
    read(&standing_entry(name)).unwrap_or_default()
}

/// Remembers `standing` for `name`.
pub fn keep_standing(name: &CounterName, standing: &Standing) {
    write(&standing_entry(name), standing);
}

/// Where an installed app opens: the counter and view last used on this device.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Place {
    pub name: CounterName,
    /// `counter` or `display`.
    pub view: String,
}

impl Place {
    /// The path to open; the key, if any, is on the device already.
    pub fn path(&self) -> String {
        let view = if self.view == "display" {
            View::Display
        } else {
            View::Counter
        };
        view.path(&self.name)
    }
}

const LAST_PLACE: &str = "shared-counter:v2:last-place";

/// Remembers that this device works on `view` of `name` now.
pub fn keep_place(name: &CounterName, view: View) {
    let view = match view {
        View::Counter => "counter",
        View::Display => "display",
    };
    let place = Place {
        name: name.clone(),
        view: view.to_owned(),
    };
    if read::<Place>(LAST_PLACE).as_ref() != Some(&place) {
        write(LAST_PLACE, &place);
    }
}

/// The place the device last worked on, if any.
pub fn last_place() -> Option<Place> {
    read(LAST_PLACE)
}

fn read<T: serde::de::DeserializeOwned>(entry: &str) -> Option<T> {
    let text = local_storage()?.get_item(entry).ok().flatten()?;
    serde_json::from_str(&text).ok()
}

fn write<T: Serialize>(entry: &str, value: &T) {
    if let (Some(storage), Ok(text)) = (local_storage(), serde_json::to_string(value)) {
        // Like the queue: a full or disabled storage costs only memory across reloads.
        let _ = storage.set_item(entry, &text);
    }
}
