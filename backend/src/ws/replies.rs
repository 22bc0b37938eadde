//! The replies to one socket's frames: each decoded and rate-limited as it is read, applied
//! in the store alongside the others, and answered (ack or error) in the order the frames
//! came.

use std::future::Future;
use std::pin::Pin;

use futures_util::stream::FuturesOrdered;
use futures_util::{FutureExt, StreamExt};
use shared::{ClientMessage, CounterName, ErrorCode, OpId, ProtocolError, ServerMessage};

use crate::config::Config;
use crate::counters::Counters;
use crate::rate_limit::{self, OpLimiter};

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
}

impl<'a> Replies<'a> {
    pub fn new(counters: &'a Counters, name: &'a CounterName, config: &Config) -> Self {
        Self {
            counters,
            name,
            limiter: rate_limit::per_socket(config.max_ops_per_second, config.max_ops_burst),
            in_flight: FuturesOrdered::new(),
        }
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
    pub fn text(&mut self, text: &str) {
        // Every frame takes its place in the limit before it is looked at, malformed or not:
        // otherwise a client could have error replies made without limit.
        let within_limit = self.limiter.check().is_ok();
        let change = match ClientMessage::decode(text) {
            Ok(change) if within_limit => change,
            Ok(change) => return self.refuse(rate_limited(), change.op_id),
            // Past the limit a bad frame is refused as one frame too many: the code that
            // tells a client to slow down, with the op_id when there is one to retry.
            Err((_, op_id)) if !within_limit => return self.refuse(rate_limited(), op_id),
            Err((err, op_id)) => return self.refuse(err, op_id),
        };
        let (counters, name) = (self.counters.clone(), self.name.clone());
        let reply = async move {
            match counters.apply(&name, &change).await {
                Ok(state) => ServerMessage::Ack {
                    op_id: change.op_id,
                    value: state.value,
                    version: state.version,
                }
                .to_json(),
                Err(err) => ServerMessage::error(err, change.op_id).to_json(),
            }
        };
        self.in_flight.push_back(reply.boxed());
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

fn rate_limited() -> ProtocolError {
    ProtocolError::new(
        ErrorCode::RateLimited,
        "too many operations on this connection; retry this one later",
    )
}
