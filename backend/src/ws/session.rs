//! One socket's life: the loop its task runs from the first state frame to the close.
//!
//! The loop reads the client's frames and keeps their changes in the store (several at once,
//! [`Replies`]), and sends the replies in the order the frames came, the newest state
//! whenever the counter changes ([`StateFeed`]), presence changes and pings. It is written
//! over a tungstenite stream on any connection, so it does not care where the socket came
//! from. State frames, the same bytes for every socket, are written to that connection as
//! they are ([`super::frame`]); every other frame goes through tungstenite.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures_util::{Sink, SinkExt, Stream, StreamExt};
use shared::{CounterName, ErrorCode, ServerMessage};
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use tokio::time::{Instant, sleep_until};
use tokio_tungstenite::WebSocketStream;
use tungstenite::protocol::CloseFrame;
use tungstenite::protocol::frame::coding::CloseCode;
use tungstenite::{Message, Utf8Bytes};

use super::feed::StateFeed;
use super::replies::Replies;
use super::{FLUSH_GRACE, TRY_AGAIN_LATER};
use crate::access::Standing;
use crate::config::Config;
use crate::fanout::hub::{Access, AccessFrame, Delivery};
use crate::state::AppState;

/// Close code 4404: the counter was deleted (version 2). Clients do not reconnect.
const DELETED: u16 = 4404;

/// What the counter is, from its access channel; `None` once deleted.
fn standing_of(frame: &Option<AccessFrame>) -> Option<Standing> {
    match &frame.as_ref()?.access {
        Access::Known(standing) => Some(standing.clone()),
        Access::Gone { .. } => None,
    }
}

/// The per-connection timers, from the configuration.
#[derive(Clone, Copy)]
struct Timing {
    /// How often the socket is pinged and sent a presence heartbeat.
    ping_interval: Duration,
    /// How long a silent client is kept.
    idle_timeout: Duration,
    /// How long one frame may take to leave before the client is let go.
    write_timeout: Duration,
    /// How long a closing socket waits for the store's last answers.
    store_timeout: Duration,
}

impl Timing {
    fn new(config: &Config) -> Self {
        Self {
            ping_interval: config.ping_interval(),
            idle_timeout: config.idle_timeout(),
            write_timeout: config.write_timeout(),
            store_timeout: config.store_timeout(),
        }
    }
}

/// What the loop does next.
enum Step {
    /// Send these, in order.
    Send(Message, Option<Message>),
    /// Write this pre-built state frame, and note when it went out (for the pacing and the
    /// fan-out latency).
    State(Bytes, Arc<Delivery>),
    /// Read no more: answer the frames in flight, then send this close frame (if any; not
    /// when the client's side is gone) and end.
    Close(Option<Message>),
    /// Nothing to send this turn.
    Skip,
    /// End now: the client sent its close frame, after which nothing but the close reply
    /// may be sent (the changes in flight still complete).
    End,
}

