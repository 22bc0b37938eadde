//! Which state frames one socket is sent: only versions newer than the last it was sent, and
//! at most one per `--state-interval-ms`, the newest when the interval is over.

use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use tokio::sync::watch;
use tokio::time::{Instant, Sleep, sleep_until};

use crate::fanout::StateFrame;
use crate::fanout::hub::Delivery;

/// One socket's view of its counter's channel.
#[pin_project::pin_project]
pub struct StateFeed {
    /// The version last sent: older and equal states are not sent again.
    last_version: u64,
    /// When the last state frame went out, to space the next one from it.
    last_sent: Instant,
    /// The shortest time between two state frames.
    interval: Duration,
    /// A newer state is waiting for `pace`; until then changes need not wake the socket.
    held: bool,
    /// Fires when a held state is due. It lives as long as the socket and is reset in
    /// place, so holding a state back costs no timer allocation.
    #[pin]
    pace: Sleep,
}

impl StateFeed {
    /// The feed of a socket that has just been sent the state at `first_version`.
    pub fn new(first_version: u64, interval: Duration) -> Self {
        let now = Instant::now();
        Self {
            last_version: first_version,
            last_sent: now,
            interval,
            held: false,
            pace: sleep_until(now),
        }
    }

    /// Waits until a newer state is due and returns its pre-built frame and delivery record (to
    /// note the write in); `None` when the channel is gone. Cancel-safe: a wait dropped
    /// half-way (the socket had something else to do) resumes where it was on the next call.
    pub async fn next(
        self: Pin<&mut Self>,
        state: &mut watch::Receiver<Option<StateFrame>>,
    ) -> Option<(Bytes, Arc<Delivery>)> {
        let mut this = self.project();
        loop {
            if *this.held {
                this.pace.as_mut().await;
                *this.held = false;
            } else {
                state.changed().await.ok()?;
                let due = *this.last_sent + *this.interval;
                if Instant::now() < due {
                    // One went out moments ago: this one, or a newer, goes when it is due.
                    *this.held = true;
                    this.pace.as_mut().reset(due);
                    continue;
                }
            }
            // Only the frame's bytes and record are taken (two reference counts): the state
            // itself, with its name, stays in the channel.
            let newest = state.borrow_and_update();
            if let Some(frame) = newest.as_ref()
                && frame.state.version > *this.last_version
            {
                *this.last_version = frame.state.version;
                return Some((frame.frame.clone(), frame.delivery.clone()));
            }
        }
    }

    /// Notes that a state frame went out at `at`: the next one is spaced from it.
    pub fn sent(self: Pin<&mut Self>, at: Instant) {
        *self.project().last_sent = at;
    }
}
