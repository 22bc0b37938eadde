//! `cargo xtask bench`: gets everything the load generator needs ready, then runs it.
//!
//! The generator is the `bench` crate beside this one. This task installs the programs it
//! starts, builds the frontend (unless `./dist` is there), the backend and the generator, all
//! in release (a debug load generator would spend several times the CPU the replicas do on a
//! machine they share), and runs the generator with the paths it measures and writes.

use std::path::PathBuf;

use anyhow::Result;

use crate::workspace::{self, Workspace};
use crate::{frontend, system_packages, tools};

#[derive(clap::Args)]
pub struct Options {
    /// A small version of everything, in a minute or two (after the builds); writes
    /// target/bench/results.json but leaves BENCHMARKS.md alone.
    #[arg(long)]
    quick: bool,
    /// Measure this backend binary instead of building target/release/backend: how an
    /// optimisation's before and after are compared. Leaves BENCHMARKS.md alone.
    #[arg(long, value_name = "PATH")]
    backend: Option<PathBuf>,
    /// Only this fan-out round (`10000:10`: 10,000 subscribers, 10 changes/s); repeatable.
    /// Nothing else runs and BENCHMARKS.md is left alone: for profiling one case.
    #[arg(long, value_name = "SUBSCRIBERS:RATE")]
    fanout: Vec<String>,
    /// Idle counters (one socket each) per replica beside which the fan-out rounds run again
    /// (with --fanout: those rounds; 0: none). Default: 10,000 in a full run, 2,000 quick.
    #[arg(long, value_name = "N")]
    idle_counters: Option<usize>,
    /// Only the click latency in browsers (K = 2 and 8 pages; with --quick, 10 clicks each).
    /// BENCHMARKS.md is left alone: for working on the page's hot path.
    #[arg(long, conflicts_with = "fanout")]
    clicks_only: bool,
    /// Only the write throughput, against one replica on the embedded store instead of two on
    /// Redis (with --quick, 1 and 16 writers). BENCHMARKS.md is left alone: for comparing the
    /// store's builds, with --backend for the other one.
    #[arg(long, conflicts_with_all = ["fanout", "clicks_only"])]
    embedded_writes: bool,
    /// Only the frontend: its weight and its cold loads in Chromium, stage by stage (10 loads;
    /// with --quick, 2). BENCHMARKS.md is left alone: for working on the page's start.
    #[arg(long, conflicts_with_all = ["fanout", "clicks_only", "embedded_writes"])]
    frontend_only: bool,
    /// Only the write phases: throughput, and what `--redis-wait-replicas 1` costs.
    /// BENCHMARKS.md is left alone.
    #[arg(long, conflicts_with_all = ["fanout", "clicks_only", "embedded_writes", "frontend_only"])]
    writes_only: bool,
}

pub fn bench(workspace: &Workspace, options: &Options) -> Result<()> {
    workspace::step("Checking redis-server, redis-benchmark, chromium and chromedriver");
    system_packages::ensure_test_programs(workspace)?;

    let dist = frontend::dist_dir(workspace);
    if dist.join("index.html").is_file() {
        eprintln!(
            "using the frontend already built in {} (`cargo xtask dist` rebuilds it)",
            dist.display()
        );
    } else {
        workspace::step("Building the frontend (release)");
        let tools = tools::ensure_frontend_tools(workspace)?;
        frontend::build(workspace, &tools)?;
    }

    let backend = match &options.backend {
        Some(binary) => std::path::absolute(binary)?,
        None => {
            workspace::step("Building the backend (release)");
            release_binary(workspace, "backend")?
        }
    };
    workspace::step("Building the load generator (release)");
    let generator = release_binary(workspace, "bench")?;

    let out_dir = workspace.target_dir().join("bench");
    // Another binary's results go beside the main ones, so that a before and after sit side by
    // side; and only the project's own backend has its figures written into BENCHMARKS.md.
    let results = out_dir.join(match options.backend {
        Some(_) => "results-other-backend.json",
        None => "results.json",
    });
    workspace::step(if options.clicks_only {
        "Benchmarking click latency in browsers"
    } else if options.embedded_writes {
        "Benchmarking writes on the embedded store"
    } else if options.frontend_only {
        "Benchmarking the frontend's cold loads"
    } else if options.writes_only {
        "Benchmarking writes"
    } else if options.quick || !options.fanout.is_empty() {
        "Benchmarking (quick)"
    } else {
        "Benchmarking (full run: several minutes)"
    });
    let mut command = workspace.command(&generator);
    command
        .arg("--backend")
        .arg(&backend)
        .arg("--static-dir")
        .arg(&dist)
        .arg("--log-dir")
        .arg(&out_dir)
        .arg("--results")
        .arg(&results);
    if options.backend.is_none() {
        command
            .arg("--markdown")
            .arg(workspace.root().join("BENCHMARKS.md"));
    }
    if options.quick {
        command.arg("--quick");
    }
    if options.clicks_only {
        command.arg("--clicks-only");
    }
    if options.embedded_writes {
        command.arg("--embedded-writes");
    }
    if options.frontend_only {
        command.arg("--frontend-only");
    }
    if options.writes_only {
        command.arg("--writes-only");
    }
    for round in &options.fanout {
        command.arg(format!("--fanout={round}"));
    }
    if let Some(idle_counters) = options.idle_counters {
        command.arg(format!("--idle-counters={idle_counters}"));
    }
    workspace::run(&mut command)
}

/// Builds `package`'s binary of the same name in release and returns its path.
fn release_binary(workspace: &Workspace, package: &str) -> Result<PathBuf> {
    workspace::run(
        workspace
            .cargo()
            .args(["build", "--release", "--package", package]),
    )?;
    Ok(workspace
        .target_dir()
        .join("release")
        .join(format!("{package}{}", std::env::consts::EXE_SUFFIX)))
}
