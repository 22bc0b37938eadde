//! The offline queue's home: one `localStorage` entry per counter holding its last known
//! value and its unsettled presses ([`Saved`]), so both survive a reload, a closed tab or an
//! app restarted offline.
//!
//! Two tabs of one counter share the entry. Each writes the ops it holds and keeps the ops it
//! never saw (the other tab's), so neither wipes out the other's presses; an op both hold is
//! sent by both and applied once, since the server dedupes on `op_id`. A page adopts every op
//! in the entry when it loads.

use std::collections::HashSet;

use shared::{CounterName, OpId};

use crate::state::saved::{Saved, SavedOp};

/// Where a counter's queue lives in `localStorage`. The version lets a later format move on
/// without misreading this one.
fn key(name: &CounterName) -> String {
    format!("shared-counter:v1:{name}")
}

/// One counter's entry, as this page uses it.
pub struct OfflineQueue {
    /// The `localStorage` key.
    key: String,
    /// Every op this page has held: the ones it may drop from the entry once settled. Ops of
    /// other tabs are not in it and are kept.
    known: HashSet<OpId>,
    /// What this page wrote last. Writing the same again would change nothing, so it is
    /// skipped: a press is stored at once and then again with the follow-up's title.
    written: Option<Saved>,
}

impl OfflineQueue {
    pub fn new(name: &CounterName) -> Self {
        Self {
            key: key(name),
            known: HashSet::new(),
            written: None,
        }
    }

    /// What an earlier page left; the ops in it are this page's from now on.
    pub fn load(&mut self) -> Saved {
        let saved = read(&self.key).unwrap_or_default();
        self.known
            .extend(saved.ops.iter().map(|op| op.op_id.clone()));
        saved
    }

    /// Writes this page's state, keeping the ops of other tabs.
    pub fn save(&mut self, mine: &Saved) {
        if self.written.as_ref() == Some(mine) {
            return;
        }
        self.known
            .extend(mine.ops.iter().map(|op| op.op_id.clone()));
        let stored = read(&self.key).unwrap_or_default();
        let merged = merge(stored, mine, &self.known);
        if let (Some(storage), Ok(text)) = (local_storage(), serde_json::to_string(&merged)) {
            // A full or disabled storage only costs persistence across reloads; the page
            // keeps the presses in memory and sends them when it can.
            if storage.set_item(&self.key, &text).is_ok() {
                self.written = Some(mine.clone());
            }
        }
    }
}

/// The entry to write: this page's value and ops, plus the stored ops it never held.
fn merge(stored: Saved, mine: &Saved, known: &HashSet<OpId>) -> Saved {
    let mut ops: Vec<SavedOp> = stored
        .ops
        .into_iter()
        .filter(|op| !known.contains(&op.op_id))
        .collect();
    ops.extend(mine.ops.iter().cloned());
    ops.sort_by_key(|op| op.created_ms);
    Saved {
        confirmed: mine.confirmed.or(stored.confirmed),
        ops,
    }
}

/// `localStorage`, when the browser lets the page have it. Not through gloo-storage: its
/// `LocalStorage` throws into the wasm where storage is disabled (blocked site data, some
/// private modes), and this page must keep working there with its presses in memory; guarding
/// every call would leave the code no shorter than this.
pub(crate) fn local_storage() -> Option<web_sys::Storage> {
    web_sys::window()?.local_storage().ok().flatten()
}

/// The stored entry; `None` when missing or unreadable (an older format, a hand edit).
fn read(key: &str) -> Option<Saved> {
    let text = local_storage()?.get_item(key).ok().flatten()?;
    serde_json::from_str(&text).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::saved::Confirmed;

    fn op(id: &str, delta: i64, created_ms: u64) -> SavedOp {
        SavedOp {
            op_id: OpId::try_from(id.to_owned()).unwrap(),
            delta,
            created_ms,
            label: None,
            undoes: None,
        }
    }

    #[test]
    fn a_tab_keeps_the_ops_of_other_tabs_and_drops_its_settled_ones() {
        let stored = Saved {
            confirmed: Some(Confirmed {
                value: 5,
                version: 2,
            }),
            ops: vec![op("a-1", 1, 10), op("b-1", -1, 20), op("b-2", 1, 30)],
        };
        // This tab (b) made b-1 and b-2; b-1 has been settled since.
        let known: HashSet<OpId> = ["b-1", "b-2", "b-3"]
            .into_iter()
            .map(|id| OpId::try_from(id.to_owned()).unwrap())
            .collect();
        let mine = Saved {
            confirmed: Some(Confirmed {
                value: 4,
                version: 3,
            }),
            ops: vec![op("b-2", 1, 30), op("b-3", 1, 5)],
        };
        let merged = merge(stored, &mine, &known);
        let ids: Vec<_> = merged.ops.iter().map(|op| op.op_id.as_str()).collect();
        assert_eq!(ids, ["b-3", "a-1", "b-2"], "oldest first");
        assert_eq!(merged.confirmed, mine.confirmed);
    }

    #[test]
    fn the_format_is_versioned_per_counter() {
        assert_eq!(key(&"door-2".parse().unwrap()), "shared-counter:v1:door-2");
    }
}
