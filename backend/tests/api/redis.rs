//! What only the Redis store has: pub/sub across replicas, the operator's `redis-cli`, and
//! Redis going away and coming back.

use std::time::Duration;

use shared::{ErrorCode, ServerMessage};

use crate::helpers::layout;
use crate::helpers::ws_client::change_frame;
use crate::helpers::{Cluster, RedisServer, WsClient, eventually};

fn error_code(answer: &serde_json::Value) -> Option<ErrorCode> {
    serde_json::from_value(answer["error"]["code"].clone()).ok()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_layout_is_what_an_operator_sees() {
    let cluster = Cluster::redis(1).await;
    let replica = &cluster.replicas[0];
    let answer = replica.increment("global", 7, Some("op-1")).await;
    assert_eq!(answer.status, 200);
    let redis = cluster.redis_server();
    assert_eq!(redis.get_i64(&layout::value("global")).await, Some(7));
    assert_eq!(redis.get_i64(&layout::version("global")).await, Some(1));
    let record: String = redis.cmd(&["GET", &layout::op("global", "op-1")]).await;
    // Version 2: value:version, then the delta and whether it can be undone (c).
    assert_eq!(record, "7:1:7:c");
    let ttl: i64 = redis.cmd(&["TTL", &layout::op("global", "op-1")]).await;
    assert!(ttl > 0, "dedupe records expire (ttl {ttl})");
    // As the README has it, typed into bash: braces around one word are not expanded.
    let typed = format!("redis-cli -p {} GET counter:{{global}}", redis.port);
    let output = tokio::process::Command::new("bash")
        .args(["-c", &typed])
        .output()
        .await
        .expect("run redis-cli in bash");
    assert_eq!(
        String::from_utf8_lossy(&output.stdout).trim(),
        "7",
        "{typed}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn key_prefix_separates_deployments() {
    let redis = RedisServer::start().await;
    let cluster = Cluster::redis_on(redis, 1, &["--key-prefix", "team2:"]).await;
    cluster.replicas[0].increment("global", 2, None).await;
    let redis = cluster.redis_server();
    assert_eq!(redis.get_i64("team2:{global}").await, Some(2));
    assert_eq!(redis.get_i64(&layout::value("global")).await, None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fan_out_resumes_after_the_subscriber_is_killed() {
    let cluster = Cluster::redis(2).await;
    let (a, b) = (&cluster.replicas[0], &cluster.replicas[1]);
    let mut watcher = WsClient::connect(&b.ws_url("global")).await;
    for round in 1..=3 {
        let killed: i64 = cluster
            .redis_server()
            .cmd(&["CLIENT", "KILL", "TYPE", "pubsub"])
            .await;
        assert!(killed >= 2, "each replica has one subscriber connection");
        a.increment("global", 1, None).await;
        watcher.wait_for_value(round).await;
        eventually("both replicas ready again", || async {
            (a.readyz().await == 200 && b.readyz().await == 200).then_some(())
        })
        .await;
    }
    // One subscriber connection per replica, never one per socket.
    let _more = WsClient::connect(&b.ws_url("global")).await;
    let _other = WsClient::connect(&b.ws_url("elsewhere")).await;
    let clients: String = cluster
        .redis_server()
        .cmd(&["CLIENT", "LIST", "TYPE", "pubsub"])
        .await;
    assert_eq!(clients.lines().count(), 2, "{clients}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_value_set_with_redis_cli_reaches_every_socket() {
    let cluster = Cluster::redis(2).await;
    let mut watchers = cluster.watchers("global").await;
    cluster.replicas[0].increment("global", 4, None).await;
    for watcher in &mut watchers {
        watcher.wait_for_value(4).await;
    }
    let _: () = cluster
        .redis_server()
        .cmd(&["SET", &layout::value("global"), "100"])
        .await;
    for watcher in &mut watchers {
        watcher.wait_for_value(100).await;
    }
    // Counting goes on from the operator's value.
    cluster.replicas[1].increment("global", 1, None).await;
    for watcher in &mut watchers {
        watcher.wait_for_value(101).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_outage_is_reported_and_survived() {
    let redis = RedisServer::start_with(&["--appendonly", "yes", "--appendfsync", "always"]).await;
    let mut cluster = Cluster::redis_on(redis, 2, &[]).await;
    let mut watchers = cluster.watchers("global").await;
    cluster.replicas[0].increment("global", 10, None).await;
    for replica in &cluster.replicas {
        assert_eq!(replica.readyz().await, 200);
    }

    cluster.redis_server_mut().stop().await;
    cluster.wait_ready(503).await;
    cluster
        .assert_changes_unavailable("global", "during-outage")
        .await;
    let refused = watchers[1].change_refused(1, "ws-during-outage").await;
    assert_eq!(refused, ErrorCode::Unavailable);

    cluster.redis_server_mut().restart().await;
    cluster.wait_ready(200).await;
    // The client retries its op with the same id, now applied once.
    let retried = cluster.replicas[1]
        .increment("global", 1, Some("during-outage"))
        .await;
    assert_eq!(retried.body["value"], 11, "{}", retried.body);
    for watcher in &mut watchers {
        watcher.wait_for_value(11).await;
    }
    assert_eq!(cluster.stored_value("global").await, 11);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clients_follow_a_redis_that_lost_its_data() {
    let mut cluster = Cluster::redis(2).await;
    let mut watchers = cluster.watchers("global").await;
    cluster.replicas[0].increment("global", 50, None).await;
    for watcher in &mut watchers {
        watcher.wait_for_value(50).await;
    }
    // No persistence: the restarted Redis is empty. Clients must not freeze on 50.
    cluster.redis_server_mut().restart().await;
    for watcher in &mut watchers {
        watcher.wait_for_value(0).await;
    }
    cluster.replicas[1].increment("global", 1, None).await;
    for watcher in &mut watchers {
        watcher.wait_for_value(1).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn overflow_is_refused_and_changes_nothing() {
    let cluster = Cluster::redis(1).await;
    let replica = &cluster.replicas[0];
    let redis = cluster.redis_server();
    let near_max = (i64::MAX - 1).to_string();
    let _: () = redis.cmd(&["SET", &layout::value("big"), &near_max]).await;
    let answer = replica.increment("big", 1, None).await;
    assert_eq!(answer.body["value"].as_i64(), Some(i64::MAX));

    let refused = replica.increment("big", 1, Some("too-far")).await;
    assert_eq!(refused.status, 409);
    assert_eq!(error_code(&refused.body), Some(ErrorCode::Overflow));
    let mut client = WsClient::connect(&replica.ws_url("big")).await;
    assert_eq!(client.value, Some(i64::MAX));
    let reply = client.change(1_000_000, "ws-too-far").await;
    assert!(
        matches!(
            reply,
            ServerMessage::Error {
                code: ErrorCode::Overflow,
                ..
            }
        ),
        "{reply:?}"
    );
    assert_eq!(redis.get_i64(&layout::value("big")).await, Some(i64::MAX));
    let not_recorded: Option<String> = redis.cmd(&["GET", &layout::op("big", "too-far")]).await;
    assert_eq!(
        not_recorded, None,
        "a refused op is not recorded as applied"
    );

    let _: () = redis
        .cmd(&["SET", &layout::value("small"), &i64::MIN.to_string()])
        .await;
    let refused = replica.post("/api/counters/small/decrement", None).await;
    assert_eq!(error_code(&refused.body), Some(ErrorCode::Overflow));
    assert_eq!(redis.get_i64(&layout::value("small")).await, Some(i64::MIN));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replica_starts_while_redis_is_down_and_becomes_ready() {
    let mut redis = RedisServer::start().await;
    redis.stop().await;
    let mut cluster = Cluster::redis_on(redis, 1, &[]).await;
    let replica = &cluster.replicas[0];
    assert_eq!(replica.healthz().await, 200);
    assert_eq!(replica.readyz().await, 503);
    cluster.redis_server_mut().restart().await;
    let replica = &cluster.replicas[0];
    replica.wait_ready(200).await;
    assert_eq!(replica.increment("global", 1, None).await.status, 200);
}

/// The client ids of the subscriber connections Redis holds now.
pub async fn subscriber_ids(cluster: &Cluster) -> Vec<String> {
    let list: String = cluster
        .redis_server()
        .cmd(&["CLIENT", "LIST", "TYPE", "pubsub"])
        .await;
    list.lines()
        .filter_map(|line| line.split(' ').find_map(|field| field.strip_prefix("id=")))
        .map(str::to_owned)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_subscriber_stays_connected_between_reconciles() {
    // Every reconcile pings the subscriber connection; a ping answered in a form the client
    // did not expect once dropped it every time. The connection must stay the same one.
    let cluster = Cluster::redis(1).await;
    cluster.wait_ready(200).await;
    let before = subscriber_ids(&cluster).await;
    assert_eq!(before.len(), 1);
    // Several reconcile periods (300 ms in tests).
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    assert_eq!(subscriber_ids(&cluster).await, before);
    assert!(!cluster.replicas[0].logs().contains("subscriber lost"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_damaged_key_is_refused_and_spares_the_other_counters() {
    let cluster = Cluster::redis(1).await;
    let replica = &cluster.replicas[0];
    replica.increment("damaged", 5, None).await;
    let mut other = WsClient::connect(&replica.ws_url("healthy")).await;
    let _watching_damaged = WsClient::connect(&replica.ws_url("damaged")).await;
    let _: () = cluster
        .redis_server()
        .cmd(&["SET", &layout::version("damaged"), "not-a-number"])
        .await;
    let answer = replica.increment("damaged", 1, Some("d-1")).await;
    assert_eq!(answer.status, 500, "{}", answer.body);
    assert_eq!(answer.body["error"]["code"], "internal");
    assert_eq!(
        cluster
            .redis_server()
            .get_i64(&layout::value("damaged"))
            .await,
        Some(5),
        "nothing was written"
    );
    // Several reconcile periods pass over the damaged counter: the replica stays ready and
    // keeps serving the others.
    tokio::time::sleep(std::time::Duration::from_millis(1000)).await;
    assert_eq!(replica.readyz().await, 200);
    replica.increment("healthy", 2, None).await;
    other.wait_for_value(2).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopping_replica_answers_the_changes_still_in_redis() {
    // Redis holds every write for a moment (CLIENT PAUSE), so when SIGTERM comes the replica
    // has a full window of a socket's changes waiting in the store. It answers every one of
    // them before its 1001 close, and reads no frame after the signal.
    const FRAMES: usize = 200;
    let mut cluster = Cluster::redis(1).await;
    let mut client = WsClient::connect(&cluster.replicas[0].ws_url("drain")).await;
    cluster
        .redis_server()
        .cmd::<()>(&["CLIENT", "PAUSE", "500", "WRITE"])
        .await;
    for k in 0..FRAMES {
        client.send_text(&change_frame(1, &format!("d-{k}"))).await;
    }
    // Time for the replica to read its window of frames; they now wait on Redis.
    tokio::time::sleep(Duration::from_millis(100)).await;
    let replies = tokio::spawn(async move { client.replies_until_close().await });
    assert!(cluster.replicas[0].terminate().await, "exit status 0");
    let (replies, code) = replies.await.expect("reader");
    assert_eq!(code, Some(1001));
    assert!(
        !replies.is_empty() && replies.len() < FRAMES,
        "{} of {FRAMES} frames answered: the window in the store, no more",
        replies.len()
    );
    for (k, reply) in replies.iter().enumerate() {
        let expected = format!("d-{k}");
        assert!(
            matches!(reply, ServerMessage::Ack { op_id: Some(id), .. } if id.as_str() == expected),
            "reply {k} should be the ack of {expected}: {reply:?}"
        );
    }
    assert_eq!(
        cluster.stored_value("drain").await,
        replies.len() as i64,
        "exactly the answered changes were applied"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replica_that_lost_redis_sends_its_clients_elsewhere() {
    // Sockets on a replica that cannot reach Redis hear of no change and cannot make one.
    // After a while the replica closes them with 1013, and refuses new ones until Redis is
    // back, so a load balancer moves the clients to a replica that can serve them.
    let redis = RedisServer::start_with(&["--appendonly", "yes", "--appendfsync", "always"]).await;
    let mut cluster = Cluster::redis_on(redis, 1, &["--store-lost-close-ms", "300"]).await;
    let replica = &cluster.replicas[0];
    replica.increment("global", 4, None).await;
    let mut client = WsClient::connect(&replica.ws_url("global")).await;
    assert_eq!(client.value, Some(4));

    cluster.redis_server_mut().stop().await;
    assert_eq!(client.close_code().await, Some(1013));
    let refused = tokio_tungstenite::connect_async(cluster.replicas[0].ws_url("global")).await;
    assert!(
        matches!(&refused, Err(tokio_tungstenite::tungstenite::Error::Http(response)) if response.status() == 503),
        "a new socket is refused while Redis is away: {refused:?}"
    );

    cluster.redis_server_mut().restart().await;
    cluster.wait_ready(200).await;
    let mut back = WsClient::connect(&cluster.replicas[0].ws_url("global")).await;
    let reply = back.change(1, "after-the-outage").await;
    assert!(
        matches!(reply, ServerMessage::Ack { value: 5, .. }),
        "{reply:?}"
    );
}
