//! When the work that follows the number may run: at most once per period, and never losing
//! the last value asked for. Pure, with the time and the period passed in, so it is tested
//! natively.

/// Whether follow-up work waits, and for which value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Throttle<T> {
    /// Nothing waits.
    Idle {
        /// When the work last ran (ms since the epoch), if ever: the next run is not before
        /// a period after it.
        ran_ms: Option<u64>,
    },
    /// A wait is under way and the work runs when it ends.
    Pending {
        /// The newest value asked for; later asks replace it (the trailing edge), so the run
        /// writes the last one.
        latest: T,
    },
}

impl<T> Default for Throttle<T> {
    fn default() -> Self {
        Self::Idle { ran_ms: None }
    }
}

impl<T> Throttle<T> {
    /// `value` is wanted at `now_ms`, to run at least `period_ms` after the last run. Returns
    /// how long to wait before running, when a new wait must start; `None` when one is under
    /// way already and will run with `value`.
    pub fn want(&mut self, now_ms: u64, value: T, period_ms: u64) -> Option<u64> {
        let wait = match *self {
            Self::Pending { .. } => None,
            // A clock set back could make the wait longer than a period; it never is.
            Self::Idle { ran_ms } => Some(ran_ms.map_or(0, |ran_ms| {
                (ran_ms + period_ms).saturating_sub(now_ms).min(period_ms)
            })),
        };
        *self = Self::Pending { latest: value };
        wait
    }

    /// The wait is over, or the page is going and everything must be written now: the value
    /// to work on, if one waits. It counts as run at `now_ms`; with nothing waiting (a timer
    /// that fires after a flush) nothing changes.
    pub fn take(&mut self, now_ms: u64) -> Option<T> {
        match std::mem::take(self) {
            Self::Pending { latest } => {
                *self = Self::Idle {
                    ran_ms: Some(now_ms),
                };
                Some(latest)
            }
            idle @ Self::Idle { .. } => {
                *self = idle;
                None
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The period of the saved value's follow-up.
    const PERIOD_MS: u64 = 1_000;

    #[test]
    fn the_first_change_runs_without_waiting() {
        let mut throttle = Throttle::default();
        assert_eq!(throttle.want(5_000, 1, PERIOD_MS), Some(0));
        assert_eq!(throttle.take(5_004), Some(1));
    }

    #[test]
    fn changes_within_a_period_join_one_run_with_the_last_value() {
        let mut throttle = Throttle::default();
        throttle.want(5_000, 1, PERIOD_MS);
        assert_eq!(throttle.take(5_000), Some(1));
        // The next change waits out the rest of the period …
        assert_eq!(throttle.want(5_300, 2, PERIOD_MS), Some(700));
        // … and the ones after it ride along: no new wait, the last value wins.
        assert_eq!(throttle.want(5_400, 3, PERIOD_MS), None);
        assert_eq!(throttle.want(5_900, 4, PERIOD_MS), None);
        assert_eq!(throttle.take(6_000), Some(4));
        assert_eq!(throttle.take(6_000), None, "nothing is written twice");
    }

    #[test]
    fn a_change_after_a_quiet_period_runs_at_once() {
        let mut throttle = Throttle::default();
        throttle.want(5_000, 1, PERIOD_MS);
        throttle.take(5_000);
        assert_eq!(throttle.want(6_000, 2, PERIOD_MS), Some(0));
        assert_eq!(throttle.take(6_000), Some(2));
        assert_eq!(throttle.want(60_000, 3, PERIOD_MS), Some(0));
    }

    #[test]
    fn a_flush_runs_what_waits_and_the_timer_after_it_does_nothing() {
        let mut throttle = Throttle::default();
        throttle.want(5_000, 1, PERIOD_MS);
        throttle.take(5_000);
        assert_eq!(throttle.want(5_100, 2, PERIOD_MS), Some(900));
        // The page is hidden at 5_200: the value goes now …
        assert_eq!(throttle.take(5_200), Some(2));
        // … the wait that ends at 6_000 finds nothing to do …
        assert_eq!(throttle.take(6_000), None);
        // … and the flush counts as a run: the next change waits a period after it.
        assert_eq!(throttle.want(6_000, 3, PERIOD_MS), Some(200));
    }

    #[test]
    fn a_clock_set_back_never_makes_the_wait_longer_than_a_period() {
        let mut throttle = Throttle::default();
        throttle.want(50_000, 1, PERIOD_MS);
        throttle.take(50_000);
        assert_eq!(throttle.want(10_000, 2, PERIOD_MS), Some(PERIOD_MS));
    }
}
