//! Version 2: reading a counter's history, which every change writes in its own atomic step
//! (Redis: an `XADD` in the change script, to a stream capped with `MAXLEN ~`; embedded: a
//! row in the change's transaction). That write is what every press now costs beyond
//! version 1: one stream entry of seven short fields (Redis), one B-tree insert and, past
//! the limit, one delete (embedded).

/// Which page of history to read.
#[derive(Clone, Debug)]
pub struct HistoryQuery {
    /// Newest first (the JSON pages) or oldest first (the CSV export).
    pub newest_first: bool,
    /// Start after this cursor (exclusive), as given in an earlier page's `next`.
    pub after: Option<String>,
    /// Most entries in the page.
    pub limit: usize,
}

/// A time in milliseconds since the Unix epoch as RFC 3339 in UTC, with milliseconds:
/// `2026-12-02T15:13:18.042Z`.
pub fn rfc3339(ms: u64) -> String {
    let (days, ms_of_day) = (ms / 86_400_000, ms % 86_400_000);
    // Howard Hinnant's days-to-civil algorithm.
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    let (h, m, s, milli) = (
        ms_of_day / 3_600_000,
        ms_of_day / 60_000 % 60,
        ms_of_day / 1000 % 60,
        ms_of_day % 1000,
    );
    format!("{year:04}-{month:02}-{day:02}T{h:02}:{m:02}:{s:02}.{milli:03}Z")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_rfc3339_utc() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(rfc3339(951_782_400_000), "2000-02-29T00:00:00.000Z");
        assert_eq!(rfc3339(1_796_224_398_042), "2026-12-02T15:13:18.042Z");
    }
}
