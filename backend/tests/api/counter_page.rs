//! A counter's page (`/`, `/c/{name}`) carries the counter's current value in its markup and
//! title, on both stores; an invalid name, or a store that is down or hung, gets the plain
//! shell; and no such page may be stored by a cache (`backend/src/static_files/counter_page.rs`).

use crate::helpers::{Cluster, PATIENCE, RedisServer, Replica, eventually};

/// A shell shaped like the built one: a title, Trunk's inline start-up script, and the
/// template the server fills in.
const SHELL: &str = "<!doctype html><html><head><title>Shared Counter</title>\
    <script type=\"module\">import init from '/frontend-0123456789abcdef.js'; await init();</script>\
    </head><body><template id=\"server-shell\"><div id=\"shell\" data-name=\"{{name}}\" \
    data-value=\"{{value}}\" data-version=\"{{version}}\"><h1>{{name}}</h1>\
    <output data-testid=\"count\">{{value}}</output></div></template></body></html>";

fn dist() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(dir.path().join("index.html"), SHELL).expect("write index.html");
    dir
}

/// A page's body and `Cache-Control`, bounded by [`PATIENCE`] so that a page held up by the
/// store fails the test instead of hanging it.
async fn page(replica: &Replica, path: &str) -> (String, String) {
    let response = tokio::time::timeout(PATIENCE, reqwest::get(replica.url(path)))
        .await
        .unwrap_or_else(|_| panic!("{path} did not answer within {PATIENCE:?}"))
        .expect("GET a page");
    assert_eq!(response.status(), 200, "{path}");
    let cache = response
        .headers()
        .get("cache-control")
        .map(|value| value.to_str().unwrap().to_owned())
        .unwrap_or_default();
    (response.text().await.expect("the page"), cache)
}

/// The page's markup as the server fills it in for `name` at `value`, `version`.
fn filled(name: &str, value: i64, version: u64) -> String {
    format!(
        "<!doctype html><html><head><title>{value} · {name} — Shared Counter</title>\
         <script type=\"module\">import init from '/frontend-0123456789abcdef.js'; await init();</script>\
         </head><body><div id=\"shell\" data-name=\"{name}\" data-value=\"{value}\" \
         data-version=\"{version}\"><h1>{name}</h1><output data-testid=\"count\">{value}</output>\
         </div></body></html>"
    )
}

/// The page carries the value the store has now: read from the store for a counter without
/// sockets here, from the replica's own copy for one with sockets, which follows changes made
/// on any replica.
async fn a_page_carries_the_current_value(cluster: Cluster) {
    let first = &cluster.replicas[0];
    let last = cluster.replicas.last().expect("a replica");
    assert_eq!(
        page(first, "/c/door-2").await,
        (filled("door-2", 0, 0), "no-store".into())
    );

    last.increment("door-2", 5, None).await;
    last.post("/api/counters/door-2/decrement", None).await;
    assert_eq!(page(first, "/c/door-2").await.0, filled("door-2", 4, 2));
    assert_eq!(page(first, "/c/door-2/").await.0, filled("door-2", 4, 2));

    // With a socket on `global` here, the page comes from the hub, which hears of the change
    // made on the other replica.
    let _watcher = cluster.watchers("global").await;
    assert_eq!(page(first, "/").await.0, filled("global", 0, 0));
    last.increment("global", 7, None).await;
    eventually("the page to show the new value", || async {
        (page(first, "/").await.0 == filled("global", 7, 1)).then_some(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_page_carries_the_current_value_with_redis() {
    let dist = dist();
    let dir = dist.path().display().to_string();
    let cluster = Cluster::redis_on(RedisServer::start().await, 2, &["--static-dir", &dir]).await;
    a_page_carries_the_current_value(cluster).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_page_carries_the_current_value_with_the_embedded_store() {
    let dist = dist();
    let dir = dist.path().display().to_string();
    let cluster = Cluster::embedded(&["--static-dir", &dir]).await;
    a_page_carries_the_current_value(cluster).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invalid_name_gets_the_plain_shell() {
    let dist = dist();
    let dir = dist.path().display().to_string();
    let cluster = Cluster::embedded(&["--static-dir", &dir]).await;
    let replica = &cluster.replicas[0];
    let too_long = format!("/c/{}", "x".repeat(65));
    for path in [
        "/c/%3Cscript%3Ealert(1)%3C%2Fscript%3E",
        "/c/a%22%20data-x%3D%22",
        "/c/a%20b",
        too_long.as_str(),
        "/elsewhere",
    ] {
        let (body, _) = page(replica, path).await;
        assert_eq!(body, SHELL, "{path}");
    }
    // The plain shell itself is a file like any other: kept, and revalidated.
    assert_eq!(
        page(replica, "/index.html").await,
        (SHELL.into(), "no-cache".into())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_the_store_hung_or_down_the_page_is_the_plain_shell() {
    let dist = dist();
    let dir = dist.path().display().to_string();
    // The store's own timeout is far beyond the test's patience: a page that waited for the
    // store instead of giving up after its short bound would fail the test.
    let flags = ["--static-dir", &dir, "--store-timeout-ms", "60000"];
    let mut cluster = Cluster::redis_on(RedisServer::start().await, 1, &flags).await;
    cluster.replicas[0].increment("door-2", 3, None).await;
    assert_eq!(
        page(&cluster.replicas[0], "/c/door-2").await.0,
        filled("door-2", 3, 1)
    );

    // Hung: Redis takes the connection's bytes and never answers.
    let pid = cluster.redis_server().pid().to_string();
    let signal = |name: &str| {
        std::process::Command::new("kill")
            .args([name, &pid])
            .status()
            .expect("kill");
    };
    signal("-STOP");
    let hung = page(&cluster.replicas[0], "/c/door-2").await;
    signal("-CONT");
    assert_eq!(hung, (SHELL.into(), "no-store".into()));

    // Down.
    cluster.redis_server_mut().stop().await;
    assert_eq!(page(&cluster.replicas[0], "/c/door-2").await.0, SHELL);
    assert_eq!(page(&cluster.replicas[0], "/").await.0, SHELL);
}
