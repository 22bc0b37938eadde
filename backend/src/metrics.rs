//! What `/metrics` reports, with the Prometheus project's client: typed counters and gauges,
//! refusals labelled by code, and latency histograms of a change and of its fan-out.

use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::{Registry, Unit};
use shared::ErrorCode;

/// Every code an operation can be refused with. Each has its series from the start, so an
/// alert on a rate sees 0 rather than no data.
const REFUSAL_CODES: [ErrorCode; 13] = [
    ErrorCode::BadRequest,
    ErrorCode::InvalidName,
    ErrorCode::Overflow,
    ErrorCode::RateLimited,
    ErrorCode::TooLarge,
    ErrorCode::Unavailable,
    ErrorCode::Internal,
    // Version 2: changes and owner requests refused for their key or their counter.
    ErrorCode::Unauthorized,
    ErrorCode::Forbidden,
    ErrorCode::NotFound,
    ErrorCode::NameTaken,
    ErrorCode::Conflict,
    ErrorCode::LimitReached,
];

/// The labels of a refusal: its error code.
type RefusalLabels = [(&'static str, &'static str); 1];

/// The labels of a damaged key: the key itself, which the operator must repair.
type KeyLabels = [(&'static str, String); 1];

/// What this replica did since it started, and the registry that renders it.
pub struct Metrics {
    /// Names, help texts and types of everything below, for rendering.
    registry: Registry,
    /// Changes applied (first applies only), over REST and WebSocket.
    pub ops_applied: Counter,
    /// Retries answered from a dedupe record, changing nothing.
    pub ops_duplicate: Counter,
    /// Operations and frames refused, one series per code of `REFUSAL_CODES` (same order),
    /// held here so a refusal costs no label lookup.
    refused: [Counter; REFUSAL_CODES.len()],
    /// WebSockets accepted since start; the open ones are read from the hub at each scrape.
    pub ws_accepted: Counter,
    /// WebSocket upgrades refused (origin, connection caps, a replica without its store).
    pub ws_refused: Counter,
    /// Messages on a counter's channel that were not a state the store can have published
    /// for it (malformed, another counter's name, a version out of range), dropped.
    pub pubsub_dropped: Counter,
    /// Reads and changes that found a counter's key damaged, by key. Only damaged keys get
    /// a series, so an alert on any series at all finds them.
    damaged: Family<KeyLabels, Counter>,
    /// WebSockets open now, set at each scrape.
    ws_open: Gauge,
    /// Plain HTTP connections closed unanswered at `--max-http-connections`.
    pub http_refused: Counter,
    /// 1 when the store answers and the subscriber is live, set at each scrape.
    ready: Gauge,
    /// Seconds from handing a change to the store to its answer (the store round trip),
    /// failures and timeouts included.
    pub change_latency: Histogram,
    /// Write transactions the embedded store committed, each one fsync: changes applied
    /// over this is how many changes one commit carried on average (group commit).
    pub store_commits: Counter,
    /// Seconds from the hub taking a new state to the last of this replica's sockets
    /// writing it, pacing included: how stale the slowest watcher's view is.
    pub fanout_latency: Histogram,
}

impl Default for Metrics {
    fn default() -> Self {
        // 0.1 ms to about 2.4 s: a local Redis answers a change in well under a millisecond,
        // the store's timeout (2 s by default) bounds the slowest, and pacing holds a state
        // back by at most one interval.
        let latency = || Histogram::new(exponential_buckets(0.000_1, 2.5, 12));
        let refusals = Family::<RefusalLabels, Counter>::default();
        let mut m = Self {
            registry: Registry::with_prefix("counter"),
            ops_applied: Counter::default(),
            ops_duplicate: Counter::default(),
            refused: REFUSAL_CODES
                .map(|code| refusals.get_or_create_owned(&[("code", code.as_str())])),
            ws_accepted: Counter::default(),
            ws_refused: Counter::default(),
            pubsub_dropped: Counter::default(),
            damaged: Family::default(),
            ws_open: Gauge::default(),
            http_refused: Counter::default(),
            ready: Gauge::default(),
            change_latency: latency(),
            fanout_latency: latency(),
            store_commits: Counter::default(),
        };
        let registry = &mut m.registry;
        registry.register(
            "ops_applied",
            "Changes applied by this replica",
            m.ops_applied.clone(),
        );
        registry.register(
            "ops_duplicate",
            "Retried operations answered from their dedupe record",
            m.ops_duplicate.clone(),
        );
        registry.register(
            "ops_refused",
            "Operations and frames refused, by error code",
            refusals,
        );
        registry.register(
            "ws_accepted",
            "WebSockets accepted since start",
            m.ws_accepted.clone(),
        );
        registry.register(
            "ws_refused",
            "WebSocket upgrades refused (origin, connection caps, store lost)",
            m.ws_refused.clone(),
        );
        registry.register(
            "pubsub_dropped",
            "Messages on a counter channel that were not a state of that counter, dropped",
            m.pubsub_dropped.clone(),
        );
        registry.register(
            "store_damaged",
            "Reads and changes that found a counter's key damaged (another type, not an \
             integer, a version out of range), by key",
            m.damaged.clone(),
        );
        registry.register(
            "ws_open",
            "WebSockets open on this replica",
            m.ws_open.clone(),
        );
        registry.register(
            "http_refused",
            "HTTP connections closed unanswered at --max-http-connections",
            m.http_refused.clone(),
        );
        registry.register(
            "ready",
            "1 when the store answers and the subscriber is live",
            m.ready.clone(),
        );
        registry.register(
            "store_commits",
            "Write transactions the embedded store committed (one fsync each)",
            m.store_commits.clone(),
        );
        registry.register_with_unit(
            "change_duration",
            "Store round trip of one change, failures included",
            Unit::Seconds,
            m.change_latency.clone(),
        );
        registry.register_with_unit(
            "fanout_duration",
            "From a new state reaching this replica to the last of its sockets writing it",
            Unit::Seconds,
            m.fanout_latency.clone(),
        );
        m
    }
}

impl Metrics {
    /// Counts one refusal with its code.
    pub fn refused(&self, code: ErrorCode) {
        if let Some(i) = REFUSAL_CODES.iter().position(|c| *c == code) {
            self.refused[i].inc();
        }
    }

    /// Counts one read or change that found `key` damaged.
    pub fn damaged(&self, key: &str) {
        self.damaged.get_or_create(&[("key", key.to_owned())]).inc();
    }

    /// The text exposition (OpenMetrics, which Prometheus also reads as its classic text);
    /// `open_sockets` and `ready` are read by the caller.
    pub fn render(&self, open_sockets: usize, ready: bool) -> String {
        self.ws_open
            .set(i64::try_from(open_sockets).unwrap_or(i64::MAX));
        self.ready.set(i64::from(ready));
        let mut out = String::new();
        // Writing to a String cannot fail.
        let _ = encode(&mut out, &self.registry);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_prometheus_text() {
        let metrics = Metrics::default();
        metrics.ops_applied.inc_by(3);
        metrics.refused(ErrorCode::RateLimited);
        let text = metrics.render(2, true);
        assert!(text.contains("\ncounter_ops_applied_total 3\n"), "{text}");
        assert!(text.contains("counter_ops_refused_total{code=\"rate_limited\"} 1\n"));
        assert!(text.contains("\ncounter_ws_open 2\n"));
        assert!(text.contains("# TYPE counter_ready gauge\ncounter_ready 1\n"));
    }

    #[test]
    fn a_damaged_key_gets_its_own_series() {
        let metrics = Metrics::default();
        assert!(
            !metrics
                .render(0, true)
                .contains("counter_store_damaged_total{")
        );
        metrics.damaged("counter:x");
        metrics.damaged("counter:x");
        metrics.pubsub_dropped.inc();
        let text = metrics.render(0, true);
        assert!(
            text.contains("counter_store_damaged_total{key=\"counter:x\"} 2\n"),
            "{text}"
        );
        assert!(
            text.contains("\ncounter_pubsub_dropped_total 1\n"),
            "{text}"
        );
    }

    #[test]
    fn every_refusal_code_and_both_histograms_are_there_from_the_start() {
        let metrics = Metrics::default();
        metrics.change_latency.observe(0.000_3);
        let text = metrics.render(0, false);
        for code in REFUSAL_CODES {
            let series = format!("counter_ops_refused_total{{code=\"{code}\"}} 0\n");
            assert!(text.contains(&series), "{series} in {text}");
        }
        assert!(text.contains("# TYPE counter_change_duration_seconds histogram\n"));
        assert!(
            text.contains("\ncounter_change_duration_seconds_count 1\n"),
            "{text}"
        );
        assert!(
            text.contains("\ncounter_fanout_duration_seconds_count 0\n"),
            "{text}"
        );
    }
}
