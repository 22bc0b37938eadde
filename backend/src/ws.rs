//! The WebSocket endpoint: one socket watching one counter.
//!
//! Each connection is one task running one loop. It reads the client's frames, keeps their
//! changes in the store (several at once), and sends replies in the order the frames came,
//! the newest state whenever the counter changes (at most one per `--state-interval-ms`),
//! presence changes and pings. One task and no channel between halves keeps an idle socket
//! small and a delivery cheap (BENCHMARKS.md).
//! The loop is written over any `Sink + Stream` of messages, so it does not care where the
//! socket came from.

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::Ordering;
use std::time::Duration;

use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade, close_code};
use axum::extract::{ConnectInfo, Path, State};
use axum::http::HeaderMap;
use axum::response::Response;
use futures_util::stream::FuturesOrdered;
use futures_util::{FutureExt, Sink, SinkExt, Stream, StreamExt};
use shared::{ClientMessage, CounterName, ErrorCode, OpId, ProtocolError, ServerMessage};
use tokio::time::{Instant, sleep_until};

use crate::app::AppState;
use crate::config::Config;
use crate::counters::Counters;
use crate::error::AppError;
use crate::hub::Membership;
use crate::rate_limit::TokenBucket;

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

/// How many of one socket's frames may wait for the store at once. Waiting for each change
/// before reading the next capped one busy socket at one store round trip per change
/// (about 500 changes/s while the replica fans out, BENCHMARKS.md); past this many, the
/// socket is not read until a reply goes out, so a flood still waits in its own TCP buffer.
const MAX_IN_FLIGHT: usize = 64;

/// The reply to one client frame, ready or still waiting for the store.
type Reply = Pin<Box<dyn Future<Output = String> + Send>>;

/// `GET /ws/counters/{name}`: checks the name, the origin and the connection caps before
/// upgrading, so a refused client gets a plain HTTP error.
pub async fn upgrade(
    ws: WebSocketUpgrade,
    Path(name): Path<String>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    State(app): State<AppState>,
) -> Result<Response, AppError> {
    let name: CounterName = name.parse()?;
    let refuse = |err: ProtocolError| {
        app.counters
            .metrics
            .ws_refused
            .fetch_add(1, Ordering::Relaxed);
        AppError(err)
    };
    app.origin.check(&headers).map_err(refuse)?;
    // A replica whose subscriber is down would serve a socket that never hears of changes.
    // Refusing the upgrade with 503 lets a load balancer send the client to another replica
    // (nginx: proxy_next_upstream http_503), and a client without one retry later.
    if !app.counters.store.fans_out() {
        return Err(refuse(ProtocolError::new(
            ErrorCode::Unavailable,
            "this server cannot reach its store right now; try again shortly",
        )));
    }
    let permit = app.connections.admit(peer.ip()).map_err(refuse)?;
    let max = app.config.max_message_bytes;
    let ws = ws
        // Frames are small: a 4 KiB read buffer instead of tungstenite's 128 KiB, which was
        // nearly all of an idle socket's memory and which tungstenite zero-fills before every
        // read (39% of a replica's CPU during fan-out, BENCHMARKS.md). Every frame is flushed
        // as it is sent anyway, so no write buffer is kept either.
        .read_buffer_size(256)
        .write_buffer_size(0)
        .max_message_size(max)
        .max_frame_size(max);
    Ok(ws.on_upgrade(move |socket: WebSocket| async move {
        app.counters
            .metrics
            .ws_accepted
            .fetch_add(1, Ordering::Relaxed);
        serve(socket, name, app).await;
        // The permit is held for the socket's whole life.
        drop(permit);
    }))
}

/// The per-connection limits and timers, from the configuration.
#[derive(Clone, Copy)]
struct Timing {
    ping_interval: Duration,
    state_interval: Duration,
    idle_timeout: Duration,
    write_timeout: Duration,
}

