//! The workspace that `cargo xtask` automates, and how programs are started inside it.
//!
//! Every child process runs at the workspace root (where `Trunk.toml`, `index.html` and
//! `Cargo.lock` live) with a `PATH` that starts with cargo's bin directory: `cargo install`
//! puts Trunk and wasm-bindgen there, and a fresh Rust installation does not always have that
//! directory on `PATH`. Since `std::env::set_var` is unsafe (and unsafe code is forbidden), the
//! `PATH` travels in [`Workspace`] and is set on each [`Command`] instead.

use std::env;
use std::ffi::{OsStr, OsString};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{Context, Result, bail};

/// The workspace root plus the program search path its child processes get.
pub struct Workspace {
    /// The directory holding the root `Cargo.toml`; every child process starts here.
    root: PathBuf,
    /// Directories searched for programs, in order: extra tool folders first, then cargo's bin
    /// directory, then the inherited `PATH`. Children get it as their `PATH`.
    search_path: Vec<PathBuf>,
}

impl Workspace {
    /// Finds the workspace from where xtask's own sources were compiled: xtask is always the
    /// `xtask/` folder of the workspace root.
    pub fn locate() -> Result<Workspace> {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"))
            .parent()
            .context("xtask's manifest directory has no parent")?
            .to_path_buf();
        let mut search_path: Vec<PathBuf> = cargo_bin_dir().into_iter().collect();
        search_path.extend(env::split_paths(&env::var_os("PATH").unwrap_or_default()));
        Ok(Workspace { root, search_path })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The same workspace, with `dir` searched before everything else: how a tool that is not
    /// installed globally (the npm `wasm-opt`) is handed to one child process.
    pub fn with_first_on_path(&self, dir: &Path) -> Workspace {
        let mut search_path = vec![dir.to_path_buf()];
        search_path.extend(self.search_path.iter().cloned());
        Workspace {
            root: self.root.clone(),
            search_path,
        }
    }

    /// Where `program` would be found on the search path, if anywhere.
    pub fn find_program(&self, program: &str) -> Option<PathBuf> {
        self.search_path
            .iter()
            .map(|dir| dir.join(program))
            .find(|candidate| is_executable(candidate))
    }

    /// A command for `program` (a name to look up on the search path, or a path), started at
    /// the workspace root with the workspace's `PATH`.
    ///
    /// Names are resolved here because whether `std` searches the parent's or the child's
    /// `PATH` is platform-specific.
    pub fn command(&self, program: impl AsRef<Path>) -> Command {
        let program = program.as_ref();
        let found = match program.to_str() {
            Some(name) if program.components().count() == 1 => self.find_program(name),
            _ => None,
        };
        let mut command = Command::new(found.as_deref().unwrap_or(program));
        command
            .current_dir(&self.root)
            .env("PATH", self.path_variable());
        command
    }

    /// A command for the cargo that started xtask (`$CARGO`), so the toolchain stays the same.
    pub fn cargo(&self) -> Command {
        match env::var_os("CARGO") {
            Some(cargo) => {
                let mut command = Command::new(cargo);
                command
                    .current_dir(&self.root)
                    .env("PATH", self.path_variable());
                command
            }
            None => self.command("cargo"),
        }
    }

    /// Cargo's target directory: `$CARGO_TARGET_DIR` if set, else `<root>/target`.
    pub fn target_dir(&self) -> PathBuf {
        match env::var_os("CARGO_TARGET_DIR") {
            Some(dir) => self.root.join(dir),
            None => self.root.join("target"),
        }
    }

    fn path_variable(&self) -> OsString {
        // Joining fails only if a directory name contains the separator (`:`); then the
        // inherited `PATH` is the best that can be done.
        env::join_paths(&self.search_path)
            .unwrap_or_else(|_| env::var_os("PATH").unwrap_or_default())
    }
}

/// Prints the header of one step of a task, so a long build says what it is doing.
pub fn step(title: &str) {
    eprintln!("\n==> {title}");
}

/// Runs `command` to completion with its output on the terminal; fails unless it succeeds.
pub fn run(command: &mut Command) -> Result<()> {
    let shown = display(command);
    eprintln!("$ {shown}");
    let status = command
        .status()
        .with_context(|| format!("could not start `{shown}`"))?;
    if !status.success() {
        bail!("`{shown}` failed ({status})");
    }
    Ok(())
}

/// The standard output of `command` if it starts and succeeds; `None` otherwise. For probes
/// such as `trunk --version`, where failing just means "not installed".
pub fn probe(command: &mut Command) -> Option<String> {
    let output = command
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .ok()?;
    output
        .status
        .success()
        .then(|| String::from_utf8_lossy(&output.stdout).into_owned())
}

/// `command` as a person would type it: the program's file name and the arguments.
pub fn display(command: &Command) -> String {
    let program = Path::new(command.get_program());
    let program = program.file_name().unwrap_or(program.as_os_str());
    std::iter::once(program)
        .chain(command.get_args())
        .map(OsStr::to_string_lossy)
        .collect::<Vec<_>>()
        .join(" ")
}

/// Where `cargo install` puts binaries: `$CARGO_HOME/bin`, by default `~/.cargo/bin`.
fn cargo_bin_dir() -> Option<PathBuf> {
    let cargo_home = env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| env::var_os("HOME").map(|home| PathBuf::from(home).join(".cargo")))?;
    Some(cargo_home.join("bin"))
}

#[cfg(unix)]
fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    path.metadata()
        .is_ok_and(|meta| meta.is_file() && meta.permissions().mode() & 0o111 != 0)
}

#[cfg(not(unix))]
fn is_executable(path: &Path) -> bool {
    path.is_file()
}
