//! The built frontend (`dist/`), served the way an installable web app needs it.
//!
//! - Files come from the static folder; any other path gets `index.html` with status 200, so
//!   client-side routes such as `/c/door-2` survive a reload.
//! - Caching: Trunk names every asset it builds after a hash of its content
//!   (`frontend-9955c87ac3a91ea5_bg.wasm`: a 64-bit hash in hex, without leading zeros), so
//!   those are cached for a year as `immutable`.
//!   Everything else — `index.html`, the service worker, the manifest, the icons — is
//!   `no-cache`: browsers may keep it but ask first (`Last-Modified` makes that cheap), which is
//!   how a new version reaches an installed app.
//! - Compression: gzip or brotli, whichever the browser prefers, on these responses only (the
//!   WebSocket upgrade never passes through here).
//! - Security headers on every file: a Content-Security-Policy that runs WebAssembly
//!   (`'wasm-unsafe-eval'`) but never `eval`, and allows exactly the inline start-up script
//!   Trunk writes into `index.html`, by its SHA-256; `nosniff`, no framing, no referrer.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::header::{self, HeaderName, HeaderValue};
use axum::middleware::{self, Next};
use axum::response::Response;
use base64::Engine;
use sha2::{Digest, Sha256};
use tower_http::CompressionLevel;
use tower_http::compression::CompressionLayer;
use tower_http::services::{ServeDir, ServeFile};

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

/// The service for every path the router does not claim: the static folder with the SPA
/// shell as its fallback, wrapped in caching, compression and security headers.
pub fn service(static_dir: &Path) -> Router {
    let index = static_dir.join("index.html");
    let files = ServeDir::new(static_dir).fallback(ServeFile::new(&index));
    let csp = Arc::new(ShellCsp::new(index));
    Router::new()
        .fallback_service(files)
        .layer(CompressionLayer::new().quality(CompressionLevel::Precise(COMPRESSION_QUALITY)))
        .layer(middleware::from_fn_with_state(csp, headers))
}

/// Sets the caching and security headers on one static response.
async fn headers(State(csp): State<Arc<ShellCsp>>, request: Request, next: Next) -> Response {
    let hashed = is_hashed(request.uri().path());
    let mut response = next.run(request).await;
    let cache = if hashed && response.status().is_success() {
        IMMUTABLE
    } else {
        NO_CACHE
    };
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, cache);
    headers.insert(header::CONTENT_SECURITY_POLICY, csp.current());
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

/// The Content-Security-Policy, kept in step with `index.html`: its inline scripts are
/// allowed by hash, and the hashes are computed again whenever the file changes (a rebuild
/// under a running server).
struct ShellCsp {
    /// The SPA shell whose inline scripts the policy must allow.
    index: PathBuf,
    /// The policy for the `index.html` last seen, with that file's modification time.
    cached: Mutex<Option<(Option<SystemTime>, HeaderValue)>>,
}

impl ShellCsp {
    fn new(index: PathBuf) -> Self {
        Self {
            index,
            cached: Mutex::new(None),
        }
    }

    /// The policy for the `index.html` on disk now.
    fn current(&self) -> HeaderValue {
        let modified = std::fs::metadata(&self.index)
            .and_then(|meta| meta.modified())
            .ok();
        let mut cached = self
            .cached
            .lock()
            .unwrap_or_else(|poison| poison.into_inner());
        if let Some((seen, policy)) = cached.as_ref()
            && *seen == modified
        {
            return policy.clone();
        }
        // A missing or unreadable shell has no inline script to allow.
        let html = std::fs::read_to_string(&self.index).unwrap_or_default();
        let policy = HeaderValue::from_str(&policy_for(&html))
            .expect("a policy of ASCII keywords and base64 is a valid header value");
        *cached = Some((modified, policy.clone()));
        policy
    }
}

/// The policy for a shell with this HTML.
fn policy_for(html: &str) -> String {
    let hashes: String = inline_scripts(html)
        .map(|script| {
            let digest = Sha256::digest(script.as_bytes());
            let encoded = base64::engine::general_purpose::STANDARD.encode(digest);
            format!(" 'sha256-{encoded}'")
        })
        .collect();
    // `connect-src 'self'` covers the same-origin ws:/wss: socket in CSP Level 3 browsers.
    format!(
        "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'{hashes}; \
         style-src 'self'; img-src 'self' data:; connect-src 'self'; manifest-src 'self'; \
         worker-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; \
         frame-ancestors 'none'"
    )
}

/// The text of every `<script>` element without a `src`, exactly as the browser hashes it.
fn inline_scripts(html: &str) -> impl Iterator<Item = &str> {
    let mut rest = html;
    std::iter::from_fn(move || {
        loop {
            let start = rest.find("<script")?;
            let after_tag = &rest[start..];
            let open_end = after_tag.find('>')?;
            let attributes = &after_tag[..open_end];
            let body = &after_tag[open_end + 1..];
            let close = body.find("</script")?;
            rest = &body[close..];
            if !attributes.contains("src=") {
                return Some(&body[..close]);
            }
        }
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

    #[test]
    fn inline_scripts_are_allowed_by_hash_and_eval_never() {
        let html = "<head><script type=\"module\">\nimport init from '/a.js';\n</script>\
                    <script src=\"/b.js\"></script><script>x()</script></head>";
        let scripts: Vec<_> = inline_scripts(html).collect();
        assert_eq!(scripts, ["\nimport init from '/a.js';\n", "x()"]);
        let policy = policy_for(html);
        assert_eq!(policy.matches("'sha256-").count(), 2, "{policy}");
        // The hash of "x()" as `openssl dgst -sha256 -binary | base64` prints it.
        assert!(
            policy.contains("'sha256-D6IGS8VMvCoyaR/l0h9tERrBTATY01CoPS7l6xDv0kI='"),
            "{policy}"
        );
        assert!(policy.contains("'wasm-unsafe-eval'"));
        assert!(!policy.contains("'unsafe-eval'"));
        assert!(!policy.contains("'unsafe-inline'"));
    }
}
