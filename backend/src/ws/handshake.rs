//! The WebSocket opening handshake (RFC 6455, 4.2), done here rather than by axum's
//! `WebSocketUpgrade`: axum's socket hides the stream under it, and the state frames are
//! written to that stream as pre-built bytes ([`super::frame`]). Tungstenite still reads every
//! frame and writes every other one.

use axum::extract::FromRequestParts;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header, request::Parts};
use axum::response::Response;
use hyper::upgrade::{OnUpgrade, Upgraded};
use hyper_util::rt::TokioIo;
use shared::ErrorCode;
use tokio_tungstenite::WebSocketStream;
use tungstenite::handshake::derive_accept_key;
use tungstenite::protocol::{Role, WebSocketConfig};

use crate::error::AppError;

/// An upgraded connection, framed by tungstenite.
pub type Socket = WebSocketStream<TokioIo<Upgraded>>;

/// A request that asks for a WebSocket (RFC 6455, 4.2.1), not yet answered.
pub struct Upgrade {
    /// The client's `Sec-WebSocket-Key`, which the answer proves it read.
    key: HeaderValue,
    /// Resolves to the connection once the 101 answer is out.
    on_upgrade: OnUpgrade,
}

impl<S: Send + Sync> FromRequestParts<S> for Upgrade {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let refuse = |message: &str| AppError::new(ErrorCode::BadRequest, message);
        if parts.method != Method::GET {
            return Err(AppError::new(
                ErrorCode::MethodNotAllowed,
                "a WebSocket opens with GET",
            ));
        }
        let headers = &parts.headers;
        if !has_token(headers, header::CONNECTION, "upgrade")
            || !has_token(headers, header::UPGRADE, "websocket")
        {
            return Err(refuse("not a WebSocket upgrade"));
        }
        if headers.get(header::SEC_WEBSOCKET_VERSION) != Some(&HeaderValue::from_static("13")) {
            return Err(refuse("only WebSocket version 13 is spoken"));
        }
        let key = headers
            .get(header::SEC_WEBSOCKET_KEY)
            .ok_or_else(|| refuse("Sec-WebSocket-Key is missing"))?
            .clone();
        let on_upgrade = parts
            .extensions
            .remove::<OnUpgrade>()
            .ok_or_else(|| refuse("this connection cannot be upgraded"))?;
        Ok(Self { key, on_upgrade })
    }
}

impl Upgrade {
    /// Answers 101 and, once the connection is handed over, runs `serve` on its own task.
    pub fn on_upgrade<F, Fut>(self, config: WebSocketConfig, serve: F) -> Response
    where
        F: FnOnce(Socket) -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let accept = derive_accept_key(self.key.as_bytes());
        tokio::spawn(async move {
            // An upgrade fails when the client went away before the answer reached it.
            let Ok(upgraded) = self.on_upgrade.await else {
                return;
            };
            let socket = WebSocketStream::from_raw_socket(
                TokioIo::new(upgraded),
                Role::Server,
                Some(config),
            )
            .await;
            serve(socket).await;
        });
        Response::builder()
            .status(StatusCode::SWITCHING_PROTOCOLS)
            .header(header::CONNECTION, "upgrade")
            .header(header::UPGRADE, "websocket")
            .header(header::SEC_WEBSOCKET_ACCEPT, accept)
            .body(axum::body::Body::empty())
            .expect("a valid response")
    }
}

/// Whether the comma-separated header `name` holds `token`, ignoring case.
fn has_token(headers: &HeaderMap, name: header::HeaderName, token: &str) -> bool {
    headers
        .get_all(name)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .any(|item| item.trim().eq_ignore_ascii_case(token))
}
