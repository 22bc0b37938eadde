//! The frontend build: Trunk turns `index.html` + `frontend/` into the static files of `./dist`,
//! which the backend serves (`STATIC_DIR`) and the browser tests load.
//!
//! Skipped when nothing it reads changed since its last successful build
//! ([`crate::freshness`]), so a warm `cargo xtask run` starts in seconds.
//!
//! Always a release build, offline (every tool was installed beforehand by [`crate::tools`]),
//! at the workspace root where `Trunk.toml` and `index.html` live.
//!
//! Without Node.js there is no working wasm-opt, and Trunk would fail trying to download one.
//! Trunk has no flag to skip wasm-opt: only the `data-wasm-opt` attribute of the Rust link in
//! the HTML does (`"0"` is off; leaving it out means "default level" in release). So that case
//! builds from a generated copy of `index.html` with `data-wasm-opt="0"`, written next to the
//! original so its relative paths still resolve, and removed afterwards.

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

use crate::freshness::Inputs;
use crate::tools::{FrontendTools, WasmOpt};
use crate::workspace::{self, Workspace};

/// The generated copy of `index.html` used when wasm-opt is unavailable.
const NO_WASM_OPT_HTML: &str = ".index.no-wasm-opt.html";
/// The attribute value that turns wasm-opt off for a Trunk Rust link.
const WASM_OPT_OFF: &str = r#"data-wasm-opt="0""#;

/// Where the built frontend goes; the backend serves this folder.
pub fn dist_dir(workspace: &Workspace) -> PathBuf {
    workspace.root().join("dist")
}

/// Builds the frontend in release mode into [`dist_dir`].
pub fn build(workspace: &Workspace, tools: &FrontendTools) -> Result<()> {
    let index = workspace.root().join("index.html");
    if !index.is_file() {
        bail!(
            "{} is missing: it is Trunk's entry point for the frontend",
            index.display()
        );
    }
    let dist = dist_dir(workspace);
    let inputs = inputs(workspace, tools);
    if inputs.unchanged() && dist.join("index.html").is_file() {
        eprintln!(
            "the frontend is unchanged since it was last built into {}",
            dist.display()
        );
        return Ok(());
    }
    inputs.forget();
    // The target HTML goes right after `build`: `--release` and `--offline` take an optional
    // value and would swallow a positional argument that follows them.
    let trunk_build = |workspace: &Workspace, target: &str| {
        let mut command = workspace.command("trunk");
        command
            .args(["build", target, "--release", "--offline", "--dist"])
            .arg(&dist);
        command
    };
    match &tools.wasm_opt {
        WasmOpt::Npm { bin_dir } => {
            let workspace = workspace.with_first_on_path(bin_dir);
            workspace::run(&mut trunk_build(&workspace, "index.html"))?;
        }
        WasmOpt::Unavailable { reason } => {
            eprintln!(
                "warning: building the frontend WITHOUT wasm-opt because {reason}; the .wasm \
                 will be noticeably larger. Install Node.js and npm (Debian: \
                 `apt-get install nodejs npm`) and rerun to optimise it."
            );
            let html = fs::read_to_string(&index)
                .with_context(|| format!("could not read {}", index.display()))?;
            let copy = workspace.root().join(NO_WASM_OPT_HTML);
            let _copy = TemporaryFile::write(&copy, &without_wasm_opt(&html)?)?;
            workspace::run(
                trunk_build(workspace, NO_WASM_OPT_HTML).args(["--html-output", "index.html"]),
            )?;
        }
    }
    report_wasm_sizes(&dist);
    inputs.record_built()
}

/// What the build reads: Trunk's entry and settings, the app and the crates it uses, the PWA
/// files, the lock file; and whether wasm-opt runs.
fn inputs(workspace: &Workspace, tools: &FrontendTools) -> Inputs {
    let root = workspace.root();
    let paths = [
        "index.html",
        "Trunk.toml",
        "Cargo.toml",
        "Cargo.lock",
        "frontend",
        "shared",
        "pwa",
    ]
    .iter()
    .map(|path| root.join(path))
    .collect();
    let wasm_opt = match &tools.wasm_opt {
        WasmOpt::Npm { bin_dir } => format!("wasm-opt in {}", bin_dir.display()),
        WasmOpt::Unavailable { .. } => "no wasm-opt".to_owned(),
    };
    let record = workspace.target_dir().join("xtask").join("frontend-inputs");
    Inputs::new(paths, record, wasm_opt)
}

/// Prints the size of each `.wasm` file in `dist`: what phones download, and what wasm-opt
/// saves.
fn report_wasm_sizes(dist: &Path) {
    let Ok(entries) = fs::read_dir(dist) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path
            .extension()
            .is_some_and(|extension| extension == "wasm")
        {
            let size = entry.metadata().map(|meta| meta.len()).unwrap_or_default();
            eprintln!("built {} ({} KiB)", path.display(), size.div_ceil(1024));
        }
    }
}

