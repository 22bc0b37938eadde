//! `bench`: Shared Counter's load generator and benchmark harness (issue 5), run by
//! `cargo xtask bench`, which installs the programs it starts, builds the frontend, the backend
//! and this binary (release), and hands over their paths.
//!
//! It starts its own `redis-server` (no persistence) and two replicas on free ports of
//! 127.0.0.1, then measures, in this order:
//! 1. idle memory per WebSocket on one fresh replica ([`memory`]);
//! 2. fan-out latency and completeness ([`fanout`]), with subscribers in worker processes
//!    ([`worker`], `bench worker`, driven through [`workers`]) spread over source addresses of
//!    127.0.0.0/8; then the same rounds from blocking writers instead of the replicas
//!    ([`fanout_floor`], [`blocking_writer`]), the floor a replica's CPU per frame is quoted
//!    against; then the same at 1,000 subscribers while each replica also serves 10,000 idle
//!    counters ([`idle_counters`]);
//! 3. write throughput over WebSocket and REST against `redis-benchmark` running the same Lua
//!    script directly ([`writes`]), and what acknowledging a change only once a Redis replica
//!    holds it costs (`--redis-wait-replicas 1`, [`replicated`]);
//! 4. the frontend's weight and its time to the first value in headless Chromium
//!    ([`frontend`]);
//! 5. click latency: K Chromium pages of one counter over both replicas, one clicked, where
//!    the time goes until every other page shows the click ([`clicks`], reading what a probe
//!    in each page records: [`page_log`]), against plain WebSocket clients ([`floor`]), with
//!    the app, a plain page ([`plain_page`]) and, when Node.js is installed, a socket.io page
//!    on two socket.io servers over the same Redis ([`socketio`], compared in
//!    [`beside_socketio`]).
//!
//! It prints a table and writes the results as JSON; a full run also writes the results section
//! of `BENCHMARKS.md` ([`report`]), judged against the targets ([`targets`]). `--quick` runs a
//! small version of everything; `--fanout`, `--clicks-only`, `--frontend-only`, `--writes-only`
//! and `--embedded-writes` (the write throughput against one replica on the embedded store) run
//! one phase. Every loop is bounded by a count or a timeout.
//!
//! The rest: [`plan`] (the sizes of a run), [`harness`] (what every phase works with),
//! [`cluster`] (Redis and the replicas), [`client`] (the WebSocket client), [`chromium`]
//! (browsers through chromedriver), [`load_stages`] (the stages of a cold load), [`latency`] (the shared clock, histograms and
//! percentiles), [`usage`] (CPU and memory from `/proc`) and [`results`].
//! Modules depend on each other in one direction only: phases on the harness and the parts
//! below it, [`results`] on the phases, [`targets`] on [`results`], [`report`] on both.

mod beside_socketio;
mod blocking_writer;
mod chromium;
mod clicks;
mod client;
mod cluster;
mod fanout;
mod fanout_floor;
mod floor;
mod frontend;
mod harness;
mod idle_counters;
mod latency;
mod load_stages;
mod memory;
mod page_log;
mod plain_page;
mod plan;
mod replicated;
mod report;
mod results;
mod socketio;
mod targets;
mod usage;
mod worker;
mod workers;
mod writes;

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};

use crate::harness::{Bench, Paths};
use crate::plan::{Plan, Scope};
use crate::results::{Machine, Results};

/// Shared Counter's load generator: start with `cargo xtask bench`, which builds what it
/// measures and passes the paths.
#[derive(Parser)]
#[command(name = "bench", args_conflicts_with_subcommands = true)]
struct Cli {
    /// What a benchmark run measures and where it writes (the coordinator's options).
    #[command(flatten)]
    options: Options,
    /// `worker` or `blocking-writer` when started by the coordinator as one of its processes.
    #[command(subcommand)]
    role: Option<Role>,
}

