//! Replicas behind Debian's nginx, configured by the shipped `deploy/nginx.conf`, on a Redis
//! started from the shipped `deploy/redis/redis.conf` and ACL file: clicks reach every
//! client, a crashed replica loses nothing, and a rolling restart under steady load loses no
//! acknowledged op, applies none twice, and ends with every client on the final value.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicUsize, Ordering};
use std::time::Duration;

use futures_util::StreamExt;
use shared::ServerMessage;
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::Message;

use crate::helpers::acl::{self, ADMIN, AclFile};
use crate::helpers::{Cluster, Load, Nginx, RedisServer, WsClient, eventually};

/// Redis from the shipped production settings, two replicas as the service user, nginx.
pub(crate) async fn production() -> (Cluster, Nginx, AclFile) {
    let acl = AclFile::shipped();
    let redis = RedisServer::start_production(&acl.path, ADMIN).await;
    let url = acl::service_url("redis", redis.port);
    let cluster = Cluster::redis_on(redis, 2, &["--redis-url", &url]).await;
    cluster.wait_ready(200).await;
    let nginx = Nginx::start([&cluster.replicas[0].address, &cluster.replicas[1].address]).await;
    (cluster, nginx, acl)
}

/// A client that stays connected through nginx as a browser page does: when its socket
/// closes it reconnects after a short random pause, and it remembers the newest value.
struct Follower {
    /// The reconnecting client, stopped when the test is done with it.
    task: JoinHandle<()>,
    /// The newest value it was shown, which the test compares with the store's.
    value: Arc<AtomicI64>,
    /// How often its socket closed and it connected again.
    reconnects: Arc<AtomicUsize>,
}

