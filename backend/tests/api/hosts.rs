//! DNS rebinding: a page whose domain was re-pointed at a replica is refused on every path
//! but the probes, because the name it was reached by is not one the service answers to.

use tokio_tungstenite::tungstenite::client::IntoClientRequest;

use crate::helpers::{Cluster, Replica};

/// A GET of `path` under the `Host` name `host`: status and body.
async fn get_as(replica: &Replica, host: &str, path: &str) -> (u16, String) {
    let answer = reqwest::Client::new()
        .get(replica.url(path))
        .header("host", host)
        .send()
        .await
        .unwrap();
    (answer.status().as_u16(), answer.text().await.unwrap())
}

/// An increment as a page served from `http://{host}` sends it: that `Host` and its Origin.
async fn increment_as_page_of(replica: &Replica, host: &str) -> u16 {
    reqwest::Client::new()
        .post(replica.url("/api/counters/global/increment"))
        .header("host", host)
        .header("origin", format!("http://{host}"))
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

/// A WebSocket upgrade as a page served from `http://{host}` asks for it; 101 when upgraded.
async fn upgrade_as_page_of(replica: &Replica, host: &str) -> u16 {
    let mut request = replica.ws_url("global").into_client_request().unwrap();
    let headers = request.headers_mut();
    headers.insert("host", host.parse().unwrap());
    headers.insert("origin", format!("http://{host}").parse().unwrap());
    match tokio_tungstenite::connect_async(request).await {
        Ok(_) => 101,
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => response.status().as_u16(),
        Err(err) => panic!("unexpected error {err}"),
    }
}

fn port(replica: &Replica) -> &str {
    replica.address.rsplit(':').next().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rebound_name_is_refused_everywhere_but_the_probes() {
    let cluster = Cluster::embedded(&[]).await;
    let replica = &cluster.replicas[0];
    // The attacker's page and every request it makes carry the attacker's name: same
    // origin, so only the name gives it away.
    let rebound = format!("evil.example:{}", port(replica));
    for path in [
        "/",
        "/c/global",
        "/index.html",
        "/api/counters/global",
        "/api/nope",
    ] {
        let (status, body) = get_as(replica, &rebound, path).await;
        assert_eq!(status, 421, "{path}");
        assert!(body.contains(r#""code":"unknown_host""#), "{path}: {body}");
    }
    assert_eq!(increment_as_page_of(replica, &rebound).await, 421);
    assert_eq!(upgrade_as_page_of(replica, &rebound).await, 421);
    assert_eq!(replica.state("global").await.value, 0, "nothing counted");
    // Load balancers and scrapers call the probes by whatever name they were given.
    for path in ["/healthz", "/readyz", "/metrics"] {
        assert_eq!(get_as(replica, &rebound, path).await.0, 200, "{path}");
    }

    // What `cargo xtask run` is opened as: localhost and the loopback addresses.
    let local = ["localhost", "127.0.0.1", "[::1]"].map(|host| format!("{host}:{}", port(replica)));
    for host in &local {
        assert_eq!(
            get_as(replica, host, "/api/counters/global").await.0,
            200,
            "{host}"
        );
        assert_eq!(increment_as_page_of(replica, host).await, 200, "{host}");
        assert_eq!(upgrade_as_page_of(replica, host).await, 101, "{host}");
    }
    assert_eq!(replica.state("global").await.value, 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn listed_public_hosts_are_the_only_names_served() {
    let cluster =
        Cluster::embedded(&["--public-hosts", "counter.example.com,api.example.com:8443"]).await;
    let replica = &cluster.replicas[0];
    for host in [
        "counter.example.com",
        "COUNTER.example.com:8080",
        "api.example.com:8443",
    ] {
        assert_eq!(
            get_as(replica, host, "/api/counters/global").await.0,
            200,
            "{host}"
        );
    }
    assert_eq!(
        upgrade_as_page_of(replica, "counter.example.com").await,
        101
    );
    let own_address = replica.address.clone();
    for host in [
        "api.example.com",
        "evil.example",
        "localhost",
        own_address.as_str(),
    ] {
        assert_eq!(
            get_as(replica, host, "/api/counters/global").await.0,
            421,
            "{host}"
        );
    }
    assert_eq!(increment_as_page_of(replica, &own_address).await, 421);
    assert_eq!(replica.readyz().await, 200, "the probes answer by address");
}
