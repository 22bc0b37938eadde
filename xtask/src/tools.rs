//! Bootstrap of the frontend tool chain, from package registries only.
//!
//! Trunk downloads wasm-bindgen and wasm-opt from GitHub when they are missing, which fails on
//! machines that reach nothing but registries (see DESIGN.md, "Tooling (offline machines)").
//! So every tool is installed here beforehand, each only when missing, so that a second run
//! installs nothing and costs a few version probes:
//! - the `wasm32-unknown-unknown` target, through rustup;
//! - Trunk 0.21 (0.22 needs a newer rustc), through `cargo install`;
//! - wasm-bindgen-cli at exactly the version of `wasm-bindgen` in `Cargo.lock`, which Trunk
//!   requires to the patch version;
//! - wasm-opt from the npm package `binaryen`, because Debian's binaryen and the crates.io
//!   `wasm-opt` are too old to parse today's Rust wasm output. Without Node.js the frontend is
//!   built without wasm-opt (see [`crate::frontend`]).

use std::env;
use std::fs;
use std::path::PathBuf;

use anyhow::{Context, Result, bail};

use crate::workspace::{self, Workspace};

const WASM_TARGET: &str = "wasm32-unknown-unknown";
/// The Trunk release installed when no 0.21.x is found; tested offline with Yew 0.23.
const TRUNK_VERSION: &str = "0.21.14";
/// The Trunk minor series accepted when already installed.
const TRUNK_SERIES: &str = "0.21.";
/// The npm `binaryen` release whose `wasm-opt` is put on Trunk's `PATH`.
const BINARYEN_VERSION: &str = "132.0.0";

/// What the frontend build can use, as found or installed by [`ensure_frontend_tools`].
pub struct FrontendTools {
    /// Whether a working wasm-opt exists; Trunk runs it on release builds.
    pub wasm_opt: WasmOpt,
}

pub enum WasmOpt {
    /// The npm package's `wasm-opt`: a Node.js script in this folder, which goes first on
    /// Trunk's `PATH` so that no older system `wasm-opt` is picked up.
    Npm { bin_dir: PathBuf },
    /// No Node.js: the frontend is built without wasm-opt; the reason is shown to the user.
    Unavailable { reason: String },
}

/// Makes sure the wasm target, Trunk and wasm-bindgen-cli are installed, and wasm-opt too when
/// Node.js is there. Prints one line for each thing it installs.
pub fn ensure_frontend_tools(workspace: &Workspace) -> Result<FrontendTools> {
    ensure_wasm_target(workspace)?;
    // The two installs compile side by side: each spends minutes in steps that use one core
    // (a large crate, the final link), which the other fills.
    let (trunk, wasm_bindgen) = std::thread::scope(|scope| {
        let trunk = scope.spawn(|| ensure_trunk(workspace));
        let wasm_bindgen = ensure_wasm_bindgen(workspace);
        (trunk.join(), wasm_bindgen)
    });
    trunk.map_err(|_| anyhow::anyhow!("installing trunk panicked"))??;
    wasm_bindgen?;
    let wasm_opt = ensure_wasm_opt(workspace)?;
    Ok(FrontendTools { wasm_opt })
}

fn ensure_wasm_target(workspace: &Workspace) -> Result<()> {
    if workspace.find_program("rustup").is_none() {
        bail!(
            "rustup is not on PATH; install the {WASM_TARGET} target for your Rust toolchain \
             yourself, or install Rust through rustup"
        );
    }
    let installed =
        workspace::probe(
            workspace
                .command("rustup")
                .args(["target", "list", "--installed"]),
        )
        .context("`rustup target list --installed` failed")?;
    if installed.lines().any(|target| target.trim() == WASM_TARGET) {
        return Ok(());
    }
    eprintln!("installing the Rust target {WASM_TARGET}");
    workspace::run(
        workspace
            .command("rustup")
            .args(["target", "add", WASM_TARGET]),
    )
}

fn ensure_trunk(workspace: &Workspace) -> Result<()> {
    let installed = workspace::probe(workspace.command("trunk").arg("--version"));
    if installed
        .as_deref()
        .and_then(|output| tool_version(output, "trunk"))
        .is_some_and(|version| version.starts_with(TRUNK_SERIES))
    {
        return Ok(());
    }
    eprintln!("installing trunk {TRUNK_VERSION} (cargo install)");
    // Without default features: no `update_check`, which asks the internet for newer releases
    // at every start, and no TLS stack (rustls, ring), which only its downloads and
    // `trunk serve --tls` use. Unoptimised: Trunk mostly waits for cargo, wasm-bindgen and
    // wasm-opt, and its 370-odd crates are the longest part of a fresh machine's set-up.
    cargo_install(
        workspace,
        "trunk",
        TRUNK_VERSION,
        &["--no-default-features"],
        OptLevel::Unoptimised,
    )
}

