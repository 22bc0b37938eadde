//! The contract every store keeps (DESIGN.md's invariants), run against Redis with two
//! replicas and against the embedded store.

use shared::{ErrorCode, ServerMessage};

use crate::helpers::ws_client::change_frame;
use crate::helpers::{Cluster, WsClient};

/// A change made through one replica reaches sockets on every replica, and the store.
pub async fn change_reaches_every_replica(cluster: Cluster) {
    let mut watchers = cluster.watchers("doors").await;
    let mut writer = WsClient::connect(&cluster.replicas[0].ws_url("doors")).await;
    let reply = writer.change(3, "w-1").await;
    assert!(
        matches!(
            reply,
            ServerMessage::Ack {
                value: 3,
                version: 1,
                ..
            }
        ),
        "{reply:?}"
    );
    for watcher in &mut watchers {
        watcher.wait_for_value(3).await;
    }
    let last = cluster.replicas.last().unwrap();
    let answer = last.post("/api/counters/doors/decrement", None).await;
    assert_eq!(answer.status, 200);
    assert_eq!(answer.body["value"], 2);
    for watcher in &mut watchers {
        watcher.wait_for_value(2).await;
    }
    assert_eq!(cluster.stored_value("doors").await, 2);
}

/// Invariants 1–3: W writers × K mixed changes spread over the replicas end exactly right,
/// every socket converges on the final value, and no socket sees a version go backwards.
pub async fn no_lost_update(cluster: Cluster) {
    const WRITERS: usize = 8;
    const CHANGES: usize = 100;
    let mut watchers = Vec::new();
    for i in 0..2 * cluster.replicas.len() {
        watchers.push(WsClient::connect(&cluster.replica_for(i).ws_url("tally")).await);
    }
    let mut writers = Vec::new();
    let mut expected = 0;
    for w in 0..WRITERS {
        let deltas: Vec<i64> = (0..CHANGES)
            .map(|k| {
                if (w + k) % 3 == 0 {
                    -2
                } else {
                    1 + (k % 4) as i64
                }
            })
            .collect();
        expected += deltas.iter().sum::<i64>();
        let url = cluster.replica_for(w).ws_url("tally");
        writers.push(tokio::spawn(async move {
            let mut client = WsClient::connect(&url).await;
            for (k, delta) in deltas.into_iter().enumerate() {
                let reply = client.change(delta, &format!("w{w}-{k}")).await;
                assert!(matches!(reply, ServerMessage::Ack { .. }), "{reply:?}");
            }
        }));
    }
    for writer in writers {
        writer.await.expect("writer task");
    }
    for watcher in &mut watchers {
        watcher.wait_for_value(expected).await;
    }
    assert_eq!(cluster.stored_value("tally").await, expected);
    for replica in &cluster.replicas {
        let state = replica.state("tally").await;
        assert_eq!(state.value, expected);
        assert_eq!(state.version, (WRITERS * CHANGES) as u64);
    }
}

/// Invariant 4: a retried op_id is applied once, over WebSocket and REST, on any replica and
/// after a reconnect, and is answered with its first result.
pub async fn retried_op_id_applies_once(cluster: Cluster) {
    let first_replica = &cluster.replicas[0];
    let other_replica = cluster.replicas.last().unwrap();
    let mut client = WsClient::connect(&first_replica.ws_url("vote")).await;
    let first = client.change(5, "retry-me").await;
    let ServerMessage::Ack { value, version, .. } = first else {
        panic!("{first:?}");
    };
    assert_eq!(value, 5);

    let mut elsewhere = WsClient::connect(&other_replica.ws_url("vote")).await;
    let again = elsewhere.change(5, "retry-me").await;
    assert!(
        matches!(again, ServerMessage::Ack { value: 5, version: v, .. } if v == version),
        "{again:?}"
    );
    drop(client);
    let mut reconnected = WsClient::connect(&first_replica.ws_url("vote")).await;
    let third = reconnected.change(5, "retry-me").await;
    assert!(
        matches!(third, ServerMessage::Ack { value: 5, .. }),
        "{third:?}"
    );
    let rest = other_replica.increment("vote", 5, Some("retry-me")).await;
    assert_eq!((rest.status, rest.body["value"].as_i64()), (200, Some(5)));

    // A new op_id is a new change.
    let fresh = other_replica.increment("vote", 1, Some("another")).await;
    assert_eq!(fresh.body["value"], 6);
    assert_eq!(cluster.stored_value("vote").await, 6);
    assert_eq!(first_replica.state("vote").await.version, 2);
}

