//! The clock all benchmark processes share, and latency histograms.
//!
//! Latencies cross processes (a writer in the coordinator, subscribers in workers), so times
//! are read from one clock every process shares: the system clock in nanoseconds since the
//! Unix epoch. It could step if NTP set it during a run; over a benchmark of a few minutes on
//! one machine that is the lesser evil, since `Instant` cannot be compared across processes.

use std::time::{SystemTime, UNIX_EPOCH};

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

/// Nanoseconds since the Unix epoch: the clock all benchmark processes share.
pub fn now_ns() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| {
            u64::try_from(since.as_nanos()).unwrap_or(u64::MAX)
        })
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
    /// How many latencies were recorded: a percentile of few samples says little.
    pub samples: u64,
    /// The median, in milliseconds.
    pub p50_ms: f64,
    /// The 99th percentile, which the fan-out target is set on.
    pub p99_ms: f64,
    /// The slowest one.
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

/// The summary of a few dozen latencies measured one by one, in milliseconds, as the click
/// benchmark quotes them: p50 and p95 by nearest rank, so that each is a latency that was
/// measured.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Percentiles {
    /// How many latencies there were: a p95 of ten says little.
    pub samples: usize,
    /// The median.
    pub p50_ms: f64,
    /// The 95th percentile, which the click target is set on beside the median.
    pub p95_ms: f64,
    /// The slowest one.
    pub max_ms: f64,
}

impl Percentiles {
    pub fn of(values_ms: &[f64]) -> Percentiles {
        let mut sorted = values_ms.to_vec();
        sorted.sort_by(f64::total_cmp);
        let Some(&max_ms) = sorted.last() else {
            return Percentiles::default();
        };
        // The smallest value with at least `quantile` of all at or below it.
        let rank = |quantile: f64| {
            let rank = (quantile * sorted.len() as f64).ceil() as usize;
            sorted[rank.clamp(1, sorted.len()) - 1]
        };
        Percentiles {
            samples: sorted.len(),
            p50_ms: rank(0.50),
            p95_ms: rank(0.95),
            max_ms,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Percentiles;

    #[test]
    fn percentiles_by_nearest_rank() {
        let twenty: Vec<f64> = (1..=20).rev().map(f64::from).collect();
        let summary = Percentiles::of(&twenty);
        assert_eq!(summary.samples, 20);
        assert_eq!(summary.p50_ms, 10.0);
        assert_eq!(summary.p95_ms, 19.0);
        assert_eq!(summary.max_ms, 20.0);

        let one = Percentiles::of(&[4.5]);
        assert_eq!((one.p50_ms, one.p95_ms, one.max_ms), (4.5, 4.5, 4.5));
        assert_eq!(Percentiles::of(&[]).samples, 0);
    }
}