impl Follower {
    fn start(url: String, seed: u64, stop: Arc<AtomicBool>) -> Self {
        let value = Arc::new(AtomicI64::new(i64::MIN));
        let reconnects = Arc::new(AtomicUsize::new(0));
        let (shown, count) = (value.clone(), reconnects.clone());
        let task = tokio::spawn(async move {
            let mut attempt = seed;
            while !stop.load(Ordering::Relaxed) {
                if let Ok((mut socket, _)) = tokio_tungstenite::connect_async(&url).await {
                    let mut version: Option<u64> = None;
                    // Reads until the socket ends, looking up every 200 ms to see whether
                    // the test is over.
                    while !stop.load(Ordering::Relaxed) {
                        let next = tokio::time::timeout(Duration::from_millis(200), socket.next());
                        let text = match next.await {
                            Err(_) => continue,
                            Ok(Some(Ok(Message::Text(text)))) => text,
                            Ok(Some(Ok(_))) => continue,
                            Ok(Some(Err(_)) | None) => break,
                        };
                        if let Ok(ServerMessage::State(state)) = serde_json::from_str(&text) {
                            let newer = version.is_none_or(|v| state.version > v);
                            assert!(newer, "versions went backwards on one connection");
                            version = Some(state.version);
                            shown.store(state.value, Ordering::Relaxed);
                        }
                    }
                }
                if stop.load(Ordering::Relaxed) {
                    break;
                }
                count.fetch_add(1, Ordering::Relaxed);
                // Jitter, so the survivors are not stampeded all at once.
                attempt = attempt
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                tokio::time::sleep(Duration::from_millis(50 + (attempt >> 33) % 150)).await;
            }
        });
        Self {
            task,
            value,
            reconnects,
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn changes_through_nginx_reach_every_client() {
    let (cluster, nginx, _acl) = production().await;
    let mut clients = Vec::new();
    for _ in 0..6 {
        clients.push(WsClient::connect(&nginx.ws_url("door")).await);
    }
    // least_conn spread them over both replicas.
    let text = reqwest::get(cluster.replicas[0].url("/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        !text.contains("\ncounter_ws_open 0\n") && !text.contains("\ncounter_ws_open 6\n"),
        "{text}"
    );
    let reply = clients[0].change(1, "lb-1").await;
    assert!(
        matches!(reply, ServerMessage::Ack { value: 1, .. }),
        "{reply:?}"
    );
    let answer = reqwest::Client::new()
        .post(nginx.url("/api/counters/door/increment"))
        .json(&serde_json::json!({"by": 2, "op_id": "lb-2"}))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 200);
    for client in &mut clients {
        client.wait_for_value(3).await;
    }
    // A browser's upgrade carries its Origin; nginx must pass the Host the browser used, or
    // the backend takes the page for a foreign one.
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    let mut request = nginx.ws_url("door").into_client_request().unwrap();
    let origin = format!("http://{}", nginx.address);
    request
        .headers_mut()
        .insert("origin", origin.parse().unwrap());
    tokio_tungstenite::connect_async(request)
        .await
        .expect("a same-origin page may open a socket through nginx");
    // The app itself comes through nginx with the backend's headers.
    let shell = reqwest::get(nginx.url("/")).await.unwrap();
    assert_eq!(shell.status(), 200);
    assert!(shell.headers().contains_key("content-security-policy"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replica_killed_behind_nginx_loses_nothing() {
    let (mut cluster, nginx, _acl) = production().await;
    // The clients outlive the load: they are stopped only once they have converged.
    let following = Arc::new(AtomicBool::new(false));
    let followers: Vec<_> = (0..6)
        .map(|i| Follower::start(nginx.ws_url("exit"), i, following.clone()))
        .collect();
    let load = Load::start(vec![nginx.ws_url("exit")], "exit", 4);
    tokio::time::sleep(Duration::from_millis(500)).await;
    cluster.replicas[0].kill9().await;
    tokio::time::sleep(Duration::from_millis(700)).await;
    let (expected, retries) = load.finish().await;
    assert!(retries > 0, "the crash should have cut some writers off");
    assert_eq!(cluster.stored_value("exit").await, expected);
    check_followers(followers, &following, expected).await;
}

/// Every follower shows `expected`; then they are stopped.
async fn check_followers(followers: Vec<Follower>, stop: &AtomicBool, expected: i64) {
    for follower in &followers {
        eventually(&format!("a client to show {expected}"), || async {
            (follower.value.load(Ordering::Relaxed) == expected).then_some(())
        })
        .await;
    }
    stop.store(true, Ordering::Relaxed);
    for follower in followers {
        follower.task.await.expect("follower");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rolling_restart_under_load_loses_nothing_and_counts_nothing_twice() {
    let (mut cluster, nginx, _acl) = production().await;
    // The clients outlive the load: they are stopped only once they have converged.
    let following = Arc::new(AtomicBool::new(false));
    let followers: Vec<_> = (0..8)
        .map(|i| Follower::start(nginx.ws_url("roll"), i, following.clone()))
        .collect();
    let load = Load::start(vec![nginx.ws_url("roll")], "roll", 4);
    tokio::time::sleep(Duration::from_millis(500)).await;
    for i in 0..2 {
        // Drain: SIGTERM stops new sockets, tells clients to reconnect (1001), finishes the
        // ops in hand, and exits cleanly; then the replica comes back on its port.
        assert!(
            cluster.replicas[i].terminate().await,
            "replica {i} exited cleanly"
        );
        cluster.replicas[i].restart().await;
        let replica = &cluster.replicas[i];
        replica.wait_ready(200).await;
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let (expected, _retries) = load.finish().await;
    assert_eq!(cluster.stored_value("roll").await, expected);
    let moved: usize = followers
        .iter()
        .map(|f| f.reconnects.load(Ordering::Relaxed))
        .sum();
    assert!(
        moved >= 8,
        "every client was moved at least once ({moved} reconnects)"
    );
    check_followers(followers, &following, expected).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nginx_keeps_traffic_off_a_replica_that_is_not_ready() {
    let acl = AclFile::shipped();
    let redis = RedisServer::start_production(&acl.path, ADMIN).await;
    let wrong = format!("redis://counter-service:wrong@127.0.0.1:{}/", redis.port);
    let url = acl::service_url("redis", redis.port);
    let mut cluster = Cluster::redis_on(redis, 1, &["--redis-url", &url]).await;
    cluster.replicas[0].wait_ready(200).await;
    // A replica with a wrong password: it runs (healthz) but is never ready.
    let broken = crate::helpers::Replica::start(&["--redis-url".into(), wrong]).await;
    assert_eq!(broken.readyz().await, 503);
    let nginx = Nginx::start([&broken.address, &cluster.replicas[0].address]).await;

    let mut clients = Vec::new();
    for k in 0..10 {
        let connect = tokio_tungstenite::connect_async(nginx.ws_url("ready")).await;
        if let Err(err) = connect {
            panic!("{err}\nnginx said:\n{}", nginx.error_log());
        }
        let mut client = WsClient::connect(&nginx.ws_url("ready")).await;
        let reply = client.change(1, &format!("r-{k}")).await;
        assert!(matches!(reply, ServerMessage::Ack { .. }), "{reply:?}");
        clients.push(client);
    }
    let http = reqwest::Client::new();
    for k in 0..10 {
        let answer = http
            .post(nginx.url("/api/counters/ready/increment"))
            .json(&serde_json::json!({ "op_id": format!("rest-{k}") }))
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status(), 200);
    }
    assert_eq!(cluster.stored_value("ready").await, 20);
    let metrics = reqwest::get(broken.url("/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(metrics.contains("\ncounter_ws_open 0\n"), "{metrics}");
    cluster.replicas.push(broken);
}
