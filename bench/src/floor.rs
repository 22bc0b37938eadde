//! The floor of the click benchmark: the same change made and watched by plain WebSocket
//! clients ([`crate::client`]) instead of pages, in the same run.
//!
//! A writer on the first replica sends an increment; one subscriber on each replica waits for
//! the state frame with the new value. The time from the send until the last subscriber has
//! it is what the server, Redis and the loopback network cost: no browser can show a change
//! sooner, so a page's latency is quoted as a multiple of this.

use std::net::{IpAddr, Ipv4Addr};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use futures_util::future::try_join_all;
use futures_util::{SinkExt, StreamExt};
use shared::ServerMessage;
use tokio_tungstenite::tungstenite::Message;

use crate::client::{self, Socket, increment_frame, next_state, wait_for_state};
use crate::harness::Bench;
use crate::latency::now_ns;

/// How long one change may take to reach every subscriber.
const CHANGE_TIMEOUT: Duration = Duration::from_secs(5);

/// Makes `changes` increments of counter `name`, `pause` apart, and returns for each the
/// milliseconds from its send until the last subscriber received it.
pub async fn measure(
    bench: &mut Bench,
    name: &str,
    changes: usize,
    pause: Duration,
) -> Result<Vec<f64>> {
    let localhost = IpAddr::V4(Ipv4Addr::LOCALHOST);
    let mut writer = client::connect(&bench.replicas[0].ws_url(name), localhost).await?;
    let first = wait_for_state(&mut writer).await?;
    let mut subscribers = Vec::with_capacity(bench.replicas.len());
    for (replica, source) in bench.replicas.iter().zip(bench.sources.take(2)) {
        let mut subscriber = client::connect(&replica.ws_url(name), source).await?;
        wait_for_state(&mut subscriber).await?;
        subscribers.push(subscriber);
    }
    // A replica holds a socket's next state frame until `--state-interval-ms` (16 ms) after
    // its last; the subscribers were just sent their first, and the first change must not wait.
    tokio::time::sleep(pause).await;
    let run = now_ns();
    let mut latencies = Vec::with_capacity(changes);
    for (value, index) in (first.value + 1..).zip(0..changes) {
        let op_id = format!("floor-{run}-{index}");
        let sent = Instant::now();
        writer
            .send(Message::text(increment_frame(op_id.clone())?))
            .await?;
        let arrivals = try_join_all(
            subscribers
                .iter_mut()
                .map(|subscriber| arrival(subscriber, value)),
        )
        .await
        .with_context(|| format!("change {} of the floor", index + 1))?;
        let last = arrivals.into_iter().max().unwrap_or(sent);
        latencies.push(last.duration_since(sent).as_secs_f64() * 1000.0);
        acked(&mut writer, &op_id).await?;
        tokio::time::sleep(pause).await;
    }
    Ok(latencies)
}

/// When `subscriber` received the state with `value`.
async fn arrival(subscriber: &mut Socket, value: i64) -> Result<Instant> {
    let started = Instant::now();
    loop {
        let left = CHANGE_TIMEOUT.saturating_sub(started.elapsed());
        let state = next_state(subscriber, left).await?;
        if state.value >= value {
            return Ok(Instant::now());
        }
    }
}

/// Reads the writer's frames until the ack of `op_id`, so that they do not pile up.
async fn acked(writer: &mut Socket, op_id: &str) -> Result<()> {
    tokio::time::timeout(CHANGE_TIMEOUT, async {
        while let Some(message) = writer.next().await {
            if let Message::Text(text) = message?
                && let Ok(ServerMessage::Ack {
                    op_id: Some(id), ..
                }) = serde_json::from_str(text.as_str())
                && id.as_str() == op_id
            {
                return Ok(());
            }
        }
        bail!("the writer's connection closed before its ack")
    })
    .await
    .context("no ack within 5 s")?
}
