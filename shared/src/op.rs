//! One change to a counter, as asked for and as validated.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::error::{ErrorCode, ProtocolError};

/// The largest step of one operation.
pub const MAX_BY: i64 = 1_000_000;

/// The longest `op_id`, in characters (DESIGN.md's unit; ids made by the app are ASCII).
pub const MAX_OP_ID_LEN: usize = 64;

/// The longest label of a change (version 2), in characters.
pub const MAX_LABEL_LEN: usize = 32;

/// A client's name for one operation, opaque to the server. Sending the same `op_id` again
/// (after a lost ack, a reconnect, another replica) returns the first result instead of
/// applying the change twice.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct OpId(String);

impl OpId {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for OpId {
    type Error = ProtocolError;

    fn try_from(id: String) -> Result<Self, Self::Error> {
        // Control characters would make the id unreadable in logs and `redis-cli` output.
        if id.is_empty() || id.chars().count() > MAX_OP_ID_LEN || id.chars().any(char::is_control) {
            return Err(ProtocolError::new(
                ErrorCode::BadRequest,
                "op_id must be 1 to 64 characters of printable text",
            ));
        }
        Ok(Self(id))
    }
}

impl From<OpId> for String {
    fn from(id: OpId) -> Self {
        id.0
    }
}

impl fmt::Display for OpId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Up or down.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    Increment,
    Decrement,
}

/// What a client asks for: the REST body of `POST …/increment` and the fields of a WebSocket
/// `increment`/`decrement` frame. Fields are checked by [`ChangeRequest::validate`], not by
/// serde, so that a bad `by` can still be answered with the frame's `op_id`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChangeRequest {
    /// The step, 1 to [`MAX_BY`]; 1 when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub by: Option<i64>,
    /// The client's idempotency key; without one the change is applied every time it arrives.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub op_id: Option<String>,
    /// Version 2: where the change was made ("north door"), at most [`MAX_LABEL_LEN`]
    /// characters; recorded in the counter's history. Absent from version-1 frames.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
}

impl ChangeRequest {
    /// Decodes a REST body. Only a JSON object is a request: serde would otherwise also take
    /// an array like `[1]` as the struct's fields in order.
    pub fn decode(body: &[u8]) -> Result<Self, ProtocolError> {
        let malformed = |err: serde_json::Error| {
            ProtocolError::new(ErrorCode::BadRequest, format!("malformed body: {err}"))
        };
        let value: serde_json::Value = serde_json::from_slice(body).map_err(malformed)?;
        if !value.is_object() {
            return Err(ProtocolError::new(
                ErrorCode::BadRequest,
                r#"the body must be a JSON object such as {"by":1,"op_id":"…"}"#,
            ));
        }
        serde_json::from_value(value).map_err(malformed)
    }

    /// Checks the fields and fixes the direction.
    pub fn validate(self, direction: Direction) -> Result<Change, ProtocolError> {
        let by = self.by.unwrap_or(1);
        if !(1..=MAX_BY).contains(&by) {
            return Err(ProtocolError::new(
                ErrorCode::BadRequest,
                format!("by must be an integer from 1 to {MAX_BY}"),
            ));
        }
        let op_id = self.op_id.map(OpId::try_from).transpose()?;
        let label = validate_label(self.label)?;
        Ok(Change {
            direction,
            by,
            op_id,
            label,
        })
    }
}

/// Checks a change's label: printable text of at most [`MAX_LABEL_LEN`] characters. An empty
/// label is no label (a form field left blank).
pub fn validate_label(label: Option<String>) -> Result<Option<String>, ProtocolError> {
    match label {
        Some(label) if label.is_empty() => Ok(None),
        Some(label)
            if label.chars().count() > MAX_LABEL_LEN || label.chars().any(char::is_control) =>
        {
            Err(ProtocolError::new(
                ErrorCode::BadRequest,
                format!("label must be at most {MAX_LABEL_LEN} characters of printable text"),
            ))
        }
        label => Ok(label),
    }
}

/// A validated change, ready for the store.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Change {
    /// Up or down: `by` itself is always positive.
    pub direction: Direction,
    /// Always within 1..=[`MAX_BY`].
    pub by: i64,
    /// Makes a retry safe: the store applies one `op_id` once. None: not deduplicated.
    pub op_id: Option<OpId>,
    /// Where it was made (validated: at most [`MAX_LABEL_LEN`] printable characters).
    pub label: Option<String>,
}

impl Change {
    /// The signed amount to add to the counter.
    pub fn delta(&self) -> i64 {
        match self.direction {
            Direction::Increment => self.by,
            Direction::Decrement => -self.by,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn by_defaults_to_one_and_is_bounded() {
        let change = ChangeRequest::default()
            .validate(Direction::Decrement)
            .unwrap();
        assert_eq!(change.delta(), -1);
        for by in [0, -1, MAX_BY + 1, i64::MIN] {
            let request = ChangeRequest {
                by: Some(by),
                ..Default::default()
            };
            assert_eq!(
                request.validate(Direction::Increment).unwrap_err().code,
                ErrorCode::BadRequest
            );
        }
    }

    #[test]
    fn op_id_is_bounded() {
        for id in [
            String::new(),
            "x".repeat(65),
            "ü".repeat(65),
            "a\nb".to_owned(),
        ] {
            let request = ChangeRequest {
                op_id: Some(id),
                ..Default::default()
            };
            assert!(request.validate(Direction::Increment).is_err());
        }
        let request = ChangeRequest {
            by: Some(MAX_BY),
            op_id: Some("x".repeat(64)),
            label: None,
        };
        assert_eq!(request.validate(Direction::Increment).unwrap().by, MAX_BY);
        let request = ChangeRequest {
            op_id: Some("ü".repeat(64)),
            ..Default::default()
        };
        assert!(
            request.validate(Direction::Increment).is_ok(),
            "64 characters, 128 bytes"
        );
    }

    #[test]
    fn labels_are_bounded_and_blank_is_none() {
        let with = |label: &str| ChangeRequest {
            label: Some(label.to_owned()),
            ..Default::default()
        };
        let change = with("north door").validate(Direction::Increment).unwrap();
        assert_eq!(change.label.as_deref(), Some("north door"));
        assert_eq!(with("").validate(Direction::Increment).unwrap().label, None);
        assert!(with(&"ü".repeat(32)).validate(Direction::Increment).is_ok());
        for bad in ["ü".repeat(33), "a\tb".to_owned()] {
            assert_eq!(
                with(&bad).validate(Direction::Increment).unwrap_err().code,
                ErrorCode::BadRequest
            );
        }
    }
}