/// What the loop does next.
enum Step {
    /// Send these, in order.
    Send(Message, Option<Message>),
    /// Read no more: answer the frames in flight, then send this close frame (if any; not
    /// when the client's side is gone) and end.
    Close(Option<Message>),
    /// Nothing to send this turn.
    Skip,
    /// End now: the client sent its close frame, after which nothing but the close reply
    /// may be sent (the changes in flight still complete).
    End,
}

/// Which state frames one socket is sent: only versions newer than the last it was sent,
/// and at most one per `Timing::state_interval`.
struct StateFeed {
    last_version: u64,
    last_sent: Instant,
    /// A newer state is waiting for the interval to pass.
    held: bool,
}

impl StateFeed {
    /// The newest state, if the socket has not had it yet.
    fn newest(&mut self, membership: &mut Membership) -> Step {
        match membership.state.borrow_and_update().clone() {
            Some(frame) if frame.state.version > self.last_version => {
                self.last_version = frame.state.version;
                self.last_sent = Instant::now();
                Step::Send(Message::Text(frame.json), None)
            }
            _ => Step::Skip,
        }
    }
}

/// Serves one socket until either side ends it, the replica shuts down or it lost its store.
///
/// Either of the last two stops the reading, and every change already read is answered
/// before the close frame: a rolling restart then leaves no client guessing whether its last
/// press counted.
pub async fn serve<S>(mut socket: S, name: CounterName, app: AppState)
where
    S: Sink<Message> + Stream<Item = Result<Message, axum::Error>> + Unpin,
{
    let timing = Timing {
        ping_interval: app.config.ping_interval(),
        state_interval: app.config.state_interval(),
        idle_timeout: app.config.idle_timeout(),
        write_timeout: app.config.write_timeout(),
    };
    let Some(mut membership) = join(&mut socket, &name, &app, timing).await else {
        return;
    };
    let Some(first) = membership.state.borrow_and_update().clone() else {
        return;
    };
    let mut feed = StateFeed {
        last_version: first.state.version,
        last_sent: Instant::now(),
        held: false,
    };
    if send(&mut socket, Message::Text(first.json), timing)
        .await
        .is_err()
    {
        return;
    }
    if *membership.presence.borrow() > 0 {
        membership.presence.mark_changed();
    }
    let counters = &app.counters;
    let mut bucket = TokenBucket::new(app.config.max_ops_per_second, app.config.max_ops_burst);
    let mut in_flight: FuturesOrdered<Reply> = FuturesOrdered::new();
    let mut ping = tokio::time::interval(timing.ping_interval);
    ping.reset();
    // The futures below live as long as the socket and are polled in place, so a wake-up
    // for a state frame does not register and drop a timer and a stop waiter each time.
    let serving = app.serving.token();
    let stop = serving.cancelled();
    // The idle deadline, then (once closing) the flush deadline. A frame only notes the
    // time; the timer is moved when it fires early, not on every frame.
    let timer = sleep_until(Instant::now() + timing.idle_timeout);
    // When a held-back state frame is due.
    let pace = sleep_until(Instant::now());
    tokio::pin!(stop, timer, pace);
    let mut last_heard = Instant::now();
    // Set once the socket stops reading: the close frame to send when the replies are out.
    let mut closing: Option<Option<Message>> = None;
    loop {
        if in_flight.is_empty()
            && let Some(frame) = closing.take()
        {
            finish(&mut socket, frame, timing).await;
            return;
        }
        let reading = closing.is_none() && in_flight.len() < MAX_IN_FLIGHT;
        let step = tokio::select! {
            biased;
            Some(reply) = in_flight.next() => Step::Send(Message::Text(reply.into()), None),
            () = &mut timer => {
                if closing.is_some() {
                    // The store did not answer in time: those replies are given up (their
                    // changes may still complete) and the socket closes.
                    in_flight = FuturesOrdered::new();
                    Step::Skip
                } else if last_heard + timing.idle_timeout > Instant::now() {
                    timer.as_mut().reset(last_heard + timing.idle_timeout);
                    Step::Skip
                } else {
                    // A client silent this long is gone (browsers answer pings by
                    // themselves, so a live page is never silent that long).
                    Step::Close(Some(close(close_code::AWAY, "idle for too long")))
                }
            }
            () = &mut stop, if closing.is_none() => {
                Step::Close(Some(if app.serving.stopping() {
                    close(close_code::AWAY, "server restarting; reconnect")
                } else {
                    close(TRY_AGAIN_LATER, "this server lost its store; reconnect")
                }))
            }
            incoming = socket.next(), if reading => {
                last_heard = Instant::now();
                match incoming {
                    Some(Ok(Message::Text(text))) => {
                        in_flight.push_back(reply_to(&text, &name, counters, &mut bucket));
                        Step::Skip
                    }
                    Some(Ok(Message::Binary(_))) => {
                        let err = ProtocolError::new(
                            ErrorCode::BadRequest,
                            "binary frames are not supported; send JSON text frames",
                        );
                        in_flight.push_back(refusal(counters, err, None));
                        Step::Skip
                    }
                    // Pings are answered by the WebSocket layer itself; a pong only proves life.
                    Some(Ok(Message::Ping(_) | Message::Pong(_))) => Step::Skip,
                    Some(Err(err)) if is_too_large(&err) => {
                        counters.metrics.refused(ErrorCode::TooLarge);
                        Step::Close(Some(close(close_code::SIZE, "frame too large")))
                    }
                    Some(Ok(Message::Close(_))) => Step::End,
                    // The client's side ended without a close frame (it may only have shut
                    // its sending half): it still gets the replies to what it sent.
                    Some(Err(_)) | None => Step::Close(None),
                }
            }
            changed = membership.state.changed(), if !feed.held => {
                if changed.is_err() {
                    return;
                }
                let due = feed.last_sent + timing.state_interval;
                if Instant::now() < due {
                    // One went out moments ago: this one, or a newer, goes when it is due.
                    feed.held = true;
                    pace.as_mut().reset(due);
                    Step::Skip
                } else {
                    feed.newest(&mut membership)
                }
            }
            () = &mut pace, if feed.held => {
                feed.held = false;
                feed.newest(&mut membership)
            }
            changed = membership.presence.changed() => {
                if changed.is_err() {
                    return;
                }
                let online = *membership.presence.borrow_and_update();
                Step::Send(Message::Text(ServerMessage::Presence { online }.to_json().into()), None)
            }
            _ = ping.tick() => {
                // Pings keep NAT mappings open and prove the peer alive to this side, but a
                // page's JavaScript cannot see them: a presence frame doubles as the
                // heartbeat by which the page knows its socket is not half-open.
                let online = *membership.presence.borrow();
                let heartbeat = ServerMessage::Presence { online }.to_json();
                Step::Send(Message::Text(heartbeat.into()), Some(Message::Ping(Default::default())))
            }
        };
        match step {
            Step::Send(first, second) => {
                for message in std::iter::once(first).chain(second) {
                    if send(&mut socket, message, timing).await.is_err() {
                        return;
                    }
                }
            }
            Step::Close(frame) => {
                closing = Some(frame);
                timer
                    .as_mut()
                    .reset(Instant::now() + app.config.store_timeout() + FLUSH_GRACE);
            }
            Step::Skip => {}
            Step::End => {
                finish(&mut socket, None, timing).await;
                return;
            }
        }
    }
}