/// `html` with wasm-opt turned off on every Trunk Rust link (`<link data-trunk rel="rust" …>`).
fn without_wasm_opt(html: &str) -> Result<String> {
    let mut result = String::with_capacity(html.len() + WASM_OPT_OFF.len() + 1);
    let mut rest = html;
    let mut rust_links = 0;
    while let Some(start) = rest.find("<link") {
        let end = rest[start..]
            .find('>')
            .map_or(rest.len(), |offset| start + offset + 1);
        let tag = &rest[start..end];
        result.push_str(&rest[..start]);
        if is_trunk_rust_link(tag) {
            result.push_str(&with_wasm_opt_off(tag));
            rust_links += 1;
        } else {
            result.push_str(tag);
        }
        rest = &rest[end..];
    }
    result.push_str(rest);
    if rust_links == 0 {
        bail!(r#"index.html has no <link data-trunk rel="rust" …>; cannot turn wasm-opt off"#);
    }
    Ok(result)
}

fn is_trunk_rust_link(tag: &str) -> bool {
    tag.contains("data-trunk")
        && [r#"rel="rust""#, "rel='rust'", "rel=rust"]
            .iter()
            .any(|rel| tag.contains(rel))
}

/// `tag` (one `<link …>`) with its `data-wasm-opt` attribute set to `"0"`, added if absent.
fn with_wasm_opt_off(tag: &str) -> String {
    const ATTRIBUTE: &str = "data-wasm-opt";
    let mut search_from = 0;
    while let Some(offset) = tag[search_from..].find(ATTRIBUTE) {
        let start = search_from + offset;
        let after_name = start + ATTRIBUTE.len();
        let end = match tag[after_name..].chars().next() {
            // Another attribute, such as `data-wasm-opt-params`.
            Some('-') => {
                search_from = after_name;
                continue;
            }
            Some('=') => after_name + 1 + value_len(&tag[after_name + 1..]),
            // A bare `data-wasm-opt`, which means the default level.
            _ => after_name,
        };
        return format!("{}{WASM_OPT_OFF}{}", &tag[..start], &tag[end..]);
    }
    format!("<link {WASM_OPT_OFF}{}", &tag["<link".len()..])
}

/// The length of the HTML attribute value at the start of `text`, quotes included.
fn value_len(text: &str) -> usize {
    match text.chars().next() {
        Some(quote @ ('"' | '\'')) => text[1..].find(quote).map_or(text.len(), |len| len + 2),
        _ => text
            .find(|c: char| c.is_whitespace() || c == '>' || c == '/')
            .unwrap_or(text.len()),
    }
}

/// A file that is deleted when dropped, so that the generated HTML does not outlive the build,
/// whether it succeeds or fails.
struct TemporaryFile(PathBuf);

impl TemporaryFile {
    fn write(path: &Path, contents: &str) -> Result<TemporaryFile> {
        fs::write(path, contents).with_context(|| format!("could not write {}", path.display()))?;
        Ok(TemporaryFile(path.to_path_buf()))
    }
}

impl Drop for TemporaryFile {
    fn drop(&mut self) {
        let _ = fs::remove_file(&self.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn adds_wasm_opt_off_to_a_rust_link_without_it() {
        let html = r#"<head><link data-trunk rel="css" href="a.css"/>
<link data-trunk rel="rust" href="frontend/Cargo.toml" data-bin="frontend"/></head>"#;
        assert_eq!(
            without_wasm_opt(html).unwrap(),
            r#"<head><link data-trunk rel="css" href="a.css"/>
<link data-wasm-opt="0" data-trunk rel="rust" href="frontend/Cargo.toml" data-bin="frontend"/></head>"#
        );
    }

    #[test]
    fn replaces_any_wasm_opt_level_but_keeps_its_params() {
        for level in [r#""z""#, "'s'", "4", r#""""#] {
            let html = format!(
                r#"<link data-trunk rel="rust" data-wasm-opt-params="--enable-bulk-memory" data-wasm-opt={level} />"#
            );
            assert_eq!(
                without_wasm_opt(&html).unwrap(),
                r#"<link data-trunk rel="rust" data-wasm-opt-params="--enable-bulk-memory" data-wasm-opt="0" />"#
            );
        }
        assert_eq!(
            without_wasm_opt(r#"<link data-trunk rel="rust" data-wasm-opt>"#).unwrap(),
            r#"<link data-trunk rel="rust" data-wasm-opt="0">"#
        );
    }

    #[test]
    fn rewrites_a_link_spread_over_lines() {
        let html = "<link\n  data-trunk\n  rel=\"rust\"\n  data-wasm-opt=\"z\"\n/>\n<p>a > b</p>";
        assert_eq!(
            without_wasm_opt(html).unwrap(),
            "<link\n  data-trunk\n  rel=\"rust\"\n  data-wasm-opt=\"0\"\n/>\n<p>a > b</p>"
        );
    }

    #[test]
    fn html_without_a_rust_link_is_refused() {
        assert!(without_wasm_opt(r#"<link rel="manifest" href="m.json">"#).is_err());
    }
}
