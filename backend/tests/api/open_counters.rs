//! Version 2, open and owned names (`--open-counters`): an open name works as in version 1;
//! a name that is neither open nor created answers 404 `not_found` on every path and
//! creates nothing. On Redis with two replicas and on the embedded store.

use serde_json::json;
use shared::{ErrorCode, Role, ServerMessage};

use crate::helpers::Cluster;
use crate::helpers::cluster::Backing;
use crate::helpers::owned::{self, Socket, refused, request, upgrade_status};

/// Every path of a name nobody created: 404, and nothing in the store afterwards.
async fn an_unknown_name_is_not_found_everywhere_and_creates_nothing(cluster: Cluster) {
    for replica in &cluster.replicas {
        let get = request(replica, "GET", "/api/counters/nobody", None, None).await;
        refused(&get, 404, "not_found");
        for path in ["increment", "decrement"] {
            let path = format!("/api/counters/nobody/{path}");
            let post = request(replica, "POST", &path, None, Some(json!({"by": 1}))).await;
            refused(&post, 404, "not_found");
        }
        let set = request(
            replica,
            "POST",
            "/api/counters/nobody/set",
            Some("a-guess"),
            Some(json!({"value": 5})),
        )
        .await;
        refused(&set, 404, "not_found");
        let history = request(replica, "GET", "/api/counters/nobody/history", None, None).await;
        refused(&history, 404, "not_found");
        assert_eq!(upgrade_status(&replica.ws_url("nobody")).await, 404);
        // Still nothing: none of the above made the counter.
        let again = request(replica, "GET", "/api/counters/nobody", None, None).await;
        refused(&again, 404, "not_found");
    }
    if let Backing::Redis(redis) = &cluster.backing {
        let keys: Vec<String> = redis.cmd(&["KEYS", "counter:*nobody*"]).await;
        assert!(keys.is_empty(), "{keys:?}");
    }
}

/// `global` is open: read, changed and watched by anyone, as in version 1, and its sockets
/// are told they are staff, with no settings.
async fn an_open_counter_works_as_in_version_1(cluster: Cluster) {
    let mut watchers = Vec::new();
    for replica in &cluster.replicas {
        let socket = Socket::open(&replica.ws_url("global")).await;
        assert_eq!(socket.role, Role::Staff);
        assert_eq!(socket.meta, Default::default());
        watchers.push(socket);
    }
    let answer = owned::change(&cluster.replicas[0], "global", 4, None).await;
    assert_eq!((answer.status, &answer.body["value"]), (200, &json!(4)));
    let reply = watchers[0].client.change(-1, "o-1").await;
    assert!(
        matches!(reply, ServerMessage::Ack { value: 3, .. }),
        "{reply:?}"
    );
    for watcher in &mut watchers {
        watcher.client.wait_for_value(3).await;
    }
    let last = cluster.replicas.last().unwrap();
    let get = request(last, "GET", "/api/counters/global", None, None).await;
    assert_eq!(
        get.body,
        json!({"name": "global", "value": 3, "version": 2})
    );
    // An open counter has no owner: the owner's endpoints do not exist for it.
    for (method, path, body) in [
        ("PATCH", "/api/counters/global", Some(json!({"title": "x"}))),
        (
            "POST",
            "/api/counters/global/set",
            Some(json!({"value": 1})),
        ),
        ("POST", "/api/counters/global/keys/staff", None),
        ("DELETE", "/api/counters/global", None),
    ] {
        let answer = request(last, method, path, Some("any"), body).await;
        refused(&answer, 403, "forbidden");
    }
    // Nor can anyone take an open name as theirs.
    let taken = request(
        last,
        "POST",
        "/api/counters",
        None,
        Some(json!({"name": "global"})),
    )
    .await;
    refused(&taken, 409, "name_taken");
    assert_eq!(cluster.stored_value("global").await, 3);
}

/// A socket on a name that stops existing while it is open (here: never created, so it
/// cannot be opened at all) — and the listed names are open, others are not.
async fn the_listed_names_are_open_and_no_others(cluster: Cluster) {
    let replica = &cluster.replicas[0];
    let answer = owned::change(replica, "door-7", 1, None).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    let socket = Socket::open(&replica.ws_url("door-7")).await;
    assert_eq!(socket.role, Role::Staff);
    refused(
        &owned::change(replica, "door-8", 1, None).await,
        404,
        "not_found",
    );
    // A viewer-refusal code is never given on an open counter.
    let mut socket = socket;
    let reply = socket.client.change(1, "d7-1").await;
    assert!(!matches!(
        reply,
        ServerMessage::Error {
            code: ErrorCode::Forbidden,
            ..
        }
    ));
}

mod on_redis {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_unknown_name_is_not_found_everywhere_and_creates_nothing() {
        super::an_unknown_name_is_not_found_everywhere_and_creates_nothing(
            owned::redis(2, &[]).await,
        )
        .await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_open_counter_works_as_in_version_1() {
        super::an_open_counter_works_as_in_version_1(owned::redis(2, &[]).await).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_listed_names_are_open_and_no_others() {
        let flags = ["--open-counters", "global,door-7"];
        let redis = crate::helpers::RedisServer::start().await;
        let cluster = Cluster::redis_on(redis, 2, &flags).await;
        super::the_listed_names_are_open_and_no_others(cluster).await;
    }
}

mod on_embedded {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_unknown_name_is_not_found_everywhere_and_creates_nothing() {
        super::an_unknown_name_is_not_found_everywhere_and_creates_nothing(
            owned::embedded(&[]).await,
        )
        .await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_open_counter_works_as_in_version_1() {
        super::an_open_counter_works_as_in_version_1(owned::embedded(&[]).await).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_listed_names_are_open_and_no_others() {
        let cluster = Cluster::embedded(&["--open-counters", "global,door-7"]).await;
        super::the_listed_names_are_open_and_no_others(cluster).await;
    }
}

/// With `*` every name is open, as in version 1, but a name nobody has used can still be
/// created as an owned counter; sockets already watching it learn at once that they are
/// viewers now, on every replica. A used name is taken.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_every_name_open_an_unused_name_can_still_be_owned() {
    let redis = crate::helpers::RedisServer::start().await;
    let cluster = Cluster::redis_on(redis, 2, &["--open-counters", "*"]).await;
    let (a, b) = (&cluster.replicas[0], &cluster.replicas[1]);
    let mut watchers = vec![
        Socket::open(&a.ws_url("party")).await,
        Socket::open(&b.ws_url("party")).await,
    ];
    assert_eq!(watchers[0].role, Role::Staff);
    let created = owned::create(b, json!({"name": "party", "title": "Party"})).await;
    for watcher in &mut watchers {
        assert_eq!(watcher.next_access().await, Role::Viewer);
        assert_eq!(watcher.next_meta().await.title.as_deref(), Some("Party"));
    }
    let reply = watchers[0].client.change(1, "p-1").await;
    assert_eq!(owned::code_of(&reply), ErrorCode::Forbidden);
    assert_eq!(watchers[1].auth(&created.staff_key).await, Role::Staff);
    owned::change(a, "used", 1, None).await;
    let taken = request(
        a,
        "POST",
        "/api/counters",
        None,
        Some(json!({"name": "used"})),
    )
    .await;
    refused(&taken, 409, "name_taken");
}
