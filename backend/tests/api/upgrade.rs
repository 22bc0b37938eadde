//! `backend upgrade-keys`: data written in version 1's key layout (`counter:global`) is moved
//! to version 2's hash-tagged names (`counter:{global}`) and read by the new server; a second
//! run changes nothing; a tagged key that exists already is never overwritten.

use std::process::Output;

use crate::helpers::{Cluster, RedisServer, layout};

/// Runs `backend upgrade-keys` against `redis` and returns what it printed.
async fn upgrade_keys(redis: &RedisServer, extra: &[&str]) -> String {
    let Output {
        status,
        stdout,
        stderr,
    } = tokio::process::Command::new(env!("CARGO_BIN_EXE_backend"))
        .args(["upgrade-keys", "--redis-url", &redis.url()])
        .args(extra)
        .output()
        .await
        .expect("run backend upgrade-keys");
    let stdout = String::from_utf8_lossy(&stdout).into_owned();
    assert!(
        status.success(),
        "{status}: {stdout}{}",
        String::from_utf8_lossy(&stderr)
    );
    stdout
}

/// Every key with its type and serialized content (`DUMP`, which leaves out the TTL), sorted:
/// two equal snapshots mean nothing was moved, written or removed in between.
async fn snapshot(redis: &RedisServer) -> Vec<(String, Vec<u8>)> {
    let mut keys: Vec<String> = redis.cmd(&["KEYS", "*"]).await;
    keys.sort();
    let mut dumped = Vec::new();
    for key in keys {
        let dump: Vec<u8> = redis.cmd(&["DUMP", &key]).await;
        dumped.push((key, dump));
    }
    dumped
}

