//! The router: every path the replica answers, the headers its dynamic answers carry, and
//! which paths answer only to the service's public host names.

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderValue, header};
use axum::middleware;
use axum::routing::{any, get, post};
use tower_http::set_header::SetResponseHeaderLayer;

use crate::api;
use crate::public_hosts;
use crate::state::AppState;
use crate::static_files;
use crate::ws;

/// The whole HTTP surface. Tests can serve it on port 0 or call it directly.
pub fn app(state: AppState) -> Router {
    // Unknown paths get the SPA shell with status 200, so client-side routes survive reloads.
    let spa = static_files::service(&state.config.static_dir, state.counters.clone());
    let api = Router::new()
        .route("/counters", post(api::owned::create))
        .route(
            "/counters/{name}",
            get(api::get)
                .patch(api::owned::configure)
                .delete(api::owned::delete),
        )
        .route("/counters/{name}/increment", post(api::increment))
        .route("/counters/{name}/decrement", post(api::decrement))
        .route("/counters/{name}/set", post(api::owned::set))
        .route("/counters/{name}/keys/{role}", post(api::owned::rotate))
        .route("/counters/{name}/history", get(api::history::page))
        .route("/counters/{name}/history.csv", get(api::history::csv))
        .route("/{*rest}", any(api::not_found))
        .method_not_allowed_fallback(api::method_not_allowed)
        .layer(DefaultBodyLimit::max(state.config.max_message_bytes));
    let api = dynamic(
        Router::new()
            .nest("/api", api)
            .route("/api", any(api::not_found)),
    );
    // Load balancers and scrapers call the probes by address, under whatever name they were
    // given: these answer to any `Host`.
    let probes = dynamic(
        Router::new()
            .route("/healthz", get(api::healthz))
            .route("/readyz", get(api::readyz))
            .route("/metrics", get(api::metrics))
            .method_not_allowed_fallback(api::method_not_allowed),
    );
    // Everything a browser uses answers only to the public names (DNS rebinding).
    let named = Router::new()
        .merge(api)
        .route("/ws/counters/{name}", get(ws::upgrade))
        .method_not_allowed_fallback(api::method_not_allowed)
        .fallback_service(spa)
        .layer(middleware::from_fn_with_state(
            state.public_hosts.clone(),
            public_hosts::check,
        ));
    Router::new().merge(probes).merge(named).with_state(state)
}

/// Answers that change from one request to the next: never stored by a browser or a proxy
/// (a cached counter value would be stale at once), never sniffed as another type.
fn dynamic(router: Router<AppState>) -> Router<AppState> {
    router
        .layer(SetResponseHeaderLayer::overriding(
            header::CACHE_CONTROL,
            HeaderValue::from_static("no-store"),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
}
