//! A real WebSocket client that checks the protocol's promises as it reads.
//!
//! Every `state` frame it reads is checked against the one before: versions must grow
//! within one connection (invariant 3), so every test that reads states checks it.

use futures_util::{SinkExt, StreamExt};
use shared::{ChangeRequest, ClientMessage, ServerMessage};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream, connect_async};

use super::PATIENCE;

/// The text frame of an increment (`delta > 0`) or decrement, as a client sends it.
pub fn change_frame(delta: i64, op_id: &str) -> String {
    let request = ChangeRequest {
        by: Some(delta.abs()),
        op_id: Some(op_id.to_owned()),
        label: None,
    };
    let frame = if delta >= 0 {
        ClientMessage::Increment(request)
    } else {
        ClientMessage::Decrement(request)
    };
    serde_json::to_string(&frame).expect("client frames serialise")
}

pub struct WsClient {
    /// The connection to the replica.
    socket: WebSocketStream<MaybeTlsStream<TcpStream>>,
    /// The newest state seen on this connection.
    pub value: Option<i64>,
    /// Its version.
    pub version: Option<u64>,
    /// How many state frames arrived.
    pub states_seen: usize,
}

impl WsClient {
    /// Connects and reads the first frame, which must be the counter's state.
    pub async fn connect(url: &str) -> Self {
        let (socket, _) = connect_async(url).await.expect("WebSocket connect");
        let mut client = Self {
            socket,
            value: None,
            version: None,
            states_seen: 0,
        };
        match client.next().await {
            ServerMessage::State(_) => {}
            other => panic!("the first frame must be a state, got {other:?}"),
        }
        client
    }

    /// [`WsClient::connect`] to an owned URL, for many connections opened at once.
    pub async fn connect_owned(url: String) -> Self {
        Self::connect(&url).await
    }

    /// The next frame from the server (states are checked and recorded).
    pub async fn next(&mut self) -> ServerMessage {
        loop {
            let message = tokio::time::timeout(PATIENCE, self.socket.next())
                .await
                .expect("no frame in time")
                .expect("socket closed")
                .expect("socket error");
            let text = match message {
                Message::Text(text) => text,
                Message::Close(frame) => panic!("socket closed by server: {frame:?}"),
                _ => continue,
            };
            let message: ServerMessage =
                serde_json::from_str(&text).unwrap_or_else(|e| panic!("bad frame {text}: {e}"));
            if let ServerMessage::State(state) = &message {
                if let Some(version) = self.version {
                    assert!(
                        state.version > version,
                        "version went from {version} to {} on one connection",
                        state.version
                    );
                }
                self.version = Some(state.version);
                self.value = Some(state.value);
                self.states_seen += 1;
            }
            return message;
        }
    }

    /// The next reply (`ack` or `error`), skipping the `state`, `presence`, `access` and
    /// `meta` frames that may arrive at any moment.
    pub async fn next_reply(&mut self) -> ServerMessage {
        loop {
            match self.next().await {
                ServerMessage::State(_)
                | ServerMessage::Presence { .. }
                | ServerMessage::Access { .. }
                | ServerMessage::Meta(_) => continue,
                reply => return reply,
            }
        }
    }

    /// Sends a raw text frame.
    pub async fn send_text(&mut self, text: &str) {
        self.socket
            .send(Message::text(text))
            .await
            .expect("send frame");
    }

    pub async fn send_raw(&mut self, message: Message) {
        self.socket.send(message).await.expect("send frame");
    }

    /// Sends an increment (`delta > 0`) or decrement and returns the reply for its op_id.
    pub async fn change(&mut self, delta: i64, op_id: &str) -> ServerMessage {
        self.send_text(&change_frame(delta, op_id)).await;
        self.reply_to(op_id).await
    }

    /// Sends a change that must be refused; returns the refusal's code.
    pub async fn change_refused(&mut self, delta: i64, op_id: &str) -> shared::ErrorCode {
        match self.change(delta, op_id).await {
            ServerMessage::Error { code, .. } => code,
            other => panic!("{op_id} should have been refused, got {other:?}"),
        }
    }

    /// Reads until the ack or error for `op_id`.
    pub async fn reply_to(&mut self, op_id: &str) -> ServerMessage {
        loop {
            let message = self.next().await;
            match &message {
                ServerMessage::Ack {
                    op_id: Some(id), ..
                }
                | ServerMessage::Error {
                    op_id: Some(id), ..
                } if id.as_str() == op_id => {
                    return message;
                }
                _ => {}
            }
        }
    }

