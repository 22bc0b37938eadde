//! The SPA shell, `index.html` as Trunk built it, and what the server derives from it: the
//! Content-Security-Policy that allows its inline start-up script, and the page of one counter
//! with the counter's value already in it.
//!
//! The shell carries a `<template id="server-shell">` holding the app's first screen, with
//! `{{name}}`, `{{value}}` and `{{version}}` where the counter goes. The markup is the
//! frontend's (`index.html`, beside the components it mirrors); the server only fills it in.
//! A filled page has the template replaced by its content, every value HTML-escaped, and the
//! title saying the value the way the app's does. As a template the markup is inert: the plain
//! shell shows nothing of it, and no script can find its count element.

use std::ops::Range;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use axum::http::HeaderValue;
use base64::Engine;
use sha2::{Digest, Sha256};
use shared::CounterState;

/// Where the template starts; the app's build keeps it as written.
const TEMPLATE_OPEN: &str = "<template id=\"server-shell\">";
const TEMPLATE_CLOSE: &str = "</template>";

/// `index.html` as last read, re-read whenever the file changes (a rebuild under a running
/// server).
pub struct ShellFile {
    /// Where Trunk wrote the shell.
    path: PathBuf,
    /// The shell last read, with that file's modification time.
    cached: Mutex<Option<(Option<SystemTime>, Arc<Shell>)>>,
}

impl ShellFile {
    pub fn new(path: PathBuf) -> Self {
        Self {
            path,
            cached: Mutex::new(None),
        }
    }

    /// The shell on disk now.
    pub fn current(&self) -> Arc<Shell> {
        let modified = std::fs::metadata(&self.path)
            .and_then(|meta| meta.modified())
            .ok();
        let mut cached = self
            .cached
            .lock()
            .unwrap_or_else(|poison| poison.into_inner());
        if let Some((seen, shell)) = cached.as_ref()
            && *seen == modified
        {
            return shell.clone();
        }
        let shell = Arc::new(Shell::new(std::fs::read_to_string(&self.path).ok()));
        *cached = Some((modified, shell.clone()));
        shell
    }
}

/// One version of the shell, and what is derived from it.
pub struct Shell {
    /// The file as built; `None` when it could not be read.
    plain: Option<String>,
    /// The policy that runs this shell's inline scripts and nothing else inline.
    pub csp: HeaderValue,
    /// Where the parts of a counter's page are in `plain`; `None` without a template.
    template: Option<Template>,
}

/// Byte ranges in the plain shell.
struct Template {
    /// The text of the `<title>` element, replaced by the counter's title.
    title: Option<Range<usize>>,
    /// The whole `<template>` element, replaced by its filled content.
    element: Range<usize>,
    /// The template's content.
    content: Range<usize>,
}

impl Shell {
    fn new(plain: Option<String>) -> Self {
        // A missing or unreadable shell has no inline script to allow.
        let html = plain.as_deref().unwrap_or_default();
        let csp = HeaderValue::from_str(&policy_for(html))
            .expect("a policy of ASCII keywords and base64 is a valid header value");
        let template = find_template(html);
        Self {
            plain,
            csp,
            template,
        }
    }

    /// The shell as built, for pages without a value.
    pub fn plain(&self) -> Option<&str> {
        self.plain.as_deref()
    }

    /// The page of the counter in `state`, with its value in it; `None` when the shell has no
    /// template.
    pub fn filled(&self, state: &CounterState) -> Option<String> {
        let (html, template) = (self.plain.as_deref()?, self.template.as_ref()?);
        let name = state.name.to_string();
        let value = state.value.to_string();
        let version = state.version.to_string();
        let mut page = String::with_capacity(html.len() + 64);
        let head = &html[..template.element.start];
        match &template.title {
            Some(title) => {
                page.push_str(&head[..title.start]);
                // The app's own title (`title` in `frontend/src/main.rs`), so it does not change
                // when the app takes over.
                escape_into(&mut page, &format!("{value} · {name} — Shared Counter"));
                page.push_str(&head[title.end..]);
            }
            None => page.push_str(head),
        }
        fill_into(
            &mut page,
            &html[template.content.clone()],
            &[("name", &name), ("value", &value), ("version", &version)],
        );
        page.push_str(&html[template.element.end..]);
        Some(page)
    }
}

