//! `cargo xtask test`: everything the test suite needs, then the suite itself.
//!
//! The tests use real parts (Redis, Chromium) and the browser tests load the built frontend
//! from `./dist`, so a plain `cargo test` on a fresh clone would fail for reasons that have
//! nothing to do with the code. This task installs and builds those first, then runs
//! `cargo test --workspace` and exits with its status.

use std::process::ExitCode;

use anyhow::{Context, Result};

use crate::workspace::{self, Workspace};
use crate::{frontend, system_packages, tools};

#[derive(clap::Args)]
pub struct Options {
    /// Passed on to `cargo test --workspace`, e.g. `-- -p backend -- --nocapture`.
    #[arg(last = true, value_name = "CARGO_TEST_ARGS")]
    cargo_test_args: Vec<String>,
}

pub fn test(workspace: &Workspace, options: &Options) -> Result<ExitCode> {
    workspace::step(
        "Checking the programs the tests start (redis-server, redis-cli, redis-sentinel, chromium, chromedriver)",
    );
    system_packages::ensure_test_programs(workspace)?;

    workspace::step("Checking the frontend tools");
    let tools = tools::ensure_frontend_tools(workspace)?;

    workspace::step("Building the frontend (release) into ./dist for the browser tests");
    frontend::build(workspace, &tools)?;

    workspace::step("Running cargo test --workspace");
    let mut cargo_test = workspace.cargo();
    cargo_test
        .args(["test", "--workspace"])
        .args(&options.cargo_test_args);
    let shown = workspace::display(&cargo_test);
    eprintln!("$ {shown}");
    let status = cargo_test
        .status()
        .with_context(|| format!("could not start `{shown}`"))?;
    // A test process killed by a signal has no exit code; it still failed.
    let code = status
        .code()
        .map_or(1, |code| u8::try_from(code).unwrap_or(1));
    Ok(ExitCode::from(code))
}
