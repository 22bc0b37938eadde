//! A Jepsen-style history check. Writers on two replicas change one counter while Redis and
//! a replica are killed and restarted; every operation's send, ack or unknown outcome, and
//! every read, is recorded with its time. Then:
//! - every value read lies within what the ops allow: it includes every op acknowledged
//!   before the read began, and nothing not yet sent when the read ended;
//! - the final value is exactly the acknowledged ops plus the unknown-outcome ops that did
//!   apply, which their op_id records in Redis tell.
//!
//! Writers never retry here, so faults leave ops of unknown outcome behind on purpose.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use shared::ServerMessage;
use tokio::time::Instant;
use tokio_tungstenite::connect_async;
use tokio_tungstenite::tungstenite::Message;

use crate::helpers::layout;
use crate::helpers::ws_client::change_frame;
use crate::helpers::{Cluster, RedisServer, eventually};

const NAME: &str = "history";

/// One operation as its writer saw it.
#[derive(Clone, Debug)]
struct Op {
    /// Its `op_id`, under which every retry is sent.
    id: String,
    /// What it adds to the counter.
    delta: i64,
    /// When it was first sent: the start of its real-time interval.
    sent: Instant,
    /// When it was acknowledged; `None` when the outcome is unknown (error, timeout, crash).
    acked: Option<Instant>,
}

/// One successful read of the value.
#[derive(Clone, Debug)]
struct Read {
    /// When the request went out: the value includes every op acknowledged before.
    began: Instant,
    /// When the answer came: the value includes no op sent after.
    ended: Instant,
    /// The value read.
    value: i64,
}

/// Everything the writers and readers saw, for the checks at the end.
#[derive(Default)]
struct History {
    /// Every operation, acknowledged or not.
    ops: Vec<Op>,
    /// Every successful read.
    reads: Vec<Read>,
}

type Shared = Arc<Mutex<History>>;

/// Applies ops until `until`, moving to the other replica after any failure.
async fn writer(w: usize, urls: Vec<String>, history: Shared, until: Instant) {
    let mut k = 0;
    let mut url = w;
    while Instant::now() < until {
        let Ok(Ok((mut socket, _))) =
            tokio::time::timeout(Duration::from_secs(2), connect_async(&urls[url % 2])).await
        else {
            url += 1;
            tokio::time::sleep(Duration::from_millis(50)).await;
            continue;
        };
        while Instant::now() < until {
            let delta = if (w + k).is_multiple_of(3) {
                -2
            } else {
                1 + (k % 3) as i64
            };
            let id = format!("h{w}-{k}");
            k += 1;
            let sent = Instant::now();
            let index = {
                let mut history = history.lock().unwrap();
                history.ops.push(Op {
                    id: id.clone(),
                    delta,
                    sent,
                    acked: None,
                });
                history.ops.len() - 1
            };
            if socket
                .send(Message::text(change_frame(delta, &id)))
                .await
                .is_err()
            {
                break;
            }
            match reply_to(&mut socket, &id).await {
                Some(true) => history.lock().unwrap().ops[index].acked = Some(Instant::now()),
                // Refused or lost: unknown outcome, as far as this writer can tell.
                Some(false) => continue,
                None => break,
            }
        }
        url += 1;
    }
}

/// `Some(true)` for an ack, `Some(false)` for an error frame, `None` if the socket failed.
async fn reply_to(
    socket: &mut tokio_tungstenite::WebSocketStream<
        tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>,
    >,
    id: &str,
) -> Option<bool> {
    loop {
        let message = tokio::time::timeout(Duration::from_secs(3), socket.next())
            .await
            .ok()??
            .ok()?;
        let Message::Text(text) = message else {
            continue;
        };
        match serde_json::from_str::<ServerMessage>(&text).ok()? {
            ServerMessage::Ack {
                op_id: Some(op), ..
            } if op.as_str() == id => return Some(true),
            ServerMessage::Error {
                op_id: Some(op), ..
            } if op.as_str() == id => {
                return Some(false);
            }
            _ => {}
        }
    }
}