/// Ends a socket whose replies are out. With a close frame to send, it then reads until the
/// client's close frame: a socket closed with unread frames in its buffer is reset, not
/// closed, and a reset can throw away the replies and the close frame the client has not
/// read yet. Without one it sends what the WebSocket layer still owes, such as the reply to
/// a client's close frame, which it otherwise sends only on the next read.
async fn finish<S>(socket: &mut S, frame: Option<Message>, timing: Timing)
where
    S: Sink<Message> + Stream<Item = Result<Message, axum::Error>> + Unpin,
{
    match frame {
        Some(frame) => {
            if send(socket, frame, timing).await.is_ok() {
                let drain = async { while let Some(Ok(_)) = socket.next().await {} };
                let _ = tokio::time::timeout(FLUSH_GRACE, drain).await;
            }
        }
        None => {
            let _ = tokio::time::timeout(FLUSH_GRACE, socket.flush()).await;
        }
    }
}

/// Joins the counter's channel, reading its state from the store if this replica has none
/// yet. A store that cannot be read is told to the client, and the socket is closed.
async fn join<S>(
    socket: &mut S,
    name: &CounterName,
    app: &AppState,
    timing: Timing,
) -> Option<Membership>
where
    S: Sink<Message> + Unpin,
{
    let membership = app.counters.hub.join(name);
    // Joined first, then read: a change in between reaches the hub by pub/sub or the local
    // apply, and the hub keeps whichever is newer.
    if membership.current().is_none() {
        // Boxed: this future is far larger than the rest of the socket's, and is needed once.
        match Box::pin(app.counters.get(name)).await {
            Ok(state) => {
                app.counters.hub.publish(state);
            }
            Err(err) => {
                let frame = ServerMessage::error(err, None).to_json();
                let _ = send(socket, Message::Text(frame.into()), timing).await;
                let _ = send(socket, close(TRY_AGAIN_LATER, "store unavailable"), timing).await;
                return None;
            }
        }
    }
    Some(membership)
}

