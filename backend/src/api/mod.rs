//! The REST endpoints and the health, readiness and metrics probes. Version 2's owner
//! endpoints are in [`owned`], the history and its CSV export in [`history`].

pub mod history;
pub mod owned;

use std::net::SocketAddr;

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, PathRejection};
use axum::extract::{ConnectInfo, Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::IntoResponse;
use shared::{ChangeRequest, CounterInfo, CounterName, CounterState, Direction, ErrorCode};

use crate::access::{self, KeyHash};
use crate::body_deadline;
use crate::error::AppError;
use crate::rate_limit;
use crate::state::AppState;
use crate::store::Write;

/// `GET /api/counters/{name}`: the state, plus the settings an owned counter has. A name
/// that is neither open nor created is 404 `not_found`, and nothing is created.
pub async fn get(
    State(app): State<AppState>,
    name: Result<Path<String>, PathRejection>,
) -> Result<Json<CounterInfo>, AppError> {
    let name = counter_name(name)?;
    let standing = app.counters.standing(&name).await?;
    let state = app.counters.get(&name).await?;
    Ok(Json(CounterInfo {
        state,
        meta: standing.meta(),
    }))
}

/// `POST /api/counters/{name}/increment`.
pub async fn increment(
    State(app): State<AppState>,
    name: Result<Path<String>, PathRejection>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<CounterState>, AppError> {
    change(app, name, peer, &headers, body, Direction::Increment).await
}

/// `POST /api/counters/{name}/decrement`.
pub async fn decrement(
    State(app): State<AppState>,
    name: Result<Path<String>, PathRejection>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<CounterState>, AppError> {
    change(app, name, peer, &headers, body, Direction::Decrement).await
}

async fn change(
    app: AppState,
    name: Result<Path<String>, PathRejection>,
    peer: SocketAddr,
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
    direction: Direction,
) -> Result<Json<CounterState>, AppError> {
    let (name, key) = writer(&app, name, peer, headers)?;
    let body = body_of(body)?;
    // The body is optional: an empty POST is a change of 1.
    let request = if body.iter().all(u8::is_ascii_whitespace) {
        ChangeRequest::default()
    } else {
        ChangeRequest::decode(&body)?
    };
    let change = request.validate(direction)?;
    Ok(Json(
        app.counters
            .apply(&name, &Write::Change(change), key)
            .await?,
    ))
}

/// What every REST write checks first: the Origin (as the WebSocket's: any site can make
/// its visitors' browsers POST here, a form needs no preflight, which would stuff a live
/// vote), the name, and the client address's rate (REST changes are limited like a
/// socket's). Returns the name and the hash of the key presented.
fn writer(
    app: &AppState,
    name: Result<Path<String>, PathRejection>,
    peer: SocketAddr,
    headers: &HeaderMap,
) -> Result<(CounterName, Option<KeyHash>), AppError> {
    app.origin.check(headers)?;
    let name = counter_name(name)?;
    let client = app.proxies.client(peer, headers);
    rate_limit::per_address(&app.rest_changes, client, "changes")?;
    Ok((name, access::bearer(headers)))
}

/// A request's body, or the error for why it could not be read.
fn body_of(body: Result<Bytes, BytesRejection>) -> Result<Bytes, AppError> {
    body.map_err(|rejection| {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            AppError::new(ErrorCode::TooLarge, "the request body is too large")
        } else if body_deadline::timed_out(&rejection) {
            AppError::new(
                ErrorCode::RequestTimeout,
                "the request body did not arrive in time; send it again",
            )
        } else {
            AppError::new(ErrorCode::BadRequest, rejection.body_text())
        }
    })
}

fn counter_name(name: Result<Path<String>, PathRejection>) -> Result<CounterName, AppError> {
    let Path(name) = name.map_err(|_| {
        AppError::new(
            ErrorCode::InvalidName,
            "the counter name is not valid UTF-8",
        )
    })?;
    Ok(name.parse()?)
}

/// `GET /healthz`: the process runs.
pub async fn healthz() -> &'static str {
    "ok\n"
}

/// `GET /readyz`: the store answers and the subscriber is live.
pub async fn readyz(State(app): State<AppState>) -> Result<&'static str, AppError> {
    match app.counters.ready().await {
        Ok(()) => Ok("ready\n"),
        Err(err) => {
            tracing::debug!(error = %err, "not ready");
            Err(AppError::new(
                ErrorCode::Unavailable,
                "the counter store is not reachable",
            ))
        }
    }
}

/// `GET /metrics`: the text exposition, labelled OpenMetrics when the scraper asks for it
/// (Prometheus does) and Prometheus's classic text otherwise, which reads the same text.
pub async fn metrics(State(app): State<AppState>, headers: HeaderMap) -> impl IntoResponse {
    let ready = app.counters.ready().await.is_ok();
    let text = app
        .counters
        .metrics
        .render(app.counters.hub.sockets(), ready);
    let openmetrics = headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .any(|value| value.contains("application/openmetrics-text"));
    let content_type = if openmetrics {
        "application/openmetrics-text; version=1.0.0; charset=utf-8"
    } else {
        "text/plain; version=0.0.4; charset=utf-8"
    };
    ([(header::CONTENT_TYPE, content_type)], text)
}

/// Any other path under `/api/`: a JSON 404, never the SPA shell.
pub async fn not_found() -> AppError {
    AppError::new(ErrorCode::NotFound, "no such API endpoint")
}

/// A known path with the wrong method.
pub async fn method_not_allowed() -> AppError {
    AppError::new(
        ErrorCode::MethodNotAllowed,
        "this endpoint does not take that method",
    )
}
