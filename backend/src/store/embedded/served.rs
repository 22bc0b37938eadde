//! A stuck writer as clients see it: the real router on a real socket over the embedded
//! store, whose write lock the test takes and holds (as a stalled disk would hold the
//! writer up).

use std::net::SocketAddr;

use clap::Parser;
use serde_json::Value;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use super::*;
use crate::config::Config;
use crate::counters::Counters;
use crate::fanout::Hub;
use crate::metrics::Metrics;
use crate::public_hosts::PublicHosts;
use crate::serving::Serving;
use crate::state::AppState;
use crate::store::Store;

/// Serves the app over `store` on a free port of 127.0.0.1; returns its base URL.
async fn serve(config: Config, store: EmbeddedStore, shutdown: &CancellationToken) -> String {
    let metrics = Arc::new(Metrics::default());
    let counters = Counters {
        store: Arc::new(Store::Embedded(store)),
        hub: Hub::new(true, metrics.fanout_latency.clone()),
        metrics,
        open: Arc::new(crate::access::OpenCounters::All),
        max_counters: config.max_counters,
        reads: Default::default(),
    };
    let public_hosts = Arc::new(PublicHosts::from_config(&config.public_hosts).unwrap());
    let serving = Arc::new(Serving::new(shutdown.clone()));
    let state = AppState::new(config, counters, serving, public_hosts).unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let service = crate::app::app(state).into_make_service_with_connect_info::<SocketAddr>();
    let server =
        axum::serve(listener, service).with_graceful_shutdown(shutdown.clone().cancelled_owned());
    tokio::spawn(async move { server.await.unwrap() });
    format!("http://{address}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stuck_writer_answers_503_unavailable_and_readiness_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().display().to_string();
    let config = Config::parse_from([
        "backend",
        "--data-dir",
        &data_dir,
        "--store-timeout-ms",
        "300",
    ]);
    let store = EmbeddedStore::open(
        &config.data_dir,
        config.op_ttl(),
        config.store_timeout(),
        config.history_limit,
        Counter::default(),
    )
    .unwrap();
    let shutdown = CancellationToken::new();
    let base = serve(config, store.clone(), &shutdown).await;
    let http = reqwest::Client::new();
    let status = |path: &'static str| {
        let request = http.get(format!("{base}{path}"));
        async move { request.send().await.unwrap().status().as_u16() }
    };
    let increment = || async {
        let response = http
            .post(format!("{base}/api/counters/global/increment"))
            .json(&serde_json::json!({ "by": 1, "op_id": "stuck-1" }))
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        (status, response.json::<Value>().await.unwrap())
    };
    assert_eq!(status("/readyz").await, 200);

    let held = store.inner.db.begin_write().unwrap();
    let (code, body) = increment().await;
    assert_eq!(
        (code, &body["error"]["code"]),
        (503, &"unavailable".into()),
        "{body}"
    );
    assert_eq!(status("/readyz").await, 503);
    assert_eq!(
        status("/api/counters/global").await,
        200,
        "reads do not wait"
    );

    drop(held);
    assert_eq!(status("/readyz").await, 200);
    let (code, body) = increment().await;
    assert_eq!((code, &body["value"]), (200, &1.into()), "{body}");
    shutdown.cancel();
}
