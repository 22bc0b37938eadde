//! Version 2, history and undo: every change recorded in its own atomic step, paged newest
//! first, exported as CSV oldest first, bounded by `--history-limit`; undo at most once per
//! change across replicas. (`history.rs` is the Jepsen-style check of version 1.) On Redis
//! with two replicas and on the embedded store.

use serde_json::{Value, json};
use shared::{ErrorCode, HistoryPage, ServerMessage};

use crate::helpers::Cluster;
use crate::helpers::cluster::Backing;
use crate::helpers::layout;
use crate::helpers::owned::{self, Socket, code_of, create, refused, request};

fn page(answer: &crate::helpers::replica::Answer) -> HistoryPage {
    assert_eq!(answer.status, 200, "{}", answer.body);
    serde_json::from_value(answer.body.clone()).expect("a history page")
}

/// Every kind of change is in the history with its delta, value, version, op_id and label,
/// newest first, paged with `before`; the owner reads it, nobody else.
async fn every_change_is_recorded_and_paged(cluster: Cluster) {
    let (a, b) = (&cluster.replicas[0], cluster.replicas.last().unwrap());
    let keys = create(a, json!({"name": "log"})).await;
    let mut staff = Socket::with_key(&a.ws_url("log"), &keys.staff_key).await;
    let frame = json!({"type": "increment", "by": 3, "op_id": "i-1", "label": "north door"});
    assert!(matches!(
        staff.send(frame, "i-1").await,
        ServerMessage::Ack { value: 3, .. }
    ));
    let frame = json!({"type": "decrement", "op_id": "d-1", "label": "south door"});
    assert!(matches!(
        staff.send(frame, "d-1").await,
        ServerMessage::Ack { value: 2, .. }
    ));
    let set = json!({"value": 10, "op_id": "s-1"});
    request(
        b,
        "POST",
        "/api/counters/log/set",
        Some(&keys.owner_key),
        Some(set),
    )
    .await;
    let undo = json!({"type": "undo", "op_id": "u-1", "undoes": "i-1"});
    assert!(matches!(
        staff.send(undo, "u-1").await,
        ServerMessage::Ack { value: 7, .. }
    ));

    let history = |query: &str| {
        let path = format!("/api/counters/log/history{query}");
        let key = keys.owner_key.clone();
        async move { request(b, "GET", &path, Some(&key), None).await }
    };
    let all = page(&history("").await);
    let seen: Vec<Value> = all
        .entries
        .iter()
        .map(|e| json!([e.kind, e.delta, e.value, e.version, e.op_id, e.label]))
        .collect();
    assert_eq!(
        seen,
        vec![
            json!(["undo", -3, 7, 4, "u-1", null]),
            json!(["set", 8, 10, 3, "s-1", null]),
            json!(["decrement", -1, 2, 2, "d-1", "south door"]),
            json!(["increment", 3, 3, 1, "i-1", "north door"]),
        ]
    );
    assert_eq!(all.next, None);
    for entry in &all.entries {
        assert!(
            entry.at.ends_with('Z') && entry.at.len() == 24,
            "{}",
            entry.at
        );
    }
    let first = page(&history("?limit=3").await);
    assert_eq!(first.entries.len(), 3);
    let cursor = first.next.expect("a next page");
    let rest = page(&history(&format!("?limit=3&before={cursor}")).await);
    assert_eq!(rest.entries.len(), 1);
    assert_eq!(rest.entries[0].op_id.as_deref(), Some("i-1"));
    for bad in ["?limit=0", "?limit=1001", "?limit=x", "?before=nope"] {
        refused(&history(bad).await, 400, "bad_request");
    }
    let by_staff = request(
        a,
        "GET",
        "/api/counters/log/history",
        Some(&keys.staff_key),
        None,
    )
    .await;
    refused(&by_staff, 403, "forbidden");
    refused(
        &request(a, "GET", "/api/counters/log/history", None, None).await,
        401,
        "unauthorized",
    );
    let csv = request(a, "GET", "/api/counters/log/history.csv", None, None).await;
    refused(&csv, 401, "unauthorized");
}

