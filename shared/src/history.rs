//! Version 2: a counter's history, as `GET /api/counters/{name}/history` pages it.

use serde::{Deserialize, Serialize};

/// What a history entry records.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChangeKind {
    Increment,
    Decrement,
    Set,
    Undo,
}

impl ChangeKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Increment => "increment",
            Self::Decrement => "decrement",
            Self::Set => "set",
            Self::Undo => "undo",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Some(match text {
            "increment" => Self::Increment,
            "decrement" => Self::Decrement,
            "set" => Self::Set,
            "undo" => Self::Undo,
            _ => return None,
        })
    }
}

/// One change as recorded in the same atomic step as the change itself.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HistoryEntry {
    /// The server's time of the change, RFC 3339 in UTC with milliseconds.
    pub at: String,
    pub kind: ChangeKind,
    /// What the change added (negative for a decrement; for a set, new minus old).
    pub delta: i64,
    /// The value right after the change.
    pub value: i64,
    /// The version right after the change.
    pub version: u64,
    pub op_id: Option<String>,
    pub label: Option<String>,
}

/// One page of history, newest first; `next` is the `before` cursor of the page after it,
/// null on the last page.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HistoryPage {
    pub entries: Vec<HistoryEntry>,
    #[serde(default)]
    pub next: Option<String>,
}
