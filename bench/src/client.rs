//! The load generator's lean WebSocket client: a connection from a chosen source address, and
//! the two frames every phase needs (wait for a state, send an increment).

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use futures_util::StreamExt;
use shared::{ChangeRequest, ClientMessage, CounterState, ServerMessage};
use tokio::net::{TcpSocket, TcpStream};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;

pub type Socket = WebSocketStream<TcpStream>;

/// Opens a WebSocket to `url` (`ws://127.0.0.1:PORT/…`) from `source`, a local address of
/// 127.0.0.0/8, so that many thousands of connections do not share one address's ports.
pub async fn connect(url: &str, source: IpAddr) -> Result<Socket> {
    let authority = url
        .strip_prefix("ws://")
        .and_then(|rest| rest.split('/').next())
        .with_context(|| format!("not a ws:// URL: {url}"))?;
    let server: SocketAddr = authority
        .parse()
        .with_context(|| format!("not an IP:port: {authority}"))?;
    let socket = TcpSocket::new_v4()?;
    // Ports of this source still in TIME_WAIT from an earlier phase may be used again.
    socket.set_reuseaddr(true)?;
    socket
        .bind(SocketAddr::new(source, 0))
        .with_context(|| format!("could not bind to {source}"))?;
    let stream = socket
        .connect(server)
        .await
        .with_context(|| format!("could not connect to {server} from {source}"))?;
    stream.set_nodelay(true)?;
    // Small buffers: tens of thousands of connections live in a few processes, and the frames
    // are under a hundred bytes. Writes go out at once instead of waiting to fill a buffer.
    let config = WebSocketConfig::default()
        .read_buffer_size(2048)
        .write_buffer_size(0);
    let (socket, _) = tokio_tungstenite::client_async_with_config(url, stream, Some(config))
        .await
        .with_context(|| format!("WebSocket handshake with {url} failed"))?;
    Ok(socket)
}

/// Reads frames until the first `state`: the connection is subscribed.
pub async fn wait_for_state(socket: &mut Socket) -> Result<CounterState> {
    next_state(socket, Duration::from_secs(10)).await
}

/// Reads frames until the next `state`, for at most `deadline`.
pub async fn next_state(socket: &mut Socket, deadline: Duration) -> Result<CounterState> {
    tokio::time::timeout(deadline, async {
        while let Some(message) = socket.next().await {
            if let Message::Text(text) = message?
                && let Ok(ServerMessage::State(state)) = serde_json::from_str(text.as_str())
            {
                return Ok(state);
            }
        }
        bail!("the connection closed before a state frame")
    })
    .await
    .with_context(|| format!("no state frame within {deadline:?}"))?
}

/// The JSON of one `increment` frame.
pub fn increment_frame(op_id: String) -> Result<String> {
    Ok(serde_json::to_string(&ClientMessage::Increment(
        ChangeRequest {
            by: Some(1),
            op_id: Some(op_id),
            label: None,
        },
    ))?)
}
