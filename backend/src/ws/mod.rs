//! The WebSocket endpoint: one socket watching one counter.
//!
//! - `upgrade`: the HTTP upgrade and its admission checks (name, origin, a live fan-out,
//!   the connection caps), so a refused client gets a plain HTTP error; `handshake` the
//!   upgrade itself, which keeps the connection reachable under tungstenite.
//! - `session`: the one loop a socket's task runs, over any `Sink + Stream` of messages.
//!   One task and no channel between halves keeps an idle socket small and a delivery cheap
//!   (BENCHMARKS.md).
//! - `feed`: which state frames the socket is sent, and when (the pacing); `frame` builds a
//!   state frame's bytes once for every socket.
//! - `replies`: the client's frames decoded, rate-limited, applied and answered (ack or
//!   error) in the order they came.

mod feed;
pub mod frame;
mod handshake;
mod replies;
mod session;
mod upgrade;

use std::time::Duration;

pub use self::session::serve;
pub use self::upgrade::upgrade;
use crate::config::Config;

/// Close code 1013, "try again later": the store could not be read when the socket opened,
/// or this replica lost it (see `serving.rs`).
const TRY_AGAIN_LATER: u16 = 1013;

/// How long a closing socket waits, beyond the store's own timeout (which bounds every
/// change), for the replies to its last frames; and then for the client's close frame.
const FLUSH_GRACE: Duration = Duration::from_secs(1);

/// The longest a socket takes to close once the replica is told to stop: its last replies,
/// then the closing handshake. The replica waits this long for its sockets before exiting.
pub fn drain_time(config: &Config) -> Duration {
    config.store_timeout() + FLUSH_GRACE * 2
}