/// Writes what a version-1 deployment leaves in Redis, as its Lua script wrote it: two
/// counters with values and versions, a dedupe record with its expiry and a presence hash;
/// plus 0.3.0's untagged history stream, a counter already written under its tagged name
/// (a clash) and keys that are not a counter's.
async fn write_version_one(redis: &RedisServer) {
    let far_future_ms = "4102444800000";
    let commands: [&[&str]; 12] = [
        &["SET", "counter:global", "41"],
        &["SET", "counter:global:version", "17"],
        &["SET", "counter:global:op:before-1", "41:17", "EX", "3600"],
        &["SET", "counter:door-2", "5"],
        &["SET", "counter:door-2:version", "3"],
        &[
            "HSET",
            "counter:global:presence",
            "replica-a",
            &format!("2:{far_future_ms}"),
        ],
        &["PEXPIRE", "counter:global:presence", "600000"],
        &[
            "XADD",
            "counter:door-2:log",
            "*",
            "k",
            "increment",
            "d",
            "5",
            "v",
            "5",
            "n",
            "3",
        ],
        &["SET", "counter:clash", "1"],
        &["SET", "counter:{clash}", "9"],
        &["SADD", "counter::owned", "someone"],
        &["SET", "other:global", "1"],
    ];
    for command in commands {
        let _: redis::Value = redis.cmd(command).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn version_one_keys_move_to_the_tagged_layout_and_are_served() {
    let redis = RedisServer::start().await;
    write_version_one(&redis).await;
    let before = snapshot(&redis).await;

    // A dry run says what would move and changes nothing.
    let dry = upgrade_keys(&redis, &["--dry-run"]).await;
    assert!(
        dry.contains(
            "would move 2 values, 2 versions, 1 dedupe records, 1 presence hashes, \
             0 settings hashes (meta), 1 histories (log)"
        ),
        "{dry}"
    );
    assert_eq!(snapshot(&redis).await, before, "a dry run changes nothing");

    let first = upgrade_keys(&redis, &[]).await;
    assert!(
        first.contains(
            "moved 2 values, 2 versions, 1 dedupe records, 1 presence hashes, \
             0 settings hashes (meta), 1 histories (log)"
        ),
        "{first}"
    );
    // The clash: the tagged value stays, the old one is left in place and listed.
    assert!(first.contains("1 conflicts"), "{first}");
    assert!(
        first.contains("counter:clash (1) not moved; counter:{clash} (9) kept"),
        "{first}"
    );
    assert_eq!(redis.get_i64("counter:clash").await, Some(1));
    assert_eq!(redis.get_i64(&layout::value("clash")).await, Some(9));

    // Values, versions, the dedupe record (with its TTL), presence and history moved.
    assert_eq!(redis.get_i64(&layout::value("global")).await, Some(41));
    assert_eq!(redis.get_i64(&layout::version("global")).await, Some(17));
    assert_eq!(redis.get_i64(&layout::value("door-2")).await, Some(5));
    assert_eq!(redis.get_i64(&layout::version("door-2")).await, Some(3));
    let record: Option<String> = redis.cmd(&["GET", &layout::op("global", "before-1")]).await;
    assert_eq!(record.as_deref(), Some("41:17"));
    let ttl: i64 = redis.cmd(&["TTL", &layout::op("global", "before-1")]).await;
    assert!(
        (3500..=3600).contains(&ttl),
        "the record keeps its expiry (ttl {ttl})"
    );
    let presence_ttl: i64 = redis.cmd(&["PTTL", &layout::presence("global")]).await;
    assert!(
        presence_ttl > 0,
        "presence keeps its expiry ({presence_ttl})"
    );
    let history: i64 = redis.cmd(&["XLEN", &layout::log("door-2")]).await;
    assert_eq!(history, 1);
    for old in [
        "counter:global",
        "counter:global:version",
        "counter:global:op:before-1",
        "counter:global:presence",
        "counter:door-2",
        "counter:door-2:version",
        "counter:door-2:log",
    ] {
        let exists: i64 = redis.cmd(&["EXISTS", old]).await;
        assert_eq!(exists, 0, "{old} was moved");
    }
    // Keys that are not a counter's stay as they were.
    let owned: Vec<String> = redis.cmd(&["SMEMBERS", "counter::owned"]).await;
    assert_eq!(owned, ["someone"]);
    assert_eq!(redis.get_i64("other:global").await, Some(1));

    // A second run moves nothing and changes nothing (the clash is listed again).
    let moved = snapshot(&redis).await;
    let second = upgrade_keys(&redis, &[]).await;
    assert!(
        second.contains(
            "moved 0 values, 0 versions, 0 dedupe records, 0 presence hashes, \
             0 settings hashes (meta), 0 histories (log)"
        ),
        "{second}"
    );
    assert_eq!(
        snapshot(&redis).await,
        moved,
        "a second run changes nothing"
    );

    // The new server reads the moved data: the old value and version, and a retry of an
    // op from before the upgrade is answered from its record, not counted again.
    let cluster = Cluster::redis_on(redis, 1, &["--open-counters", "*"]).await;
    let replica = &cluster.replicas[0];
    let global = replica.state("global").await;
    assert_eq!((global.value, global.version), (41, 17));
    let door = replica.state("door-2").await;
    assert_eq!((door.value, door.version), (5, 3));
    let retry = replica.increment("global", 1, Some("before-1")).await;
    assert_eq!(retry.status, 200, "{}", retry.body);
    assert_eq!(
        (retry.body["value"].as_i64(), retry.body["version"].as_i64()),
        (Some(41), Some(17)),
        "a retry of a change made before the upgrade is a duplicate: {}",
        retry.body
    );
    let redis = cluster.redis_server();
    assert_eq!(redis.get_i64(&layout::value("global")).await, Some(41));
    let fresh = replica.increment("global", 1, Some("after-1")).await;
    assert_eq!(
        (fresh.body["value"].as_i64(), fresh.body["version"].as_i64()),
        (Some(42), Some(18)),
        "{}",
        fresh.body
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upgrade_keys_honours_the_key_prefix() {
    let redis = RedisServer::start().await;
    for command in [["SET", "team2:global", "3"], ["SET", "counter:global", "8"]] {
        let _: () = redis.cmd(&command).await;
    }
    let out = upgrade_keys(&redis, &["--key-prefix", "team2:"]).await;
    assert!(out.contains("moved 1 values"), "{out}");
    assert_eq!(redis.get_i64("team2:{global}").await, Some(3));
    assert_eq!(
        redis.get_i64("counter:global").await,
        Some(8),
        "another deployment's keys stay"
    );
}