/// Serves one socket until either side ends it, the replica shuts down or it lost its store.
///
/// Either of the last two stops the reading, and every change already read is answered
/// before the close frame: a rolling restart then leaves no client guessing whether its last
/// press counted.
pub async fn serve<T>(
    mut socket: WebSocketStream<T>,
    name: CounterName,
    standing: Standing,
    app: AppState,
) where
    T: AsyncRead + AsyncWrite + Unpin,
{
    let timing = Timing::new(&app.config);
    // Boxed: joining may read the store, a future far larger than the rest of the socket's
    // and needed once.
    let mut membership = match Box::pin(app.counters.join(&name, standing.clone())).await {
        Ok(membership) => membership,
        Err(err) => {
            let frame = ServerMessage::error(err, None).to_json();
            let _ = send(&mut socket, Message::Text(frame.into()), timing).await;
            let _ = send(
                &mut socket,
                close(TRY_AGAIN_LATER, "store unavailable"),
                timing,
            )
            .await;
            return;
        }
    };
    let Some(first) = membership.state.borrow_and_update().clone() else {
        return;
    };
    let feed = StateFeed::new(first.state.version, app.config.state_interval());
    if send_frame(&mut socket, &first.frame, timing).await.is_err() {
        return;
    }
    if *membership.presence.borrow() > 0 {
        membership.presence.mark_changed();
    }
    // Version 2: what the counter is now (the upgrade's reading, or newer), and the socket's
    // role and the counter's settings, right after the first state.
    let (standing, mut meta_sent) = {
        let frame = membership.access.borrow_and_update();
        let meta = frame
            .as_ref()
            .map(|frame| frame.meta.clone())
            .unwrap_or_default();
        let gone = matches!(frame.as_ref().map(|f| &f.access), Some(Access::Gone { .. }));
        let standing = (!gone).then(|| standing_of(&frame).unwrap_or(standing));
        (standing, meta)
    };
    // Deleted between the upgrade and now.
    let Some(standing) = standing else {
        let _ = send(
            &mut socket,
            close(DELETED, "this counter was deleted"),
            timing,
        )
        .await;
        return;
    };
    let mut replies = Replies::new(&app.counters, &name, &app.config, &standing);
    if meta_sent.is_empty() {
        meta_sent = ServerMessage::Meta(standing.meta()).to_json().into();
    }
    let access = ServerMessage::Access {
        role: replies.role(),
    };
    for frame in [
        Message::Text(access.to_json().into()),
        Message::Text(meta_sent.clone()),
    ] {
        if send(&mut socket, frame, timing).await.is_err() {
            return;
        }
    }
    let mut ping = tokio::time::interval(timing.ping_interval);
    ping.reset();
    // The futures below live as long as the socket and are polled in place, so a wake-up
    // for a state frame does not register and drop a timer and a stop waiter each time.
    let serving = app.serving.token();
    let stop = serving.cancelled();
    // The idle deadline, then (once closing) the flush deadline. A frame only notes the
    // time; the timer is moved when it fires early, not on every frame.
    let timer = sleep_until(Instant::now() + timing.idle_timeout);
    tokio::pin!(stop, timer, feed);
    let mut last_heard = Instant::now();
    // Set once the socket stops reading: the close frame to send when the replies are out.
    let mut closing: Option<Option<Message>> = None;
    loop {
        if replies.is_empty()
            && let Some(frame) = closing.take()
        {
            finish(&mut socket, frame, timing).await;
            return;
        }
        let reading = closing.is_none() && replies.has_room();
        let step = tokio::select! {
            biased;
            Some(reply) = replies.next() => Step::Send(Message::Text(reply.into()), None),
            () = &mut timer => {
                if closing.is_some() {
                    // The store did not answer in time: those replies are given up and the
                    // socket closes.
                    replies.abandon();
                    Step::Skip
                } else if last_heard + timing.idle_timeout > Instant::now() {
                    timer.as_mut().reset(last_heard + timing.idle_timeout);
                    Step::Skip
                } else {
                    // A client silent this long is gone (browsers answer pings by
                    // themselves, so a live page is never silent that long). 1000, not
                    // 1001: it is the client that went away, not this server.
                    Step::Close(Some(close(CloseCode::Normal, "idle for too long")))
                }
            }
            () = &mut stop, if closing.is_none() => {
                Step::Close(Some(if app.serving.stopping() {
                    close(CloseCode::Away, "server restarting; reconnect")
                } else {
                    close(TRY_AGAIN_LATER, "this server lost its store; reconnect")
                }))
            }
            incoming = socket.next(), if reading => {
                last_heard = Instant::now();
                match incoming {
                    Some(Ok(Message::Text(text))) => {
                        let standing = standing_of(&membership.access.borrow());
                        replies.text(&text, standing.as_ref());
                        Step::Skip
                    }
                    Some(Ok(Message::Binary(_))) => {
                        replies.binary();
                        Step::Skip
                    }
                    // Pings are answered by the WebSocket layer itself; a pong only proves life.
                    Some(Ok(Message::Ping(_) | Message::Pong(_) | Message::Frame(_))) => {
                        Step::Skip
                    }
                    Some(Ok(Message::Close(_))) => Step::End,
                    // A broken frame: the client hears why in a close frame (1009, 1007,
                    // 1002), after the replies to what it sent before. Otherwise its side
                    // ended without a close frame (it may only have shut its sending half):
                    // it still gets the replies to what it sent.
                    Some(Err(err)) => match refusal(&err) {
                        Some((code, reason)) => {
                            if code == CloseCode::Size {
                                app.counters.metrics.refused(ErrorCode::TooLarge);
                            }
                            Step::Close(Some(close(code, reason)))
                        }
                        None => Step::Close(None),
                    },
                    None => Step::Close(None),
                }
            }
            frame = feed.as_mut().next(&mut membership.state) => match frame {
                Some((frame, delivery)) => Step::State(frame, delivery),
                None => return,
            },
            changed = membership.presence.changed() => {
                if changed.is_err() {
                    return;
                }
                let online = *membership.presence.borrow_and_update();
                Step::Send(Message::Text(ServerMessage::Presence { online }.to_json().into()), None)
            }
            changed = membership.access.changed(), if closing.is_none() => {
                if changed.is_err() {
                    return;
                }
                let frame = membership.access.borrow_and_update().clone();
                match frame.as_ref().map(|frame| (&frame.access, &frame.meta)) {
                    Some((Access::Gone { .. }, _)) => {
                        Step::Close(Some(close(DELETED, "this counter was deleted")))
                    }
                    Some((Access::Known(standing), meta)) => {
                        // Keys rotated (a role may drop to viewer), settings changed, or the
                        // name was created as an owned counter under an open socket.
                        let role = replies.restand(standing);
                        let meta = (*meta != meta_sent).then(|| {
                            meta_sent = meta.clone();
                            Message::Text(meta.clone())
                        });
                        let access = role.map(|role| {
                            Message::Text(ServerMessage::Access { role }.to_json().into())
                        });
                        match (access, meta) {
                            (Some(access), meta) => Step::Send(access, meta),
                            (None, Some(meta)) => Step::Send(meta, None),
                            (None, None) => Step::Skip,
                        }
                    }
                    None => Step::Skip,
                }
            }
            changed = membership.fault.changed() => {
                if changed.is_err() {
                    return;
                }
                // The counter's keys were found damaged: this socket is told, and stays open
                // to hear of the repair.
                match membership.fault.borrow_and_update().clone() {
                    Some(frame) => Step::Send(Message::Text(frame), None),
                    None => Step::Skip,
                }
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
            Step::State(frame, delivery) => {
                if send_frame(&mut socket, &frame, timing).await.is_err() {
                    return;
                }
                // One clock read serves both.
                let now = Instant::now();
                feed.as_mut().sent(now);
                delivery.written(now);
            }
            Step::Close(frame) => {
                closing = Some(frame);
                timer
                    .as_mut()
                    .reset(Instant::now() + timing.store_timeout + FLUSH_GRACE);
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
    S: Sink<Message> + Stream<Item = Result<Message, tungstenite::Error>> + Unpin,
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

/// Writes a pre-built frame ([`super::frame`]) to the connection under the socket, with the
/// same deadline as [`send`].
async fn send_frame<T>(
    socket: &mut WebSocketStream<T>,
    frame: &[u8],
    timing: Timing,
) -> Result<(), ()>
where
    T: AsyncRead + AsyncWrite + Unpin,
{
    let write = async {
        // Whatever tungstenite still holds goes first, so that frames never interleave on
        // the wire: a pong it queued while reading may be part-written if the client's
        // window was full. (Every frame this loop sends through it is flushed already.)
        socket.flush().await.map_err(drop)?;
        socket.get_mut().write_all(frame).await.map_err(drop)
    };
    match tokio::time::timeout(timing.write_timeout, write).await {
        Ok(Ok(())) => Ok(()),
        _ => Err(()),
    }
}

/// The close code and reason for a read that failed on the client's fault: a frame over the
/// size limit (1009), text that is not UTF-8 (1007), or a frame that breaks the protocol
/// (1002). `None` when the connection itself failed or ended, where no close frame can go.
fn refusal(err: &tungstenite::Error) -> Option<(CloseCode, &'static str)> {
    use tungstenite::error::ProtocolError as Broken;
    match err {
        tungstenite::Error::Capacity(_) => Some((CloseCode::Size, "frame too large")),
        tungstenite::Error::Utf8(_) => Some((CloseCode::Invalid, "text is not valid UTF-8")),
        tungstenite::Error::Protocol(Broken::ResetWithoutClosingHandshake) => None,
        tungstenite::Error::Protocol(_) => Some((CloseCode::Protocol, "protocol error")),
        _ => None,
    }
}

fn close(code: impl Into<CloseCode>, reason: &'static str) -> Message {
    Message::Close(Some(CloseFrame {
        code: code.into(),
        reason: Utf8Bytes::from_static(reason),
    }))
}
