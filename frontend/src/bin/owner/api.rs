//! The REST calls of owned counters: create, read, settings, set, rotate, delete, history
//! and its CSV. The owner key goes in an `Authorization: Bearer` header, never in the URL:
//! request lines end up in logs, proxies and the browser's history, headers do not.
//!
//! Every refusal becomes an [`ApiError`] whose [`ApiError::words`] say what happened and what
//! to do, per error code.

use gloo_net::http::{Request, RequestBuilder, Response};
use serde::Serialize;
use serde::de::DeserializeOwned;
use shared::{
    CounterMeta, CounterName, CounterState, CreateRequest, Created, ErrorBody, ErrorCode,
    HistoryPage, Role, RotatedKey, SetRequest, SettingsPatch,
};

use crate::keys::role_word;

/// Why a call failed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ApiError {
    /// The server answered with an error body.
    Refused {
        status: u16,
        code: ErrorCode,
        message: String,
    },
    /// No answer, or one that is not the service's (a proxy's error page).
    Network(String),
}

impl ApiError {
    /// What a person reads: what happened and what to do about it.
    pub fn words(&self) -> String {
        let (code, message) = match self {
            Self::Network(_) => {
                return "The service could not be reached: check the connection and try again."
                    .to_owned();
            }
            Self::Refused { code, message, .. } => (*code, message),
        };
        match code {
            ErrorCode::NameTaken => {
                "That name is taken: choose another, or leave the name empty for a random one."
                    .to_owned()
            }
            ErrorCode::LimitReached => {
                "This service holds as many counters as it may: ask its operator to make room."
                    .to_owned()
            }
            ErrorCode::RateLimited => {
                "Too many requests from this address just now: wait a minute and try again."
                    .to_owned()
            }
            ErrorCode::InvalidName => "A name is 1 to 64 letters, digits, “-” or “_”.".to_owned(),
            ErrorCode::BadRequest | ErrorCode::TooLarge | ErrorCode::Overflow => {
                format!("The service refused that: {message}.")
            }
            ErrorCode::Unauthorized => "This device’s owner key no longer works for this \
                counter: it was replaced on another device, or the counter was deleted."
                .to_owned(),
            ErrorCode::Forbidden => "This key may not do that.".to_owned(),
            ErrorCode::NotFound => "This counter does not exist (any more).".to_owned(),
            ErrorCode::Conflict => {
                "That clashes with a change made meanwhile: reload and try again.".to_owned()
            }
            ErrorCode::Unavailable | ErrorCode::RequestTimeout | ErrorCode::Internal => {
                "The service cannot do that right now: try again in a moment.".to_owned()
            }
            ErrorCode::ForbiddenOrigin | ErrorCode::UnknownHost => {
                "The service does not answer to this page’s address.".to_owned()
            }
            ErrorCode::MethodNotAllowed => format!("The service refused that: {message}."),
        }
    }
}

impl From<gloo_net::Error> for ApiError {
    fn from(err: gloo_net::Error) -> Self {
        Self::Network(err.to_string())
    }
}

/// `/api/counters/{name}` and what follows it.
fn url(name: &CounterName, rest: &str) -> String {
    format!("/api/counters/{name}{rest}")
}

fn bearer(builder: RequestBuilder, key: &str) -> RequestBuilder {
    builder.header("Authorization", &format!("Bearer {key}"))
}

/// The answer's body as `T` when it succeeded, else its error.
async fn decode<T: DeserializeOwned>(response: Response) -> Result<T, ApiError> {
    let response = checked(response).await?;
    response.json().await.map_err(ApiError::from)
}

/// The answer itself when it succeeded, else the error its body names.
async fn checked(response: Response) -> Result<Response, ApiError> {
    if response.ok() {
        return Ok(response);
    }
    let status = response.status();
    match response.json::<ErrorBody>().await {
        Ok(body) => Err(ApiError::Refused {
            status,
            code: body.error.code,
            message: body.error.message,
        }),
        Err(_) => Err(ApiError::Network(format!("HTTP {status}"))),
    }
}

