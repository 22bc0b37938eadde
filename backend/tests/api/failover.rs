//! Redis failover (issue 12, item 5): the replicas follow the primary Redis Sentinel names
//! (`redis+sentinel://`), and with `--redis-wait-replicas` a change is acknowledged only once
//! a replica holds it, so a failover loses nothing acknowledged. Without the option, what a
//! replaced primary acknowledged after the promotion is lost, and a test shows it.

use std::time::Duration;

use crate::helpers::layout;
use crate::helpers::{Cluster, Load, RedisServer, Replica, SentinelGroup, WsClient, eventually};

/// The flags that turn the option on; a short wait keeps the refused changes quick.
const WAIT_FOR_ONE_REPLICA: [&str; 4] = [
    "--redis-wait-replicas",
    "1",
    "--redis-wait-timeout-ms",
    "300",
];

/// How many of `op_ids` have a dedupe record on `server`: an acknowledged op that a
/// failover lost has none.
async fn recorded(server: &RedisServer, op_ids: &[String]) -> usize {
    let keys: Vec<String> = op_ids
        .iter()
        .map(|op_id| layout::op("failover", op_id))
        .collect();
    let mut args = vec!["EXISTS"];
    args.extend(keys.iter().map(String::as_str));
    let count: usize = server.cmd(&args).await;
    count
}

