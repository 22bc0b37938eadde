//! Version 2's REST endpoints of owned counters: create (anyone, rate-limited per client
//! address), and the owner's settings, set, key rotation and delete. On an open counter the
//! owner's endpoints answer 403 `forbidden`: it has no owner.

use std::net::SocketAddr;

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, PathRejection};
use axum::extract::{ConnectInfo, Path, State};
use axum::http::{HeaderMap, StatusCode};
use shared::owned::decode_object;
use shared::{
    CounterMeta, CounterState, CreateRequest, Created, ErrorCode, Role, RotatedKey, SetRequest,
    SettingsPatch,
};

use super::{body_of, writer};
use crate::error::AppError;
use crate::rate_limit;
use crate::state::AppState;
use crate::store::Write;

/// `POST /api/counters`: `201 {"name","owner_key","staff_key"}`.
pub async fn create(
    State(app): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<(StatusCode, Json<Created>), AppError> {
    app.origin.check(&headers)?;
    let client = app.proxies.client(peer, &headers);
    rate_limit::per_address(&app.creates, client, "new counters")?;
    let body = body_of(body)?;
    let request: CreateRequest = if body.iter().all(u8::is_ascii_whitespace) {
        CreateRequest::default()
    } else {
        decode_object(&body)?
    };
    let created = app.counters.create(request.validate()?).await?;
    tracing::info!(counter = %created.name, "owned counter created");
    Ok((StatusCode::CREATED, Json(created)))
}

/// `PATCH /api/counters/{name}`: `{"title"?,"capacity"?,"warn_at"?}`, `null` removes one;
/// answers the settings as everyone sees them.
pub async fn configure(
    State(app): State<AppState>,
    name: Result<Path<String>, PathRejection>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<CounterMeta>, AppError> {
    let (name, key) = writer(&app, name, peer, &headers)?;
    let patch: SettingsPatch = decode_object(&body_of(body)?)?;
    let patch = patch.validate()?;
    Ok(Json(app.counters.configure(&name, key, &patch).await?))
}

/// `POST /api/counters/{name}/set`: `{"value","op_id"?}`; answers the new state.
pub async fn set(
    State(app): State<AppState>,
    name: Result<Path<String>, PathRejection>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<CounterState>, AppError> {
    let (name, key) = writer(&app, name, peer, &headers)?;
    let request: SetRequest = decode_object(&body_of(body)?)?;
    let write = Write::Set(request.validate()?);
    Ok(Json(app.counters.apply(&name, &write, key).await?))
}

/// `POST /api/counters/{name}/keys/{role}`: a new `staff` or `owner` key, `200 {"key"}`.
/// Once this has answered, no change made with the old key is applied, on any replica.
pub async fn rotate(
    State(app): State<AppState>,
    path: Result<Path<(String, String)>, PathRejection>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
) -> Result<Json<RotatedKey>, AppError> {
    let Ok(Path((name, role))) = path else {
        return Err(AppError::new(
            ErrorCode::InvalidName,
            "the path is not valid UTF-8",
        ));
    };
    let role = match role.as_str() {
        "staff" => Role::Staff,
        "owner" => Role::Owner,
        _ => {
            return Err(AppError::new(
                ErrorCode::NotFound,
                "keys are rotated at keys/staff or keys/owner",
            ));
        }
    };
    let (name, key) = writer(&app, Ok(Path(name)), peer, &headers)?;
    let key = app.counters.rotate(&name, key, role).await?;
    tracing::info!(counter = %name, role = ?role, "key rotated");
    Ok(Json(RotatedKey { key }))
}

/// `DELETE /api/counters/{name}`: `204`; the counter, its keys and its history are gone,
/// and its open sockets close with 4404.
pub async fn delete(
    State(app): State<AppState>,
    name: Result<Path<String>, PathRejection>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
) -> Result<StatusCode, AppError> {
    let (name, key) = writer(&app, name, peer, &headers)?;
    app.counters.delete(&name, key).await?;
    tracing::info!(counter = %name, "owned counter deleted");
    Ok(StatusCode::NO_CONTENT)
}