    /// Reads until a state frame shows `value`.
    pub async fn wait_for_value(&mut self, value: i64) {
        while self.value != Some(value) {
            self.next().await;
        }
    }

    /// Reads until the server closes the socket; returns the close code.
    pub async fn close_code(&mut self) -> Option<u16> {
        self.replies_until_close().await.1
    }

    /// Reads until the server closes the socket; returns the replies (acks and errors) read
    /// on the way, and the close code.
    pub async fn replies_until_close(&mut self) -> (Vec<ServerMessage>, Option<u16>) {
        let mut replies = Vec::new();
        loop {
            let message = tokio::time::timeout(PATIENCE, self.socket.next())
                .await
                .expect("no close in time");
            match message {
                Some(Ok(Message::Close(frame))) => {
                    return (replies, frame.map(|f| f.code.into()));
                }
                Some(Ok(Message::Text(text))) => {
                    let message: ServerMessage = serde_json::from_str(&text)
                        .unwrap_or_else(|e| panic!("bad frame {text}: {e}"));
                    if matches!(
                        message,
                        ServerMessage::Ack { .. } | ServerMessage::Error { .. }
                    ) {
                        replies.push(message);
                    }
                }
                Some(Ok(_)) => continue,
                Some(Err(_)) | None => return (replies, None),
            }
        }
    }
}

/// A writer that keeps going through faults, as the real frontend does: every op keeps its
/// `op_id` until it is acknowledged, and is sent again — on another replica if need be —
/// after an error, a timeout or a dropped socket.
pub struct ResilientWriter {
    /// The replicas' WebSocket URLs; the writer moves to the next one when one fails.
    urls: Vec<String>,
    /// Which URL it uses now.
    current: usize,
    /// The open connection; `None` after a failure, until the next send reconnects.
    socket: Option<WebSocketStream<MaybeTlsStream<TcpStream>>>,
    /// How many sends did not get an ack the first time.
    pub retries: usize,
}

impl ResilientWriter {
    pub fn new(urls: Vec<String>, start: usize) -> Self {
        Self {
            current: start % urls.len(),
            urls,
            socket: None,
            retries: 0,
        }
    }

    /// Applies `delta` under `op_id`, retrying until acknowledged; returns the acked value.
    /// Gives up (panics) after a minute, which no healed fault should need.
    pub async fn apply(&mut self, delta: i64, op_id: &str) -> i64 {
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(60);
        loop {
            assert!(
                tokio::time::Instant::now() < deadline,
                "{op_id} never acknowledged"
            );
            match self.try_apply(delta, op_id).await {
                Ok(value) => return value,
                Err(_) => {
                    self.retries += 1;
                    self.socket = None;
                    self.current = (self.current + 1) % self.urls.len();
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                }
            }
        }
    }

    async fn try_apply(&mut self, delta: i64, op_id: &str) -> Result<i64, String> {
        let timeout = std::time::Duration::from_secs(3);
        if self.socket.is_none() {
            let url = &self.urls[self.current];
            let connect = tokio::time::timeout(timeout, connect_async(url.as_str()));
            let (socket, _) = connect
                .await
                .map_err(|_| "connect timed out".to_string())?
                .map_err(|e| e.to_string())?;
            self.socket = Some(socket);
        }
        let socket = self.socket.as_mut().expect("connected above");
        socket
            .send(Message::text(change_frame(delta, op_id)))
            .await
            .map_err(|e| e.to_string())?;
        loop {
            let message = tokio::time::timeout(timeout, socket.next())
                .await
                .map_err(|_| "no reply in time".to_string())?
                .ok_or("socket closed")?
                .map_err(|e| e.to_string())?;
            let Message::Text(text) = message else {
                if let Message::Close(_) = message {
                    return Err("closed by server".into());
                }
                continue;
            };
            match serde_json::from_str::<ServerMessage>(&text) {
                Ok(ServerMessage::Ack {
                    op_id: Some(id),
                    value,
                    ..
                }) if id.as_str() == op_id => {
                    return Ok(value);
                }
                Ok(ServerMessage::Error {
                    op_id: Some(id),
                    code,
                    ..
                }) if id.as_str() == op_id => {
                    return Err(format!("refused: {code}"));
                }
                _ => {}
            }
        }
    }
}
