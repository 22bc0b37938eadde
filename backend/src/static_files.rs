//! The built frontend (`dist/`), served the way an installable web app needs it.
//!
//! - A counter's page (`/`, `/c/{name}`) is the shell with the counter's value filled in
//!   ([`counter_page`], from the shell's template: [`shell`]).
//! - Files come from the static folder; any other path gets `index.html` with status 200, so
//!   client-side routes survive a reload.
//! - Caching: Trunk names every asset it builds after a hash of its content
//!   (`frontend-9955c87ac3a91ea5_bg.wasm`: a 64-bit hash in hex, without leading zeros), so
//!   those are cached for a year as `immutable`.
//!   A counter's page is `no-store` (it holds a value of this moment). Everything else —
//!   `index.html`, the service worker, the manifest, the icons — is `no-cache`: browsers may
//!   keep it but ask first (`Last-Modified` makes that cheap), which is how a new version
//!   reaches an installed app.
//! - Compression: gzip or brotli, whichever the browser prefers, on these responses only (the
//!   WebSocket upgrade never passes through here).
//! - Security headers on every file: a Content-Security-Policy that runs WebAssembly
//!   (`'wasm-unsafe-eval'`) but never `eval`, and allows exactly the inline start-up script
//!   Trunk writes into `index.html`, by its SHA-256 ([`shell`]); `nosniff`, no framing, no
//!   referrer.

mod counter_page;
mod shell;

use std::path::Path;
use std::sync::Arc;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::header::{self, HeaderName, HeaderValue};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::get;
use tower_http::CompressionLevel;
use tower_http::compression::CompressionLayer;
use tower_http::services::{ServeDir, ServeFile};

use crate::counters::Counters;
use counter_page::Pages;
use shell::ShellFile;

/// For files whose name carries a hash of their content: they never change under their name.
const IMMUTABLE: HeaderValue = HeaderValue::from_static("public, max-age=31536000, immutable");

/// For everything else: keep it, but ask the server before using it again.
const NO_CACHE: HeaderValue = HeaderValue::from_static("no-cache");

/// Brotli's default (quality 11) takes most of a second on the wasm file for every request;
/// 5 compresses it almost as well in a few milliseconds, and means the same for gzip.
const COMPRESSION_QUALITY: i32 = 5;

/// The headers every static response carries besides the CSP.
const SECURITY_HEADERS: [(HeaderName, HeaderValue); 4] = [
    (
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    ),
    (header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY")),
    // Counter names are in the path and may be private to a team.
    (
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    ),
    (
        HeaderName::from_static("cross-origin-opener-policy"),
        HeaderValue::from_static("same-origin"),
    ),
];

/// The service for every path the router does not claim: the counters' pages, and the static
/// folder with the SPA shell as its fallback, wrapped in caching, compression and security
/// headers.
pub fn service(static_dir: &Path, counters: Counters) -> Router {
    let index = static_dir.join("index.html");
    let files = ServeDir::new(static_dir).fallback(ServeFile::new(&index));
    let shell = Arc::new(ShellFile::new(index));
    let pages = Pages {
        shell: shell.clone(),
        counters,
    };
    Router::new()
        .route("/", get(counter_page::global))
        .route("/c/{name}", get(counter_page::named))
        .route("/c/{name}/", get(counter_page::named))
        .with_state(pages)
        .fallback_service(files)
        .layer(CompressionLayer::new().quality(CompressionLevel::Precise(COMPRESSION_QUALITY)))
        .layer(middleware::from_fn_with_state(shell, headers))
}

/// Sets the caching and security headers on one static response; a caching policy the
/// response already has (a counter's page) is kept.
async fn headers(State(shell): State<Arc<ShellFile>>, request: Request, next: Next) -> Response {
    let hashed = is_hashed(request.uri().path());
    let mut response = next.run(request).await;
    let cache = if hashed && response.status().is_success() {
        IMMUTABLE
    } else {
        NO_CACHE
    };
    let headers = response.headers_mut();
    headers.entry(header::CACHE_CONTROL).or_insert(cache);
    headers.insert(header::CONTENT_SECURITY_POLICY, shell.current().csp.clone());
    for (name, value) in SECURITY_HEADERS {
        headers.insert(name, value);
    }
    response
}

/// Whether the last segment of `path` is a Trunk-hashed file name: `{stem}-{hash}`, maybe
/// followed by wasm-bindgen's `_bg`, then an extension. Trunk writes the 64-bit hash in hex
/// without leading zeros, so it has up to 16 digits; fewer than 8 happens once in 4 billion
/// builds, and such a file is merely revalidated instead of cached for good.
fn is_hashed(path: &str) -> bool {
    let file = path.rsplit('/').next().unwrap_or_default();
    let Some((stem, _extension)) = file.rsplit_once('.') else {
        return false;
    };
    let stem = stem.strip_suffix("_bg").unwrap_or(stem);
    stem.rsplit_once('-').is_some_and(|(name, hash)| {
        !name.is_empty()
            && (8..=16).contains(&hash.len())
            && hash.bytes().all(|b| b.is_ascii_hexdigit())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trunk_hashed_names_are_recognised() {
        for hashed in [
            "/frontend-9955c87ac3a91ea5_bg.wasm",
            "/frontend-9955c87ac3a91ea5.js",
            "/style-a4ac42c26055ea20.css",
            "/frontend-30479ee45a2c2e3_bg.wasm",
        ] {
            assert!(is_hashed(hashed), "{hashed}");
        }
        for plain in [
            "/",
            "/index.html",
            "/sw.js",
            "/manifest.webmanifest",
            "/icons/icon-192.png",
            "/c/door-2",
            "/c/some-counter-name.x",
            "/-9955c87ac3a91ea5.js",
            "/icons/icon-2.png",
        ] {
            assert!(!is_hashed(plain), "{plain}");
        }
    }
}