async fn send_json<B: Serialize, T: DeserializeOwned>(
    builder: RequestBuilder,
    body: &B,
) -> Result<T, ApiError> {
    let request: Request = builder.json(body)?;
    decode(request.send().await?).await
}

/// `POST /api/counters`.
pub async fn create(request: &CreateRequest) -> Result<Created, ApiError> {
    send_json(Request::post("/api/counters"), request).await
}

/// The settings everyone sees, from `GET /api/counters/{name}`. Read as [`CounterMeta`]
/// alone (the value's fields are skipped): `CounterInfo`'s flattened fields would bring
/// serde's buffering deserializer into the app, several KB of download.
pub async fn settings(name: &CounterName) -> Result<CounterMeta, ApiError> {
    decode(Request::get(&url(name, "")).send().await?).await
}

/// `PATCH /api/counters/{name}`.
pub async fn configure(
    name: &CounterName,
    key: &str,
    patch: &SettingsPatch,
) -> Result<CounterMeta, ApiError> {
    send_json(bearer(Request::patch(&url(name, "")), key), patch).await
}

/// `POST /api/counters/{name}/set`.
pub async fn set(
    name: &CounterName,
    key: &str,
    request: &SetRequest,
) -> Result<CounterState, ApiError> {
    send_json(bearer(Request::post(&url(name, "/set")), key), request).await
}

/// `POST /api/counters/{name}/keys/{role}`: the new key.
pub async fn rotate(name: &CounterName, key: &str, role: Role) -> Result<String, ApiError> {
    let path = url(name, &format!("/keys/{}", role_word(role)));
    let rotated: RotatedKey = decode(bearer(Request::post(&path), key).send().await?).await?;
    Ok(rotated.key)
}

/// `DELETE /api/counters/{name}`.
pub async fn delete(name: &CounterName, key: &str) -> Result<(), ApiError> {
    let response = bearer(Request::delete(&url(name, "")), key).send().await?;
    checked(response).await.map(drop)
}

/// One page of history, newest first, before `cursor` (the newest page without one). The
/// cursor is the server's, not a secret; the key stays in the header.
pub async fn history(
    name: &CounterName,
    key: &str,
    before: Option<&str>,
    limit: usize,
) -> Result<HistoryPage, ApiError> {
    let mut builder =
        bearer(Request::get(&url(name, "/history")), key).query([("limit", limit.to_string())]);
    if let Some(before) = before {
        builder = builder.query([("before", before)]);
    }
    decode(builder.send().await?).await
}

/// The whole history as CSV text.
pub async fn history_csv(name: &CounterName, key: &str) -> Result<String, ApiError> {
    let response = bearer(Request::get(&url(name, "/history.csv")), key)
        .send()
        .await?;
    checked(response)
        .await?
        .text()
        .await
        .map_err(ApiError::from)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_refusal_says_what_to_do() {
        let refused = |code| ApiError::Refused {
            status: 400,
            code,
            message: "capacity must be from 1".into(),
        };
        assert!(refused(ErrorCode::NameTaken).words().contains("taken"));
        assert!(
            refused(ErrorCode::LimitReached)
                .words()
                .contains("operator")
        );
        assert!(refused(ErrorCode::RateLimited).words().contains("wait"));
        assert!(
            refused(ErrorCode::BadRequest)
                .words()
                .contains("capacity must be from 1")
        );
        assert!(
            ApiError::Network("x".into())
                .words()
                .contains("could not be reached")
        );
    }

    #[test]
    fn paths_follow_the_contract() {
        let name: CounterName = "door-2".parse().unwrap();
        assert_eq!(
            url(&name, "/history.csv"),
            "/api/counters/door-2/history.csv"
        );
    }
}
