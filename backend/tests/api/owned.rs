//! Version 2, owned counters: creating one (keys, names, limits, bad input) and what each
//! role may do over REST and WebSocket. On Redis with two replicas and on the embedded store.

use serde_json::json;
use shared::{CounterMeta, ErrorCode, Role, ServerMessage};

use crate::helpers::Cluster;
use crate::helpers::cluster::Backing;
use crate::helpers::layout;
use crate::helpers::owned::{self, Socket, code_of, create, refused, request};

/// Creating: 201 with two distinct keys, the settings on GET, the name taken afterwards, a
/// name picked by the server when none is given; keys kept only as hashes.
async fn a_created_counter_has_keys_settings_and_its_name(cluster: Cluster) {
    let (a, b) = (&cluster.replicas[0], cluster.replicas.last().unwrap());
    let created = create(
        a,
        json!({"name": "door-2", "title": "Main entrance", "capacity": 200}),
    )
    .await;
    assert_eq!(created.name.as_str(), "door-2");
    assert!(created.owner_key.len() >= 22 && created.staff_key.len() >= 22);
    assert_ne!(created.owner_key, created.staff_key);
    let info = request(b, "GET", "/api/counters/door-2", None, None).await;
    assert_eq!(
        info.body,
        json!({"name": "door-2", "value": 0, "version": 0, "title": "Main entrance",
               "capacity": 200, "warn_at": 180})
    );
    let again = request(
        b,
        "POST",
        "/api/counters",
        None,
        Some(json!({"name": "door-2"})),
    )
    .await;
    refused(&again, 409, "name_taken");
    let picked = create(b, json!({})).await;
    assert!(picked.name.as_str().len() >= 10, "{}", picked.name);
    let picked_too = create(b, json!({})).await;
    assert_ne!(picked.name, picked_too.name);
    let empty_body = request(a, "POST", "/api/counters", None, None).await;
    assert_eq!(empty_body.status, 201, "{}", empty_body.body);
    if let Backing::Redis(redis) = &cluster.backing {
        let meta: Vec<String> = redis.cmd(&["HGETALL", &layout::meta("door-2")]).await;
        assert!(
            !meta
                .iter()
                .any(|field| field == &created.owner_key || field == &created.staff_key),
            "keys are stored as hashes only: {meta:?}"
        );
        let owned: Vec<String> = redis.cmd(&["SMEMBERS", "counter::owned"]).await;
        assert_eq!(owned.len(), 4, "{owned:?}");
    }
}

/// Bad creation requests: a clear 400, and nothing created.
async fn bad_creation_requests_create_nothing(cluster: Cluster) {
    let replica = &cluster.replicas[0];
    for (body, code) in [
        (json!({"name": "a b"}), "invalid_name"),
        (json!({"name": "x", "capacity": 0}), "bad_request"),
        (json!({"name": "x", "capacity": -5}), "bad_request"),
        (
            json!({"name": "x", "capacity": 1_000_000_001u64}),
            "bad_request",
        ),
        (
            json!({"name": "x", "title": "t".repeat(101)}),
            "bad_request",
        ),
        (json!({"name": "x", "title": "a\u{7}b"}), "bad_request"),
        (json!({"name": "x", "owner": "me"}), "bad_request"),
        (json!(["x"]), "bad_request"),
    ] {
        let answer = request(replica, "POST", "/api/counters", None, Some(body.clone())).await;
        refused(&answer, 400, code);
    }
    let raw = replica
        .post_raw("/api/counters", b"{not json".to_vec())
        .await;
    assert_eq!(raw.status, 400);
    refused(
        &request(replica, "GET", "/api/counters/x", None, None).await,
        404,
        "not_found",
    );
}

/// REST: changes need the staff or owner key (401 without, 401 with a wrong one, which says
/// no more than a viewer can read); set needs the owner's (403 for staff).
async fn rest_changes_need_a_key_of_the_counter(cluster: Cluster) {
    let (a, b) = (&cluster.replicas[0], cluster.replicas.last().unwrap());
    let keys = create(a, json!({"name": "hall"})).await;
    refused(
        &owned::change(b, "hall", 1, None).await,
        401,
        "unauthorized",
    );
    refused(
        &owned::change(b, "hall", 1, Some("not-a-key")).await,
        401,
        "unauthorized",
    );
    let down = owned::change(b, "hall", -1, Some(&keys.staff_key)).await;
    assert_eq!(
        (down.status, &down.body["value"]),
        (200, &json!(-1)),
        "{}",
        down.body
    );
    let staff = owned::change(b, "hall", 3, Some(&keys.staff_key)).await;
    assert_eq!(
        (staff.status, &staff.body["value"]),
        (200, &json!(2)),
        "{}",
        staff.body
    );
    let by_owner = owned::change(a, "hall", 1, Some(&keys.owner_key)).await;
    assert_eq!(by_owner.body["value"], json!(3));
    let set_by_staff = request(
        b,
        "POST",
        "/api/counters/hall/set",
        Some(&keys.staff_key),
        Some(json!({"value": 0})),
    )
    .await;
    refused(&set_by_staff, 403, "forbidden");
    // A key of another counter is no key of this one.
    let other = create(a, json!({"name": "hall-2"})).await;
    refused(
        &owned::change(b, "hall", 1, Some(&other.owner_key)).await,
        401,
        "unauthorized",
    );
    assert_eq!(cluster.stored_value("hall").await, 3);
}

