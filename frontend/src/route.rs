//! Which counter a URL shows: `/` is `global`, `/c/{name}` any other.

use shared::CounterName;

/// What the page at a path shows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Route {
    /// A counter, by a valid name.
    Counter(CounterName),
    /// A path that names no valid counter; the text is what was given, to quote it back.
    Invalid(String),
}

impl Route {
    /// The route for a URL path (without query or fragment).
    pub fn from_path(path: &str) -> Self {
        let trimmed = path.trim_end_matches('/');
        if trimmed.is_empty() || trimmed == "/index.html" {
            return Self::Counter(CounterName::global());
        }
        if trimmed == "/c" {
            return Self::Invalid(String::new());
        }
        match trimmed.strip_prefix("/c/") {
            Some(raw) => match raw.parse::<CounterName>() {
                Ok(name) => Self::Counter(name),
                Err(_) => Self::Invalid(decode(raw)),
            },
            None => Self::Invalid(decode(trimmed.trim_start_matches('/'))),
        }
    }
}

/// The path that shows `name`: the `global` counter lives at `/`.
pub fn path_of(name: &CounterName) -> String {
    if name == &CounterName::global() {
        "/".to_owned()
    } else {
        format!("/c/{name}")
    }
}

/// Percent-decodes `raw` for display; bytes that do not make UTF-8 are shown replaced.
fn decode(raw: &str) -> String {
    let bytes = raw.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
            (b'%', Some(byte)) => {
                out.push(byte);
                i += 3;
            }
            (byte, _) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn counter(name: &str) -> Route {
        Route::Counter(name.parse().unwrap())
    }

    #[test]
    fn paths_name_counters() {
        assert_eq!(Route::from_path("/"), counter("global"));
        assert_eq!(Route::from_path(""), counter("global"));
        assert_eq!(Route::from_path("/c/door-2"), counter("door-2"));
        assert_eq!(Route::from_path("/c/door-2/"), counter("door-2"));
        assert_eq!(Route::from_path("/c/a%20b"), Route::Invalid("a b".into()));
        assert_eq!(
            Route::from_path(&format!("/c/{}", "x".repeat(65))),
            Route::Invalid("x".repeat(65))
        );
        assert_eq!(Route::from_path("/c/"), Route::Invalid(String::new()));
        assert_eq!(
            Route::from_path("/elsewhere"),
            Route::Invalid("elsewhere".into())
        );
    }

    #[test]
    fn global_lives_at_the_root() {
        assert_eq!(path_of(&CounterName::global()), "/");
        assert_eq!(path_of(&"door-2".parse().unwrap()), "/c/door-2");
    }
}
