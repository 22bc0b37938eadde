//! The WebSocket endpoint: one socket watching one counter.
//!
//! Per connection there are two loops, joined in one task: the send loop owns the socket's
//! write half and sends state, presence and replies; the receive loop decodes frames and
//! applies them. They meet through a small channel of replies. The loops are written over
//! any `Sink`/`Stream` of messages, so they do not care where the socket came from.

use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::time::Duration;

use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket, WebSocketUpgrade, close_code};
use axum::extract::{ConnectInfo, Path, State};
use axum::http::HeaderMap;
use axum::response::Response;
use futures_util::{Sink, SinkExt, Stream, StreamExt};
use shared::{ClientMessage, CounterName, ErrorCode, ProtocolError, ServerMessage};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::app::AppState;
use crate::counters::Counters;
use crate::error::AppError;
use crate::hub::Membership;
use crate::rate_limit::TokenBucket;

/// Close code 1013, "try again later": the store could not be read when the socket opened.
const TRY_AGAIN_LATER: u16 = 1013;

/// How long the send loop may take to flush the last replies after the client went quiet.
const FLUSH_GRACE: Duration = Duration::from_secs(1);

/// What the receive loop asks the send loop to send.
enum Outgoing {
    Frame(Utf8Bytes),
    Close(u16, &'static str),
}

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
        .read_buffer_size(4096)
        .write_buffer_size(0)
        .max_message_size(max)
        .max_frame_size(max);
    Ok(ws.on_upgrade(move |socket: WebSocket| async move {
        app.counters
            .metrics
            .ws_accepted
            .fetch_add(1, Ordering::Relaxed);
        let (sink, stream) = socket.split();
        serve(sink, stream, name, app).await;
        // The permit is held for the socket's whole life.
        drop(permit);
    }))
}

/// The per-connection limits and timers, from the configuration.
#[derive(Clone, Copy)]
struct Timing {
    ping_interval: Duration,
    idle_timeout: Duration,
    write_timeout: Duration,
}

/// Serves one socket until either side ends it or the replica shuts down.
pub async fn serve<S, R>(mut sink: S, stream: R, name: CounterName, app: AppState)
where
    S: Sink<Message> + Unpin,
    R: Stream<Item = Result<Message, axum::Error>> + Unpin,
{
    let timing = Timing {
        ping_interval: app.config.ping_interval(),
        idle_timeout: app.config.idle_timeout(),
        write_timeout: app.config.write_timeout(),
    };
    let membership = app.counters.hub.join(&name);
    // Joined first, then read: a change in between reaches the hub by pub/sub or the local
    // apply, and the hub keeps whichever is newer.
    if membership.current().is_none() {
        match app.counters.get(&name).await {
            Ok(state) => {
                app.counters.hub.publish(state);
            }
            Err(err) => {
                let frame = ServerMessage::error(err, None).to_json();
                let _ = send(&mut sink, Message::Text(frame.into()), timing).await;
                let _ = send(
                    &mut sink,
                    close(TRY_AGAIN_LATER, "store unavailable"),
                    timing,
                )
                .await;
                return;
            }
        }
    }
    let (replies_tx, replies_rx) = mpsc::channel(32);
    let bucket = TokenBucket::new(app.config.max_ops_per_second, app.config.max_ops_burst);
    let send = send_loop(sink, membership, replies_rx, timing);
    let receive = receive_loop(
        stream,
        name,
        app.counters.clone(),
        bucket,
        replies_tx,
        app.shutdown.clone(),
        timing,
    );
    tokio::pin!(send, receive);
    tokio::select! {
        () = &mut send => {}
        () = &mut receive => {
            // The receive loop dropped its end of the replies channel: the send loop sends
            // what is queued (an ack, a close frame) and ends.
            let _ = tokio::time::timeout(FLUSH_GRACE, send).await;
        }
    }
}

/// Sends one message, giving up when the client does not take it in time. A client that
/// never reads fills its TCP window and the WebSocket's bounded write buffer, and this is
/// where it is let go.
async fn send<S>(sink: &mut S, message: Message, timing: Timing) -> Result<(), ()>
where
    S: Sink<Message> + Unpin,
{
    match tokio::time::timeout(timing.write_timeout, sink.send(message)).await {
        Ok(Ok(())) => Ok(()),
        _ => Err(()),
    }
}

