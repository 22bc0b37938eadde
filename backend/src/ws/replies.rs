//! The replies to one socket's frames: each decoded and rate-limited as it is read, applied
//! in the store alongside the others, and answered (ack or error) in the order the frames
//! came. Version 2: an `auth` frame sets the socket's key (answered with an `access` frame),
//! and a change from a socket whose role is `viewer` is refused `forbidden` at once; the
//! store checks the key again in the change's own atomic step.

use std::future::Future;
use std::pin::Pin;

use futures_util::stream::FuturesOrdered;
use futures_util::{FutureExt, StreamExt};
use shared::{
    ClientMessage, CounterName, ErrorCode, OpId, ProtocolError, Request, Role, ServerMessage,
};

use crate::access::{KeyHash, Standing};
use crate::config::Config;
use crate::counters::Counters;
use crate::rate_limit::{self, OpLimiter};
use crate::store::Write;

/// How many of one socket's frames may wait for the store at once. Waiting for each change
/// before reading the next capped a busy socket at one store round trip per change
/// (BENCHMARKS.md); past this many, the socket is not read until a reply goes out, so a
/// flood still waits in its own TCP buffer.
const MAX_IN_FLIGHT: usize = 64;

/// The reply to one client frame, ready or still waiting for the store.
type Reply = Pin<Box<dyn Future<Output = String> + Send>>;

/// One socket's replies, ready or waiting, in the order of its frames.
pub struct Replies<'a> {
    /// Applies the changes and counts the refusals.
    counters: &'a Counters,
    /// The counter the socket watches, which every change is applied to.
    name: &'a CounterName,
    /// The socket's rate limit on operations.
    limiter: OpLimiter,
    /// The replies not yet sent, oldest first.
    in_flight: FuturesOrdered<Reply>,
    /// The hash of the key the socket presented last (`auth`), if any.
    key: Option<KeyHash>,
    /// What that key may do on the counter, as this replica knows it.
    role: Role,
}

impl<'a> Replies<'a> {
    /// `standing`: what the counter is as the socket opens.
    pub fn new(
        counters: &'a Counters,
        name: &'a CounterName,
        config: &Config,
        standing: &Standing,
    ) -> Self {
        Self {
            counters,
            name,
            limiter: rate_limit::per_socket(config.max_ops_per_second, config.max_ops_burst),
            in_flight: FuturesOrdered::new(),
            key: None,
            role: standing.role(None),
        }
    }

    /// The socket's role now.
    pub fn role(&self) -> Role {
        self.role
    }

    /// The counter's keys or kind changed: the socket's role again, `Some` when it changed
    /// (the socket then sends an `access` frame; a rotated key drops it to `viewer`).
    pub fn restand(&mut self, standing: &Standing) -> Option<Role> {
        let role = standing.role(self.key.as_ref());
        (role != self.role).then(|| {
            self.role = role;
            role
        })
    }

    /// Whether every reply is out.
    pub fn is_empty(&self) -> bool {
        self.in_flight.is_empty()
    }

    /// Whether the socket may read another frame now.
    pub fn has_room(&self) -> bool {
        self.in_flight.len() < MAX_IN_FLIGHT
    }

    /// The next reply in order, once it is ready; `None` when there is none.
    pub async fn next(&mut self) -> Option<String> {
        self.in_flight.next().await
    }

    /// Gives up the replies still waiting (their changes may still complete).
    pub fn abandon(&mut self) {
        self.in_flight = FuturesOrdered::new();
    }

    /// Queues the reply to one text frame: decoded and rate-limited at once, applied in the
    /// store by a future the socket's loop polls.
    /// `standing`: what the counter is now, which an `auth` frame's key is judged by.
    pub fn text(&mut self, text: &str, standing: Option<&Standing>) {
        // Every frame takes its place in the limit before it is looked at, malformed or not:
        // otherwise a client could have error replies made without limit.
        let within_limit = self.limiter.check().is_ok();
        let request = match ClientMessage::decode(text) {
            Ok(request) if within_limit => request,
            Ok(request) => return self.refuse(rate_limited(), request.op_id().cloned()),
            // Past the limit a bad frame is refused as one frame too many: the code that
            // tells a client to slow down, with the op_id when there is one to retry.
            Err((_, op_id)) if !within_limit => return self.refuse(rate_limited(), op_id),
            Err((err, op_id)) => return self.refuse(err, op_id),
        };
        let write = match request {
            Request::Auth(key) => return self.auth(&key, standing),
            Request::Change(change) => Write::Change(change),
            Request::Undo(undo) => Write::Undo(undo),
        };
        let op_id = write.op_id().cloned();
        if self.role < Role::Staff {
            return self.refuse(viewer(), op_id);
        }
        let (counters, name, key) = (self.counters.clone(), self.name.clone(), self.key);
        let reply = async move {
            match counters.apply(&name, &write, key).await {
                Ok(state) => ServerMessage::Ack {
                    op_id,
                    value: state.value,
                    version: state.version,
                }
                .to_json(),
                // A socket has no `Authorization` to fix: its key no longer works (rotated),
                // and the socket is told `forbidden` as a viewer is (an `access` frame follows).
                Err(err) if err.code == ErrorCode::Unauthorized => {
                    ServerMessage::error(viewer(), op_id).to_json()
                }
                Err(err) => ServerMessage::error(err, op_id).to_json(),
            }
        };
        self.in_flight.push_back(reply.boxed());
    }

    /// An `auth` frame: the socket's key from now on, answered with its role. A key that is
    /// none of the counter's makes the socket a viewer, and says nothing more.
    fn auth(&mut self, key: &str, standing: Option<&Standing>) {
        self.key = (!key.is_empty()).then(|| KeyHash::of(key));
        self.role = standing.map_or(Role::Viewer, |standing| standing.role(self.key.as_ref()));
        // A key this replica does not know may be one just made by a rotation on another
        // replica, whose event has not arrived: the meta is read again, and if the key is
        // good the socket is sent a new `access` frame then.
        if self.key.is_some() && self.role == Role::Viewer {
            let (counters, name) = (self.counters.clone(), self.name.clone());
            tokio::spawn(async move { counters.refresh(&name).await });
        }
        let frame = ServerMessage::Access { role: self.role }.to_json();
        self.in_flight
            .push_back(futures_util::future::ready(frame).boxed());
    }

    /// Queues the reply to a binary frame, which the protocol does not use; it takes its
    /// place in the limit as any frame does.
    pub fn binary(&mut self) {
        let err = if self.limiter.check().is_ok() {
            ProtocolError::new(
                ErrorCode::BadRequest,
                "binary frames are not supported; send JSON text frames",
            )
        } else {
            rate_limited()
        };
        self.refuse(err, None);
    }

    /// Queues an error reply, counted; it waits its turn behind the replies before it.
    pub fn refuse(&mut self, err: ProtocolError, op_id: Option<OpId>) {
        self.counters.metrics.refused(err.code);
        let reply = futures_util::future::ready(ServerMessage::error(err, op_id).to_json());
        self.in_flight.push_back(reply.boxed());
    }
}

/// The refusal of a change from a viewer.
fn viewer() -> ProtocolError {
    ProtocolError::new(
        ErrorCode::Forbidden,
        "this counter is owned: changing it needs the staff link's key",
    )
}

fn rate_limited() -> ProtocolError {
    ProtocolError::new(
        ErrorCode::RateLimited,
        "too many operations on this connection; retry this one later",
    )
}
