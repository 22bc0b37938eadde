//! `GET /ws/counters/{name}`: the checks a socket passes before it is upgraded.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, Path, State};
use axum::http::HeaderMap;
use axum::response::Response;
use shared::{CounterName, ErrorCode, ProtocolError};
use tungstenite::protocol::WebSocketConfig;

use super::handshake::{Socket, Upgrade};
use super::session::serve;
use crate::error::AppError;
use crate::state::AppState;

/// Checks the name, the origin, the fan-out and the connection caps before upgrading, so a
/// refused client gets a plain HTTP error.
pub async fn upgrade(
    ws: Upgrade,
    Path(name): Path<String>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    State(app): State<AppState>,
) -> Result<Response, AppError> {
    let name: CounterName = name.parse()?;
    let refuse = |err: ProtocolError| {
        app.counters.metrics.ws_refused.inc();
        AppError(err)
    };
    app.origin.check(&headers).map_err(refuse)?;
    // A replica whose subscriber is down would serve a socket that never hears of changes.
    // Refusing the upgrade with 503 lets a load balancer send the client to another replica
    // (nginx: proxy_next_upstream http_503), and a client without one retry later.
    if !app.counters.hub.live() {
        return Err(refuse(ProtocolError::new(
            ErrorCode::Unavailable,
            "this server cannot reach its store right now; try again shortly",
        )));
    }
    // Version 2: a name that is neither open nor created is 404, before the upgrade, and
    // nothing is created.
    let standing = app.counters.standing(&name).await.map_err(refuse)?;
    let permit = app.connections.admit(peer.ip()).map_err(refuse)?;
    let max = app.config.max_message_bytes;
    let config = WebSocketConfig::default()
        // Frames are small: a 256-byte read buffer instead of tungstenite's 128 KiB, which
        // was nearly all of an idle socket's memory and is zero-filled before every read
        // (BENCHMARKS.md). Every frame is flushed as it is sent, so no write buffer either.
        .read_buffer_size(256)
        .write_buffer_size(0)
        .max_message_size(Some(max))
        .max_frame_size(Some(max));
    Ok(ws.on_upgrade(config, move |socket: Socket| async move {
        app.counters.metrics.ws_accepted.inc();
        serve(socket, name, standing, app).await;
        // The permit is held for the socket's whole life.
        drop(permit);
    }))
}
