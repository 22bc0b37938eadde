//! Faults survived: Redis killed, hung, flushed of its scripts, dropping the subscriber; a
//! replica killed under load. Each test starts its own Redis and replicas, drives writers
//! that retry by op_id as the frontend does, and checks that every acknowledged op counts
//! exactly once and every client converges.

use std::time::Duration;

use futures_util::StreamExt;
use shared::{ErrorCode, ServerMessage};

use crate::helpers::layout;
use crate::helpers::{Cluster, Load, RedisServer, WsClient};
use crate::redis::subscriber_ids;

/// Sends a signal to a process.
pub(crate) fn signal(pid: u32, name: &str) {
    let status = std::process::Command::new("kill")
        .args([format!("-{name}"), pid.to_string()])
        .status()
        .expect("kill");
    assert!(status.success(), "kill -{name} {pid}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_kill_9_with_aof_loses_no_acknowledged_op() {
    let redis = RedisServer::start_with(&["--appendonly", "yes", "--appendfsync", "always"]).await;
    let mut cluster = Cluster::redis_on(redis, 2, &[]).await;
    let mut watchers = cluster.watchers("aof").await;
    let load = Load::start(cluster.ws_urls("aof"), "aof", 4);

    tokio::time::sleep(Duration::from_millis(300)).await;
    cluster.redis_server_mut().kill9().await;
    cluster.wait_ready(503).await;
    cluster.redis_server_mut().restart().await;
    // What survived the crash: with `appendfsync always`, every op acknowledged before it.
    let after_restart = cluster.stored_value("aof").await;
    assert!(after_restart > 0, "the writers were busy before the crash");
    cluster.wait_ready(200).await;
    tokio::time::sleep(Duration::from_millis(300)).await;

    // Writers blocked by the outage either got `unavailable` and retried, or were answered
    // once Redis was back; either way each op counts exactly once.
    let (expected, _retries) = load.finish().await;
    assert!(
        expected > after_restart,
        "the writers carried on after the restart"
    );
    assert_eq!(cluster.stored_value("aof").await, expected);
    for watcher in &mut watchers {
        watcher.wait_for_value(expected).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hung_redis_gets_bounded_answers_and_recovers() {
    let cluster = Cluster::redis(2).await;
    let mut watchers = cluster.watchers("hung").await;
    cluster.replicas[0].increment("hung", 5, None).await;
    let pid = cluster.redis_server().pid();
    let rss_before = cluster.replicas[0].rss_kib();
    signal(pid, "STOP");
    // A crowd of requests while Redis hangs: each waits at most the deadline, none piles up.
    let crowd: Vec<_> = (0..300)
        .map(|i| {
            let url = cluster.replicas[0].url("/api/counters/crowd/increment");
            tokio::spawn(async move {
                let body = serde_json::json!({ "op_id": format!("crowd-{i}") });
                let response = reqwest::Client::new().post(url).json(&body).send().await;
                response.map(|r| r.status().as_u16()).unwrap_or(0)
            })
        })
        .collect();
    for request in crowd {
        assert_eq!(request.await.unwrap(), 503);
    }
    let grown = cluster.replicas[0].rss_kib().saturating_sub(rss_before);
    assert!(
        grown < 32 * 1024,
        "RSS grew by {grown} KiB while Redis hung"
    );
    // The replicas' deadline (1 s in tests) answers every request, REST and WebSocket.
    cluster
        .assert_changes_unavailable("hung", "while-hung")
        .await;
    let refused = watchers[0].change_refused(1, "ws-while-hung").await;
    assert_eq!(refused, ErrorCode::Unavailable);
    cluster.wait_ready(503).await;
    signal(pid, "CONT");
    cluster.wait_ready(200).await;
    // A request that timed out may still have been applied once Redis woke up; its retry
    // under the same op_id settles it exactly once either way.
    let retried = cluster.replicas[1]
        .increment("hung", 1, Some("while-hung"))
        .await;
    assert_eq!(retried.status, 200);
    let settled = retried.body["value"].as_i64().unwrap();
    let reply = watchers[1].change(1, "ws-while-hung").await;
    let ServerMessage::Ack { value, .. } = reply else {
        panic!("{reply:?}");
    };
    assert!(settled == 6 || settled == 7, "{settled}");
    let expected = cluster.stored_value("hung").await;
    assert_eq!(expected, 7, "both ops counted once (last ack {value})");
    for watcher in &mut watchers {
        watcher.wait_for_value(7).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn script_flush_reloads_the_script_and_applies_once() {
    let cluster = Cluster::redis(1).await;
    let replica = &cluster.replicas[0];
    replica.increment("flush", 1, Some("before")).await;
    let _: () = cluster.redis_server().cmd(&["SCRIPT", "FLUSH"]).await;
    let answer = replica.increment("flush", 1, Some("after")).await;
    assert_eq!(
        (answer.status, answer.body["value"].as_i64()),
        (200, Some(2))
    );
    let again = replica.increment("flush", 1, Some("after")).await;
    assert_eq!(again.body["version"], 2, "applied once");
    assert_eq!(cluster.stored_value("flush").await, 2);
}

async fn set_pubsub_buffer_limit(cluster: &Cluster, limit: &str) {
    let _: () = cluster
        .redis_server()
        .cmd(&["CONFIG", "SET", "client-output-buffer-limit", limit])
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_subscriber_dropped_by_redis_resubscribes_and_resyncs() {
    let cluster = Cluster::redis(2).await;
    let mut watchers = cluster.watchers("buffer").await;
    let first_subscribers = subscriber_ids(&cluster).await;
    assert_eq!(first_subscribers.len(), 2);
    // A tiny output-buffer limit, then a message too big for a client's fixed reply buffer
    // (16 KiB): Redis drops every subscriber at once. The message itself is junk on a counter
    // channel, which the replicas must shrug off. Changes go on meanwhile.
    set_pubsub_buffer_limit(&cluster, "pubsub 32 0 0").await;
    let junk = "x".repeat(64 * 1024);
    for k in 1..=20 {
        if k % 5 == 1 {
            let _: i64 = cluster
                .redis_server()
                .cmd(&["PUBLISH", &layout::value("buffer"), &junk])
                .await;
        }
        cluster.replicas[k % 2].increment("buffer", 1, None).await;
    }
    for watcher in &mut watchers {
        watcher.wait_for_value(20).await;
    }
    set_pubsub_buffer_limit(&cluster, "pubsub 32mb 8mb 60").await;
    cluster.wait_ready(200).await;
    let subscribers = subscriber_ids(&cluster).await;
    assert_eq!(subscribers.len(), 2);
    assert!(
        subscribers.iter().all(|id| !first_subscribers.contains(id)),
        "both subscribers were dropped and replaced: {first_subscribers:?} → {subscribers:?}"
    );
    cluster.replicas[0].increment("buffer", 1, None).await;
    for watcher in &mut watchers {
        watcher.wait_for_value(21).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replica_killed_under_load_loses_nothing() {
    let mut cluster = Cluster::redis(2).await;
    let mut survivor = WsClient::connect(&cluster.replicas[1].ws_url("crash")).await;
    let load = Load::start(cluster.ws_urls("crash"), "crash", 6);
    tokio::time::sleep(Duration::from_millis(300)).await;
    cluster.replicas[0].kill9().await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let (expected, retries) = load.finish().await;
    assert!(retries > 0, "the crash should have cut some writers off");
    // The survivor's client carried on throughout and ends on the final value.
    survivor.wait_for_value(expected).await;
    assert_eq!(cluster.stored_value("crash").await, expected);
    cluster.replicas[0].restart().await;
    cluster.replicas[0].wait_ready(200).await;
    let mut back = WsClient::connect(&cluster.replicas[0].ws_url("crash")).await;
    assert_eq!(back.value, Some(expected));
    back.change(1, "after-restart").await;
    survivor.wait_for_value(expected + 1).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reconnect_storm_is_served() {
    const SOCKETS: usize = 2_000;
    let cluster = Cluster::redis(2).await;
    cluster.replicas[0].increment("storm", 9, None).await;
    let mut tasks = Vec::new();
    for i in 0..SOCKETS {
        let url = cluster.replica_for(i).ws_url("storm");
        tasks.push(tokio::spawn(async move {
            let (socket, _) = tokio_tungstenite::connect_async(url)
                .await
                .expect("connect");
            socket
        }));
    }
    let mut sockets = Vec::new();
    for task in tasks {
        sockets.push(task.await.expect("connect task"));
    }
    assert_eq!(sockets.len(), SOCKETS);
    for replica in &cluster.replicas {
        assert_eq!(replica.healthz().await, 200);
    }
    // Everyone is served: a change reaches a sample of them.
    cluster.replicas[1].increment("storm", 1, None).await;
    for socket in sockets.iter_mut().step_by(97) {
        loop {
            let message = tokio::time::timeout(Duration::from_secs(10), socket.next())
                .await
                .expect("frame in time")
                .expect("open")
                .expect("ok");
            if let tokio_tungstenite::tungstenite::Message::Text(text) = message
                && text.contains("\"value\":10")
            {
                break;
            }
        }
    }
}
