//! Counter names.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::error::{ErrorCode, ProtocolError};

/// The counter that `/` shows.
pub const DEFAULT_COUNTER: &str = "global";

/// The longest counter name, in characters.
pub const MAX_NAME_LEN: usize = 64;

/// The name of a counter: 1–64 characters of `[A-Za-z0-9_-]`.
///
/// The character set is what keeps names safe everywhere they go unescaped: URL paths, Redis
/// keys and channel names, and the JSON that the Lua script builds by concatenation.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct CounterName(String);

impl CounterName {
    /// The `global` counter.
    pub fn global() -> Self {
        Self(DEFAULT_COUNTER.to_owned())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for CounterName {
    type Error = ProtocolError;

    fn try_from(name: String) -> Result<Self, Self::Error> {
        let valid_chars = name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
        if name.is_empty() || name.len() > MAX_NAME_LEN || !valid_chars {
            return Err(ProtocolError::new(
                ErrorCode::InvalidName,
                "a counter name is 1 to 64 characters of A-Z, a-z, 0-9, '_' and '-'",
            ));
        }
        Ok(Self(name))
    }
}

impl FromStr for CounterName {
    type Err = ProtocolError;

    fn from_str(name: &str) -> Result<Self, Self::Err> {
        Self::try_from(name.to_owned())
    }
}

impl From<CounterName> for String {
    fn from(name: CounterName) -> Self {
        name.0
    }
}

impl fmt::Display for CounterName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_the_documented_alphabet() {
        for name in ["global", "a", "door-3", "Class_7B", &"x".repeat(64)] {
            assert_eq!(name.parse::<CounterName>().unwrap().as_str(), name);
        }
    }

    #[test]
    fn refuses_everything_else() {
        for name in [
            "",
            &"x".repeat(65),
            "a b",
            "a/b",
            "a:b",
            "a%20b",
            "ünï",
            "a.b",
            "*",
        ] {
            let err = name.parse::<CounterName>().unwrap_err();
            assert_eq!(err.code, ErrorCode::InvalidName, "{name:?}");
        }
    }
}
