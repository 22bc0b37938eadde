//! `cargo xtask`: Shared Counter's project automation, in Rust instead of Makefiles or shell
//! (matklad's cargo-xtask pattern; the alias lives in `.cargo/config.toml`).
//!
//! The machines this project is built on reach only package registries, so every task first
//! makes sure the tools it needs are installed from a registry ([`tools`],
//! [`system_packages`]) and only then builds or runs anything. Layout:
//! - [`workspace`]: where the workspace is and how programs are started inside it;
//! - [`tools`]: the frontend tool chain (wasm target, Trunk, wasm-bindgen, wasm-opt);
//! - [`system_packages`]: the Debian packages the tests need (Redis, Chromium);
//! - [`frontend`]: the Trunk build into `./dist`, skipped when its inputs are unchanged
//!   ([`freshness`]);
//! - [`run`], [`test`]: the `run` and `test` tasks; [`load_balancer`] and [`redis_cluster`]
//!   start nginx and a local Redis Cluster for `run`;
//! - [`bench`]: builds what the benchmark measures and runs the load generator (the `bench`
//!   crate beside this one).

mod bench;
mod freshness;
mod frontend;
mod load_balancer;
mod redis_cluster;
mod run;
mod system_packages;
mod test;
mod tools;
mod workspace;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::workspace::Workspace;

/// Shared Counter's project automation.
#[derive(Parser)]
#[command(name = "cargo xtask", bin_name = "cargo xtask")]
struct Cli {
    /// The one task this invocation performs.
    #[command(subcommand)]
    task: Task,
}

#[derive(Subcommand)]
enum Task {
    /// Build the frontend and the backend, then start the server(s) until Ctrl-C.
    Run(run::Options),
    /// Install what the tests need, build the frontend, then run `cargo test --workspace`.
    Test(test::Options),
    /// Install the frontend tools and build the frontend into ./dist.
    Dist,
    /// Start Redis and two release replicas, measure fan-out, write throughput, idle memory
    /// and the frontend; print a table, write target/bench/results.json and BENCHMARKS.md.
    Bench(bench::Options),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // Errors are printed as one line of context chain: they are messages for a person at a
    // terminal, so a backtrace (which anyhow adds when RUST_BACKTRACE is set) would bury them.
    match Workspace::locate().and_then(|workspace| perform(&workspace, cli.task)) {
        Ok(code) => code,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

fn perform(workspace: &Workspace, task: Task) -> anyhow::Result<ExitCode> {
    match task {
        Task::Run(options) => run::run(workspace, &options)?,
        Task::Test(options) => return test::test(workspace, &options),
        Task::Bench(options) => bench::bench(workspace, &options)?,
        Task::Dist => {
            workspace::step("Checking the frontend tools");
            let tools = tools::ensure_frontend_tools(workspace)?;
            workspace::step("Building the frontend (release)");
            frontend::build(workspace, &tools)?;
        }
    }
    Ok(ExitCode::SUCCESS)
}
