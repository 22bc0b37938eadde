//! Version 2: owned counters. Roles, the settings a counter carries (title, capacity, warn
//! level), and the REST bodies that create, configure and set a counter.

use serde::{Deserialize, Deserializer, Serialize};

use crate::error::{ErrorCode, ProtocolError};
use crate::name::CounterName;
use crate::op::OpId;

/// The longest title, in characters.
pub const MAX_TITLE_LEN: usize = 100;

/// The largest capacity: a billion people is more than any venue holds.
pub const MAX_CAPACITY: u64 = 1_000_000_000;

/// The largest value `set` takes, either sign: 2^53 − 1, what every JavaScript client (and
/// the history's delta, computed in Redis's Lua) holds exactly.
pub const MAX_SET_VALUE: i64 = (1 << 53) - 1;

/// What a socket or a REST request may do with a counter.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Reads and watches; no key needed.
    Viewer,
    /// Also increments, decrements and undoes: the staff key. Everyone on an open counter.
    Staff,
    /// Also changes settings, sets the value, rotates keys, deletes, reads the history.
    Owner,
}

/// A counter's public settings: the `meta` frame's fields and what `GET` adds. Absent
/// fields are not set (an open counter has none).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CounterMeta {
    /// A title for people ("Main entrance").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// How many people fit; the UI shows *full* at it. It never refuses a press.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capacity: Option<u64>,
    /// Where the UI shows *nearly full*: the owner's choice, else 90 % of the capacity;
    /// present whenever `capacity` is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub warn_at: Option<u64>,
}

impl CounterMeta {
    /// The warn level when the owner chose none: 90 % of the capacity, rounded down, at
    /// least 1.
    pub fn default_warn_at(capacity: u64) -> u64 {
        (capacity / 10 * 9 + capacity % 10 * 9 / 10).max(1)
    }
}

/// `GET /api/counters/{name}` (version 2): the state, and the settings that are set.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CounterInfo {
    #[serde(flatten)]
    pub state: crate::CounterState,
    #[serde(flatten)]
    pub meta: CounterMeta,
}

/// `POST /api/counters`: what the creator asks for; every field optional.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateRequest {
    /// The name; absent: the server picks an unguessable one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capacity: Option<u64>,
}

/// A validated [`CreateRequest`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Create {
    pub name: Option<CounterName>,
    pub title: Option<String>,
    pub capacity: Option<u64>,
}

impl CreateRequest {
    pub fn validate(self) -> Result<Create, ProtocolError> {
        Ok(Create {
            name: self.name.map(CounterName::try_from).transpose()?,
            title: validate_title(self.title)?,
            capacity: self.capacity.map(validate_capacity).transpose()?,
        })
    }
}

/// `201` to `POST /api/counters`: the keys, shown this once (only their hashes are kept).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Created {
    pub name: CounterName,
    pub owner_key: String,
    pub staff_key: String,
}

/// `PATCH /api/counters/{name}`: absent fields stay as they are, `null` removes one.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SettingsPatch {
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    pub title: Option<Option<String>>,
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    pub capacity: Option<Option<u64>>,
    /// `null`: back to the default, 90 % of the capacity.
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    pub warn_at: Option<Option<u64>>,
}

/// Tells a field that is `null` (`Some(None)`) from one that is absent (`None`, serde's
/// default).
fn present<'de, D, T>(deserializer: D) -> Result<Option<Option<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(deserializer).map(Some)
}

impl SettingsPatch {
    /// Checks each field given; says nothing yet of how they combine with the stored ones
    /// (a warn level above the capacity), which [`Settings::patched`] does.
    pub fn validate(self) -> Result<Self, ProtocolError> {
        Ok(Self {
            title: self.title.map(validate_title).transpose()?,
            capacity: self
                .capacity
                .map(|c| c.map(validate_capacity).transpose())
                .transpose()?,
            warn_at: self
                .warn_at
                .map(|w| w.map(validate_capacity).transpose())
                .transpose()?,
        })
    }
}

/// What an owner configures, as stored: the warn level only when chosen.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Settings {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capacity: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub warn_at: Option<u64>,
}

impl Settings {
    /// The public settings: the warn level filled in from the capacity.
    pub fn public(&self) -> CounterMeta {
        CounterMeta {
            title: self.title.clone(),
            capacity: self.capacity,
            warn_at: self.capacity.map(|capacity| {
                self.warn_at
                    .unwrap_or(CounterMeta::default_warn_at(capacity))
            }),
        }
    }

