//! WebSocket frames and the counter state.

use serde::{Deserialize, Serialize};

use crate::error::{ErrorCode, ProtocolError};
use crate::name::CounterName;
use crate::op::{Change, ChangeRequest, Direction, OpId};
use crate::owned::{CounterMeta, Role};

/// The state of one counter at one moment. It is the REST answer, the payload of every
/// Redis pub/sub message, and (tagged `state`) the frame sockets receive.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CounterState {
    /// Which counter: one socket watches one counter, but pub/sub messages and logs need it.
    pub name: CounterName,
    /// The number everyone sees.
    pub value: i64,
    /// Bumped by every change made through the service. Within one connection a client
    /// never sees it go backwards.
    pub version: u64,
}

impl CounterState {
    /// The highest version a counter may reach: 2^53 − 1. Versions are what clients compare
    /// to tell a newer state from an older one, and JSON readers that hold numbers as doubles
    /// (every JavaScript client, and Redis's own Lua) compare integers exactly only up to
    /// here. At a million changes a second an honest counter needs 285 years to get there,
    /// so a version beyond it is damage or forgery, never history; and a bound far below the
    /// 2^63 that Redis can count to leaves every repair room to move a version on.
    pub const MAX_VERSION: u64 = (1 << 53) - 1;

    /// Whether this is a state the store can have published for counter `name`: its own
    /// name, and a version that a change made (from 1 to [`Self::MAX_VERSION`]).
    pub fn is_published_state_of(&self, name: &CounterName) -> bool {
        self.name == *name && (1..=Self::MAX_VERSION).contains(&self.version)
    }
}

/// A frame from a client.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ClientMessage {
    Increment(ChangeRequest),
    Decrement(ChangeRequest),
    /// Version 2: presents a key; answered with an `access` frame (a wrong key: `viewer`).
    Auth(AuthRequest),
    /// Version 2: the opposite of one earlier change, named by its `op_id`.
    Undo(UndoRequest),
}

/// `{"type":"auth","key":"…"}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthRequest {
    pub key: String,
}

/// `{"type":"undo","op_id":"c1-19","undoes":"c1-17"}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UndoRequest {
    /// The undo's own idempotency key, as a change's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub op_id: Option<String>,
    /// The `op_id` of the change to undo.
    pub undoes: String,
}

/// A validated undo.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Undo {
    pub op_id: Option<OpId>,
    pub undoes: OpId,
}

/// A validated client frame.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Request {
    Change(Change),
    /// The key as sent; a key that is no key of the counter makes the socket a viewer.
    Auth(String),
    Undo(Undo),
}

impl Request {
    /// The `op_id` an answer to this frame carries.
    pub fn op_id(&self) -> Option<&OpId> {
        match self {
            Request::Change(change) => change.op_id.as_ref(),
            Request::Auth(_) => None,
            Request::Undo(undo) => undo.op_id.as_ref(),
        }
    }
}

impl ClientMessage {
    /// Decodes and validates one text frame.
    ///
    /// On failure the error carries the frame's `op_id` when one can be read from it, so the
    /// client can settle that operation instead of retrying it forever.
    pub fn decode(text: &str) -> Result<Request, (ProtocolError, Option<OpId>)> {
        let message: ClientMessage = serde_json::from_str(text).map_err(|err| {
            let error =
                ProtocolError::new(ErrorCode::BadRequest, format!("malformed frame: {err}"));
            (error, salvage_op_id(text))
        })?;
        let (request, direction) = match message {
            ClientMessage::Increment(request) => (request, Direction::Increment),
            ClientMessage::Decrement(request) => (request, Direction::Decrement),
            ClientMessage::Auth(AuthRequest { key }) => return Ok(Request::Auth(key)),
            ClientMessage::Undo(undo) => {
                let op_id = undo.op_id.map(OpId::try_from).transpose();
                let op_id = op_id.map_err(|err| (err, None))?;
                let undoes = OpId::try_from(undo.undoes).map_err(|err| (err, op_id.clone()))?;
                return Ok(Request::Undo(Undo { op_id, undoes }));
            }
        };
        let op_id = request.op_id.clone().and_then(|id| OpId::try_from(id).ok());
        request
            .validate(direction)
            .map(Request::Change)
            .map_err(|err| (err, op_id))
    }
}

/// Reads a valid `op_id` out of a frame that failed to decode, if it has one.
fn salvage_op_id(text: &str) -> Option<OpId> {
    let value: serde_json::Value = serde_json::from_str(text).ok()?;
    let id = value.get("op_id")?.as_str()?;
    OpId::try_from(id.to_owned()).ok()
}

/// A frame from the server.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerMessage {
    /// The counter's state: first after connecting, then after changes. A slow client may
    /// skip states, never see an older one after a newer one.
    State(CounterState),
    /// The result of this client's operation.
    Ack {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        op_id: Option<OpId>,
        value: i64,
        version: u64,
    },
    /// An operation or frame was refused; the connection stays open.
    Error {
        code: ErrorCode,
        message: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        op_id: Option<OpId>,
    },
    /// How many sockets watch this counter, over all replicas.
    Presence { online: u64 },
    /// Version 2: what this socket may do; after connect and after every `auth`, and when
    /// a rotated key drops it to `viewer`.
    Access { role: Role },
    /// Version 2: the counter's settings; after connect and whenever they change.
    Meta(CounterMeta),
}

impl ServerMessage {
    /// The `error` frame for a refusal.
    pub fn error(err: ProtocolError, op_id: Option<OpId>) -> Self {
        Self::Error {
            code: err.code,
            message: err.message,
            op_id,
        }
    }

    /// The frame as JSON text.
    pub fn to_json(&self) -> String {
        // Serialising these types cannot fail: every field is a string, integer or enum.
        serde_json::to_string(self).expect("server messages always serialise")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_published_state_names_its_counter_and_has_a_version_a_change_made() {
        let global = CounterName::global();
        let state = |name: &str, version| CounterState {
            name: name.parse().unwrap(),
            value: -7,
            version,
        };
        assert!(state("global", 1).is_published_state_of(&global));
        assert!(state("global", CounterState::MAX_VERSION).is_published_state_of(&global));
        assert!(!state("global", 0).is_published_state_of(&global));
        assert!(!state("global", CounterState::MAX_VERSION + 1).is_published_state_of(&global));
        assert!(!state("global", u64::MAX).is_published_state_of(&global));
        assert!(!state("door-2", 5).is_published_state_of(&global));
    }
}