/// The template's ranges in `html`, and its title's when the title comes before it.
fn find_template(html: &str) -> Option<Template> {
    let start = html.find(TEMPLATE_OPEN)?;
    let content_start = start + TEMPLATE_OPEN.len();
    let content_end = content_start + html[content_start..].find(TEMPLATE_CLOSE)?;
    let head = &html[..start];
    let title = head.find("<title>").and_then(|open| {
        let text = open + "<title>".len();
        let close = text + head[text..].find("</title>")?;
        Some(text..close)
    });
    Some(Template {
        title,
        element: start..content_end + TEMPLATE_CLOSE.len(),
        content: content_start..content_end,
    })
}

/// Appends `template` to `page` with each `{{key}}` of `slots` replaced by its escaped value;
/// any other `{{…}}` is kept as written.
fn fill_into(page: &mut String, template: &str, slots: &[(&str, &str)]) {
    let mut rest = template;
    while let Some(open) = rest.find("{{") {
        page.push_str(&rest[..open]);
        let after = &rest[open + 2..];
        let slot = after.find("}}").and_then(|close| {
            let key = &after[..close];
            let (_, value) = slots.iter().find(|(name, _)| *name == key)?;
            Some((*value, close))
        });
        match slot {
            Some((value, close)) => {
                escape_into(page, value);
                rest = &after[close + 2..];
            }
            None => {
                page.push_str("{{");
                rest = after;
            }
        }
    }
    page.push_str(rest);
}

/// Appends `text` to `page`, escaped for HTML text and quoted attribute values alike.
fn escape_into(page: &mut String, text: &str) {
    for c in text.chars() {
        match c {
            '&' => page.push_str("&amp;"),
            '<' => page.push_str("&lt;"),
            '>' => page.push_str("&gt;"),
            '"' => page.push_str("&quot;"),
            '\'' => page.push_str("&#39;"),
            c => page.push(c),
        }
    }
}

/// The policy for a shell with this HTML: WebAssembly may run (`'wasm-unsafe-eval'`), `eval`
/// never, and inline scripts only by the SHA-256 of each one the shell has.
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

    fn state(name: &str, value: i64, version: u64) -> CounterState {
        CounterState {
            name: name.parse().unwrap(),
            value,
            version,
        }
    }

    const SHELL: &str = "<html><head><title>Shared Counter</title></head><body>\
        <template id=\"server-shell\"><div data-v=\"{{version}}\"><h1>{{name}}</h1>\
        <output>{{value}}</output>{{other}} {{</div></template><noscript>x</noscript></body></html>";

    #[test]
    fn a_filled_page_carries_the_value_in_the_markup_and_the_title() {
        let shell = Shell::new(Some(SHELL.to_owned()));
        let page = shell.filled(&state("door-2", -42, 17)).unwrap();
        assert_eq!(
            page,
            "<html><head><title>-42 · door-2 — Shared Counter</title></head><body>\
             <div data-v=\"17\"><h1>door-2</h1><output>-42</output>{{other}} {{</div>\
             <noscript>x</noscript></body></html>"
        );
        assert_eq!(shell.plain(), Some(SHELL));
    }

    #[test]
    fn slots_are_escaped() {
        let mut page = String::new();
        fill_into(
            &mut page,
            "<p title=\"{{a}}\">{{a}}</p>",
            &[("a", "<script>\"'&")],
        );
        assert_eq!(
            page,
            "<p title=\"&lt;script&gt;&quot;&#39;&amp;\">&lt;script&gt;&quot;&#39;&amp;</p>"
        );
    }

    #[test]
    fn a_shell_without_the_template_is_never_filled() {
        let shell = Shell::new(Some("<html><title>x</title></html>".to_owned()));
        assert_eq!(shell.filled(&state("global", 1, 1)), None);
        let missing = Shell::new(None);
        assert_eq!(missing.filled(&state("global", 1, 1)), None);
        assert_eq!(missing.plain(), None);
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
