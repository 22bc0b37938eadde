//! How full a counter is, as every screen shows it: the capacity's state in colour and words.

use shared::CounterMeta;

/// Where the value stands against the counter's capacity. `capacity` and `warn_at` never
/// refuse a press (people who are inside are inside); they only change what screens show.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Capacity {
    /// The counter has no capacity.
    None,
    /// Below the warn level.
    Normal,
    /// At or above the warn level, below the capacity: "nearly full".
    Warn,
    /// At or above the capacity: "full".
    Full,
}

impl Capacity {
    /// The state of `value` against `meta`'s capacity and warn level (the server fills the
    /// warn level in whenever there is a capacity; a missing one is taken as the capacity).
    pub fn of(value: Option<i64>, meta: &CounterMeta) -> Self {
        let (Some(capacity), Some(value)) = (meta.capacity, value) else {
            return Self::None;
        };
        let warn_at = meta.warn_at.unwrap_or(capacity);
        // A negative value (more out than in) is below every level.
        let value = u64::try_from(value).unwrap_or(0);
        if value >= capacity {
            Self::Full
        } else if value >= warn_at {
            Self::Warn
        } else {
            Self::Normal
        }
    }

    /// The `data-state` attribute that tests read.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::Normal => "normal",
            Self::Warn => "warn",
            Self::Full => "full",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta(capacity: Option<u64>, warn_at: Option<u64>) -> CounterMeta {
        CounterMeta {
            title: None,
            capacity,
            warn_at,
        }
    }

    #[test]
    fn the_levels_are_inclusive_and_never_refuse() {
        let levels = meta(Some(10), Some(8));
        let at = |value| Capacity::of(Some(value), &levels);
        assert_eq!(at(-3), Capacity::Normal);
        assert_eq!(at(7), Capacity::Normal);
        assert_eq!(at(8), Capacity::Warn);
        assert_eq!(at(9), Capacity::Warn);
        assert_eq!(at(10), Capacity::Full);
        assert_eq!(
            at(11),
            Capacity::Full,
            "past the capacity is still just full"
        );
        assert_eq!(Capacity::of(Some(5), &meta(None, None)), Capacity::None);
        assert_eq!(Capacity::of(None, &levels), Capacity::None, "no value yet");
        assert_eq!(
            Capacity::of(Some(10), &meta(Some(10), None)),
            Capacity::Full
        );
        assert_eq!(Capacity::Warn.as_str(), "warn");
    }
}
