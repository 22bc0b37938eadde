//! The connection indicator's three states, as the page shows them.

/// The connection indicator, as the `data-state` attribute spells it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    /// A socket is open: changes arrive live and presses go out at once.
    Live,
    /// The browser thinks it is online but no socket is open; one is being retried.
    Reconnecting,
    /// The browser says it has no network (`navigator.onLine` is false).
    Offline,
}

impl Status {
    /// The value of the indicator's `data-state` attribute, which browser tests read.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Live => "live",
            Self::Reconnecting => "reconnecting",
            Self::Offline => "offline",
        }
    }
}
