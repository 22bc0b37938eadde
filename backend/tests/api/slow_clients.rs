//! Plain HTTP clients that send one byte a second, or nothing at all: the header and body
//! deadlines let them go, a cap bounds how many are open, and a stopping replica does not
//! wait for them.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::task::JoinHandle;

use crate::helpers::{Cluster, PATIENCE, Replica, eventually};

/// A connection to the replica, as a raw TCP client.
async fn connect(replica: &Replica) -> (OwnedReadHalf, OwnedWriteHalf) {
    TcpStream::connect(&replica.address)
        .await
        .expect("connect")
        .into_split()
}

/// Sends `bytes` one a second, as a slowloris attack does, until they are out or the server
/// has closed the connection.
fn trickle(mut write: OwnedWriteHalf, bytes: Vec<u8>) -> JoinHandle<()> {
    tokio::spawn(async move {
        for byte in bytes {
            if write.write_all(&[byte]).await.is_err() {
                return;
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    })
}

/// Everything the server sends until it closes the connection; panics if it keeps the
/// connection open past [`PATIENCE`].
async fn until_closed(read: &mut OwnedReadHalf) -> String {
    let mut received = Vec::new();
    let read_all = async {
        let mut buffer = [0; 1024];
        // A reset after the answer still ends the connection: keep what came before it.
        while let Ok(n @ 1..) = read.read(&mut buffer).await {
            received.extend_from_slice(&buffer[..n]);
        }
    };
    tokio::time::timeout(PATIENCE, read_all)
        .await
        .expect("the server kept the slow client's connection open");
    String::from_utf8_lossy(&received).into_owned()
}

/// Reads up to the end of one answer's head (`\r\n\r\n`).
async fn head(read: &mut OwnedReadHalf) -> String {
    let mut received = Vec::new();
    while !received.ends_with(b"\r\n\r\n") {
        let byte = tokio::time::timeout(PATIENCE, read.read_u8())
            .await
            .expect("no answer in time")
            .expect("connection closed before an answer");
        received.push(byte);
    }
    String::from_utf8(received).unwrap()
}

/// The head of a POST of an increment whose body (`length` bytes) follows later; the client
/// waits for `100 Continue`, which proves the server has read the head and waits for the body.
fn post_head(replica: &Replica, length: usize) -> String {
    format!(
        "POST /api/counters/global/increment HTTP/1.1\r\nHost: {}\r\n\
         Content-Type: application/json\r\nContent-Length: {length}\r\n\
         Expect: 100-continue\r\n\r\n",
        replica.address
    )
}

/// A JSON body of an increment by 1, padded with spaces to 60 bytes: a minute at a byte a
/// second.
fn slow_body() -> Vec<u8> {
    format!("{{\"by\":1{}}}", " ".repeat(52)).into_bytes()
}

/// Starts the slow upload of an increment: the head at once, the body a byte a second.
async fn slow_post(replica: &Replica) -> (OwnedReadHalf, JoinHandle<()>) {
    let (mut read, mut write) = connect(replica).await;
    let body = slow_body();
    write
        .write_all(post_head(replica, body.len()).as_bytes())
        .await
        .unwrap();
    let continue_head = head(&mut read).await;
    assert!(continue_head.starts_with("HTTP/1.1 100"), "{continue_head}");
    (read, trickle(write, body))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_or_idle_request_head_is_cut_off() {
    let cluster = Cluster::embedded(&["--header-read-timeout-ms", "1500"]).await;
    let replica = &cluster.replicas[0];
    let (mut read, write) = connect(replica).await;
    let request = format!(
        "GET /healthz HTTP/1.1\r\nHost: {}\r\nX-Padding: {}\r\n\r\n",
        replica.address,
        "x".repeat(60)
    );
    let writer = trickle(write, request.into_bytes());
    let answer = until_closed(&mut read).await;
    assert!(
        answer.is_empty() || answer.starts_with("HTTP/1.1 408"),
        "closed without an answer, or with 408: {answer}"
    );
    writer.abort();

    // A keep-alive connection that has been answered and then says nothing is let go too.
    let (mut read, mut write) = connect(replica).await;
    let request = format!("GET /healthz HTTP/1.1\r\nHost: {}\r\n\r\n", replica.address);
    write.write_all(request.as_bytes()).await.unwrap();
    let answer = until_closed(&mut read).await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_request_body_is_answered_408_and_changes_nothing() {
    let cluster = Cluster::embedded(&["--body-read-timeout-ms", "1500"]).await;
    let replica = &cluster.replicas[0];
    let (mut read, writer) = slow_post(replica).await;
    let answer = until_closed(&mut read).await;
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains(r#""code":"request_timeout""#), "{answer}");
    writer.abort();
    assert_eq!(replica.state("global").await.value, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plain_connections_are_capped_and_websockets_leave_the_cap() {
    let cluster = Cluster::embedded(&[
        "--max-http-connections",
        "2",
        "--header-read-timeout-ms",
        "600000",
    ])
    .await;
    let replica = &cluster.replicas[0];
    // Two clients that say nothing hold both places.
    let first = connect(replica).await;
    let _second = connect(replica).await;
    let (mut read, mut write) = connect(replica).await;
    let request = format!("GET /healthz HTTP/1.1\r\nHost: {}\r\n\r\n", replica.address);
    // The write may already fail: the server closes such a connection at once.
    let _ = write.write_all(request.as_bytes()).await;
    assert_eq!(until_closed(&mut read).await, "", "closed unanswered");
    let metrics = metrics_after(replica, first).await;
    let refused: u64 = metrics
        .lines()
        .find_map(|line| line.strip_prefix("counter_http_refused_total "))
        .and_then(|n| n.parse().ok())
        .expect("counter_http_refused_total in /metrics");
    assert!(refused >= 1, "{metrics}");

    // An upgraded socket gives its place back: more sockets than places stay open.
    let mut sockets = Vec::new();
    for _ in 0..3 {
        let socket = eventually("a WebSocket past the plain-connection cap", || async {
            tokio_tungstenite::connect_async(replica.ws_url("global"))
                .await
                .ok()
        })
        .await;
        sockets.push(socket);
    }
}

/// `/metrics`, read once `holder` (one of the idle connections) has let its place go.
async fn metrics_after(replica: &Replica, holder: (OwnedReadHalf, OwnedWriteHalf)) -> String {
    drop(holder);
    eventually("a freed place for /metrics", || async {
        let answer = reqwest::get(replica.url("/metrics")).await.ok()?;
        answer.text().await.ok()
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_does_not_wait_for_slow_clients() {
    let mut cluster = Cluster::embedded(&[
        "--shutdown-timeout-ms",
        "1000",
        "--header-read-timeout-ms",
        "600000",
        "--body-read-timeout-ms",
        "600000",
    ])
    .await;
    let replica = &mut cluster.replicas[0];
    // One client in the middle of its body (the server has read its head and answered
    // `100 Continue`), one in the middle of its head.
    let (_uploading, uploader) = slow_post(replica).await;
    let (_heading, write) = connect(replica).await;
    let header = trickle(
        write,
        b"GET /healthz HTTP/1.1\r\nX-Padding: xxxxxxxxxxxxxxxx".to_vec(),
    );
    assert!(
        replica.terminate().await,
        "the replica exits, and cleanly, with slow clients connected"
    );
    uploader.abort();
    header.abort();
}