/// Sends a REST change under `op_id` again and again, as the app does with a press that was
/// answered 503, until it is acknowledged; returns the acknowledged value.
async fn until_acknowledged(replica: &Replica, name: &str, op_id: &str) -> i64 {
    eventually(&format!("{op_id} to be acknowledged"), || async {
        let answer = replica.increment(name, 1, Some(op_id)).await;
        match answer.status {
            200 => answer.body["value"].as_i64(),
            503 => None,
            status => panic!("{op_id}: {status} {}", answer.body),
        }
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_primary_killed_under_load_loses_nothing_acknowledged_with_wait() {
    let group = SentinelGroup::start().await;
    let mut cluster = Cluster::sentinel(group, 2, &WAIT_FOR_ONE_REPLICA).await;
    let mut watchers = cluster.watchers("failover").await;
    let load = Load::start(cluster.ws_urls("failover"), "failover", 6);
    tokio::time::sleep(Duration::from_millis(700)).await;

    let old = cluster
        .sentinel_group()
        .primary_port()
        .await
        .expect("a primary");
    let old_index = cluster
        .sentinel_group()
        .servers
        .iter()
        .position(|server| server.port == old)
        .expect("the primary is one of the group");
    cluster.sentinel_group_mut().servers[old_index]
        .kill9()
        .await;
    let new = cluster.sentinel_group().wait_for_promotion(old).await;
    // Ready again by itself: the replicas asked Sentinel, reconnected and resubscribed.
    cluster.wait_ready(200).await;
    let mut joining = WsClient::connect(&cluster.replicas[0].ws_url("failover")).await;
    assert!(joining.value.is_some(), "a new socket gets the state");
    // With one replica gone, no change can be confirmed by a replica: the writers' changes
    // are refused (503) and retried until the old server is back, as a replica of the new
    // primary (what systemd and Sentinel do).
    let group = cluster.sentinel_group_mut();
    group.servers[old_index].restart().await;
    group.demote(old, new).await;
    tokio::time::sleep(Duration::from_millis(700)).await;

    let (expected, retries, acknowledged) = load.finish_counting().await;
    assert!(retries > 0, "the failover interrupted the writers");
    let primary = cluster.sentinel_group().server(new);
    let op_ids: Vec<String> = acknowledged
        .iter()
        .enumerate()
        .flat_map(|(w, &ops)| (0..ops).map(move |k| format!("failover-w{w}-{k}")))
        .collect();
    assert_eq!(
        recorded(primary, &op_ids).await,
        op_ids.len(),
        "every acknowledged op is on the promoted primary"
    );
    assert_eq!(
        cluster.stored_value("failover").await,
        expected,
        "each acknowledged op counted once"
    );
    for watcher in watchers.iter_mut().chain([&mut joining]) {
        watcher.wait_for_value(expected).await;
    }
    let after = until_acknowledged(&cluster.replicas[1], "failover", "after-failover").await;
    assert_eq!(after, expected + 1);
}

/// After `SENTINEL FAILOVER`, Sentinel leaves the old primary taking writes until it demotes
/// it, seconds later, and the demotion throws its data away. The replicas were talking to
/// it and had no reason to ask Sentinel. `wait` says whether they wait for a replica.
async fn a_change_made_on_a_replaced_primary(wait: bool) {
    let group = SentinelGroup::start().await;
    let extra: &[&str] = if wait { &WAIT_FOR_ONE_REPLICA } else { &[] };
    let cluster = Cluster::sentinel(group, 1, extra).await;
    let replica = &cluster.replicas[0];
    let mut watcher = WsClient::connect(&replica.ws_url("failover")).await;
    assert_eq!(until_acknowledged(replica, "failover", "before").await, 1);
    let group = cluster.sentinel_group();
    let old = group.primary_port().await.expect("a primary");
    eventually("both servers to hold the first change", || async {
        for server in &group.servers {
            if server.get_i64(&layout::value("failover")).await != Some(1) {
                return None;
            }
        }
        Some(())
    })
    .await;

    group.manual_failover().await;
    let new = group.wait_for_promotion(old).await;
    let stale = replica.increment("failover", 1, Some("stale")).await;
    if wait {
        // The old primary has no replica any more: nothing it applies is confirmed.
        assert_eq!(stale.status, 503, "{}", stale.body);
    } else {
        assert_eq!(stale.status, 200, "acknowledged by the replaced primary");
    }
    // Sentinel's demotion of the old primary, done at once (it would come ~8 s later).
    // The replica's connection answers READONLY from now on, and it must ask Sentinel.
    group.demote(old, new).await;
    let primary = group.server(new);
    let after = until_acknowledged(replica, "failover", "after").await;
    assert_eq!(after, 2);
    if wait {
        // Its first apply went down with the old primary's data; the retry applies it on
        // the new one, once.
        assert_eq!(until_acknowledged(replica, "failover", "stale").await, 3);
        assert_eq!(primary.get_i64(&layout::value("failover")).await, Some(3));
    } else {
        // Before, after, and no trace of the acknowledged `stale` change.
        let record: Option<String> = primary
            .cmd(&["GET", &layout::op("failover", "stale")])
            .await;
        assert_eq!(record, None, "lost with the old primary's data");
        assert_eq!(primary.get_i64(&layout::value("failover")).await, Some(2));
    }
    let stored = primary
        .get_i64(&layout::value("failover"))
        .await
        .expect("a value");
    watcher.wait_for_value(stored).await;
    assert_eq!(replica.readyz().await, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_wait_a_change_acknowledged_by_a_replaced_primary_is_lost() {
    a_change_made_on_a_replaced_primary(false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_wait_a_replaced_primary_acknowledges_nothing_and_the_retry_counts_once() {
    a_change_made_on_a_replaced_primary(true).await;
}

/// A retry answered from its dedupe record must wait for the replicas too: its first apply
/// may have gone through another connection (here: another replica) and not be on any
/// replica yet.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retry_answered_from_its_record_still_waits_for_a_replica() {
    let primary = RedisServer::start().await;
    let port = primary.port.to_string();
    let standby = RedisServer::start_with(&[
        "--save",
        "",
        "--appendonly",
        "no",
        "--replicaof",
        "127.0.0.1",
        &port,
    ])
    .await;
    eventually("the replica to sync", || async {
        let info: String = standby.cmd(&["INFO", "replication"]).await;
        info.contains("master_link_status:up").then_some(())
    })
    .await;
    let cluster = Cluster::redis_on(primary, 2, &WAIT_FOR_ONE_REPLICA).await;
    let (first, second) = (&cluster.replicas[0], &cluster.replicas[1]);
    assert_eq!(until_acknowledged(first, "door", "warm-up").await, 1);

    crate::faults::signal(standby.pid(), "STOP");
    let refused = first.increment("door", 1, Some("press")).await;
    assert_eq!(
        refused.status, 503,
        "no replica confirmed it: {}",
        refused.body
    );
    assert_eq!(refused.body["error"]["code"], "unavailable");
    assert_eq!(
        cluster.stored_value("door").await,
        2,
        "applied on the primary"
    );
    let retried = second.increment("door", 1, Some("press")).await;
    assert_eq!(
        retried.status, 503,
        "the retry's record is not on a replica either: {}",
        retried.body
    );
    crate::faults::signal(standby.pid(), "CONT");
    assert_eq!(until_acknowledged(second, "door", "press").await, 2);
    assert_eq!(cluster.stored_value("door").await, 2, "counted once");
    assert_eq!(standby.get_i64(&layout::value("door")).await, Some(2));
}
