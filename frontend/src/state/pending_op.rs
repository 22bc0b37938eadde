//! A press the server has not settled yet, and where it is on its way there.

use shared::{ChangeRequest, ClientMessage, OpId, UndoRequest};

use super::saved::SavedOp;

/// A press that the server has not settled yet.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PendingOp {
    /// The name the server dedupes on; kept across reconnects so a resend is applied once.
    pub op_id: OpId,
    /// The signed change: positive for +, negative for −. It is shown before it is confirmed.
    pub delta: i64,
    /// Where it is on its way to the server; decides whether it goes out, and whether it may
    /// still grow.
    pub delivery: Delivery,
    /// When the first press in it was made (ms since the epoch); it expires
    /// [`super::MAX_AGE_MS`] later.
    pub created_ms: u64,
    /// Where it was made ("north door"), sent with the change and recorded in the history.
    pub label: Option<String>,
    /// For an undo: the change it takes back. Its `delta` is then that change's opposite,
    /// shown at once like a press.
    pub undoes: Option<OpId>,
}

/// Where a pending op is on its way to the server. One enum instead of three flags that had
/// to agree.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Delivery {
    /// It never left the page. Only such an op may absorb a later press: one that left may
    /// already be applied under its id, and growing it would lose the difference.
    Unsent,
    /// Handed to the open socket as the page's `seq`-th frame; its answer is awaited. The send
    /// loop writes every frame numbered above the last one it wrote.
    InFlight { seq: u64 },
    /// It left the page before (on a socket since closed, or before a reload) and goes out
    /// again, under the same id, on the next open socket.
    Resend,
    /// The server refused it for a passing reason (`unavailable`, `rate_limited`): it waits
    /// for [`super::Action::RetryDue`], so a press is never lost and a refusing server is not
    /// asked again in a tight loop.
    AwaitingRetry,
}

impl PendingOp {
    /// A fresh press, not sent yet.
    pub fn new(op_id: OpId, delta: i64, created_ms: u64, label: Option<String>) -> Self {
        Self {
            op_id,
            delta,
            delivery: Delivery::Unsent,
            created_ms,
            label,
            undoes: None,
        }
    }

    /// The undo of `undone`, a change of `undone_delta`, not sent yet.
    pub fn undo(op_id: OpId, undone: OpId, undone_delta: i64, created_ms: u64) -> Self {
        Self {
            undoes: Some(undone),
            ..Self::new(op_id, -undone_delta, created_ms, None)
        }
    }

    /// Whether a later press may be added to it: a press not sent yet (one that left may
    /// already be applied under its id), the same way, from the same place, within the limit.
    pub fn absorbs(&self, delta: i64, label: Option<&str>) -> bool {
        self.delivery == Delivery::Unsent
            && self.undoes.is_none()
            && self.delta.signum() == delta.signum()
            && self.label.as_deref() == label
            && (self.delta + delta).abs() <= shared::MAX_BY
    }

    /// An op kept by an earlier page. It may have reached the server before the reload, so it
    /// is resent and never grown.
    pub fn restored(saved: SavedOp) -> Self {
        Self {
            op_id: saved.op_id,
            delta: saved.delta,
            delivery: Delivery::Resend,
            created_ms: saved.created_ms,
            label: saved.label,
            undoes: saved.undoes,
        }
    }

    /// How it is kept across reloads.
    pub fn saved(&self) -> SavedOp {
        SavedOp {
            op_id: self.op_id.clone(),
            delta: self.delta,
            created_ms: self.created_ms,
            label: self.label.clone(),
            undoes: self.undoes.clone(),
        }
    }

    /// Whether it waits for a socket to go out on.
    pub fn wants_socket(&self) -> bool {
        matches!(self.delivery, Delivery::Unsent | Delivery::Resend)
    }

    /// The number it was handed out under, while it is out on the socket.
    pub fn in_flight(&self) -> Option<u64> {
        match self.delivery {
            Delivery::InFlight { seq } => Some(seq),
            _ => None,
        }
    }

    /// The frame that asks the server for this change.
    pub fn frame(&self) -> ClientMessage {
        if let Some(undone) = &self.undoes {
            return ClientMessage::Undo(UndoRequest {
                op_id: Some(self.op_id.to_string()),
                undoes: undone.to_string(),
            });
        }
        let request = ChangeRequest {
            by: Some(self.delta.abs()),
            op_id: Some(self.op_id.to_string()),
            label: self.label.clone(),
        };
        if self.delta > 0 {
            ClientMessage::Increment(request)
        } else {
            ClientMessage::Decrement(request)
        }
    }
}