/// Reads the value over REST from alternating replicas until `until`.
async fn reader(urls: Vec<String>, history: Shared, until: Instant) {
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(2))
        .build()
        .unwrap();
    let mut i = 0;
    while Instant::now() < until {
        i += 1;
        let began = Instant::now();
        let response = http.get(&urls[i % 2]).send().await;
        if let Ok(response) = response
            && response.status().is_success()
            && let Ok(body) = response.json::<serde_json::Value>().await
            && let Some(value) = body["value"].as_i64()
        {
            let ended = Instant::now();
            history.lock().unwrap().reads.push(Read {
                began,
                ended,
                value,
            });
        }
        tokio::time::sleep(Duration::from_millis(15)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn histories_under_faults_are_consistent() {
    let redis = RedisServer::start_with(&["--appendonly", "yes", "--appendfsync", "always"]).await;
    let mut cluster = Cluster::redis_on(redis, 2, &[]).await;
    let history: Shared = Default::default();
    let until = Instant::now() + Duration::from_secs(6);
    let ws_urls: Vec<String> = cluster.replicas.iter().map(|r| r.ws_url(NAME)).collect();
    let rest_urls: Vec<String> = cluster
        .replicas
        .iter()
        .map(|r| r.url(&format!("/api/counters/{NAME}")))
        .collect();
    let mut tasks = Vec::new();
    for w in 0..4 {
        tasks.push(tokio::spawn(writer(
            w,
            ws_urls.clone(),
            history.clone(),
            until,
        )));
    }
    tasks.push(tokio::spawn(reader(rest_urls, history.clone(), until)));

    // The faults: Redis killed and restarted, then a replica killed and restarted.
    tokio::time::sleep(Duration::from_millis(1000)).await;
    cluster.redis_server_mut().kill9().await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    cluster.redis_server_mut().restart().await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    cluster.replicas[0].kill9().await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    cluster.replicas[0].restart().await;
    for task in tasks {
        task.await.expect("history task");
    }

    // Copied out, so no lock is held across the awaits below.
    let history = {
        let history = history.lock().unwrap();
        History {
            ops: history.ops.clone(),
            reads: history.reads.clone(),
        }
    };
    let acked = history.ops.iter().filter(|op| op.acked.is_some()).count();
    let unknown = history.ops.len() - acked;
    assert!(acked > 100, "enough load ran ({acked} acked)");
    assert!(history.reads.len() > 50, "enough reads ran");

    // Every read is within the bounds the ops allow.
    for read in &history.reads {
        let (mut low, mut high) = (0i64, 0i64);
        for op in &history.ops {
            let certainly_in = op.acked.is_some_and(|acked| acked < read.began);
            let possibly_in = op.sent < read.ended;
            if certainly_in {
                low += op.delta;
                high += op.delta;
            } else if possibly_in {
                if op.delta < 0 {
                    low += op.delta
                } else {
                    high += op.delta
                }
            }
        }
        assert!(
            (low..=high).contains(&read.value),
            "read {} outside [{low}, {high}]",
            read.value
        );
    }

    // The final value: acknowledged ops plus the unknown ones whose op record exists.
    let redis = cluster.redis_server();
    let mut expected = 0;
    let mut unknown_applied = 0;
    for op in history.ops.iter() {
        let record: Option<String> = redis.cmd(&["GET", &layout::op(NAME, &op.id)]).await;
        match (op.acked.is_some(), record.is_some()) {
            (true, true) => expected += op.delta,
            (true, false) => panic!("acknowledged op {} has no record: it was lost", op.id),
            (false, true) => {
                unknown_applied += 1;
                expected += op.delta;
            }
            (false, false) => {}
        }
    }
    assert_eq!(cluster.stored_value(NAME).await, expected);
    for replica in &cluster.replicas {
        let replica_value = eventually("the replica to agree", || async {
            let state = replica.state(NAME).await;
            (state.value == expected).then_some(state.value)
        })
        .await;
        assert_eq!(replica_value, expected);
    }
    eprintln!(
        "history: {acked} acked, {unknown} unknown ({unknown_applied} applied), {} reads",
        history.reads.len()
    );
}