/// WebSocket: a socket starts as a viewer on an owned counter (state, access, meta), its
/// changes are refused `forbidden` with their op_id and change nothing; an `auth` with a
/// wrong key keeps it a viewer, with the staff key it changes the counter, which every
/// replica's sockets see.
async fn sockets_are_viewers_until_they_present_a_key(cluster: Cluster) {
    let (a, b) = (&cluster.replicas[0], cluster.replicas.last().unwrap());
    let keys = create(a, json!({"name": "bar", "title": "Bar", "capacity": 10})).await;
    let mut viewer = Socket::open(&b.ws_url("bar")).await;
    assert_eq!(viewer.role, Role::Viewer);
    assert_eq!(
        viewer.meta,
        CounterMeta {
            title: Some("Bar".into()),
            capacity: Some(10),
            warn_at: Some(9)
        }
    );
    let reply = viewer.client.change(1, "v-1").await;
    assert_eq!(code_of(&reply), ErrorCode::Forbidden);
    let undo = viewer
        .send(
            json!({"type": "undo", "op_id": "v-2", "undoes": "v-1"}),
            "v-2",
        )
        .await;
    assert_eq!(code_of(&undo), ErrorCode::Forbidden);
    assert_eq!(viewer.auth("wrong-key").await, Role::Viewer);
    assert_eq!(
        code_of(&viewer.client.change(1, "v-3").await),
        ErrorCode::Forbidden
    );
    assert_eq!(
        cluster.stored_value("bar").await,
        0,
        "a viewer changes nothing"
    );

    let mut staff = Socket::with_key(&a.ws_url("bar"), &keys.staff_key).await;
    assert_eq!(staff.role, Role::Staff);
    let reply = staff.client.change(2, "s-1").await;
    assert!(
        matches!(reply, ServerMessage::Ack { value: 2, .. }),
        "{reply:?}"
    );
    viewer.client.wait_for_value(2).await;
    let mut owner = Socket::with_key(&b.ws_url("bar"), &keys.owner_key).await;
    assert_eq!(owner.role, Role::Owner);
    // Presenting no key again makes a socket a viewer.
    assert_eq!(staff.auth("").await, Role::Viewer);
    assert_eq!(
        code_of(&staff.client.change(1, "s-2").await),
        ErrorCode::Forbidden
    );
    assert_eq!(cluster.stored_value("bar").await, 2);
    // Labels: at most 32 characters, refused otherwise with the frame's op_id.
    let long = json!({"type": "increment", "op_id": "o-1", "label": "x".repeat(33)});
    assert_eq!(
        code_of(&owner.send(long, "o-1").await),
        ErrorCode::BadRequest
    );
    let labelled = json!({"type": "increment", "op_id": "o-2", "label": "north door"});
    assert!(matches!(
        owner.send(labelled, "o-2").await,
        ServerMessage::Ack { value: 3, .. }
    ));
}

/// `--max-counters`: past it, 507 `limit_reached`, and nothing created.
async fn creation_stops_at_max_counters(cluster: Cluster) {
    let replica = &cluster.replicas[0];
    create(replica, json!({"name": "one"})).await;
    create(replica, json!({"name": "two"})).await;
    let third = request(
        replica,
        "POST",
        "/api/counters",
        None,
        Some(json!({"name": "three"})),
    )
    .await;
    refused(&third, 507, "limit_reached");
    refused(
        &request(replica, "GET", "/api/counters/three", None, None).await,
        404,
        "not_found",
    );
}

/// Creation is rate-limited per client address; `X-Forwarded-For` counts only from a
/// trusted proxy.
async fn creation_is_rate_limited_per_address(cluster: Cluster) {
    let replica = &cluster.replicas[0];
    let http = reqwest::Client::new();
    let create_as = |forwarded: &'static str| {
        http.post(replica.url("/api/counters"))
            .header("x-forwarded-for", forwarded)
            .json(&json!({}))
            .send()
    };
    for _ in 0..3 {
        assert_eq!(create_as("203.0.113.1").await.unwrap().status(), 201);
    }
    let fourth = create_as("203.0.113.1").await.unwrap();
    assert_eq!(fourth.status(), 429);
    // The peer is not a trusted proxy here: naming another client changes nothing.
    assert_eq!(create_as("203.0.113.2").await.unwrap().status(), 429);
}