/// Sends one message, giving up when the client does not take it in time. A client that
/// never reads fills its TCP window, and this is where it is let go.
async fn send<S>(socket: &mut S, message: Message, timing: Timing) -> Result<(), ()>
where
    S: Sink<Message> + Unpin,
{
    match tokio::time::timeout(timing.write_timeout, socket.send(message)).await {
        Ok(Ok(())) => Ok(()),
        _ => Err(()),
    }
}

/// The reply to one text frame: decoded and rate-limited at once, applied in the store by a
/// future the loop polls alongside the socket.
fn reply_to(
    text: &str,
    name: &CounterName,
    counters: &Counters,
    bucket: &mut TokenBucket,
) -> Reply {
    let change = match ClientMessage::decode(text) {
        Ok(change) => change,
        Err((err, op_id)) => return refusal(counters, err, op_id),
    };
    if !bucket.try_take() {
        let err = ProtocolError::new(
            ErrorCode::RateLimited,
            "too many operations on this connection; retry this one later",
        );
        return refusal(counters, err, change.op_id);
    }
    let (counters, name) = (counters.clone(), name.clone());
    async move {
        match counters.apply(&name, &change).await {
            Ok(state) => ServerMessage::Ack {
                op_id: change.op_id,
                value: state.value,
                version: state.version,
            }
            .to_json(),
            Err(err) => ServerMessage::error(err, change.op_id).to_json(),
        }
    }
    .boxed()
}

/// An error reply, counted; it waits its turn behind the replies before it.
fn refusal(counters: &Counters, err: ProtocolError, op_id: Option<OpId>) -> Reply {
    counters.metrics.refused(err.code);
    futures_util::future::ready(ServerMessage::error(err, op_id).to_json()).boxed()
}

/// Whether a read failed because the client sent more than the size limit.
fn is_too_large(err: &axum::Error) -> bool {
    matches!(
        std::error::Error::source(err).and_then(|inner| inner.downcast_ref::<tungstenite::Error>()),
        Some(tungstenite::Error::Capacity(_))
    )
}

fn close(code: u16, reason: &'static str) -> Message {
    Message::Close(Some(CloseFrame {
        code,
        reason: reason.into(),
    }))
}
