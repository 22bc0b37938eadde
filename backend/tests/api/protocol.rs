//! Bad input of every kind gets a clear error, changes nothing and crashes nothing
//! (invariant 6), plus the HTTP surface around the API.

use serde_json::json;
use shared::{ErrorCode, ServerMessage};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

use crate::helpers::{Cluster, Replica, WsClient};

fn code(answer: &crate::helpers::replica::Answer) -> Option<ErrorCode> {
    serde_json::from_value(answer.body["error"]["code"].clone()).ok()
}

/// The counter, read through the API, is still `expected` and the replica still answers.
async fn unchanged(replica: &Replica, name: &str, expected: i64) {
    assert_eq!(replica.state(name).await.value, expected);
    assert_eq!(replica.healthz().await, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_rest_requests_are_refused_clearly() {
    let cluster = Cluster::embedded(&[]).await;
    let replica = &cluster.replicas[0];
    replica.increment("global", 3, None).await;

    let invalid_names = ["a%20b", "a.b", "%C3%BC", &"x".repeat(65)];
    for name in invalid_names {
        let answer = replica.get(&format!("/api/counters/{name}")).await;
        assert_eq!(
            (answer.status, code(&answer)),
            (400, Some(ErrorCode::InvalidName)),
            "{name}"
        );
        let answer = replica
            .post(&format!("/api/counters/{name}/increment"), None)
            .await;
        assert_eq!(code(&answer), Some(ErrorCode::InvalidName), "{name}");
    }
    let bad_bodies = [
        json!({"by": 0}),
        json!({"by": -1}),
        json!({"by": 1_000_001}),
        json!({"by": 1.5}),
        json!({"by": "1"}),
        json!({"op_id": "x".repeat(65)}),
        json!({"by": 1, "surprise": true}),
        json!([1]),
    ];
    for body in bad_bodies {
        let answer = replica
            .post("/api/counters/global/increment", Some(body.clone()))
            .await;
        assert_eq!(
            (answer.status, code(&answer)),
            (400, Some(ErrorCode::BadRequest)),
            "{body}"
        );
        assert!(answer.body["error"]["message"].as_str().unwrap().len() > 5);
    }
    let answer = replica
        .post_raw("/api/counters/global/increment", b"{not json".to_vec())
        .await;
    assert_eq!(code(&answer), Some(ErrorCode::BadRequest));
    let huge = format!(r#"{{"op_id":"{}"}}"#, "x".repeat(5000));
    let answer = replica
        .post_raw("/api/counters/global/increment", huge.into_bytes())
        .await;
    assert_eq!(
        (answer.status, code(&answer)),
        (413, Some(ErrorCode::TooLarge))
    );
    unchanged(replica, "global", 3).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_surface_answers_as_documented() {
    let static_dir = tempfile::tempdir().unwrap();
    std::fs::write(
        static_dir.path().join("index.html"),
        "<!doctype html><p>shell</p>",
    )
    .unwrap();
    std::fs::write(static_dir.path().join("app.js"), "console.log(1)").unwrap();
    let dir = static_dir.path().display().to_string();
    let cluster = Cluster::embedded(&["--static-dir", &dir]).await;
    let replica = &cluster.replicas[0];

    let fresh = replica.get("/api/counters/never-used").await;
    assert_eq!(
        fresh.body,
        json!({"name": "never-used", "value": 0, "version": 0})
    );
    let unknown = replica.get("/api/nope").await;
    assert_eq!(
        (unknown.status, code(&unknown)),
        (404, Some(ErrorCode::NotFound))
    );
    let wrong_method = replica.get("/api/counters/global/increment").await;
    assert_eq!(
        (wrong_method.status, code(&wrong_method)),
        (405, Some(ErrorCode::MethodNotAllowed))
    );
    // The WebSocket path without an upgrade: the handshake is the backend's own, and it
    // refuses like the rest of the API.
    let not_an_upgrade = replica.get("/ws/counters/global").await;
    assert_eq!(
        (not_an_upgrade.status, code(&not_an_upgrade)),
        (400, Some(ErrorCode::BadRequest))
    );
    assert_eq!(replica.healthz().await, 200);
    assert_eq!(replica.readyz().await, 200);

    let http = reqwest::Client::new();
    let shell = http
        .get(replica.url("/c/some-counter"))
        .send()
        .await
        .unwrap();
    assert_eq!(shell.status(), 200, "unknown paths get the SPA shell");
    assert!(shell.text().await.unwrap().contains("shell"));
    let asset = http.get(replica.url("/app.js")).send().await.unwrap();
    assert_eq!(asset.text().await.unwrap(), "console.log(1)");

    replica.increment("global", 1, None).await;
    let metrics = http.get(replica.url("/metrics")).send().await.unwrap();
    assert!(
        metrics.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain")
    );
    let text = metrics.text().await.unwrap();
    assert!(text.contains("\ncounter_ops_applied_total 1\n"), "{text}");

    // Answers that change with every request are never cached, nor sniffed as another type.
    for path in [
        "/api/counters/global",
        "/api/nope",
        "/readyz",
        "/healthz",
        "/metrics",
    ] {
        let answer = http.get(replica.url(path)).send().await.unwrap();
        let header = |name: &str| {
            answer
                .headers()
                .get(name)
                .map(|v| v.to_str().unwrap().to_owned())
        };
        assert_eq!(
            header("cache-control").as_deref(),
            Some("no-store"),
            "{path}"
        );
        assert_eq!(
            header("x-content-type-options").as_deref(),
            Some("nosniff"),
            "{path}"
        );
    }
    let post = http
        .post(replica.url("/api/counters/global/increment"))
        .send()
        .await
        .unwrap();
    assert_eq!(post.headers()["cache-control"], "no-store");
    assert!(text.contains("counter_ready 1"), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_frames_get_error_frames_and_the_socket_stays_open() {
    let cluster = Cluster::embedded(&[]).await;
    let replica = &cluster.replicas[0];
    let mut client = WsClient::connect(&replica.ws_url("global")).await;
    let frames = [
        "not json",
        "{}",
        r#"{"type":"reset","op_id":"b1"}"#,
        r#"{"type":"increment","by":0,"op_id":"b2"}"#,
        r#"{"type":"increment","by":-3,"op_id":"b3"}"#,
        r#"{"type":"increment","by":2.5,"op_id":"b4"}"#,
        r#"{"type":"increment","by":"2","op_id":"b5"}"#,
        r#"{"type":"increment","by":99999999,"op_id":"b6"}"#,
        r#"{"type":"decrement","by":1,"op_id":"b7","extra":1}"#,
    ];
    for frame in frames {
        client.send_text(frame).await;
        match client.next_reply().await {
            ServerMessage::Error { code, message, .. } => {
                assert_eq!(code, ErrorCode::BadRequest, "{frame}");
                assert!(!message.is_empty());
            }
            other => panic!("{frame}: expected an error frame, got {other:?}"),
        }
    }
    let long_id = format!(r#"{{"type":"increment","op_id":"{}"}}"#, "x".repeat(65));
    client.send_text(&long_id).await;
    assert!(matches!(
        client.next_reply().await,
        ServerMessage::Error {
            code: ErrorCode::BadRequest,
            ..
        }
    ));
    client.send_raw(Message::binary(vec![1, 2, 3])).await;
    assert!(matches!(
        client.next_reply().await,
        ServerMessage::Error {
            code: ErrorCode::BadRequest,
            ..
        }
    ));
    // The error frame names the op it refuses, so the client can settle it.
    client
        .send_text(r#"{"type":"increment","by":0,"op_id":"named"}"#)
        .await;
    let reply = client.reply_to("named").await;
    assert!(matches!(reply, ServerMessage::Error { .. }));

    unchanged(replica, "global", 0).await;
    let reply = client.change(1, "fine").await;
    assert!(
        matches!(reply, ServerMessage::Ack { value: 1, .. }),
        "{reply:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_close_is_answered_with_a_close_frame() {
    // The closing handshake: a client that closes hears the server's close back, rather than
    // a dropped connection (which browsers report as an abnormal closure, 1006).
    let cluster = Cluster::embedded(&[]).await;
    let mut client = WsClient::connect(&cluster.replicas[0].ws_url("global")).await;
    client
        .send_raw(Message::Close(Some(CloseFrame {
            code: CloseCode::Normal,
            reason: "bye".into(),
        })))
        .await;
    assert_eq!(client.close_code().await, Some(1000));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_oversized_frame_closes_with_1009() {
    let cluster = Cluster::embedded(&[]).await;
    let replica = &cluster.replicas[0];
    let mut client = WsClient::connect(&replica.ws_url("global")).await;
    let huge = format!(r#"{{"type":"increment","op_id":"{}"}}"#, "x".repeat(5000));
    client.send_text(&huge).await;
    assert_eq!(client.close_code().await, Some(1009));
    unchanged(replica, "global", 0).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flooding_socket_is_rate_limited_and_others_are_not() {
    let cluster = Cluster::embedded(&["--max-ops-per-second", "5", "--max-ops-burst", "5"]).await;
    let replica = &cluster.replicas[0];
    let mut flooder = WsClient::connect(&replica.ws_url("global")).await;
    for k in 0..30 {
        flooder
            .send_text(&format!(r#"{{"type":"increment","op_id":"f{k}"}}"#))
            .await;
    }
    let (mut acked, mut limited) = (0, 0);
    for k in 0..30 {
        match flooder.reply_to(&format!("f{k}")).await {
            ServerMessage::Ack { .. } => acked += 1,
            ServerMessage::Error {
                code: ErrorCode::RateLimited,
                ..
            } => limited += 1,
            other => panic!("{other:?}"),
        }
    }
    assert!(
        limited > 0 && acked >= 5,
        "acked {acked}, limited {limited}"
    );
    let mut other = WsClient::connect(&replica.ws_url("global")).await;
    let reply = other.change(1, "polite").await;
    assert!(matches!(reply, ServerMessage::Ack { .. }), "{reply:?}");
    assert_eq!(replica.state("global").await.value, acked + 1);
}

/// Tries a WebSocket upgrade with the given Origin; returns the HTTP status of a refusal or
/// 101 when the upgrade happened.
async fn upgrade_status(replica: &Replica, name: &str, origin: Option<&str>) -> (u16, String) {
    let mut request = replica.ws_url(name).into_client_request().unwrap();
    if let Some(origin) = origin {
        request
            .headers_mut()
            .insert("origin", origin.parse().unwrap());
    }
    match tokio_tungstenite::connect_async(request).await {
        Ok(_) => (101, String::new()),
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
            let body = response.body().clone().unwrap_or_default();
            (
                response.status().as_u16(),
                String::from_utf8_lossy(&body).into(),
            )
        }
        Err(err) => panic!("unexpected error {err}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn foreign_origins_are_refused_before_the_upgrade() {
    let cluster = Cluster::embedded(&[]).await;
    let replica = &cluster.replicas[0];
    let own = format!("http://{}", replica.address);
    assert_eq!(upgrade_status(replica, "global", Some(&own)).await.0, 101);
    assert_eq!(
        upgrade_status(replica, "global", None).await.0,
        101,
        "non-browser clients"
    );
    let look_alike = format!("http://{}.evil.example", replica.address);
    for origin in ["http://evil.example", look_alike.as_str(), "null"] {
        let (status, body) = upgrade_status(replica, "global", Some(origin)).await;
        assert_eq!(status, 403, "{origin}");
        assert!(body.contains("forbidden_origin"), "{body}");
    }
    // The same rule for REST changes, which a foreign page could otherwise make its
    // visitors' browsers send.
    let http = reqwest::Client::new();
    let post = |origin: String| {
        http.post(replica.url("/api/counters/global/increment"))
            .header("origin", origin)
            .send()
    };
    let foreign = post("http://evil.example".into()).await.unwrap();
    assert_eq!(foreign.status(), 403);
    assert!(foreign.text().await.unwrap().contains("forbidden_origin"));
    assert_eq!(post(own.clone()).await.unwrap().status(), 200);
    assert_eq!(
        replica.state("global").await.value,
        1,
        "only the same-origin POST counted"
    );
    let (status, body) = upgrade_status(replica, "bad.name", None).await;
    assert_eq!(status, 400);
    assert!(body.contains("invalid_name"), "{body}");

    let listed = Cluster::embedded(&["--allowed-origins", "https://app.example.com"]).await;
    let replica = &listed.replicas[0];
    assert_eq!(
        upgrade_status(replica, "global", Some("https://app.example.com"))
            .await
            .0,
        101
    );
    let own = format!("http://{}", replica.address);
    assert_eq!(upgrade_status(replica, "global", Some(&own)).await.0, 403);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_connection_cap_refuses_with_503() {
    let cluster = Cluster::embedded(&["--max-connections", "2"]).await;
    let replica = &cluster.replicas[0];
    let first = WsClient::connect(&replica.ws_url("global")).await;
    let _second = WsClient::connect(&replica.ws_url("global")).await;
    let (status, body) = upgrade_status(replica, "global", None).await;
    assert_eq!(status, 503);
    assert!(body.contains("unavailable"), "{body}");
    drop(first);
    crate::helpers::eventually("a freed slot", || async {
        (upgrade_status(replica, "global", None).await.0 == 101).then_some(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn presence_counts_sockets_over_replicas() {
    let cluster = Cluster::redis(2).await;
    let mut a = WsClient::connect(&cluster.replicas[0].ws_url("room")).await;
    let b = WsClient::connect(&cluster.replicas[1].ws_url("room")).await;
    let c = WsClient::connect(&cluster.replicas[1].ws_url("room")).await;
    loop {
        if let ServerMessage::Presence { online: 3 } = a.next().await {
            break;
        }
    }
    // Everyone on replica B leaves: B reports 0 at its next tick, not after a timeout.
    drop((b, c));
    loop {
        if let ServerMessage::Presence { online: 1 } = a.next().await {
            break;
        }
    }
}
