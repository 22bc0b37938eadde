//! Sockets that go quiet, never read, come in crowds or watch a busy counter: pings, the idle
//! timeout, the write timeout, the per-address cap and state pacing keep a replica's resources
//! bounded.

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::Message;

use crate::helpers::ws_client::change_frame;
use crate::helpers::{Cluster, PATIENCE, Replica, WsClient, eventually};

/// The open-socket gauge from `/metrics`.
async fn open_sockets(replica: &Replica) -> u64 {
    let open = replica.metric("counter_ws_open").await;
    open.expect("counter_ws_open in /metrics") as u64
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_server_pings_and_closes_idle_sockets() {
    let cluster =
        Cluster::embedded(&["--ping-interval-ms", "100", "--idle-timeout-ms", "1500"]).await;
    let replica = &cluster.replicas[0];
    let (mut socket, _) = tokio_tungstenite::connect_async(replica.ws_url("global"))
        .await
        .unwrap();
    // Reading answers pings (tungstenite sends the pongs), which keeps the socket alive well
    // past the idle timeout.
    let (mut pings, mut heartbeats) = (0, 0);
    let started = tokio::time::Instant::now();
    while started.elapsed() < Duration::from_millis(2500) {
        match tokio::time::timeout(PATIENCE, socket.next()).await.unwrap() {
            Some(Ok(Message::Ping(_))) => pings += 1,
            // The heartbeat a page can see: a presence frame with every ping.
            Some(Ok(Message::Text(text))) if text.contains(r#""type":"presence""#) => {
                heartbeats += 1
            }
            Some(Ok(Message::Close(frame))) => panic!("closed while answering pings: {frame:?}"),
            Some(Ok(_)) => {}
            other => panic!("socket ended: {other:?}"),
        }
    }
    assert!(pings >= 5, "{pings} pings");
    assert!(heartbeats >= 5, "{heartbeats} heartbeats");

    // A client that stops reading stops answering pings: the server closes it.
    drop(socket);
    let silent = WsClient::connect(&replica.ws_url("global")).await;
    eventually("the silent socket to be closed", || async {
        (open_sockets(replica).await == 0).then_some(())
    })
    .await;
    drop(silent);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_socket_is_closed_with_1000_not_the_restart_code() {
    // No pings in this test's time, so a client that sends nothing is silent: it is the one
    // that went away, and 1001 would tell it this server is restarting.
    let cluster =
        Cluster::embedded(&["--ping-interval-ms", "600000", "--idle-timeout-ms", "500"]).await;
    let mut silent = WsClient::connect(&cluster.replicas[0].ws_url("global")).await;
    assert_eq!(silent.close_code().await, Some(1000));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_never_reads_is_dropped() {
    let cluster =
        Cluster::embedded(&["--write-timeout-ms", "300", "--idle-timeout-ms", "600000"]).await;
    let replica = &cluster.replicas[0];
    let (mut never_reads, _) = tokio_tungstenite::connect_async(replica.ws_url("global"))
        .await
        .unwrap();
    eventually("the socket to be counted", || async {
        (open_sockets(replica).await == 1).then_some(())
    })
    .await;
    let rss_before = replica.rss_kib();
    // Every bad frame earns an error frame; never reading them, the client fills its own
    // receive buffer and then the server's send buffer. Bounded: at most 200,000 frames, and
    // it stops as soon as the server stops taking them.
    for _ in 0..200_000 {
        let sent = tokio::time::timeout(
            Duration::from_millis(500),
            never_reads.send(Message::text("x")),
        );
        if !matches!(sent.await, Ok(Ok(()))) {
            break;
        }
    }
    eventually("the server to let the socket go", || async {
        (open_sockets(replica).await == 0).then_some(())
    })
    .await;
    // Nothing queued up for the reader: fan-out keeps only the newest state and replies wait
    // in a small channel, so memory stays flat (allowing for allocator noise).
    let grown = replica.rss_kib().saturating_sub(rss_before);
    assert!(grown < 32 * 1024, "RSS grew by {grown} KiB");
    // The replica is fine and serves others.
    let mut other = WsClient::connect(&replica.ws_url("global")).await;
    let reply = other.change(1, "after").await;
    assert!(
        matches!(reply, shared::ServerMessage::Ack { value: 1, .. }),
        "{reply:?}"
    );
    drop(never_reads);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_address_cannot_take_every_socket() {
    let cluster = Cluster::embedded(&["--max-connections-per-ip", "3"]).await;
    let replica = &cluster.replicas[0];
    let mut held = Vec::new();
    for _ in 0..3 {
        held.push(WsClient::connect(&replica.ws_url("global")).await);
    }
    let refused = tokio_tungstenite::connect_async(replica.ws_url("global")).await;
    match refused {
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
            assert_eq!(response.status().as_u16(), 429);
            let body = String::from_utf8_lossy(response.body().as_deref().unwrap_or_default())
                .into_owned();
            assert!(body.contains("rate_limited"), "{body}");
        }
        other => panic!("expected a 429, got {other:?}"),
    }
    held.pop();
    eventually("a freed place", || async {
        tokio_tungstenite::connect_async(replica.ws_url("global"))
            .await
            .ok()
            .map(|_| ())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ping_flood_changes_nothing_and_the_socket_still_works() {
    let cluster = Cluster::embedded(&[]).await;
    let replica = &cluster.replicas[0];
    let mut flooder = WsClient::connect(&replica.ws_url("global")).await;
    for i in 0..5_000u32 {
        flooder
            .send_raw(Message::Ping(i.to_be_bytes().to_vec().into()))
            .await;
    }
    let reply = flooder.change(1, "after-flood").await;
    assert!(
        matches!(reply, shared::ServerMessage::Ack { value: 1, .. }),
        "{reply:?}"
    );
    assert_eq!(replica.state("global").await.value, 1);
    assert_eq!(replica.healthz().await, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_busy_counter_is_paced_and_its_last_state_always_arrives() {
    // One state frame per second at most: 30 quick changes reach the watcher as a handful
    // of frames, the last of them the final value.
    let cluster = Cluster::embedded(&["--state-interval-ms", "1000"]).await;
    let replica = &cluster.replicas[0];
    let mut watcher = WsClient::connect(&replica.ws_url("busy")).await;
    let mut writer = WsClient::connect(&replica.ws_url("busy")).await;
    for k in 0..30 {
        writer.send_text(&change_frame(1, &format!("p-{k}"))).await;
    }
    for k in 0..30 {
        let reply = writer.reply_to(&format!("p-{k}")).await;
        assert!(
            matches!(reply, shared::ServerMessage::Ack { .. }),
            "{reply:?}"
        );
    }
    watcher.wait_for_value(30).await;
    assert!(
        watcher.states_seen < 10,
        "30 changes came as {} state frames",
        watcher.states_seen
    );
    assert_eq!(watcher.version, Some(30));
}
