//! Damage and forgery hurt one counter at most. A version key that cannot advance refuses
//! the change before anything is written, so a retry never counts twice; a pub/sub message
//! that is not a state of its counter is dropped before any socket sees it; a key of the
//! wrong type refuses its own counter and tells its sockets, while the replica stays ready
//! and every other counter carries on.

use shared::{ErrorCode, ServerMessage};

use crate::helpers::layout;
use crate::helpers::{Cluster, RedisServer, WsClient, eventually};
use crate::redis::subscriber_ids;

/// The code of a REST error answer.
fn code(answer: &crate::helpers::replica::Answer) -> &str {
    answer.body["error"]["code"].as_str().unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_version_that_cannot_advance_refuses_the_change_and_writes_nothing() {
    let cluster = Cluster::redis(1).await;
    let (replica, redis) = (&cluster.replicas[0], cluster.redis_server());
    replica.increment("door", 5, None).await;
    let versions = [
        "007",
        "-1",
        "9223372036854775807",  // 2^63 - 1: INCR would overflow
        "9223372036854775808",  // 2^63
        "18446744073709551615", // 2^64 - 1
        "9007199254740991",     // the highest version: a change could not advance it
        "9007199254740992",     // past the highest version
        " 12",
        "1e3",
    ];
    for (k, version) in versions.into_iter().enumerate() {
        let _: () = redis.cmd(&["SET", &layout::version("door"), version]).await;
        let op = format!("v-{k}");
        // The change, then its retry, as a client retries: neither counts.
        for attempt in ["first", "retry"] {
            let answer = replica.increment("door", 1, Some(&op)).await;
            assert_eq!(
                (answer.status, code(&answer)),
                (500, "internal"),
                "{version} ({attempt}): {}",
                answer.body
            );
            assert_eq!(
                redis.get_i64(&layout::value("door")).await,
                Some(5),
                "{version}"
            );
            let stored: String = redis.cmd(&["GET", &layout::version("door")]).await;
            assert_eq!(stored, version, "the version key is left as it was");
            let record: Option<String> = redis.cmd(&["GET", &layout::op("door", &op)]).await;
            assert_eq!(record, None, "{version}: no dedupe record");
        }
    }
    // Repaired by hand, the counter takes changes again, and the refused op counts once.
    let _: () = redis.cmd(&["SET", &layout::version("door"), "9"]).await;
    let answer = replica.increment("door", 1, Some("v-0")).await;
    assert_eq!(
        (
            answer.body["value"].as_i64(),
            answer.body["version"].as_u64()
        ),
        (Some(6), Some(10)),
        "{}",
        answer.body
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_published_state_that_is_not_the_counters_reaches_no_socket() {
    // Sockets on replica B, changes through replica A: B hears of them only by pub/sub,
    // after the forged messages, which anyone allowed to publish could send.
    let cluster = Cluster::redis(2).await;
    let (a, b, redis) = (
        &cluster.replicas[0],
        &cluster.replicas[1],
        cluster.redis_server(),
    );
    a.increment("x", 3, None).await;
    let mut watcher = WsClient::connect(&b.ws_url("x")).await;
    let forged = [
        r#"{"name":"x","value":666,"version":18446744073709551615}"#,
        r#"{"name":"x","value":666,"version":9007199254740992}"#,
        r#"{"name":"x","value":666,"version":0}"#,
        r#"{"name":"y","value":666,"version":2}"#,
        r#"{"name":"x","value":666}"#,
        "not a state",
    ];
    for payload in forged {
        let _: i64 = redis.cmd(&["PUBLISH", &layout::value("x"), payload]).await;
    }

    // The next real change reaches the socket: had it been sent a forged state, its version
    // would have gone backwards now (the client checks every frame), and had the hub taken
    // one, the real state would never have been newer.
    a.increment("x", 1, None).await;
    watcher.wait_for_value(4).await;
    assert_eq!(watcher.version, Some(2));
    let fresh = WsClient::connect(&b.ws_url("x")).await;
    assert_eq!(
        (fresh.value, fresh.version),
        (Some(4), Some(2)),
        "the hub's state"
    );
    // The reconcile repairs towards what the hub holds: no forged version reached Redis.
    a.increment("x", 1, None).await;
    watcher.wait_for_value(5).await;
    assert_eq!(redis.get_i64(&layout::version("x")).await, Some(3));
    let dropped = b.metric("counter_pubsub_dropped_total").await;
    assert_eq!(dropped, Some(forged.len() as f64), "each counted");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_state_on_a_channel_that_is_not_exactly_a_counters_is_not_taken() {
    // Only `counter:{x}` carries x's states. `counter:x` is version 1's channel (a replica
    // of the old layout still running); the others merely start like x's channel.
    let cluster = Cluster::redis(2).await;
    let (a, b, redis) = (
        &cluster.replicas[0],
        &cluster.replicas[1],
        cluster.redis_server(),
    );
    a.increment("x", 3, None).await;
    let mut watcher = WsClient::connect(&b.ws_url("x")).await;
    let state = r#"{"name":"x","value":666,"version":2}"#;
    let channels = [
        "counter:x",
        "counter:{x}:presence",
        "counter:{x}x",
        "counter:{x",
    ];
    for channel in channels {
        let _: i64 = redis.cmd(&["PUBLISH", channel, state]).await;
    }
    // Had B taken the forged version 2, the real version 2 would not be newer.
    a.increment("x", 1, None).await;
    watcher.wait_for_value(4).await;
    assert_eq!(watcher.version, Some(2));
    let dropped = b.metric("counter_pubsub_dropped_total").await;
    assert_eq!(dropped, Some(channels.len() as f64), "each counted");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_of_the_wrong_type_hurts_only_its_counter() {
    // Sockets would be closed 500 ms after the subscriber went down, so a torn-down
    // subscriber would show on the healthy counter's socket too.
    let redis = RedisServer::start().await;
    let cluster = Cluster::redis_on(redis, 1, &["--store-lost-close-ms", "500"]).await;
    let (replica, redis) = (&cluster.replicas[0], cluster.redis_server());
    replica.increment("x", 2, None).await;
    replica.increment("healthy", 1, None).await;
    let mut broken = WsClient::connect(&replica.ws_url("x")).await;
    let mut healthy = WsClient::connect(&replica.ws_url("healthy")).await;
    let subscribers = subscriber_ids(&cluster).await;

    let _: () = redis.cmd(&["DEL", &layout::value("x")]).await;
    let _: i64 = redis.cmd(&["HSET", &layout::value("x"), "a", "1"]).await;
    let told = broken.next_reply().await;
    assert!(
        matches!(
            told,
            ServerMessage::Error {
                code: ErrorCode::Internal,
                op_id: None,
                ..
            }
        ),
        "the damaged counter's socket is told: {told:?}"
    );
    // Each reconcile (every 300 ms here) counts the key once: three of them is longer than
    // the 500 ms after which a lost subscriber would close every socket.
    let series = r#"counter_store_damaged_total{key="counter:{x}"}"#;
    eventually("three reconciles over the damaged key", || async {
        (replica.metric(series).await? >= 3.0).then_some(())
    })
    .await;
    let logs = replica.logs();
    assert!(
        logs.lines()
            .any(|line| line.contains("damaged key") && line.contains(&layout::value("x"))),
        "a log line names the key"
    );
    assert_eq!(replica.readyz().await, 200);
    assert_eq!(
        subscriber_ids(&cluster).await,
        subscribers,
        "same subscriber"
    );

    // The other counter carries on, on the socket opened before.
    replica.increment("healthy", 1, None).await;
    healthy.wait_for_value(2).await;
    // Changes to the damaged one are refused clearly, and change nothing.
    let refused = replica.increment("x", 1, Some("x-1")).await;
    assert_eq!((refused.status, code(&refused)), (500, "internal"));
    assert_eq!(broken.change_refused(1, "x-2").await, ErrorCode::Internal);
    let hash: Vec<String> = redis.cmd(&["HGETALL", &layout::value("x")]).await;
    assert_eq!(hash, ["a", "1"]);

    // Repaired by hand: its sockets get the value, and changes count again.
    let _: () = redis.cmd(&["DEL", &layout::value("x")]).await;
    let _: () = redis.cmd(&["SET", &layout::value("x"), "7"]).await;
    broken.wait_for_value(7).await;
    let reply = broken.change(1, "x-3").await;
    assert!(
        matches!(reply, ServerMessage::Ack { value: 8, .. }),
        "{reply:?}"
    );
    assert!(!replica.logs().contains("subscriber lost"));
}