fn ensure_wasm_bindgen(workspace: &Workspace) -> Result<()> {
    let lock_path = workspace.root().join("Cargo.lock");
    let lock = fs::read_to_string(&lock_path)
        .with_context(|| format!("could not read {}", lock_path.display()))?;
    let wanted = locked_version(&lock, "wasm-bindgen")
        .with_context(|| format!("{} has no wasm-bindgen package", lock_path.display()))?;
    let installed = workspace::probe(workspace.command("wasm-bindgen").arg("--version"));
    if installed
        .as_deref()
        .and_then(|output| tool_version(output, "wasm-bindgen"))
        == Some(wanted)
    {
        return Ok(());
    }
    eprintln!("installing wasm-bindgen-cli {wanted} (cargo install; must match Cargo.lock)");
    // Without default features, which are the TLS stack of the test runner's downloads.
    // Optimised: it rewrites the whole module on every frontend build (0.1 s of CPU optimised,
    // 0.5 s not), and it builds beside Trunk, which takes longer anyway.
    cargo_install(
        workspace,
        "wasm-bindgen-cli",
        wanted,
        &["--no-default-features"],
        OptLevel::Optimised,
    )
}

/// How the tools are compiled: never with the whole-program optimisation their own release
/// profiles ask for (Trunk's is fat LTO in one codegen unit, minutes of one core at the end of
/// its build), and optimised only where a frontend build would feel it (BENCHMARKS.md, "Cold
/// set-up"). Cargo's environment settings override a package's own profile.
const TOOL_PROFILE: [(&str, &str); 3] = [
    ("CARGO_PROFILE_RELEASE_LTO", "false"),
    ("CARGO_PROFILE_RELEASE_CODEGEN_UNITS", "16"),
    ("CARGO_PROFILE_RELEASE_DEBUG", "false"),
];

/// How much the compiler optimises a tool.
#[derive(Clone, Copy)]
enum OptLevel {
    /// `opt-level = 0`: the quickest build.
    Unoptimised,
    /// `opt-level = 1`: most of the speed for a fraction of the build time of 3.
    Optimised,
}

impl OptLevel {
    fn value(self) -> &'static str {
        match self {
            OptLevel::Unoptimised => "0",
            OptLevel::Optimised => "1",
        }
    }
}

/// `cargo install krate --version version` with [`TOOL_PROFILE`] and `opt_level`, first with
/// the crate's own lock file and, because that fails when the registry no longer has a locked
/// dependency, then without it.
fn cargo_install(
    workspace: &Workspace,
    krate: &str,
    version: &str,
    args: &[&str],
    opt_level: OptLevel,
) -> Result<()> {
    let install = |locked: bool| {
        let mut command = workspace.cargo();
        command
            .args(["install", krate, "--version", version])
            .args(args)
            .envs(TOOL_PROFILE)
            .env("CARGO_PROFILE_RELEASE_OPT_LEVEL", opt_level.value());
        if locked {
            command.arg("--locked");
        }
        workspace::run(&mut command)
    };
    install(true).or_else(|error| {
        eprintln!("{error:#}; retrying without --locked");
        install(false)
    })
}

fn ensure_wasm_opt(workspace: &Workspace) -> Result<WasmOpt> {
    if workspace.find_program("node").is_none() {
        return Ok(WasmOpt::Unavailable {
            reason: "Node.js (`node`) is not on PATH".to_owned(),
        });
    }
    let prefix = cache_dir()?.join("binaryen");
    let package = prefix.join("node_modules").join("binaryen");
    let bin_dir = package.join("bin");
    let installed = fs::read_to_string(package.join("package.json")).ok();
    let up_to_date = installed.as_deref().and_then(package_json_version) == Some(BINARYEN_VERSION)
        && bin_dir.join("wasm-opt").is_file();
    if up_to_date {
        return Ok(WasmOpt::Npm { bin_dir });
    }
    if workspace.find_program("npm").is_none() {
        return Ok(WasmOpt::Unavailable {
            reason: "npm is not on PATH".to_owned(),
        });
    }
    eprintln!(
        "installing wasm-opt (npm binaryen@{BINARYEN_VERSION}) into {}",
        prefix.display()
    );
    fs::create_dir_all(&prefix)
        .with_context(|| format!("could not create {}", prefix.display()))?;
    workspace::run(
        workspace
            .command("npm")
            .args(["install", "--no-audit", "--no-fund", "--prefix"])
            .arg(&prefix)
            .arg(format!("binaryen@{BINARYEN_VERSION}")),
    )?;
    Ok(WasmOpt::Npm { bin_dir })
}