#[derive(Subcommand)]
enum Role {
    /// One load-generator process of the benchmark (started by it, not by people).
    #[command(name = worker::WORKER_COMMAND, hide = true)]
    Worker(worker::WorkerArgs),
    /// The fan-out's floor: a blocking writer of state frames (started by the benchmark).
    #[command(name = blocking_writer::COMMAND, hide = true)]
    BlockingWriter(blocking_writer::Args),
}

#[derive(clap::Args)]
struct Options {
    /// A small version of everything, in a minute or two; never writes BENCHMARKS.md.
    #[arg(long)]
    quick: bool,
    /// Only this fan-out round (`10000:10`: 10,000 subscribers, 10 changes/s); repeatable.
    /// Nothing else runs and BENCHMARKS.md is left alone: for profiling one case.
    #[arg(long, value_name = "SUBSCRIBERS:RATE", value_parser = plan::parse_round)]
    fanout: Vec<(usize, u32)>,
    /// Idle counters (one socket each) per replica beside which the fan-out rounds run again
    /// (with `--fanout`: those rounds; 0: none). Default: 10,000 in a full run, 2,000 quick.
    #[arg(long, value_name = "N")]
    idle_counters: Option<usize>,
    /// Only the click latency in browsers (K = 2 and 8 pages; with `--quick`, 10 clicks
    /// each). BENCHMARKS.md is left alone: for working on the page's hot path.
    #[arg(long, conflicts_with = "fanout")]
    clicks_only: bool,
    /// Only the write throughput, against one replica on the embedded store (a fresh data
    /// folder under the log folder) instead of two on Redis; with `--quick`, 1 and 16 writers.
    /// BENCHMARKS.md is left alone: for comparing the store's builds.
    #[arg(long, conflicts_with_all = ["fanout", "clicks_only"])]
    embedded_writes: bool,
    /// Only the frontend: its weight and its cold loads in Chromium, stage by stage (10 loads;
    /// with `--quick`, 2). BENCHMARKS.md is left alone: for working on the page's start.
    #[arg(long, conflicts_with_all = ["fanout", "clicks_only", "embedded_writes"])]
    frontend_only: bool,
    /// Only the write phases: throughput, and the cost of `--redis-wait-replicas 1`.
    /// BENCHMARKS.md is left alone.
    #[arg(long, conflicts_with_all = ["fanout", "clicks_only", "embedded_writes", "frontend_only"])]
    writes_only: bool,
    /// The backend binary to measure.
    #[arg(long, value_name = "PATH", required = true)]
    backend: Option<PathBuf>,
    /// The built frontend (`dist/`) the replicas serve.
    #[arg(long, value_name = "DIR", required = true)]
    static_dir: Option<PathBuf>,
    /// Where the Redis and replica logs go.
    #[arg(long, value_name = "DIR", required = true)]
    log_dir: Option<PathBuf>,
    /// Where the results go, as JSON.
    #[arg(long, value_name = "PATH", required = true)]
    results: Option<PathBuf>,
    /// The Markdown file whose results section a full run replaces (BENCHMARKS.md).
    #[arg(long, value_name = "PATH")]
    markdown: Option<PathBuf>,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let outcome = match cli.role {
        Some(Role::Worker(args)) => worker::worker(&args),
        Some(Role::BlockingWriter(args)) => blocking_writer::run(&args),
        None => bench(cli.options),
    };
    // Errors are printed as one line of context chain, like xtask's own.
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

fn bench(options: Options) -> Result<()> {
    let mut plan = if !options.fanout.is_empty() {
        Plan::fanout_only(&options.fanout)
    } else if options.quick {
        Plan::quick()
    } else {
        Plan::full()
    };
    if let Some(idle_counters) = options.idle_counters {
        plan.idle_counters = idle_counters;
    }
    let plan = if options.clicks_only {
        Plan::clicks_only(plan)
    } else if options.embedded_writes {
        Plan::embedded_writes(plan)
    } else if options.frontend_only {
        Plan::frontend_only(plan)
    } else if options.writes_only {
        Plan::writes_only(plan)
    } else {
        plan
    };
    // Clap has checked that the required options are there.
    let required = |path: Option<PathBuf>| path.context("a required path is missing");
    let paths = Paths {
        backend: std::path::absolute(required(options.backend)?)?,
        static_dir: required(options.static_dir)?,
        log_dir: required(options.log_dir)?,
    };
    let results_path = required(options.results)?;
    std::fs::create_dir_all(&paths.log_dir)
        .with_context(|| format!("could not create {}", paths.log_dir.display()))?;

    let results = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("could not start the tokio runtime")?
        .block_on(measure(plan, &paths))?;

    report::print_table(&results);
    std::fs::write(&results_path, serde_json::to_string_pretty(&results)?)
        .with_context(|| format!("could not write {}", results_path.display()))?;
    eprintln!("\nwrote {}", results_path.display());
    if let Some(markdown) = options.markdown
        && results.plan.is_full()
    {
        report::write_markdown(&markdown, &results)?;
        eprintln!("wrote {}", markdown.display());
    }
    Ok(())
}

/// Runs every phase of `plan`; a phase that fails is noted and the run goes on.
async fn measure(plan: Plan, paths: &Paths) -> Result<Results> {
    let machine = Machine::describe();
    let mut bench = Bench::start(plan.clone(), paths).await?;
    let mut failures = Vec::new();
    let mut left_out = Vec::new();
    let mut note = |phase: &str, error: anyhow::Error| {
        eprintln!("warning: the {phase} benchmark failed: {error:#}");
        failures.push(format!("{phase}: {error:#}"));
    };

    let all = matches!(plan.scope, Scope::Full | Scope::Quick);
    let mut idle = Vec::new();
    if all {
        idle = memory::run(&mut bench)
            .await
            .map_err(|error| note("idle-memory", error))
            .unwrap_or_default();
    }
    let (mut fanout, mut fanout_idle) = (Vec::new(), None);
    if all || plan.scope == Scope::FanoutOnly {
        fanout = fanout::run(&mut bench)
            .await
            .map_err(|error| note("fan-out", error))
            .unwrap_or_default();
        fanout_idle = idle_counters::run(&mut bench)
            .await
            .map_err(|error| note("fan-out beside idle counters", error))
            .unwrap_or_default();
    }
    let (mut writes, mut frontend, mut replicated) = (None, None, Vec::new());
    if all || matches!(plan.scope, Scope::WritesOnly | Scope::EmbeddedWrites) {
        writes = writes::run(&mut bench)
            .await
            .map_err(|error| note("write-throughput", error))
            .ok();
    }
    if all || plan.scope == Scope::WritesOnly {
        replicated = replicated::run(&mut bench, paths)
            .await
            .map_err(|error| note("replicated-writes", error))
            .unwrap_or_default();
    }
    if all || plan.scope == Scope::FrontendOnly {
        frontend = frontend::run(&mut bench)
            .await
            .map_err(|error| note("frontend", error))
            .ok();
    }
    let mut clicks = Vec::new();
    if all || plan.scope == Scope::ClicksOnly {
        // The socket.io servers live until the run ends, which kills them.
        let mut socketio = None;
        if let Some(missing) = socketio::missing_programs() {
            eprintln!("note: left out {missing}");
            left_out.push(missing);
        } else {
            socketio = socketio::Servers::start(
                &bench.redis.url(),
                &paths.log_dir.join("socketio"),
                &paths.log_dir,
                bench.replicas.len(),
            )
            .await
            .map_err(|error| note("socket.io servers", error))
            .ok();
        }
        clicks = clicks::run(&mut bench, socketio.as_ref())
            .await
            .map_err(|error| note("click-latency", error))
            .unwrap_or_default();
    }
    let clicks_beside_socketio = beside_socketio::compare(&clicks);
    Ok(Results {
        machine,
        backend: paths.backend.clone(),
        plan,
        idle,
        fanout,
        fanout_idle,
        writes,
        replicated,
        frontend,
        clicks,
        clicks_beside_socketio,
        failures,
        left_out,
    })
}
