//! Which counter a URL shows: `/` is `global`, `/c/{name}` any other, `/c/{name}/display`
//! its big read-only screen; and the key a link carries in its fragment
//! (`#staff=KEY`, `#owner=KEY`).

use shared::{CounterName, Role};

/// What the page at a path shows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Route {
    /// A counter, by a valid name: its buttons, or for a viewer the number alone.
    Counter(CounterName),
    /// The counter's display: the number as large as the screen allows, no buttons.
    Display(CounterName),
    /// `/new`: the "New counter" form.
    New,
    /// A path that names no valid counter; the text is what was given, to quote it back.
    Invalid(String),
}

/// Which page of a counter a person works on; what an installed app goes back to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum View {
    /// The counter's page (buttons for staff and owners, the number for viewers).
    Counter,
    /// The display page.
    Display,
}

impl View {
    /// The path of this view of `name`.
    pub fn path(self, name: &CounterName) -> String {
        match self {
            Self::Counter => path_of(name),
            Self::Display => format!("/c/{name}/display"),
        }
    }
}

impl Route {
    /// The route for a URL path (without query or fragment).
    pub fn from_path(path: &str) -> Self {
        let trimmed = path.trim_end_matches('/');
        if trimmed.is_empty() || trimmed == "/index.html" {
            return Self::Counter(CounterName::global());
        }
        if trimmed == "/new" {
            return Self::New;
        }
        if trimmed == "/c" {
            return Self::Invalid(String::new());
        }
        match trimmed.strip_prefix("/c/") {
            Some(raw) if raw.ends_with("/display") => {
                let raw = raw.trim_end_matches("/display");
                match raw.parse::<CounterName>() {
                    Ok(name) => Self::Display(name),
                    Err(_) => Self::Invalid(decode(raw)),
                }
            }
            Some(raw) => match raw.parse::<CounterName>() {
                Ok(name) => Self::Counter(name),
                Err(_) => Self::Invalid(decode(raw)),
            },
            None => Self::Invalid(decode(trimmed.trim_start_matches('/'))),
        }
    }

    /// The counter and view this route shows, if any.
    pub fn place(&self) -> Option<(&CounterName, View)> {
        match self {
            Self::Counter(name) => Some((name, View::Counter)),
            Self::Display(name) => Some((name, View::Display)),
            Self::New | Self::Invalid(_) => None,
        }
    }
}

/// The role and key a link's fragment carries: `#staff=KEY` or `#owner=KEY` (with or
/// without the `#`). Anything else carries none.
pub fn key_in_fragment(fragment: &str) -> Option<(Role, String)> {
    let (role, key) = fragment.trim_start_matches('#').split_once('=')?;
    let role = match role {
        "staff" => Role::Staff,
        "owner" => Role::Owner,
        _ => return None,
    };
    // Keys are URL-safe text; one that came percent-encoded (a mail client) is decoded.
    let key = decode(key);
    let printable =
        !key.is_empty() && key.len() <= 256 && key.chars().all(|c| c.is_ascii_graphic());
    printable.then_some((role, key))
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
        assert_eq!(Route::from_path("/new"), Route::New);
        assert_eq!(
            Route::from_path("/c/new"),
            counter("new"),
            "a counter may be called new"
        );
        assert_eq!(
            Route::from_path("/elsewhere"),
            Route::Invalid("elsewhere".into())
        );
    }

    #[test]
    fn display_paths_name_a_counter_display() {
        let door: CounterName = "door-2".parse().unwrap();
        assert_eq!(
            Route::from_path("/c/door-2/display"),
            Route::Display(door.clone())
        );
        assert_eq!(
            Route::from_path("/c/door-2/display/"),
            Route::Display(door.clone())
        );
        assert_eq!(View::Display.path(&door), "/c/door-2/display");
        assert_eq!(View::Counter.path(&door), "/c/door-2");
        assert_eq!(
            Route::from_path("/c/a%20b/display"),
            Route::Invalid("a b".into())
        );
        // A counter may be called "display".
        assert_eq!(Route::from_path("/c/display"), counter("display"));
    }

    #[test]
    fn fragments_carry_keys() {
        assert_eq!(
            key_in_fragment("#staff=AbC-12_x"),
            Some((Role::Staff, "AbC-12_x".into()))
        );
        assert_eq!(
            key_in_fragment("owner=k%2Dey"),
            Some((Role::Owner, "k-ey".into()))
        );
        for none in ["", "#", "#staff=", "#viewer=abc", "#staff", "#staff=a b"] {
            assert_eq!(key_in_fragment(none), None, "{none}");
        }
    }

    #[test]
    fn global_lives_at_the_root() {
        assert_eq!(path_of(&CounterName::global()), "/");
        assert_eq!(path_of(&"door-2".parse().unwrap()), "/c/door-2");
    }
}
