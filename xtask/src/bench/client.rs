//! The load generator's lean WebSocket client, its clock and its histograms.
//!
//! Latencies cross processes (a writer in the coordinator, subscribers in workers), so times
//! are read from one clock every process shares: the system clock in nanoseconds since the
//! Unix epoch. It could step if NTP set it during a run; over a benchmark of a few minutes on
//! one machine that is the lesser evil, since `Instant` cannot be compared across processes.

use std::net::{IpAddr, SocketAddr};
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result};
use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};
use tokio::net::{TcpSocket, TcpStream};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;

pub type Socket = WebSocketStream<TcpStream>;

/// Nanoseconds since the Unix epoch: the clock all benchmark processes share.
pub fn now_ns() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| {
            u64::try_from(since.as_nanos()).unwrap_or(u64::MAX)
        })
}

/// Opens a WebSocket to `url` (`ws://127.0.0.1:PORT/…`) from `source`, a local address of
/// 127.0.0.0/8, so that many thousands of connections do not share one address's ports.
pub async fn connect(url: &str, source: IpAddr) -> Result<Socket> {
    let authority = url
        .strip_prefix("ws://")
        .and_then(|rest| rest.split('/').next())
        .with_context(|| format!("not a ws:// URL: {url}"))?;
    let server: SocketAddr = authority
        .parse()
        .with_context(|| format!("not an IP:port: {authority}"))?;
    let socket = TcpSocket::new_v4()?;
    // Ports of this source still in TIME_WAIT from an earlier phase may be used again.
    socket.set_reuseaddr(true)?;
    socket
        .bind(SocketAddr::new(source, 0))
        .with_context(|| format!("could not bind to {source}"))?;
    let stream = socket
        .connect(server)
        .await
        .with_context(|| format!("could not connect to {server} from {source}"))?;
    stream.set_nodelay(true)?;
    // Small buffers: tens of thousands of connections live in a few processes, and the frames
    // are under a hundred bytes. Writes go out at once instead of waiting to fill a buffer.
    let config = WebSocketConfig::default()
        .read_buffer_size(2048)
        .write_buffer_size(0);
    let (socket, _) = tokio_tungstenite::client_async_with_config(url, stream, Some(config))
        .await
        .with_context(|| format!("WebSocket handshake with {url} failed"))?;
    Ok(socket)
}

/// A latency histogram in microseconds, from 1 µs to 10 minutes at 3 significant digits.
pub fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 600_000_000, 3).expect("constant bounds are valid")
}

/// A histogram's recorded values as `(value, count)` pairs: how workers send theirs back.
pub fn to_pairs(histogram: &Histogram<u64>) -> Vec<(u64, u64)> {
    histogram
        .iter_recorded()
        .map(|value| (value.value_iterated_to(), value.count_at_value()))
        .collect()
}

pub fn add_pairs(histogram: &mut Histogram<u64>, pairs: &[(u64, u64)]) {
    for &(value, count) in pairs {
        histogram.saturating_record_n(value, count);
    }
}

/// The summary of a latency histogram quoted in the report, in milliseconds.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Latency {
    pub samples: u64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
}

impl Latency {
    pub fn of(histogram: &Histogram<u64>) -> Latency {
        if histogram.is_empty() {
            return Latency::default();
        }
        let ms = |us: u64| us as f64 / 1000.0;
        Latency {
            samples: histogram.len(),
            p50_ms: ms(histogram.value_at_quantile(0.50)),
            p99_ms: ms(histogram.value_at_quantile(0.99)),
            max_ms: ms(histogram.max()),
        }
    }
}
