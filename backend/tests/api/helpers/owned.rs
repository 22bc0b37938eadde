//! Version 2 in the tests: clusters that serve only `global` openly, requests with a key,
//! creating a counter, and sockets that present keys and read their role.

use futures_util::StreamExt;
use serde_json::Value;
use shared::{CounterMeta, Created, Role, ServerMessage};

use super::replica::Answer;
use super::{Cluster, PATIENCE, Replica, WsClient};

/// The flags of a version-2 deployment: only `global` is open (the default, said aloud).
pub const V2: &[&str] = &["--open-counters", "global"];

/// A version-2 cluster: Redis with `replicas` backends, or the embedded store.
pub async fn redis(replicas: usize, extra: &[&str]) -> Cluster {
    let flags = [V2, extra].concat();
    Cluster::redis_on(super::RedisServer::start().await, replicas, &flags).await
}

pub async fn embedded(extra: &[&str]) -> Cluster {
    Cluster::embedded(&[V2, extra].concat()).await
}

/// Any request, with `Authorization: Bearer <key>` when a key is given.
pub async fn request(
    replica: &Replica,
    method: &str,
    path: &str,
    key: Option<&str>,
    body: Option<Value>,
) -> Answer {
    let http = reqwest::Client::new();
    let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
    let mut request = http.request(method, replica.url(path));
    if let Some(key) = key {
        request = request.bearer_auth(key);
    }
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.expect("request");
    let status = response.status().as_u16();
    let text = response.text().await.unwrap_or_default();
    Answer {
        status,
        body: serde_json::from_str(&text).unwrap_or(Value::String(text)),
    }
}

/// Creates an owned counter, which must succeed.
pub async fn create(replica: &Replica, body: Value) -> Created {
    let answer = request(replica, "POST", "/api/counters", None, Some(body)).await;
    assert_eq!(answer.status, 201, "{}", answer.body);
    serde_json::from_value(answer.body).expect("created")
}

/// A change over REST with a key.
pub async fn change(replica: &Replica, name: &str, by: i64, key: Option<&str>) -> Answer {
    let (path, by) = if by >= 0 {
        ("increment", by)
    } else {
        ("decrement", -by)
    };
    let path = format!("/api/counters/{name}/{path}");
    request(
        replica,
        "POST",
        &path,
        key,
        Some(serde_json::json!({ "by": by })),
    )
    .await
}

/// Asserts an answer's status and error code.
pub fn refused(answer: &Answer, status: u16, code: &str) {
    assert_eq!(
        (answer.status, answer.body["error"]["code"].as_str()),
        (status, Some(code)),
        "{}",
        answer.body
    );
}

/// A socket as version 2 opens it: the state, then its role and the counter's settings.
pub struct Socket {
    pub client: WsClient,
    pub role: Role,
    pub meta: CounterMeta,
}

impl Socket {
    pub async fn open(url: &str) -> Self {
        let mut client = WsClient::connect(url).await;
        let role = match client.next().await {
            ServerMessage::Access { role } => role,
            other => panic!("the second frame must be access, got {other:?}"),
        };
        let meta = match client.next().await {
            ServerMessage::Meta(meta) => meta,
            other => panic!("the third frame must be meta, got {other:?}"),
        };
        Self { client, role, meta }
    }

    /// Opens the socket and presents `key`; returns it with the role the key gave.
    pub async fn with_key(url: &str, key: &str) -> Self {
        let mut socket = Self::open(url).await;
        socket.auth(key).await;
        socket
    }

    /// Presents a key; returns (and keeps) the role it gives.
    pub async fn auth(&mut self, key: &str) -> Role {
        let frame = serde_json::json!({ "type": "auth", "key": key }).to_string();
        self.client.send_text(&frame).await;
        self.role = self.next_access().await;
        self.role
    }

    /// Reads until the next `access` frame.
    pub async fn next_access(&mut self) -> Role {
        loop {
            if let ServerMessage::Access { role } = self.client.next().await {
                return role;
            }
        }
    }

    /// Reads until the next `meta` frame.
    pub async fn next_meta(&mut self) -> CounterMeta {
        loop {
            if let ServerMessage::Meta(meta) = self.client.next().await {
                return meta;
            }
        }
    }

    /// Reads until the server closes; returns the close code.
    pub async fn close_code(&mut self) -> Option<u16> {
        self.client.close_code().await
    }

    /// Sends a raw frame and returns the reply to `op_id`.
    pub async fn send(&mut self, frame: Value, op_id: &str) -> ServerMessage {
        self.client.send_text(&frame.to_string()).await;
        self.client.reply_to(op_id).await
    }
}

/// The error code of a reply, or a panic.
pub fn code_of(reply: &ServerMessage) -> shared::ErrorCode {
    match reply {
        ServerMessage::Error { code, .. } => *code,
        other => panic!("expected an error, got {other:?}"),
    }
}

/// Opens a WebSocket that must be refused before the upgrade; returns the HTTP status.
pub async fn upgrade_status(url: &str) -> u16 {
    match tokio_tungstenite::connect_async(url).await {
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => response.status().as_u16(),
        Err(err) => panic!("unexpected error {err}"),
        Ok((mut socket, _)) => {
            let first = tokio::time::timeout(PATIENCE, socket.next()).await;
            panic!("the upgrade was accepted: {first:?}");
        }
    }
}