/// Sends the current state first, then every newer state, presence changes, replies and
/// pings, until the receive loop hangs up or queues a close frame.
async fn send_loop<S>(
    mut sink: S,
    mut membership: Membership,
    mut replies: mpsc::Receiver<Outgoing>,
    timing: Timing,
) where
    S: Sink<Message> + Unpin,
{
    let Some(first) = membership.state.borrow_and_update().clone() else {
        return;
    };
    let mut last_version = first.state.version;
    if send(&mut sink, Message::Text(first.json), timing)
        .await
        .is_err()
    {
        return;
    }
    if *membership.presence.borrow() > 0 {
        membership.presence.mark_changed();
    }
    let mut ping = tokio::time::interval(timing.ping_interval);
    ping.reset();
    loop {
        let message = tokio::select! {
            biased;
            reply = replies.recv() => match reply {
                Some(Outgoing::Frame(text)) => Message::Text(text),
                Some(Outgoing::Close(code, reason)) => close(code, reason),
                None => return,
            },
            changed = membership.state.changed() => {
                if changed.is_err() {
                    return;
                }
                let frame = membership.state.borrow_and_update().clone();
                match frame {
                    Some(frame) if frame.state.version > last_version => {
                        last_version = frame.state.version;
                        Message::Text(frame.json)
                    }
                    _ => continue,
                }
            }
            changed = membership.presence.changed() => {
                if changed.is_err() {
                    return;
                }
                let online = *membership.presence.borrow_and_update();
                Message::Text(ServerMessage::Presence { online }.to_json().into())
            }
            _ = ping.tick() => {
                // Pings keep NAT mappings open and prove the peer alive to this side, but a
                // page's JavaScript cannot see them: a presence frame doubles as the
                // heartbeat by which the page knows its socket is not half-open.
                let online = *membership.presence.borrow();
                let heartbeat = ServerMessage::Presence { online }.to_json();
                if send(&mut sink, Message::Text(heartbeat.into()), timing).await.is_err() {
                    return;
                }
                Message::Ping(Default::default())
            }
        };
        let closing = matches!(message, Message::Close(_));
        if send(&mut sink, message, timing).await.is_err() || closing {
            return;
        }
    }
}

/// Decodes, limits and applies every frame, queueing one reply per frame. A client silent
/// for longer than the idle timeout (browsers answer pings by themselves, so a live page is
/// never silent that long) is closed.
///
/// Shutdown is handled here, between frames, so that a replica being drained finishes the
/// operation in hand and sends its ack before the close frame: a rolling restart then
/// leaves no client guessing whether its last press counted.
async fn receive_loop<R>(
    mut stream: R,
    name: CounterName,
    counters: Counters,
    mut bucket: TokenBucket,
    replies: mpsc::Sender<Outgoing>,
    shutdown: CancellationToken,
    timing: Timing,
) where
    R: Stream<Item = Result<Message, axum::Error>> + Unpin,
{
    loop {
        let next = tokio::select! {
            biased;
            () = shutdown.cancelled() => {
                let reason = "server restarting; reconnect";
                let _ = replies.send(Outgoing::Close(close_code::AWAY, reason)).await;
                return;
            }
            next = tokio::time::timeout(timing.idle_timeout, stream.next()) => next,
        };
        let Ok(message) = next else {
            let _ = replies
                .send(Outgoing::Close(close_code::AWAY, "idle for too long"))
                .await;
            return;
        };
        let Some(message) = message else {
            return;
        };
        let text = match message {
            Ok(Message::Text(text)) => text,
            Ok(Message::Binary(_)) => {
                let err = ProtocolError::new(
                    ErrorCode::BadRequest,
                    "binary frames are not supported; send JSON text frames",
                );
                counters.metrics.refused(err.code);
                let reply = ServerMessage::error(err, None).to_json();
                if replies.send(Outgoing::Frame(reply.into())).await.is_err() {
                    return;
                }
                continue;
            }
            Ok(Message::Close(_)) => return,
            // Pings are answered by the WebSocket layer itself; a pong only proves life.
            Ok(Message::Ping(_) | Message::Pong(_)) => continue,
            Err(err) => {
                if is_too_large(err) {
                    counters.metrics.refused(ErrorCode::TooLarge);
                    let _ = replies
                        .send(Outgoing::Close(close_code::SIZE, "frame too large"))
                        .await;
                }
                return;
            }
        };
        let reply = handle_frame(&text, &name, &counters, &mut bucket).await;
        if replies.send(Outgoing::Frame(reply.into())).await.is_err() {
            return;
        }
    }
}

/// The reply to one text frame.
async fn handle_frame(
    text: &str,
    name: &CounterName,
    counters: &Counters,
    bucket: &mut TokenBucket,
) -> String {
    let change = match ClientMessage::decode(text) {
        Ok(change) => change,
        Err((err, op_id)) => {
            counters.metrics.refused(err.code);
            return ServerMessage::error(err, op_id).to_json();
        }
    };
    if !bucket.try_take() {
        let err = ProtocolError::new(
            ErrorCode::RateLimited,
            "too many operations on this connection; retry this one later",
        );
        counters.metrics.refused(err.code);
        return ServerMessage::error(err, change.op_id).to_json();
    }
    match counters.apply(name, &change).await {
        Ok(state) => ServerMessage::Ack {
            op_id: change.op_id,
            value: state.value,
            version: state.version,
        }
        .to_json(),
        Err(err) => ServerMessage::error(err, change.op_id).to_json(),
    }
}

/// Whether a read failed because the client sent more than the size limit.
fn is_too_large(err: axum::Error) -> bool {
    let inner = err.into_inner();
    matches!(
        inner.downcast_ref::<tungstenite::Error>(),
        Some(tungstenite::Error::Capacity(_))
    )
}

fn close(code: u16, reason: &'static str) -> Message {
    Message::Close(Some(CloseFrame {
        code,
        reason: reason.into(),
    }))
}