/// Shared Counter's folder in the user's cache (`$XDG_CACHE_HOME`, else `~/.cache`): outside
/// the repository, so that it survives fresh clones and `cargo clean`.
fn cache_dir() -> Result<PathBuf> {
    let cache = env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .filter(|dir| dir.is_absolute())
        .or_else(|| env::var_os("HOME").map(|home| PathBuf::from(home).join(".cache")))
        .context("neither XDG_CACHE_HOME nor HOME is set; cannot choose a cache folder")?;
    Ok(cache.join("shared-counter"))
}

/// The version of `package` in a `Cargo.lock`: the `version` line of its `[[package]]` entry.
fn locked_version<'a>(lock: &'a str, package: &str) -> Option<&'a str> {
    let name_line = format!("name = \"{package}\"");
    let mut lines = lock.lines().map(str::trim);
    lines.by_ref().find(|line| *line == name_line)?;
    lines
        .take_while(|line| !line.is_empty() && *line != "[[package]]")
        .find_map(|line| line.strip_prefix("version = \"")?.strip_suffix('"'))
}

/// The version in a `--version` output of the form `name 1.2.3 [anything]`, as printed by Trunk
/// and wasm-bindgen.
fn tool_version<'a>(output: &'a str, name: &str) -> Option<&'a str> {
    let mut words = output.lines().next()?.split_whitespace();
    if words.next()? != name {
        return None;
    }
    words.next()
}

/// The top-level `"version"` of a `package.json`. npm writes it before any nested object that
/// could hold another `"version"` key, so the first one is the package's.
fn package_json_version(package_json: &str) -> Option<&str> {
    let after_key = package_json.split_once("\"version\"")?.1.trim_start();
    let value = after_key
        .strip_prefix(':')?
        .trim_start()
        .strip_prefix('"')?;
    Some(&value[..value.find('"')?])
}

#[cfg(test)]
mod tests {
    use super::*;

    const LOCK: &str = r#"
[[package]]
name = "wasm-bindfoo"
version = "9.9.9"

[[package]]
name = "wasm-bindgen"
version = "0.2.130"
source = "registry+https://github.com/rust-lang/crates.io-index"
dependencies = [
 "cfg-if",
]

[[package]]
name = "wasm-bindgen-macro"
version = "0.2.130"
"#;

    #[test]
    fn finds_the_locked_version_of_a_package() {
        assert_eq!(locked_version(LOCK, "wasm-bindgen"), Some("0.2.130"));
        assert_eq!(locked_version(LOCK, "wasm-bindfoo"), Some("9.9.9"));
    }

    #[test]
    fn a_package_missing_from_the_lock_has_no_version() {
        assert_eq!(locked_version(LOCK, "wasm"), None);
        assert_eq!(
            locked_version("[[package]]\nname = \"wasm\"\n\n[[package]]\n", "wasm"),
            None
        );
    }

    #[test]
    fn reads_tool_versions() {
        assert_eq!(tool_version("trunk 0.21.14\n", "trunk"), Some("0.21.14"));
        assert_eq!(
            tool_version("wasm-bindgen 0.2.130", "wasm-bindgen"),
            Some("0.2.130")
        );
        assert_eq!(
            tool_version("wasm-bindgen 0.2.130 (a1b2c3d)\n", "wasm-bindgen"),
            Some("0.2.130")
        );
        assert_eq!(tool_version("trunk-ng 0.21.14", "trunk"), None);
        assert_eq!(tool_version("", "trunk"), None);
        assert_eq!(tool_version("trunk\n0.21.14", "trunk"), None);
    }

    #[test]
    fn reads_the_top_level_package_json_version() {
        let json = r#"{
  "name": "binaryen",
  "version" : "132.0.0",
  "engines": { "version": "1" }
}"#;
        assert_eq!(package_json_version(json), Some("132.0.0"));
        assert_eq!(package_json_version(r#"{"name":"binaryen"}"#), None);
    }
}
