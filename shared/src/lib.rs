//! The Shared Counter wire protocol.
//!
//! This crate is the only place that defines what crosses the network between the Yew
//! frontend and the Axum backend (and what the backend publishes on Redis). Everything here
//! is plain data plus validation, so both sides decode and check a message the same way:
//!
//! - [`name`]: [`CounterName`], the validated name of a counter (`global`, `door-3`, …).
//! - [`op`]: [`OpId`] and [`Change`], one validated increment or decrement.
//! - [`message`]: the WebSocket frames ([`ClientMessage`], [`ServerMessage`]) and
//!   [`CounterState`], which is also the REST answer and the Redis pub/sub payload.
//! - [`error`]: [`ErrorCode`] and the JSON error body of the REST API.
//! - [`owned`] and [`history`] (version 2): roles, a counter's settings, the REST bodies of
//!   owned counters, and history entries. Version-1 frames are unchanged byte for byte; a
//!   version-1 client ignores the frames it does not know.
//!
//! Golden tests in `tests/golden.rs` pin the JSON of every message, so a rename here cannot
//! silently break clients that are already installed on people's phones.

pub mod error;
pub mod history;
pub mod message;
pub mod name;
pub mod op;
pub mod owned;

pub use error::{ErrorBody, ErrorCode, ErrorDetail, ProtocolError};
pub use history::{ChangeKind, HistoryEntry, HistoryPage};
pub use message::{
    AuthRequest, ClientMessage, CounterState, Request, ServerMessage, Undo, UndoRequest,
};
pub use name::{CounterName, DEFAULT_COUNTER};
pub use op::{Change, ChangeRequest, Direction, MAX_BY, MAX_LABEL_LEN, MAX_OP_ID_LEN, OpId};
pub use owned::{
    CounterInfo, CounterMeta, Create, CreateRequest, Created, Role, RotatedKey, SetRequest,
    SetValue, Settings, SettingsPatch,
};

/// The largest WebSocket frame a client may send, in bytes; a larger one closes the socket
/// with code 1009. Every valid client frame fits in a tenth of this.
pub const MAX_FRAME_BYTES: usize = 4096;