/// The CSV export: a header row, then every entry oldest first, RFC 3339 times in UTC.
async fn the_csv_export_is_oldest_first(cluster: Cluster) {
    let replica = &cluster.replicas[0];
    let keys = create(replica, json!({"name": "csv"})).await;
    let mut staff = Socket::with_key(&replica.ws_url("csv"), &keys.staff_key).await;
    for k in 0..1500 {
        let label = if k == 0 {
            json!("a, \"b\"")
        } else {
            json!(null)
        };
        let frame = json!({"type": "increment", "op_id": format!("c-{k}"), "label": label});
        staff.client.send_text(&frame.to_string()).await;
    }
    staff.client.reply_to("c-1499").await;
    let response = reqwest::Client::new()
        .get(replica.url("/api/counters/csv/history.csv"))
        .bearer_auth(&keys.owner_key)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/csv")
    );
    let text = response.text().await.unwrap();
    let lines: Vec<&str> = text.split("\r\n").filter(|line| !line.is_empty()).collect();
    assert_eq!(lines[0], "at,kind,delta,value,version,op_id,label");
    assert_eq!(lines.len(), 1501, "every change, across the export's pages");
    // A socket's changes are in the store up to 64 at once, so their order is the
    // store's: the versions say it, and each op_id is there once.
    let mut op_ids = std::collections::HashSet::new();
    for (k, line) in lines[1..].iter().enumerate() {
        let fields: Vec<&str> = line.splitn(7, ',').collect();
        assert_eq!(
            fields[1..5],
            ["increment", "1", &(k + 1).to_string(), &(k + 1).to_string()]
        );
        assert!(fields[0].ends_with('Z'), "{line}");
        assert!(op_ids.insert(fields[5].to_owned()), "{line}");
        if fields[5] == "c-0" {
            assert_eq!(fields[6], "\"a, \"\"b\"\"\"", "quoted as RFC 4180 says");
        }
    }
    assert_eq!(op_ids.len(), 1500);
}

/// An open counter's history is anyone's.
async fn an_open_counters_history_is_public(cluster: Cluster) {
    let replica = &cluster.replicas[0];
    owned::change(replica, "global", 2, None).await;
    let all = page(&request(replica, "GET", "/api/counters/global/history", None, None).await);
    assert_eq!(all.entries.len(), 1);
    assert_eq!(all.entries[0].delta, 2);
    let csv = request(
        replica,
        "GET",
        "/api/counters/global/history.csv",
        None,
        None,
    )
    .await;
    assert_eq!(csv.status, 200);
}