    /// These settings with a patch applied. A new capacity without a warn level resets the
    /// warn level to its default (90 % of the new capacity); a warn level needs a capacity
    /// and may not exceed it.
    pub fn patched(&self, patch: &SettingsPatch) -> Result<Settings, ProtocolError> {
        let mut next = self.clone();
        if let Some(title) = &patch.title {
            next.title = title.clone();
        }
        if let Some(capacity) = patch.capacity {
            next.capacity = capacity;
            next.warn_at = None;
        }
        if let Some(warn_at) = patch.warn_at {
            next.warn_at = warn_at;
        }
        match (next.capacity, next.warn_at) {
            (None, Some(_)) => Err(ProtocolError::new(
                ErrorCode::BadRequest,
                "warn_at needs a capacity",
            )),
            (Some(capacity), Some(warn_at)) if warn_at > capacity => Err(ProtocolError::new(
                ErrorCode::BadRequest,
                "warn_at may not exceed the capacity",
            )),
            _ => Ok(next),
        }
    }
}

fn validate_title(title: Option<String>) -> Result<Option<String>, ProtocolError> {
    match title {
        Some(title) if title.trim().is_empty() => Ok(None),
        Some(title)
            if title.chars().count() > MAX_TITLE_LEN || title.chars().any(char::is_control) =>
        {
            Err(ProtocolError::new(
                ErrorCode::BadRequest,
                format!("title must be at most {MAX_TITLE_LEN} characters of printable text"),
            ))
        }
        title => Ok(title),
    }
}

fn validate_capacity(capacity: u64) -> Result<u64, ProtocolError> {
    if (1..=MAX_CAPACITY).contains(&capacity) {
        Ok(capacity)
    } else {
        Err(ProtocolError::new(
            ErrorCode::BadRequest,
            format!("capacity and warn_at must be integers from 1 to {MAX_CAPACITY}"),
        ))
    }
}

/// `POST /api/counters/{name}/set`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SetRequest {
    pub value: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub op_id: Option<String>,
}

/// A validated [`SetRequest`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SetValue {
    pub value: i64,
    pub op_id: Option<OpId>,
}

impl SetRequest {
    pub fn validate(self) -> Result<SetValue, ProtocolError> {
        if !(-MAX_SET_VALUE..=MAX_SET_VALUE).contains(&self.value) {
            return Err(ProtocolError::new(
                ErrorCode::BadRequest,
                format!("value must be an integer from -{MAX_SET_VALUE} to {MAX_SET_VALUE}"),
            ));
        }
        Ok(SetValue {
            value: self.value,
            op_id: self.op_id.map(OpId::try_from).transpose()?,
        })
    }
}

/// `200` to `POST /api/counters/{name}/keys/{role}`: the new key, shown this once.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RotatedKey {
    pub key: String,
}

/// Decodes a REST body that must be a JSON object (serde would also take an array as a
/// struct's fields in order).
pub fn decode_object<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, ProtocolError> {
    let malformed = |err: serde_json::Error| {
        ProtocolError::new(ErrorCode::BadRequest, format!("malformed body: {err}"))
    };
    let value: serde_json::Value = serde_json::from_slice(body).map_err(malformed)?;
    if !value.is_object() {
        return Err(ProtocolError::new(
            ErrorCode::BadRequest,
            "the body must be a JSON object",
        ));
    }
    serde_json::from_value(value).map_err(malformed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn warn_at_defaults_to_ninety_percent() {
        assert_eq!(CounterMeta::default_warn_at(200), 180);
        assert_eq!(CounterMeta::default_warn_at(1), 1);
        assert_eq!(CounterMeta::default_warn_at(15), 13);
        assert_eq!(CounterMeta::default_warn_at(MAX_CAPACITY), 900_000_000);
    }

    #[test]
    fn a_patch_tells_null_from_absent() {
        let patch: SettingsPatch = decode_object(br#"{"capacity":null,"title":"Hall"}"#).unwrap();
        assert_eq!(patch.capacity, Some(None));
        assert_eq!(patch.warn_at, None);
        let stored = Settings {
            title: None,
            capacity: Some(100),
            warn_at: Some(50),
        };
        let next = stored.patched(&patch.validate().unwrap()).unwrap();
        assert_eq!(
            next,
            Settings {
                title: Some("Hall".into()),
                capacity: None,
                warn_at: None
            }
        );
        let capacity_only: SettingsPatch = decode_object(br#"{"capacity":300}"#).unwrap();
        let next = stored.patched(&capacity_only).unwrap();
        assert_eq!(
            next.public().warn_at,
            Some(270),
            "a new capacity resets the warn level"
        );
        let too_high: SettingsPatch = decode_object(br#"{"warn_at":101}"#).unwrap();
        assert!(stored.patched(&too_high).is_err());
        let orphan: SettingsPatch = decode_object(br#"{"warn_at":5}"#).unwrap();
        assert!(Settings::default().patched(&orphan).is_err());
    }
}
