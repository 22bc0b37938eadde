//! Redis refusing writes while it still answers — memory full (`OOM`), a read-only replica
//! (`READONLY`), a failed save (`MISCONF`), too few replicas (`NOREPLICAS`) — is an outage
//! of writes, not a damaged counter: the change is refused `unavailable` (503, retryable),
//! nothing is written, and the same `op_id` counts exactly once when Redis accepts writes
//! again. The browser's side of it is `browser::refused`.

use serde_json::json;
use shared::{ErrorCode, ServerMessage};

use crate::helpers::layout;
use crate::helpers::{Cluster, Refusal, WsClient, eventually};
use crate::redis::subscriber_ids;

/// Refuses a REST change and a socket's change with `refusal`, then retries both once Redis
/// accepts writes again.
async fn refused_then_counted_once(refusal: Refusal) {
    let cluster = Cluster::redis(1).await;
    let (replica, redis) = (&cluster.replicas[0], cluster.redis_server());
    replica.increment("door", 1, Some("before")).await;
    let mut socket = WsClient::connect(&replica.ws_url("door")).await;
    let subscribers = subscriber_ids(&cluster).await;

    refusal.begin(redis).await;
    let refused = replica.increment("door", 1, Some("rest-1")).await;
    assert_eq!(
        (refused.status, &refused.body["error"]["code"]),
        (503, &json!("unavailable")),
        "{refusal:?}: {}",
        refused.body
    );
    assert_eq!(
        socket.change_refused(1, "ws-1").await,
        ErrorCode::Unavailable,
        "{refusal:?}"
    );
    // Nothing of either change was written: no value, no version, no dedupe record.
    assert_eq!(
        redis.get_i64(&layout::value("door")).await,
        Some(1),
        "{refusal:?}"
    );
    assert_eq!(redis.get_i64(&layout::version("door")).await, Some(1));
    for op in ["rest-1", "ws-1"] {
        let record: Option<String> = redis.cmd(&["GET", &layout::op("door", op)]).await;
        assert_eq!(record, None, "{refusal:?}: {op} was not recorded");
    }
    // Redis still answers: the replica stays in service for reads and sockets, through
    // several reconciles and subscriber pings (every 300 ms here).
    tokio::time::sleep(std::time::Duration::from_millis(1000)).await;
    assert_eq!(replica.readyz().await, 200, "{refusal:?}");
    assert_eq!(subscriber_ids(&cluster).await, subscribers, "{refusal:?}");

    refusal.end(redis).await;
    let retried = replica.increment("door", 1, Some("rest-1")).await;
    assert_eq!(
        (retried.status, retried.body["value"].as_i64()),
        (200, Some(2)),
        "{refusal:?}: {}",
        retried.body
    );
    let reply = socket.change(1, "ws-1").await;
    assert!(
        matches!(reply, ServerMessage::Ack { value: 3, .. }),
        "{refusal:?}: {reply:?}"
    );
    let again = replica.increment("door", 1, Some("rest-1")).await;
    assert_eq!(
        again.body["value"], 2,
        "a retry is answered from its record"
    );
    assert_eq!(cluster.stored_value("door").await, 3, "{refusal:?}");
    socket.wait_for_value(3).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn out_of_memory_is_unavailable_and_the_retry_counts_once() {
    refused_then_counted_once(Refusal::OutOfMemory).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_read_only_replica_is_unavailable_and_the_retry_counts_once() {
    refused_then_counted_once(Refusal::ReadOnly).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_save_is_unavailable_and_the_retry_counts_once() {
    refused_then_counted_once(Refusal::FailedSave).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn too_few_replicas_is_unavailable_and_the_retry_counts_once() {
    refused_then_counted_once(Refusal::NoReplicas).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_repair_redis_refuses_spares_the_subscriber() {
    // A value set by hand needs a repair (a version bump), which is a write. While Redis
    // refuses writes the repair waits, and the replica keeps serving; once Redis accepts
    // writes again the repair goes through and every socket converges.
    let cluster = Cluster::redis(1).await;
    let (replica, redis) = (&cluster.replicas[0], cluster.redis_server());
    replica.increment("hand", 2, None).await;
    let mut socket = WsClient::connect(&replica.ws_url("hand")).await;
    let mut other = WsClient::connect(&replica.ws_url("other")).await;
    let subscribers = subscriber_ids(&cluster).await;

    Refusal::OutOfMemory.begin(redis).await;
    // The operator's own write gets through: a script flagged to run out of memory may.
    let by_hand = "#!lua flags=allow-oom\nreturn redis.call('SET', KEYS[1], ARGV[1])";
    let _: () = redis
        .cmd(&["EVAL", by_hand, "1", &layout::value("hand"), "40"])
        .await;
    eventually("a refused repair in the log", || async {
        replica
            .logs()
            .contains("Redis refused a repair")
            .then_some(())
    })
    .await;
    assert_eq!(replica.readyz().await, 200);
    assert_eq!(subscriber_ids(&cluster).await, subscribers);

    Refusal::OutOfMemory.end(redis).await;
    socket.wait_for_value(40).await;
    replica.increment("other", 1, None).await;
    other.wait_for_value(1).await;
    assert!(!replica.logs().contains("subscriber lost"));
}