/// A socket's frames sent back to back, without waiting (a socket keeps several changes in
/// the store at once), are all answered, in the order sent: changes, a refused frame and a
/// retried op_id among them. Each change is applied once and gets a version of its own.
pub async fn frames_sent_back_to_back_are_answered_in_order(cluster: Cluster) {
    const FRAMES: usize = 300;
    let replica = &cluster.replicas[0];
    let mut client = WsClient::connect(&replica.ws_url("burst")).await;
    let mut sent = Vec::new();
    let mut expected = 0;
    for k in 0..FRAMES {
        let op_id = format!("b-{k}");
        let frame = match k {
            // Refused: `by` must be at least 1.
            150 => format!(r#"{{"type":"increment","by":0,"op_id":"{op_id}"}}"#),
            // A retry of an earlier op, perhaps still in the store: applied once.
            200 => change_frame(3, "b-199"),
            _ => {
                let delta = if k % 3 == 0 { -2 } else { 3 };
                expected += delta;
                change_frame(delta, &op_id)
            }
        };
        client.send_text(&frame).await;
        sent.push(if k == 200 { "b-199".to_string() } else { op_id });
    }
    let mut versions = std::collections::BTreeSet::new();
    let mut acked = std::collections::HashMap::new();
    for op_id in &sent {
        match client.next_reply().await {
            ServerMessage::Ack {
                op_id: Some(id),
                value,
                version,
            } => {
                assert_eq!(id.as_str(), op_id, "replies come in the order sent");
                if let Some(first) = acked.insert(op_id.clone(), (value, version)) {
                    assert_eq!(first, (value, version), "a retry gets the first result");
                } else {
                    assert!(versions.insert(version), "version {version} given twice");
                }
            }
            ServerMessage::Error {
                op_id: Some(id),
                code,
                ..
            } => {
                assert_eq!((id.as_str(), code), ("b-150", ErrorCode::BadRequest));
                assert_eq!(op_id, "b-150", "replies come in the order sent");
            }
            other => panic!("expected the reply to {op_id}, got {other:?}"),
        }
    }
    assert_eq!(versions.len(), FRAMES - 2);
    assert_eq!(versions.last().copied(), Some((FRAMES - 2) as u64));
    client.wait_for_value(expected).await;
    assert_eq!(cluster.stored_value("burst").await, expected);
}

/// A replica told to stop (SIGTERM, as in a rolling restart) answers every change it has
/// read, then closes with 1001; a frame it did not read was not applied, so the client can
/// safely send it again elsewhere. (`redis::a_stopping_replica_answers_the_changes_still_in_redis`
/// makes sure changes are waiting in the store when the signal comes.)
pub async fn a_stopping_replica_answers_every_change_it_read(mut cluster: Cluster) {
    const FRAMES: usize = 200;
    let replica = &mut cluster.replicas[0];
    let mut client = WsClient::connect(&replica.ws_url("drain")).await;
    for k in 0..FRAMES {
        client.send_text(&change_frame(1, &format!("d-{k}"))).await;
    }
    let replies = tokio::spawn(async move { client.replies_until_close().await });
    assert!(replica.terminate().await, "exit status 0");
    let (replies, code) = replies.await.expect("reader");
    assert_eq!(code, Some(1001));
    for (k, reply) in replies.iter().enumerate() {
        let expected = format!("d-{k}");
        assert!(
            matches!(reply, ServerMessage::Ack { op_id: Some(id), .. } if id.as_str() == expected),
            "reply {k} should be the ack of {expected}: {reply:?}"
        );
    }
    replica.restart().await;
    assert_eq!(
        replica.state("drain").await.value,
        replies.len() as i64,
        "exactly the answered changes were applied"
    );
}

/// Declares each contract test twice: on Redis with two replicas, and on the embedded store.
macro_rules! for_both_stores {
    ($($test:ident),* $(,)?) => {
        mod on_redis {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $test() {
                    super::$test(crate::helpers::Cluster::redis(2).await).await;
                }
            )*
        }
        mod on_embedded {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $test() {
                    super::$test(crate::helpers::Cluster::embedded(&[]).await).await;
                }
            )*
        }
    };
}

for_both_stores!(
    change_reaches_every_replica,
    frames_sent_back_to_back_are_answered_in_order,
    a_stopping_replica_answers_every_change_it_read,
    no_lost_update,
    retried_op_id_applies_once
);
