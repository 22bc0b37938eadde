//! What the page knows, as a pure reducer: [`State`] changes only through [`State::apply`].
//!
//! Nothing here touches the browser, so the rules below are unit-tested natively
//! (`cargo test -p frontend`):
//!
//! - The number shown is the server's last value plus every press not yet settled
//!   (optimistic), so a press shows at once even on a slow or broken network.
//! - A press is settled by its `ack` or by an `error` frame naming its `op_id`.
//! - The reducer decides what goes out and when: a press made while a socket is open is handed
//!   to it at once (one press, one render), and the page's send loop only writes what was
//!   handed out. Presses that are not settled are handed out again, with the same `op_id`, on
//!   every new socket; the server applies an `op_id` once, so a press lost between "applied"
//!   and "acked" never counts twice.
//! - Within one socket a `state` frame is taken only if its version is newer. The first
//!   `state` frame of a new socket is taken whatever its version: the store may have been
//!   reset, and a page that waited for the old version to come back would freeze.
//! - Unsettled presses outlive the page: [`State::saved`] is what the page keeps in
//!   `localStorage`, and [`State::restore`] takes it back after a reload, ids unchanged. The
//!   queue is bounded: at most [`QUEUE_LIMIT`] presses wait, and none longer than
//!   [`MAX_AGE_MS`] — the server remembers an `op_id` for a day by default, so an older resend
//!   could count twice, and a day-old press at a door is no longer news anyway.
//! - Version 2, roles: a page that holds a key sends it (`auth`) first on every socket, and
//!   no change goes out on a socket before the server's `access` frame has answered that key
//!   with staff or owner. An `access` of `viewer` (or a `forbidden` refusal) settles every
//!   unsettled press at once — they can never count — and, with a key, marks the key as
//!   refused so the page says why. A viewer's presses are ignored.
//! - Undo: the last press can be taken back for [`UNDO_WINDOW_MS`] once the server applied
//!   it, by an `undo` op of its own (shown at once, resent under its id like a press).
//!   Presses merged while offline are not undone one by one.
//! - A counter that is gone (not found, or deleted) drops what it kept and is not retried.
//!
//! The parts: [`reducer`] (the state, its actions and their rules), [`pending_op`] (one
//! unsettled press and its way to the server), [`saved`] (what is kept on the device) and
//! [`status`] (the connection indicator).

mod capacity;
mod pending_op;
mod reducer;
pub mod saved;
mod status;

pub use capacity::Capacity;
pub use reducer::{Action, Gone, Refusal, State};
pub use status::Status;

/// The most presses that may wait for the server; further presses are refused, and said so.
pub const QUEUE_LIMIT: u64 = 1_000;

/// How long a press may wait for the server, in milliseconds: 24 hours, the server's default
/// `--op-ttl-seconds`.
pub const MAX_AGE_MS: u64 = 24 * 60 * 60 * 1000;

/// How long after a press its **Undo** is offered, in milliseconds: long enough to see the
/// mis-tap, short enough that it still means "that press".
pub const UNDO_WINDOW_MS: u64 = 6_000;
