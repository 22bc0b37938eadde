//! The page of one counter, `/` (`global`) and `/c/{name}`: the shell with the counter's
//! current value in it, so the number is on screen before the app's wasm has loaded (issue 11:
//! a cold first load spent most of its time fetching and compiling the app before the socket
//! could even open).
//!
//! The value is the hub's when this replica watches the counter, else one store read bounded
//! by [`READ_WITHIN`]. Whatever fails — an invalid name, a store down or slow, a shell without
//! the template — the plain shell is served, and the app shows the number once its socket has
//! it, as it always did.
//!
//! Every answer here is `no-store`: a stored page would show an old number as if it were the
//! current one (a `no-cache` copy revalidated by `Last-Modified` would come back as
//! "unchanged" with the number of its day). The service worker keeps the plain shell
//! (`/index.html`) for offline starts instead.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use shared::CounterName;

use super::shell::ShellFile;
use crate::counters::Counters;

/// How long a page waits for the store. A healthy store answers within a millisecond; one
/// slower than this would delay the page more than the number in it saves, so the page goes
/// out without it.
pub const READ_WITHIN: Duration = Duration::from_millis(50);

/// What the page handlers share.
#[derive(Clone)]
pub struct Pages {
    /// The shell to fill in.
    pub shell: Arc<ShellFile>,
    /// Where the value comes from.
    pub counters: Counters,
}

/// `/`: the `global` counter's page.
pub async fn global(State(pages): State<Pages>) -> Response {
    page(&pages, Some(CounterName::global())).await
}

/// `/c/{name}`: a named counter's page; the plain shell for an invalid name, whose page the app
/// words itself.
pub async fn named(State(pages): State<Pages>, Path(name): Path<String>) -> Response {
    page(&pages, name.parse().ok()).await
}

async fn page(pages: &Pages, name: Option<CounterName>) -> Response {
    let shell = pages.shell.current();
    let mut filled = None;
    if let Some(name) = name
        && let Some(state) = pages.counters.current(&name, READ_WITHIN).await
    {
        filled = shell.filled(&state);
    }
    let Some(html) = filled.or_else(|| shell.plain().map(str::to_owned)) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    (
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/html; charset=utf-8"),
            ),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
        ],
        html,
    )
        .into_response()
}