/// Undo: the opposite of one earlier increment or decrement, at most once whichever socket
/// or replica asks; retried under its own op_id it is answered once; a viewer may not.
async fn an_undo_applies_once_across_replicas(cluster: Cluster) {
    let (a, b) = (&cluster.replicas[0], cluster.replicas.last().unwrap());
    let keys = create(a, json!({"name": "tap"})).await;
    let mut on_a = Socket::with_key(&a.ws_url("tap"), &keys.staff_key).await;
    let mut on_b = Socket::with_key(&b.ws_url("tap"), &keys.owner_key).await;
    assert!(matches!(
        on_a.client.change(5, "p-1").await,
        ServerMessage::Ack { value: 5, .. }
    ));
    let undo =
        |op_id: &str, undoes: &str| json!({"type": "undo", "op_id": op_id, "undoes": undoes});
    let first = on_a.send(undo("u-1", "p-1"), "u-1").await;
    assert!(
        matches!(first, ServerMessage::Ack { value: 0, .. }),
        "{first:?}"
    );
    let retried = on_a.send(undo("u-1", "p-1"), "u-1").await;
    assert!(
        matches!(retried, ServerMessage::Ack { value: 0, .. }),
        "{retried:?}"
    );
    assert_eq!(
        code_of(&on_b.send(undo("u-2", "p-1"), "u-2").await),
        ErrorCode::Conflict
    );
    assert_eq!(
        code_of(&on_b.send(undo("u-3", "nothing"), "u-3").await),
        ErrorCode::NotFound
    );
    assert_eq!(
        code_of(&on_b.send(undo("u-4", "u-1"), "u-4").await),
        ErrorCode::Conflict,
        "an undo is not undone"
    );
    let set = json!({"value": 9, "op_id": "s-1"});
    request(
        b,
        "POST",
        "/api/counters/tap/set",
        Some(&keys.owner_key),
        Some(set),
    )
    .await;
    assert_eq!(
        code_of(&on_b.send(undo("u-5", "s-1"), "u-5").await),
        ErrorCode::Conflict
    );
    assert_eq!(
        code_of(
            &on_b
                .send(json!({"type": "undo", "op_id": "u-6"}), "u-6")
                .await
        ),
        ErrorCode::BadRequest
    );
    let mut viewer = Socket::open(&a.ws_url("tap")).await;
    assert!(matches!(
        on_a.client.change(1, "p-2").await,
        ServerMessage::Ack { value: 10, .. }
    ));
    assert_eq!(
        code_of(&viewer.send(undo("u-7", "p-2"), "u-7").await),
        ErrorCode::Forbidden
    );
    assert_eq!(cluster.stored_value("tap").await, 10);

    // Many undos of one change at once, from both replicas: one applies.
    assert!(matches!(
        on_a.client.change(4, "p-3").await,
        ServerMessage::Ack { value: 14, .. }
    ));
    for k in 0..10 {
        let socket = if k % 2 == 0 { &mut on_a } else { &mut on_b };
        socket
            .client
            .send_text(&undo(&format!("r-{k}"), "p-3").to_string())
            .await;
    }
    let mut applied = 0;
    for k in 0..10 {
        let socket = if k % 2 == 0 { &mut on_a } else { &mut on_b };
        match socket.client.reply_to(&format!("r-{k}")).await {
            ServerMessage::Ack { .. } => applied += 1,
            other => assert_eq!(code_of(&other), ErrorCode::Conflict),
        }
    }
    assert_eq!(applied, 1);
    assert_eq!(cluster.stored_value("tap").await, 10);
}

/// `--history-limit`: the history stays bounded (embedded: exactly; Redis: `MAXLEN ~`,
/// which trims whole stream nodes, so up to a node more).
async fn the_history_is_bounded(cluster: Cluster) {
    let replica = &cluster.replicas[0];
    let keys = create(replica, json!({"name": "long"})).await;
    let mut staff = Socket::with_key(&replica.ws_url("long"), &keys.staff_key).await;
    for k in 0..500 {
        staff
            .client
            .send_text(&crate::helpers::ws_client::change_frame(
                1,
                &format!("l-{k}"),
            ))
            .await;
    }
    staff.client.reply_to("l-499").await;
    let path = "/api/counters/long/history?limit=1000";
    let all = page(&request(replica, "GET", path, Some(&keys.owner_key), None).await);
    assert_eq!(all.entries[0].version, 500, "the newest is kept");
    match &cluster.backing {
        Backing::Redis(redis) => {
            let length: i64 = redis.cmd(&["XLEN", &layout::log("long")]).await;
            assert!((5..=110).contains(&length), "{length}");
            assert_eq!(all.entries.len() as i64, length);
        }
        _ => assert_eq!(all.entries.len(), 5),
    }
}

macro_rules! on_both_stores {
    ($($test:ident($flags:expr)),* $(,)?) => {
        mod on_redis {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $test() {
                    super::$test(crate::helpers::owned::redis(2, $flags).await).await;
                }
            )*
        }
        mod on_embedded {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $test() {
                    super::$test(crate::helpers::owned::embedded($flags).await).await;
                }
            )*
        }
    };
}

on_both_stores!(
    every_change_is_recorded_and_paged(&[]),
    the_csv_export_is_oldest_first(&[]),
    an_open_counters_history_is_public(&[]),
    an_undo_applies_once_across_replicas(&[]),
    the_history_is_bounded(&["--history-limit", "5"]),
);
