//! The REST endpoints and the health, readiness and metrics probes.

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, PathRejection};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::IntoResponse;
use shared::{ChangeRequest, CounterName, CounterState, Direction, ErrorCode};

use crate::body_deadline;
use crate::error::AppError;
use crate::state::AppState;

/// `GET /api/counters/{name}`.
pub async fn get(
    State(app): State<AppState>,
    name: Result<Path<String>, PathRejection>,
) -> Result<Json<CounterState>, AppError> {
    let name = counter_name(name)?;
    Ok(Json(app.counters.get(&name).await?))
}

/// `POST /api/counters/{name}/increment`.
pub async fn increment(
    State(app): State<AppState>,
    name: Result<Path<String>, PathRejection>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<CounterState>, AppError> {
    change(app, name, &headers, body, Direction::Increment).await
}

/// `POST /api/counters/{name}/decrement`.
pub async fn decrement(
    State(app): State<AppState>,
    name: Result<Path<String>, PathRejection>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<CounterState>, AppError> {
    change(app, name, &headers, body, Direction::Decrement).await
}

async fn change(
    app: AppState,
    name: Result<Path<String>, PathRejection>,
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
    direction: Direction,
) -> Result<Json<CounterState>, AppError> {
    // The WebSocket's Origin rule, for the same reason: any site can make its visitors'
    // browsers POST here (a form needs no preflight), which would stuff a live vote.
    app.origin.check(headers)?;
    let name = counter_name(name)?;
    let body = body.map_err(|rejection| {
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
    })?;
    // The body is optional: an empty POST is a change of 1.
    let request = if body.iter().all(u8::is_ascii_whitespace) {
        ChangeRequest::default()
    } else {
        ChangeRequest::decode(&body)?
    };
    let change = request.validate(direction)?;
    Ok(Json(app.counters.apply(&name, &change).await?))
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
