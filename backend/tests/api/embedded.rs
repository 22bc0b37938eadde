//! What only the embedded store has: durability across `kill -9`, group commit, one
//! process per data folder.

use std::collections::HashMap;
use std::process::Stdio;

use shared::ServerMessage;

use crate::helpers::replica::data_dir_arg;
use crate::helpers::ws_client::change_frame;
use crate::helpers::{Cluster, PATIENCE, Replica, WsClient, free_port};

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

/// Many clients at once, each sending all its changes without waiting for acks and each
/// change twice (the retry right behind the original, so the two often share a commit),
/// plus changes every client sends under the same op_ids: each distinct op counts exactly
/// once, every copy is acked with its first result, retries in later batches too, and all
/// of it survives `kill -9`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_changes_count_once_each_and_survive_kill_9() {
    const CLIENTS: usize = 24;
    const OPS: usize = 30;
    const SHARED: usize = 10;
    let delta = |c: usize, k: usize| {
        if (c + k).is_multiple_of(3) {
            -1
        } else {
            1 + (k % 3) as i64
        }
    };
    let mut cluster = Cluster::embedded(&[]).await;
    let url = cluster.replicas[0].ws_url("crowd");
    let clients: Vec<_> = (0..CLIENTS)
        .map(|c| {
            let url = url.clone();
            tokio::spawn(async move {
                let mut client = WsClient::connect(&url).await;
                let mut sent = Vec::new();
                for k in 0..OPS {
                    let own = format!("c{c}-{k}");
                    for _ in 0..2 {
                        client.send_text(&change_frame(delta(c, k), &own)).await;
                        sent.push(own.clone());
                    }
                    let shared = format!("shared-{}", (c + k) % SHARED);
                    client.send_text(&change_frame(1, &shared)).await;
                    sent.push(shared);
                }
                let mut acks = Vec::new();
                // Replies come in the order of the frames.
                for op_id in sent {
                    match client.next_reply().await {
                        ServerMessage::Ack {
                            op_id: Some(id),
                            value,
                            version,
                        } if id.as_str() == op_id => acks.push((op_id, (value, version))),
                        other => panic!("{op_id}: {other:?}"),
                    }
                }
                acks
            })
        })
        .collect();
    let mut first_results: HashMap<String, (i64, u64)> = HashMap::new();
    for client in clients {
        for (op_id, result) in client.await.expect("client task") {
            let first = *first_results.entry(op_id.clone()).or_insert(result);
            assert_eq!(
                first, result,
                "every ack of {op_id} carries its first result"
            );
        }
    }
    let distinct = CLIENTS * OPS + SHARED;
    assert_eq!(first_results.len(), distinct);
    let mut versions: Vec<u64> = first_results
        .values()
        .map(|&(_, version)| version)
        .collect();
    versions.sort_unstable();
    assert_eq!(
        versions,
        (1..=distinct as u64).collect::<Vec<_>>(),
        "each distinct op has a version of its own: applied exactly once"
    );
    let expected: i64 = (0..CLIENTS)
        .flat_map(|c| (0..OPS).map(move |k| delta(c, k)))
        .sum::<i64>()
        + SHARED as i64;
    let replica = &mut cluster.replicas[0];
    let state = replica.state("crowd").await;
    assert_eq!((state.value, state.version), (expected, distinct as u64));

    // Retries long after, in batches of their own, change nothing either.
    let mut client = WsClient::connect(&url).await;
    let retries = [
        ("c0-0", delta(0, 0)),
        ("c7-12", delta(7, 12)),
        ("c23-29", delta(23, 29)),
        ("shared-4", 1),
    ];
    for (op_id, by) in retries {
        match client.change(by, op_id).await {
            ServerMessage::Ack { value, version, .. } => {
                assert_eq!((value, version), first_results[op_id], "{op_id}");
            }
            other => panic!("{op_id}: {other:?}"),
        }
    }
    drop(client);

    replica.kill9().await;
    replica.restart().await;
    let state = replica.state("crowd").await;
    assert_eq!((state.value, state.version), (expected, distinct as u64));
}

/// A second backend on a data folder another backend has open does not start: it says the
/// folder is in use, and binds nothing. Given the first one's own address, it still reports
/// the folder, not the port: the database is opened before the port is bound.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_backend_on_the_same_data_dir_fails_to_start_and_binds_nothing() {
    let dir = tempfile::tempdir().expect("temp dir");
    let first = Replica::start(&data_dir_arg(dir.path())).await;
    let free = format!("127.0.0.1:{}", free_port());
    for address in [first.address.as_str(), free.as_str()] {
        let start = tokio::process::Command::new(env!("CARGO_BIN_EXE_backend"))
            .arg("--listen")
            .arg(address)
            .args(data_dir_arg(dir.path()))
            .stdin(Stdio::null())
            .kill_on_drop(true)
            .output();
        let output = tokio::time::timeout(PATIENCE, start)
            .await
            .expect("the second backend exits")
            .expect("run backend");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!output.status.success(), "{stderr}");
        assert_eq!(
            stderr
                .matches("counters.redb is in use by another process")
                .count(),
            1,
            "said once, on {address}: {stderr}"
        );
        assert!(output.stdout.is_empty(), "it never listened");
    }
    assert!(
        std::net::TcpListener::bind(&free).is_ok(),
        "nothing holds the port"
    );
    assert_eq!(first.readyz().await, 200, "the first backend serves on");
}
