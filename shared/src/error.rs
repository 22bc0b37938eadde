//! Error codes and the JSON error body.

use std::fmt;

use serde::{Deserialize, Serialize};

/// What went wrong, as a stable machine-readable code. Clients switch on it; the message
/// beside it is for people.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// The request or frame is malformed or a field is out of range.
    BadRequest,
    /// The counter name breaks the naming rule.
    InvalidName,
    /// The change would take the value beyond the 64-bit signed range.
    Overflow,
    /// The connection sent operations faster than it may.
    RateLimited,
    /// The request body or frame is larger than allowed.
    TooLarge,
    /// The store cannot be reached right now; retry with the same `op_id`.
    Unavailable,
    /// A browser on another site tried to open a WebSocket.
    ForbiddenOrigin,
    /// No such route.
    NotFound,
    /// The route exists but not for this method.
    MethodNotAllowed,
    /// The server hit a fault it did not expect; details are in its logs, never here.
    Internal,
    /// The request named a host this service does not answer to (`--public-hosts`): a
    /// misconfigured proxy, or a page on a domain re-pointed at this server.
    UnknownHost,
    /// The request body did not arrive in time; send it again.
    RequestTimeout,
    /// Version 2: no key, or a key that is not this counter's (401).
    Unauthorized,
    /// Version 2: the key's role may not do this, or an open counter has no owner (403).
    Forbidden,
    /// Version 2: the name asked for at creation is in use, or open (409).
    NameTaken,
    /// Version 2: the operation conflicts with one already made, such as a second undo of
    /// the same change (409).
    Conflict,
    /// Version 2: the service holds `--max-counters` owned counters already (507).
    LimitReached,
}

impl ErrorCode {
    /// The code as it appears on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::BadRequest => "bad_request",
            Self::InvalidName => "invalid_name",
            Self::Overflow => "overflow",
            Self::RateLimited => "rate_limited",
            Self::TooLarge => "too_large",
            Self::Unavailable => "unavailable",
            Self::ForbiddenOrigin => "forbidden_origin",
            Self::NotFound => "not_found",
            Self::MethodNotAllowed => "method_not_allowed",
            Self::Internal => "internal",
            Self::UnknownHost => "unknown_host",
            Self::RequestTimeout => "request_timeout",
            Self::Unauthorized => "unauthorized",
            Self::Forbidden => "forbidden",
            Self::NameTaken => "name_taken",
            Self::Conflict => "conflict",
            Self::LimitReached => "limit_reached",
        }
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A refusal with its code and a sentence for people: what validation in this crate returns,
/// and what the backend turns into an HTTP error or an `error` frame.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProtocolError {
    /// The stable code.
    pub code: ErrorCode,
    /// What was wrong, in words a developer reading a log understands.
    pub message: String,
}

impl ProtocolError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }
}

impl fmt::Display for ProtocolError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

impl std::error::Error for ProtocolError {}

/// The body of every REST error: `{"error":{"code":"bad_request","message":"…"}}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    /// Wrapped in `error` so a client can tell an error body from a counter state at a glance.
    pub error: ErrorDetail,
}

/// The inside of [`ErrorBody`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorDetail {
    /// What programs act on: stable across releases.
    pub code: ErrorCode,
    /// What people read: may be reworded at any time.
    pub message: String,
}

impl From<ProtocolError> for ErrorBody {
    fn from(err: ProtocolError) -> Self {
        Self {
            error: ErrorDetail {
                code: err.code,
                message: err.message,
            },
        }
    }
}
