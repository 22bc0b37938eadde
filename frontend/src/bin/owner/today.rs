//! Today's ins, outs and peak, per hour and per label, from the counter's history.
//!
//! Pure: the page hands in the entries (newest first, as the history pages come, reaching
//! back past the start of the day when there is anything before it), the start of the local
//! day and the time now, both in milliseconds since the epoch.
//!
//! What counts: an increment adds its amount to the ins, a decrement to the outs; an undo
//! takes back from the ins (undoing an increment) or the outs (undoing a decrement), never
//! below zero within its hour or label; a set (a reset) is neither, and only moves the value.
//! The peak of an hour is the highest value the counter held in it, counting the value it
//! entered the hour with.

use shared::{ChangeKind, HistoryEntry};

const HOUR_MS: i64 = 3_600_000;

/// Ins and outs of one hour or one label.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Flow {
    pub ins: u64,
    pub outs: u64,
}

impl Flow {
    /// Counts one change.
    fn add(&mut self, kind: ChangeKind, delta: i64) {
        let amount = delta.unsigned_abs();
        match kind {
            ChangeKind::Increment => self.ins += amount,
            ChangeKind::Decrement => self.outs += amount,
            // An undo of an increment takes one away (negative delta), of a decrement adds.
            ChangeKind::Undo if delta < 0 => self.ins = self.ins.saturating_sub(amount),
            ChangeKind::Undo => self.outs = self.outs.saturating_sub(amount),
            ChangeKind::Set => {}
        }
    }
}

/// One hour of the day.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Hour {
    pub flow: Flow,
    /// The highest value in the hour; `None` for hours still to come, and for hours before
    /// the counter's first change.
    pub peak: Option<i64>,
}

/// One label's day; the label is empty for changes made without one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LabelFlow {
    pub label: String,
    pub flow: Flow,
}

/// The day at a glance.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Today {
    /// Hour 0 starts at local midnight. A day with a clock change is still shown as 24
    /// hours: the hour that repeats or is skipped is folded into its neighbour.
    pub hours: Vec<Hour>,
    /// Busiest first.
    pub labels: Vec<LabelFlow>,
    pub total: Flow,
    pub peak: Option<i64>,
}

/// Summarises the entries of the day that starts at `day_start_ms`, up to `now_ms`.
pub fn summarize(newest_first: &[HistoryEntry], day_start_ms: i64, now_ms: i64) -> Today {
    let mut hours = vec![Hour::default(); 24];
    let mut labels: Vec<LabelFlow> = Vec::new();
    let mut total = Flow::default();
    // Oldest first from here on: the value carries forward hour to hour.
    let mut value: Option<i64> = None;
    let mut today = Vec::new();
    for entry in newest_first.iter().rev() {
        match parse_ms(&entry.at) {
            Some(at) if at < day_start_ms => value = Some(entry.value),
            Some(at) => today.push((hour_of(at, day_start_ms), entry)),
            None => {}
        }
    }
    // The day's first entry tells the value before it when nothing older was read.
    if value.is_none() {
        value = today.first().map(|(_, entry)| entry.value - entry.delta);
    }
    let last_hour = hour_of(now_ms.max(day_start_ms), day_start_ms);
    let mut entries = today.into_iter().peekable();
    for (index, hour) in hours.iter_mut().enumerate().take(last_hour + 1) {
        hour.peak = value;
        while let Some((_, entry)) = entries.next_if(|(at_hour, _)| *at_hour == index) {
            hour.flow.add(entry.kind, entry.delta);
            total.add(entry.kind, entry.delta);
            label_flow(&mut labels, entry.label.as_deref().unwrap_or(""))
                .add(entry.kind, entry.delta);
            value = Some(entry.value);
            hour.peak = hour.peak.max(value);
        }
    }
    labels.sort_by(|a, b| {
        (b.flow.ins + b.flow.outs)
            .cmp(&(a.flow.ins + a.flow.outs))
            .then_with(|| a.label.cmp(&b.label))
    });
    let peak = hours.iter().filter_map(|hour| hour.peak).max();
    Today {
        hours,
        labels,
        total,
        peak,
    }
}

/// The hour of the day (0 to 23) of a time at or after the day's start.
fn hour_of(at_ms: i64, day_start_ms: i64) -> usize {
    (((at_ms - day_start_ms) / HOUR_MS).clamp(0, 23)) as usize
}

fn label_flow<'a>(labels: &'a mut Vec<LabelFlow>, label: &str) -> &'a mut Flow {
    let index = match labels.iter().position(|entry| entry.label == label) {
        Some(index) => index,
        None => {
            labels.push(LabelFlow {
                label: label.to_owned(),
                flow: Flow::default(),
            });
            labels.len() - 1
        }
    };
    &mut labels[index].flow
}

/// Whether the newest-first entries reach back before the day's start, so that no older
/// page is needed.
pub fn reaches_before(newest_first: &[HistoryEntry], day_start_ms: i64) -> bool {
    newest_first
        .last()
        .and_then(|entry| parse_ms(&entry.at))
        .is_some_and(|at| at < day_start_ms)
}

