//! The built app is served as an installable web app needs: content types, caching,
//! compression and security headers (`backend/src/static_files.rs`).

use reqwest::header::HeaderMap;

use crate::helpers::{Cluster, Replica};

/// A static folder shaped like Trunk's output: a shell with an inline module script, hashed
/// assets, and the service worker and manifest under fixed names.
fn fake_dist() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let files: [(&str, Vec<u8>); 6] = [
        (
            "index.html",
            b"<!doctype html><title>shell</title><script type=\"module\">import init from \
              '/frontend-0123456789abcdef.js'; await init();</script>"
                .to_vec(),
        ),
        // Repetitive, so that compression is worth it.
        (
            "frontend-0123456789abcdef.js",
            "export default function init() {}\n"
                .repeat(200)
                .into_bytes(),
        ),
        (
            "frontend-0123456789abcdef_bg.wasm",
            [b"\0asm\x01\0\0\0".as_slice(), &[0u8; 4096]].concat(),
        ),
        ("style-fedcba9876543210.css", b"body{margin:0}".to_vec()),
        (
            "sw.js",
            b"self.addEventListener('fetch', () => {});".to_vec(),
        ),
        (
            "manifest.webmanifest",
            br#"{"name":"Shared Counter","start_url":"/"}"#.to_vec(),
        ),
    ];
    for (name, content) in files {
        std::fs::write(dir.path().join(name), content).unwrap();
    }
    dir
}

async fn get(replica: &Replica, path: &str, accept_encoding: Option<&str>) -> HeaderMap {
    let mut request = reqwest::Client::new().get(replica.url(path));
    if let Some(encoding) = accept_encoding {
        request = request.header("accept-encoding", encoding);
    }
    let response = request.send().await.unwrap();
    assert_eq!(response.status(), 200, "{path}");
    response.headers().clone()
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> &'a str {
    headers
        .get(name)
        .map(|value| value.to_str().unwrap())
        .unwrap_or("")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn static_files_carry_types_caching_compression_and_security_headers() {
    let dist = fake_dist();
    let dir = dist.path().display().to_string();
    let cluster = Cluster::embedded(&["--static-dir", &dir]).await;
    let replica = &cluster.replicas[0];

    const IMMUTABLE: &str = "public, max-age=31536000, immutable";
    let cases = [
        (
            "/frontend-0123456789abcdef_bg.wasm",
            "application/wasm",
            IMMUTABLE,
        ),
        ("/frontend-0123456789abcdef.js", "javascript", IMMUTABLE),
        ("/style-fedcba9876543210.css", "text/css", IMMUTABLE),
        // A counter's page holds the value of its moment (counter_page.rs).
        ("/", "text/html", "no-store"),
        ("/c/door-2", "text/html", "no-store"),
        ("/index.html", "text/html", "no-cache"),
        ("/elsewhere", "text/html", "no-cache"),
        ("/sw.js", "javascript", "no-cache"),
        (
            "/manifest.webmanifest",
            "application/manifest+json",
            "no-cache",
        ),
    ];
    for (path, content_type, cache) in cases {
        let headers = get(replica, path, None).await;
        assert!(
            header(&headers, "content-type").contains(content_type),
            "{path}: {headers:?}"
        );
        assert_eq!(header(&headers, "cache-control"), cache, "{path}");
        assert_eq!(header(&headers, "x-content-type-options"), "nosniff");
        assert_eq!(header(&headers, "x-frame-options"), "DENY");
        assert_eq!(header(&headers, "referrer-policy"), "no-referrer");
        let csp = header(&headers, "content-security-policy");
        assert!(csp.contains("'wasm-unsafe-eval'"), "{csp}");
        assert!(!csp.contains("'unsafe-eval'"), "{csp}");
        assert!(!csp.contains("'unsafe-inline'"), "{csp}");
        assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
        assert!(csp.contains("connect-src 'self'"), "{csp}");
        // The shell's one inline script is allowed by its hash.
        assert_eq!(csp.matches("'sha256-").count(), 1, "{csp}");
    }

    for encoding in ["br", "gzip"] {
        for path in [
            "/frontend-0123456789abcdef.js",
            "/",
            "/c/door-2",
            "/frontend-0123456789abcdef_bg.wasm",
        ] {
            let headers = get(replica, path, Some(encoding)).await;
            assert_eq!(header(&headers, "content-encoding"), encoding, "{path}");
        }
    }
    let plain = get(replica, "/frontend-0123456789abcdef.js", None).await;
    assert_eq!(header(&plain, "content-encoding"), "");

    // The API and the probes are not static files: no file caching policy, never stored.
    let api = get(replica, "/api/counters/global", None).await;
    assert!(header(&api, "content-type").starts_with("application/json"));
    assert_eq!(header(&api, "cache-control"), "no-store");
}