async fn a_trusted_proxy_names_the_client(cluster: Cluster) {
    let replica = &cluster.replicas[0];
    let http = reqwest::Client::new();
    for client in ["203.0.113.1", "203.0.113.1", "203.0.113.2", "203.0.113.2"] {
        let answer = http
            .post(replica.url("/api/counters"))
            .header("x-forwarded-for", client)
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status(), 201, "{client}");
    }
    let third = http
        .post(replica.url("/api/counters"))
        .header("x-forwarded-for", "203.0.113.1")
        .send()
        .await
        .unwrap();
    assert_eq!(third.status(), 429, "each client has its own quota");
}

macro_rules! on_both_stores {
    ($($test:ident($redis_flags:expr)),* $(,)?) => {
        mod on_redis {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $test() {
                    super::$test(crate::helpers::owned::redis(2, $redis_flags).await).await;
                }
            )*
        }
        mod on_embedded {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $test() {
                    super::$test(crate::helpers::owned::embedded($redis_flags).await).await;
                }
            )*
        }
    };
}

on_both_stores!(
    a_created_counter_has_keys_settings_and_its_name(&[]),
    bad_creation_requests_create_nothing(&[]),
    rest_changes_need_a_key_of_the_counter(&[]),
    sockets_are_viewers_until_they_present_a_key(&[]),
    creation_stops_at_max_counters(&["--max-counters", "2"]),
    creation_is_rate_limited_per_address(&["--max-creates-per-minute", "3"]),
    a_trusted_proxy_names_the_client(&[
        "--max-creates-per-minute",
        "2",
        "--trusted-proxies",
        "127.0.0.1"
    ]),
);

/// REST changes are rate-limited per client address like a socket's changes; a refused
/// change changes nothing.
async fn rest_changes_are_rate_limited_per_address(cluster: Cluster) {
    let replica = &cluster.replicas[0];
    for _ in 0..3 {
        assert_eq!(owned::change(replica, "global", 1, None).await.status, 200);
    }
    refused(
        &owned::change(replica, "global", 1, None).await,
        429,
        "rate_limited",
    );
    assert_eq!(cluster.stored_value("global").await, 3);
}

mod rate_limits {
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn rest_changes_are_rate_limited_per_address_on_redis() {
        let flags = ["--max-ops-per-second", "1", "--max-ops-burst", "3"];
        super::rest_changes_are_rate_limited_per_address(
            crate::helpers::owned::redis(1, &flags).await,
        )
        .await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn rest_changes_are_rate_limited_per_address_on_embedded() {
        let flags = ["--max-ops-per-second", "1", "--max-ops-burst", "3"];
        super::rest_changes_are_rate_limited_per_address(
            crate::helpers::owned::embedded(&flags).await,
        )
        .await;
    }
}

/// Keys travel in headers and frames, never in a request line, and no replica logs them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_never_reach_a_log() {
    let cluster = crate::helpers::owned::redis(2, &[]).await;
    let (a, b) = (&cluster.replicas[0], &cluster.replicas[1]);
    let keys = create(a, json!({"name": "secret"})).await;
    let mut socket = Socket::with_key(&b.ws_url("secret"), &keys.staff_key).await;
    socket.client.change(1, "k-1").await;
    owned::change(a, "secret", 1, Some(&keys.owner_key)).await;
    let rotated = request(
        b,
        "POST",
        "/api/counters/secret/keys/staff",
        Some(&keys.owner_key),
        None,
    )
    .await;
    let new_key = rotated.body["key"].as_str().unwrap().to_owned();
    request(
        a,
        "GET",
        "/api/counters/secret/history",
        Some(&keys.owner_key),
        None,
    )
    .await;
    for replica in &cluster.replicas {
        let logs = replica.logs();
        assert!(
            logs.contains("secret"),
            "the logs say what happened to the counter"
        );
        for key in [&keys.owner_key, &keys.staff_key, &new_key] {
            assert!(!logs.contains(key.as_str()), "a key in the logs:\n{logs}");
        }
    }
}

/// Refusals of version 2 are counted by code, like version 1's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refusals_are_counted_by_code() {
    let cluster = crate::helpers::owned::redis(1, &[]).await;
    let replica = &cluster.replicas[0];
    create(replica, json!({"name": "metered"})).await;
    owned::change(replica, "metered", 1, None).await;
    let mut viewer = Socket::open(&replica.ws_url("metered")).await;
    viewer.client.change(1, "m-1").await;
    request(
        replica,
        "POST",
        "/api/counters",
        None,
        Some(json!({"name": "metered"})),
    )
    .await;
    for (code, at_least) in [
        ("unauthorized", 1.0),
        ("forbidden", 1.0),
        ("name_taken", 1.0),
    ] {
        let series = format!("counter_ops_refused_total{{code=\"{code}\"}}");
        let counted = replica.metric(&series).await.unwrap_or(0.0);
        assert!(counted >= at_least, "{series} = {counted}");
    }
}
