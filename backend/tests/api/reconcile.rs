//! The rounds a replica runs over every counter it serves, at scale (issue 12, item 4). A
//! replica serving 2,000 counters re-reads them in batches, in a task of its own: a change
//! reaches its sockets while a round is in progress, and the round still repairs a value
//! changed behind the service's back and refuses only the counter whose key is damaged.
//! Presence reads totals every second but records a count only when it changes or falls due,
//! and a count that never changes is still kept alive.
//!
//! The round is held in progress on purpose: the replica reaches Redis through a proxy that
//! holds back its reconcile reads (the only commands it sends that name version keys), while
//! its subscriber connection and another replica's changes flow on. The assertions are on
//! what arrives while the round cannot have ended, never on how long anything took.

use futures_util::StreamExt;
use shared::{ErrorCode, ServerMessage};

use crate::helpers::layout;
use crate::helpers::{Cluster, Proxy, RedisServer, Replica, WsClient, eventually};

/// Counters with one socket each on the replica under test.
const COUNTERS: usize = 2_000;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn changes_are_delivered_while_a_reconcile_of_2000_counters_runs() {
    let redis = RedisServer::start().await;
    let proxy = Proxy::start(redis.port).await;
    // Replica A (straight to Redis) makes the changes; replica B, through the proxy, serves
    // the 2,000 counters and the watched one.
    let cluster = Cluster::redis_on(redis, 1, &[]).await;
    let (a, redis) = (&cluster.replicas[0], cluster.redis_server());
    let proxy_url = proxy.url();
    let b = Replica::start(
        &[
            ("--redis-url", proxy_url.as_str()),
            ("--reconcile-interval-ms", "300"),
            // Longer than the test holds a round: an expired round would end the subscriber.
            ("--store-timeout-ms", "60000"),
            ("--store-lost-close-ms", "0"),
            // All 2,000 sockets come from 127.0.0.1.
            ("--max-connections-per-ip", "0"),
        ]
        .map(|(flag, value)| [flag.to_string(), value.to_string()])
        .concat(),
    )
    .await;
    b.wait_ready(200).await;

    let names: Vec<String> = (0..COUNTERS).map(|k| format!("many-{k}")).collect();
    let sockets: Vec<WsClient> = futures_util::stream::iter(&names)
        .map(|name| WsClient::connect_owned(b.ws_url(name)))
        .buffered(64)
        .collect()
        .await;
    let mut sockets: Vec<Option<WsClient>> = sockets.into_iter().map(Some).collect();
    let mut take = |k: usize| sockets[k].take().expect("each socket taken once");
    let (mut repaired, mut damaged, mut quiet) = (take(1234), take(77), take(5));
    let mut watcher = WsClient::connect(&b.ws_url("hot")).await;
    let repaired_version = repaired.version.expect("a first state");

    proxy.hold(":version");
    proxy.wait_until_held().await;
    // Behind the service's back, during the round: one value set, one key of another type.
    let _: () = redis
        .cmd(&["SET", &layout::value("many-1234"), "100"])
        .await;
    let _: i64 = redis
        .cmd(&["HSET", &layout::value("many-77"), "a", "1"])
        .await;
    // A round is in progress and cannot end: its reads are in the proxy. Each change must
    // reach B's socket meanwhile (when the round ran in the loop that delivers, none did).
    for value in 1..=3 {
        a.increment("hot", 1, None).await;
        watcher.wait_for_value(value).await;
    }

    proxy.release();
    repaired.wait_for_value(100).await;
    assert!(
        repaired.version > Some(repaired_version),
        "a repair moves the version on"
    );
    assert!(
        matches!(
            damaged.next_reply().await,
            ServerMessage::Error {
                code: ErrorCode::Internal,
                op_id: None,
                ..
            }
        ),
        "the damaged counter's socket is told"
    );
    eventually("the damaged key counted", || async {
        b.metric(r#"counter_store_damaged_total{key="counter:{many-77}"}"#)
            .await
    })
    .await;
    // Everyone else carries on, on the same subscriber.
    a.increment("many-5", 7, None).await;
    quiet.wait_for_value(7).await;
    a.increment("hot", 1, None).await;
    watcher.wait_for_value(4).await;
    assert_eq!(b.readyz().await, 200);
    assert!(!b.logs().contains("subscriber lost"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unchanged_presence_record_is_refreshed_before_it_expires() {
    let cluster = Cluster::redis(1).await;
    let redis = cluster.redis_server();
    let _socket = WsClient::connect(&cluster.replicas[0].ws_url("room")).await;
    // The replica's record, `count:expires_at_ms`: its expiry moves on with each write.
    let expiry = || async {
        let records: Vec<String> = redis.cmd(&["HVALS", &layout::presence("room")]).await;
        let record = records.first()?;
        assert!(record.starts_with("1:"), "one socket: {record}");
        record.split_once(':')?.1.parse::<u64>().ok()
    };
    let first = eventually("a presence record", expiry).await;
    eventually("the same count recorded again", || async {
        (expiry().await? > first).then_some(())
    })
    .await;
}
