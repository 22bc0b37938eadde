//! Replicas on a real Redis Cluster (`--redis-cluster-nodes`): three primaries with a
//! replica each. Changes are applied once, where their counter's slot lives, on every
//! shard; they are announced with `SPUBLISH` on the counter's shard channel; the bound of
//! owned counters holds although their set lies in another slot; scripts a shard forgot are
//! loaded again; a moved slot is followed.

use std::time::Duration;

use futures_util::StreamExt;
use redis::PushInfo;
use serde_json::json;
use shared::ServerMessage;
use tokio::sync::mpsc;

use crate::helpers::layout;
use crate::helpers::owned::{self, V2};
use crate::helpers::{Cluster, PATIENCE, RedisCluster, WsClient};

/// A name for each primary: counters whose slots lie on different shards.
async fn one_name_per_shard(redis: &RedisCluster) -> Vec<String> {
    let primaries = redis.primaries().await;
    assert_eq!(primaries.len(), 3, "three primaries");
    let mut names: Vec<(usize, String)> = Vec::new();
    for i in 0.. {
        let name = format!("shard-{i}");
        let primary = redis.primary_for(&layout::value(&name)).await;
        if !names.iter().any(|(taken, _)| *taken == primary) {
            names.push((primary, name));
        }
        if names.len() == primaries.len() {
            break;
        }
    }
    names.into_iter().map(|(_, name)| name).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn changes_on_a_redis_cluster_are_applied_once_and_land_in_the_counters_slot() {
    let cluster = Cluster::redis_cluster(RedisCluster::start().await, 2, &[]).await;
    let (a, b) = (&cluster.replicas[0], &cluster.replicas[1]);

    // REST, retried under the same op_id on another replica: applied once.
    let first = a.increment("global", 5, Some("rest-1")).await;
    assert_eq!(first.status, 200, "{}", first.body);
    let retry = b.increment("global", 5, Some("rest-1")).await;
    assert_eq!(retry.status, 200, "{}", retry.body);
    assert_eq!(
        retry.body, first.body,
        "the retry is answered with the first result"
    );
    assert_eq!(first.body["value"], 5);

    // WebSocket: every ack newer than the one before, a retry answered from its record.
    let mut socket = WsClient::connect(&a.ws_url("global")).await;
    let mut last_version = first.body["version"].as_u64().unwrap();
    for i in 0..20 {
        match socket.change(1, &format!("ws-{i}")).await {
            ServerMessage::Ack { value, version, .. } => {
                assert!(version > last_version, "versions only grow");
                assert_eq!(value, 6 + i);
                last_version = version;
            }
            other => panic!("expected an ack, got {other:?}"),
        }
    }
    match socket.change(1, "ws-19").await {
        ServerMessage::Ack { value, version, .. } => {
            assert_eq!(
                (value, version),
                (25, last_version),
                "a retry changes nothing"
            );
        }
        other => panic!("expected an ack, got {other:?}"),
    }

    // What an operator sees, and what the other replica's clients converge on.
    let redis = cluster.redis_cluster_nodes();
    assert_eq!(redis.redis_cli_get("counter:{global}").await, "25");
    let mut watcher = WsClient::connect(&b.ws_url("global")).await;
    watcher.wait_for_value(25).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn counters_on_every_shard_each_take_their_changes() {
    let cluster = Cluster::redis_cluster(RedisCluster::start().await, 1, &[]).await;
    let redis = cluster.redis_cluster_nodes();
    let names = one_name_per_shard(redis).await;
    let replica = &cluster.replicas[0];
    for (i, name) in names.iter().enumerate() {
        for k in 0..=i {
            let answer = replica
                .increment(name, 1, Some(&format!("{name}-{k}")))
                .await;
            assert_eq!(answer.status, 200, "{name}: {}", answer.body);
        }
    }
    for (i, name) in names.iter().enumerate() {
        assert_eq!(cluster.stored_value(name).await, i as i64 + 1, "{name}");
        let state = replica.state(name).await;
        assert_eq!(state.value, i as i64 + 1, "{name} read back");
        // The history stream sits beside the value, in the counter's slot.
        let primary = &redis.nodes[redis.primary_for(&layout::value(name)).await];
        let entries: u64 = primary.cmd(&["XLEN", &layout::log(name)]).await;
        assert_eq!(entries, i as u64 + 1, "{name}'s history on its own shard");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_change_is_spublished_on_the_counters_shard_channel() {
    let cluster = Cluster::redis_cluster(RedisCluster::start().await, 1, &[]).await;
    let redis = cluster.redis_cluster_nodes();
    let channel = layout::value("door-1");

    // A plain cluster client with SSUBSCRIBE, as the fan-out will use it.
    let (pushes, mut heard) = mpsc::unbounded_channel::<PushInfo>();
    let seeds: Vec<String> = redis.nodes.iter().map(|node| node.url()).collect();
    let mut sharded = redis::cluster::ClusterClientBuilder::new(seeds)
        .use_protocol(redis::ProtocolVersion::RESP3)
        .push_sender(pushes)
        .build()
        .expect("seeds")
        .get_async_connection()
        .await
        .expect("connect");
    sharded.ssubscribe(&channel).await.expect("SSUBSCRIBE");
    // And a classic SUBSCRIBE on the node that owns the slot: a sharded message is not
    // delivered there.
    let owner = &redis.nodes[redis.primary_for(&channel).await];
    let mut classic = redis::Client::open(owner.url())
        .unwrap()
        .get_async_pubsub()
        .await
        .expect("subscriber");
    classic.subscribe(&channel).await.expect("SUBSCRIBE");
    let mut classic = classic.into_on_message();

    let answer = cluster.replicas[0].increment("door-1", 3, Some("s1")).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    let message = tokio::time::timeout(PATIENCE, async {
        loop {
            let push = heard.recv().await.expect("the push channel is open");
            if push.kind == redis::PushKind::SMessage {
                return push;
            }
        }
    })
    .await
    .expect("the change was heard on the shard channel");
    let payload: Vec<String> = message
        .data
        .iter()
        .map(|value| redis::from_redis_value::<String>(value.clone()).unwrap())
        .collect();
    assert_eq!(payload[0], channel);
    let state: shared::CounterState = serde_json::from_str(&payload[1]).expect("a state");
    assert_eq!((state.value, state.version), (3, 1));
    assert!(
        tokio::time::timeout(Duration::from_millis(500), classic.next())
            .await
            .is_err(),
        "a plain SUBSCRIBE does not hear a sharded publish"
    );
}

/// What Redis 7.0 allows inside a script on a cluster, on which the store's choice of
/// SPUBLISH rests: a shard channel counts as a key of the script, so it must hash to the
/// slot of the script's keys — as a counter's channel does, and another counter's does not.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inside_a_script_redis_allows_spublish_on_the_scripts_own_slot_only() {
    let redis = RedisCluster::start().await;
    let mut conn = redis.client().await;
    let names = one_name_per_shard(&redis).await;
    let (own, other) = (layout::value(&names[0]), layout::value(&names[1]));
    let script = "return redis.call('SPUBLISH', ARGV[1], 'x')";
    let same: redis::RedisResult<i64> = redis::cmd("EVAL")
        .arg(script)
        .arg(1)
        .arg(&own)
        .arg(&own)
        .query_async(&mut conn)
        .await;
    assert_eq!(same.expect("SPUBLISH on the script's slot"), 0);
    let elsewhere: redis::RedisResult<i64> = redis::cmd("EVAL")
        .arg(script)
        .arg(1)
        .arg(&own)
        .arg(&other)
        .query_async(&mut conn)
        .await;
    let err = elsewhere.expect_err("a shard channel of another slot is refused");
    assert!(
        err.to_string().contains("non local key") || err.to_string().contains("same slot"),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn owned_counters_on_a_cluster_keep_the_bound_exactly() {
    let flags = [
        V2,
        &["--max-counters", "4", "--max-creates-per-minute", "1000"],
    ]
    .concat();
    let cluster = Cluster::redis_cluster(RedisCluster::start().await, 2, &flags).await;
    let (a, b) = (&cluster.replicas[0], &cluster.replicas[1]);

    // Ten creates at once over two replicas, on every shard: exactly four are made.
    let creates = (0..10).map(|i| {
        let replica = if i % 2 == 0 { a } else { b };
        let body = json!({ "name": format!("door-{i}") });
        async move { owned::request(replica, "POST", "/api/counters", None, Some(body)).await }
    });
    let answers = futures_util::future::join_all(creates).await;
    let made: Vec<String> = answers
        .iter()
        .filter(|answer| answer.status == 201)
        .map(|answer| answer.body["name"].as_str().unwrap().to_owned())
        .collect();
    for answer in &answers {
        assert!(
            answer.status == 201 || answer.body["error"]["code"] == "limit_reached",
            "{}",
            answer.body
        );
    }
    assert_eq!(made.len(), 4, "the bound holds under concurrent creates");
    let redis = cluster.redis_cluster_nodes();
    let mut conn = redis.client().await;
    let mut members: Vec<String> = redis::cmd("SMEMBERS")
        .arg("counter::owned")
        .query_async(&mut conn)
        .await
        .unwrap();
    members.sort();
    let mut expected = made.clone();
    expected.sort();
    assert_eq!(members, expected, "the set names exactly the counters made");

    // Each counter's meta lies in its own slot, beside its value.
    for name in &made {
        let primary = &redis.nodes[redis.primary_for(&layout::meta(name)).await];
        let fields: u64 = primary.cmd(&["HLEN", &layout::meta(name)]).await;
        assert!(fields >= 3, "{name}'s meta");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deleted_owned_counter_frees_its_place_on_a_cluster() {
    let flags = [V2, &["--max-counters", "2"]].concat();
    let cluster = Cluster::redis_cluster(RedisCluster::start().await, 1, &flags).await;
    let replica = &cluster.replicas[0];
    let first = owned::create(replica, json!({"name": "door-a"})).await;
    owned::create(replica, json!({"name": "door-b"})).await;
    let full = owned::request(
        replica,
        "POST",
        "/api/counters",
        None,
        Some(json!({"name": "door-c"})),
    )
    .await;
    owned::refused(&full, 507, "limit_reached");
    let gone = owned::request(
        replica,
        "DELETE",
        "/api/counters/door-a",
        Some(&first.owner_key),
        None,
    )
    .await;
    assert_eq!(gone.status, 204, "{}", gone.body);
    owned::create(replica, json!({"name": "door-c"})).await;
    // A name already taken is refused and keeps no place of its own.
    let taken = owned::request(
        replica,
        "POST",
        "/api/counters",
        None,
        Some(json!({"name": "door-b"})),
    )
    .await;
    owned::refused(&taken, 409, "name_taken");
    let redis = cluster.redis_cluster_nodes();
    let mut conn = redis.client().await;
    let mut members: Vec<String> = redis::cmd("SMEMBERS")
        .arg("counter::owned")
        .query_async(&mut conn)
        .await
        .unwrap();
    members.sort();
    assert_eq!(members, ["door-b", "door-c"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_shard_that_forgot_the_scripts_gets_them_again() {
    let cluster = Cluster::redis_cluster(RedisCluster::start().await, 1, &[]).await;
    let redis = cluster.redis_cluster_nodes();
    let replica = &cluster.replicas[0];
    let mut watcher = WsClient::connect(&replica.ws_url("global")).await;
    assert_eq!(replica.increment("global", 1, Some("n1")).await.status, 200);
    let owner = &redis.nodes[redis.primary_for("counter:{global}").await];
    let _: () = owner.cmd(&["SCRIPT", "FLUSH"]).await;
    let answer = replica.increment("global", 1, Some("n2")).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(answer.body["value"], 2);
    // The batched reads (reconcile, presence) load theirs again too: the replica stays
    // ready and a value set by hand still reaches the watcher.
    let _: () = owner.cmd(&["SCRIPT", "FLUSH"]).await;
    let _: () = owner.cmd(&["SET", "counter:{global}", "40"]).await;
    watcher.wait_for_value(40).await;
    assert_eq!(replica.readyz().await, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_counter_whose_slot_moved_is_followed_there() {
    let cluster = Cluster::redis_cluster(RedisCluster::start().await, 1, &[]).await;
    let replica = &cluster.replicas[0];
    assert_eq!(replica.increment("global", 1, Some("m1")).await.status, 200);
    let redis = cluster.redis_cluster_nodes();
    let key = layout::value("global");
    let from = redis.primary_for(&key).await;
    let to = *redis
        .primaries()
        .await
        .iter()
        .find(|primary| **primary != from)
        .unwrap();
    redis.move_slot_of(&key, to).await;
    let answer = replica.increment("global", 1, Some("m2")).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(answer.body["value"], 2);
    let entries: u64 = redis.nodes[to].cmd(&["XLEN", &layout::log("global")]).await;
    assert_eq!(entries, 2, "the whole counter moved and was changed there");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failover_of_the_counters_shard_loses_no_acknowledged_change() {
    let mut cluster = Cluster::redis_cluster(RedisCluster::start().await, 1, &[]).await;
    let replica = &cluster.replicas[0];
    assert_eq!(replica.increment("global", 1, Some("f1")).await.status, 200);
    let key = layout::value("global");
    let redis = cluster.redis_cluster_nodes();
    let owner = &redis.nodes[redis.primary_for(&key).await];
    // Acknowledged and on the shard's replica (what --redis-wait-replicas would ensure).
    // Right after the cluster was made, the replica may still be in its first sync.
    crate::helpers::eventually("the shard's replica to hold the change", || async {
        let _: () = owner.cmd(&["PING"]).await;
        let held: u64 = owner.cmd(&["WAIT", "1", "200"]).await;
        (held == 1).then_some(())
    })
    .await;
    cluster
        .redis_cluster_nodes_mut()
        .kill_primary_for(&key)
        .await;
    let replica = &cluster.replicas[0];
    // The client retries its change under one op_id until the replica answers.
    let applied = crate::helpers::eventually("a change after the failover", || async {
        let answer = replica.increment("global", 1, Some("f2")).await;
        (answer.status == 200).then_some(answer.body)
    })
    .await;
    assert_eq!(applied["value"], 2, "applied once, on top of the first");
    replica.wait_ready(200).await;
    assert_eq!(cluster.stored_value("global").await, 2);
}
