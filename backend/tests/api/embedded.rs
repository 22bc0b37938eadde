//! What only the embedded store has: durability across `kill -9`, one process.

use shared::ServerMessage;

use crate::helpers::{Cluster, WsClient};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_changes_survive_kill_9() {
    let mut cluster = Cluster::embedded(&[]).await;
    let mut client = WsClient::connect(&cluster.replicas[0].ws_url("global")).await;
    let mut expected = 0;
    for k in 0..50 {
        let delta = if k % 5 == 0 { -1 } else { 2 };
        let reply = client.change(delta, &format!("d-{k}")).await;
        assert!(matches!(reply, ServerMessage::Ack { .. }), "{reply:?}");
        expected += delta;
    }
    drop(client);

    let replica = &mut cluster.replicas[0];
    replica.kill9().await;
    replica.restart().await;
    let state = replica.state("global").await;
    assert_eq!((state.value, state.version), (expected, 50));

    // The dedupe records survived too: a retry after the crash changes nothing.
    let mut client = WsClient::connect(&replica.ws_url("global")).await;
    assert_eq!(client.value, Some(expected));
    let reply = client.change(2, "d-1").await;
    assert!(
        matches!(
            reply,
            ServerMessage::Ack {
                value: 1,
                version: 2,
                ..
            }
        ),
        "answered with the first result: {reply:?}"
    );
    assert_eq!(replica.state("global").await.value, expected);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_closes_sockets_with_1001_and_exits() {
    let mut cluster = Cluster::embedded(&[]).await;
    let replica = &mut cluster.replicas[0];
    let mut client = WsClient::connect(&replica.ws_url("global")).await;
    let code = tokio::spawn(async move { client.close_code().await });
    assert!(replica.terminate().await, "exit status 0");
    assert_eq!(code.await.unwrap(), Some(1001));
}
