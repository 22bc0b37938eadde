//! What the page keeps on the device for one counter: the server's last word and the presses
//! not settled yet. This is a stored format (JSON in `localStorage`, see [`crate::storage`]):
//! a page of the next release must still read what this one wrote.

use serde::{Deserialize, Serialize};
use shared::OpId;

/// The server's word on the counter: the last value it reported and the version it carried.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Confirmed {
    /// The value every client will converge on, without this page's unsettled presses.
    pub value: i64,
    /// Orders the reports within one socket, so an older one never overwrites a newer one.
    pub version: u64,
}

/// What the page keeps across reloads for one counter.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Saved {
    /// The server's last word, shown at once after a reload (and offline) until a fresh one
    /// arrives.
    pub confirmed: Option<Confirmed>,
    /// The presses not settled yet, oldest first.
    pub ops: Vec<SavedOp>,
}

/// One unsettled press as it is kept across reloads.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SavedOp {
    /// Sent again under the same id, so the server applies it once.
    pub op_id: OpId,
    /// The signed change.
    pub delta: i64,
    /// When it was made, in ms since the epoch.
    pub created_ms: u64,
    /// Version 2: where it was made; absent in what version 1 kept.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    /// Version 2: the change an undo takes back; absent for a press.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub undoes: Option<OpId>,
}