/// Milliseconds since the epoch of the server's `2026-12-02T15:13:18.042Z` (RFC 3339 in
/// UTC, with or without fractions).
pub fn parse_ms(at: &str) -> Option<i64> {
    let bytes = at.as_bytes();
    let number = |range: std::ops::Range<usize>| -> Option<i64> { at.get(range)?.parse().ok() };
    if bytes.len() < 20 || bytes[4] != b'-' || bytes[10] != b'T' || !at.ends_with('Z') {
        return None;
    }
    let (year, month, day) = (number(0..4)?, number(5..7)?, number(8..10)?);
    let (hour, minute, second) = (number(11..13)?, number(14..16)?, number(17..19)?);
    let fraction = at.get(19..at.len() - 1)?;
    let millis = match fraction.strip_prefix('.') {
        None if fraction.is_empty() => 0,
        Some(digits) if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) => {
            format!("{digits:0<3}")[..3].parse().ok()?
        }
        _ => return None,
    };
    let days = days_from_civil(year, month, day);
    Some(((days * 24 + hour) * 60 + minute) * 60_000 + second * 1000 + millis)
}

/// Days since 1970-01-01 of a date (Howard Hinnant's algorithm, as the server's
/// `rfc3339` inverts it).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let yoe = year.rem_euclid(400);
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 2026-12-02T00:00:00Z.
    const DAY: i64 = 1_796_169_600_000;

    fn entry(minutes: i64, kind: ChangeKind, delta: i64, value: i64, label: &str) -> HistoryEntry {
        let (h, m) = (
            minutes.div_euclid(60).rem_euclid(24),
            minutes.rem_euclid(60),
        );
        let date = if minutes < 0 {
            "2026-12-01"
        } else {
            "2026-12-02"
        };
        HistoryEntry {
            at: format!("{date}T{h:02}:{m:02}:00.000Z"),
            kind,
            delta,
            value,
            version: 0,
            op_id: None,
            label: (!label.is_empty()).then(|| label.to_owned()),
        }
    }

    #[test]
    fn times_parse_as_the_server_writes_them() {
        assert_eq!(parse_ms("1970-01-01T00:00:00.000Z"), Some(0));
        assert_eq!(parse_ms("2000-02-29T00:00:00.000Z"), Some(951_782_400_000));
        assert_eq!(
            parse_ms("2026-12-02T15:13:18.042Z"),
            Some(1_796_224_398_042)
        );
        assert_eq!(parse_ms("2026-12-02T15:13:18Z"), Some(1_796_224_398_000));
        assert_eq!(parse_ms("2026-12-02T15:13:18.5Z"), Some(1_796_224_398_500));
        assert_eq!(parse_ms("2026-12-02 15:13:18Z"), None);
        assert_eq!(parse_ms("yesterday"), None);
    }

    #[test]
    fn ins_outs_and_peaks_per_hour_and_label() {
        use ChangeKind::*;
        // Oldest first here; the summary takes them newest first.
        let mut entries = vec![
            entry(-30, Increment, 1, 5, "north"), // yesterday: only sets the start value
            entry(9 * 60 + 5, Increment, 1, 6, "north"),
            entry(9 * 60 + 6, Increment, 2, 8, "south"),
            entry(9 * 60 + 7, Decrement, -1, 7, "north"),
            entry(9 * 60 + 8, Undo, 1, 8, "north"), // undoes that decrement
            entry(10 * 60, Set, -8, 0, ""),         // a reset
            entry(10 * 60 + 1, Increment, 1, 1, ""),
        ];
        entries.reverse();
        assert!(reaches_before(&entries, DAY));
        let today = summarize(&entries, DAY, DAY + 11 * 3_600_000);
        assert_eq!(today.hours.len(), 24);
        assert_eq!(
            today.hours[8],
            Hour {
                flow: Flow::default(),
                peak: Some(5)
            }
        );
        assert_eq!(today.hours[9].flow, Flow { ins: 3, outs: 0 });
        assert_eq!(today.hours[9].peak, Some(8));
        assert_eq!(today.hours[10].flow, Flow { ins: 1, outs: 0 });
        assert_eq!(today.hours[10].peak, Some(8), "the hour entered at 8");
        assert_eq!(today.hours[11].peak, Some(1));
        assert_eq!(today.hours[12].peak, None, "still to come");
        assert_eq!(today.total, Flow { ins: 4, outs: 0 });
        assert_eq!(today.peak, Some(8));
        let labels: Vec<_> = today
            .labels
            .iter()
            .map(|l| (l.label.as_str(), l.flow.ins, l.flow.outs))
            .collect();
        assert_eq!(labels, [("south", 2, 0), ("", 1, 0), ("north", 1, 0)]);
    }

    #[test]
    fn without_older_entries_the_first_change_tells_the_start() {
        let entries = vec![entry(60, ChangeKind::Decrement, -1, 9, "")];
        assert!(!reaches_before(&entries, DAY));
        let today = summarize(&entries, DAY, DAY + 2 * 3_600_000);
        assert_eq!(today.hours[0].peak, Some(10));
        assert_eq!(today.hours[1].flow, Flow { ins: 0, outs: 1 });
        assert_eq!(today.peak, Some(10));
    }

    #[test]
    fn an_empty_day_has_no_peak() {
        let today = summarize(&[], DAY, DAY + 3_600_000);
        assert_eq!(today.peak, None);
        assert_eq!(today.total, Flow::default());
        assert!(today.labels.is_empty());
    }
}
