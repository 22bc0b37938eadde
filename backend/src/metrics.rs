//! Prometheus metrics, rendered by hand: a handful of atomics needs no metrics framework.

use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};

use shared::ErrorCode;

/// Every code an operation can be refused with, in the order they are rendered.
const REFUSAL_CODES: [ErrorCode; 7] = [
    ErrorCode::BadRequest,
    ErrorCode::InvalidName,
    ErrorCode::Overflow,
    ErrorCode::RateLimited,
    ErrorCode::TooLarge,
    ErrorCode::Unavailable,
    ErrorCode::Internal,
];

/// Counters of what this replica did since it started.
#[derive(Default)]
pub struct Metrics {
    /// Changes applied (first applies only), over REST and WebSocket.
    pub ops_applied: AtomicU64,
    /// Retries answered from a dedupe record, changing nothing.
    pub ops_duplicate: AtomicU64,
    /// Operations and frames refused, by code (same order as `REFUSAL_CODES`).
    refused: [AtomicU64; REFUSAL_CODES.len()],
    /// WebSockets accepted since start; the open ones are read from the hub.
    pub ws_accepted: AtomicU64,
    /// WebSocket upgrades refused (origin, connection cap).
    pub ws_refused: AtomicU64,
}

impl Metrics {
    pub fn refused(&self, code: ErrorCode) {
        if let Some(i) = REFUSAL_CODES.iter().position(|c| *c == code) {
            self.refused[i].fetch_add(1, Ordering::Relaxed);
        }
    }

    /// The Prometheus text exposition; `open_sockets` and `ready` are read by the caller.
    pub fn render(&self, open_sockets: usize, ready: bool) -> String {
        let mut out = String::new();
        let mut metric = |name: &str, kind: &str, help: &str, value: u64| {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}"
            );
        };
        metric(
            "counter_ops_applied_total",
            "counter",
            "Changes applied by this replica.",
            self.ops_applied.load(Ordering::Relaxed),
        );
        metric(
            "counter_ops_duplicate_total",
            "counter",
            "Retried operations answered from their dedupe record.",
            self.ops_duplicate.load(Ordering::Relaxed),
        );
        metric(
            "counter_ws_accepted_total",
            "counter",
            "WebSockets accepted since start.",
            self.ws_accepted.load(Ordering::Relaxed),
        );
        metric(
            "counter_ws_refused_total",
            "counter",
            "WebSocket upgrades refused (origin or connection cap).",
            self.ws_refused.load(Ordering::Relaxed),
        );
        metric(
            "counter_ws_open",
            "gauge",
            "WebSockets open on this replica.",
            open_sockets as u64,
        );
        metric(
            "counter_ready",
            "gauge",
            "1 when the store answers and the subscriber is live.",
            u64::from(ready),
        );
        let name = "counter_ops_refused_total";
        let _ = writeln!(
            out,
            "# HELP {name} Operations and frames refused, by error code.\n# TYPE {name} counter"
        );
        for (code, count) in REFUSAL_CODES.iter().zip(&self.refused) {
            let _ = writeln!(
                out,
                "{name}{{code=\"{code}\"}} {}",
                count.load(Ordering::Relaxed)
            );
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_prometheus_text() {
        let metrics = Metrics::default();
        metrics.ops_applied.fetch_add(3, Ordering::Relaxed);
        metrics.refused(ErrorCode::RateLimited);
        let text = metrics.render(2, true);
        assert!(text.contains("\ncounter_ops_applied_total 3\n"), "{text}");
        assert!(text.contains("counter_ops_refused_total{code=\"rate_limited\"} 1\n"));
        assert!(text.contains("\ncounter_ws_open 2\n"));
        assert!(text.contains("# TYPE counter_ready gauge\ncounter_ready 1\n"));
    }
}
