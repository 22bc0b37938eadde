//! `cargo xtask bench`: the load generator and benchmark harness (issue 5).
//!
//! It starts its own `redis-server` (no persistence) and two release-built replicas on free
//! ports of 127.0.0.1, then measures, in this order:
//! 1. idle memory per WebSocket on one fresh replica ([`memory`]);
//! 2. fan-out latency and completeness ([`fanout`]), with subscribers in worker processes
//!    ([`worker`], `cargo xtask bench-worker`) spread over source addresses of 127.0.0.0/8;
//! 3. write throughput over WebSocket and REST against `redis-benchmark` running the same Lua
//!    script directly ([`writes`]);
//! 4. the frontend's weight and its time to the first value in headless Chromium
//!    ([`frontend`]).
//!
//! It prints a table and writes `target/bench/results.json`; a full run also writes the
//! results section of `BENCHMARKS.md` ([`report`]). `--quick` runs a small version of
//! everything. Every loop is bounded by a count or a timeout.

mod client;
mod cluster;
mod fanout;
mod frontend;
mod memory;
mod report;
mod worker;
mod writes;

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context, Result};
use serde::Serialize;

use crate::workspace::{self, Workspace};
use crate::{frontend as frontend_build, system_packages, tools};
use cluster::{ProcessSample, Redis, Replica, SourceAddresses};

pub use worker::{WorkerArgs, worker};

#[derive(clap::Args)]
pub struct Options {
    /// A small version of everything, in under a minute (after the builds); writes
    /// target/bench/results.json but leaves BENCHMARKS.md alone.
    #[arg(long)]
    quick: bool,
    /// Measure this backend binary instead of building target/release/backend: how an
    /// optimisation's before and after are compared. Leaves BENCHMARKS.md alone.
    #[arg(long, value_name = "PATH")]
    backend: Option<PathBuf>,
    /// Only this fan-out round (`10000:10`: 10,000 subscribers, 10 changes/s); repeatable.
    /// Nothing else runs and BENCHMARKS.md is left alone: for profiling one case.
    #[arg(long, value_name = "SUBSCRIBERS:RATE", value_parser = parse_round)]
    fanout: Vec<(usize, u32)>,
}

fn parse_round(text: &str) -> Result<(usize, u32), String> {
    let (subscribers, rate) = text
        .split_once(':')
        .ok_or_else(|| format!("expected SUBSCRIBERS:RATE, got {text}"))?;
    let number = |part: &str| part.trim().parse().map_err(|e| format!("{part}: {e}"));
    Ok((number(subscribers)?, number(rate)? as u32))
}

/// The sizes of one run.
#[derive(Clone, Serialize)]
pub struct Plan {
    pub quick: bool,
    /// Idle WebSockets open on one replica at each memory measurement (running totals).
    pub idle_connections: Vec<usize>,
    /// Fan-out rounds: each subscriber count with the change rates run against it.
    pub fanout: Vec<(usize, Vec<u32>)>,
    /// Only the fan-out rounds run (`--fanout`).
    pub fanout_only: bool,
    /// How long the writer makes changes in each fan-out round.
    pub fanout_seconds: f64,
    pub writers: Vec<usize>,
    /// How long each write-throughput measurement runs.
    pub write_seconds: f64,
    /// Requests `redis-benchmark` sends.
    pub redis_benchmark_requests: u64,
    /// Cold loads in Chromium.
    pub page_loads: usize,
}

impl Plan {
    fn new(options: &Options) -> Plan {
        if !options.fanout.is_empty() {
            let mut plan = Plan::new(&Options {
                quick: true,
                backend: None,
                fanout: Vec::new(),
            });
            plan.fanout = options
                .fanout
                .iter()
                .map(|&(subscribers, rate)| (subscribers, vec![rate]))
                .collect();
            plan.fanout_seconds = 5.0;
            plan.fanout_only = true;
            return plan;
        }
        if options.quick {
            Plan {
                quick: true,
                idle_connections: vec![1_000],
                fanout: vec![(1_000, vec![10, 1_000])],
                fanout_only: false,
                fanout_seconds: 2.0,
                writers: vec![1, 16],
                write_seconds: 1.5,
                redis_benchmark_requests: 20_000,
                page_loads: 2,
            }
        } else {
            Plan {
                quick: false,
                idle_connections: vec![10_000, 19_000],
                fanout: [1_000, 5_000, 10_000, 20_000]
                    .into_iter()
                    .map(|subscribers| (subscribers, vec![1, 10, 100, 1_000]))
                    .collect(),
                fanout_only: false,
                fanout_seconds: 5.0,
                writers: vec![1, 16, 256],
                write_seconds: 5.0,
                redis_benchmark_requests: 200_000,
                page_loads: 10,
            }
        }
    }
}

/// What every benchmark works with: the plan, the processes under test, and the source
/// addresses not yet used.
pub struct Bench<'a> {
    pub workspace: &'a Workspace,
    pub plan: Plan,
    pub redis: Redis,
    pub replicas: Vec<Replica>,
    pub sources: SourceAddresses,
    pub ticks_per_second: f64,
}

impl Bench<'_> {
    fn system_pids(&self) -> Processes {
        Processes {
            replicas: self.replicas.iter().map(Replica::pid).collect(),
            redis: self.redis.pid(),
            generator: vec![Some(std::process::id())],
        }
    }
}

/// The processes whose CPU time is split in the report.
struct Processes {
    replicas: Vec<Option<u32>>,
    redis: Option<u32>,
    /// The coordinator and its worker processes.
    generator: Vec<Option<u32>>,
}

struct Samples {
    at: Instant,
    replicas: u64,
    redis: u64,
    generator: u64,
}

impl Processes {
    fn sample(&self) -> Samples {
        let ticks = |pids: &[Option<u32>]| -> u64 {
            pids.iter().map(|pid| cluster::sample(*pid).cpu_ticks).sum()
        };
        Samples {
            at: Instant::now(),
            replicas: ticks(&self.replicas),
            redis: ticks(&[self.redis]),
            generator: ticks(&self.generator),
        }
    }
}

/// CPU used during a measurement, in percent of one core (200 % is all of a 2-core machine).
#[derive(Debug, Default, Serialize, Clone, Copy)]
pub struct CpuSplit {
    pub replicas_pct: f64,
    pub redis_pct: f64,
    pub generator_pct: f64,
}

impl CpuSplit {
    fn between(before: &Samples, after: &Samples, ticks_per_second: f64) -> CpuSplit {
        let wall = after.at.duration_since(before.at).as_secs_f64().max(0.001);
        let pct = |a: u64, b: u64| (b.saturating_sub(a) as f64 / ticks_per_second) / wall * 100.0;
        CpuSplit {
            replicas_pct: pct(before.replicas, after.replicas),
            redis_pct: pct(before.redis, after.redis),
            generator_pct: pct(before.generator, after.generator),
        }
    }
}

/// Everything one run measured; `target/bench/results.json` is this, serialised.
#[derive(Serialize)]
pub struct Results {
    pub machine: report::Machine,
    /// The backend binary measured.
    pub backend: PathBuf,
    pub plan: Plan,
    pub idle: Vec<memory::IdleResult>,
    pub fanout: Vec<fanout::FanoutResult>,
    pub writes: Option<writes::WriteResults>,
    pub frontend: Option<frontend::FrontendResult>,
    /// Phases that failed, with the reason: the run goes on and reports what it could.
    pub failures: Vec<String>,
}

pub fn bench(workspace: &Workspace, options: &Options) -> Result<()> {
    // `cargo xtask` runs a debug build of xtask, and a debug load generator would spend several
    // times the CPU the replicas do on a machine they share. So the benchmark runs from a release
    // build of xtask, which also starts the worker processes.
    if cfg!(debug_assertions) {
        workspace::step("Building xtask (release) to generate the load");
        workspace::run(
            workspace
                .cargo()
                .args(["build", "--release", "--package", "xtask"]),
        )?;
        let release = workspace
            .target_dir()
            .join("release")
            .join(format!("xtask{}", std::env::consts::EXE_SUFFIX));
        let mut command = workspace.command(&release);
        command.arg("bench");
        if options.quick {
            command.arg("--quick");
        }
        if let Some(backend) = &options.backend {
            command.arg("--backend").arg(backend);
        }
        for (subscribers, rate) in &options.fanout {
            command.arg(format!("--fanout={subscribers}:{rate}"));
        }
        return workspace::run(&mut command);
    }
    let plan = Plan::new(options);
    workspace::step("Checking redis-server, redis-benchmark, chromium and chromedriver");
    system_packages::ensure_test_programs(workspace)?;

    let dist = frontend_build::dist_dir(workspace);
    if dist.join("index.html").is_file() {
        eprintln!(
            "using the frontend already built in {} (`cargo xtask dist` rebuilds it)",
            dist.display()
        );
    } else {
        workspace::step("Building the frontend (release)");
        let tools = tools::ensure_frontend_tools(workspace)?;
        frontend_build::build(workspace, &tools)?;
    }

    let binary = match &options.backend {
        Some(binary) => std::path::absolute(binary)?,
        None => {
            workspace::step("Building the backend (release)");
            workspace::run(
                workspace
                    .cargo()
                    .args(["build", "--release", "--package", "backend"]),
            )?;
            workspace
                .target_dir()
                .join("release")
                .join(format!("backend{}", std::env::consts::EXE_SUFFIX))
        }
    };

    let out_dir = workspace.target_dir().join("bench");
    std::fs::create_dir_all(&out_dir)
        .with_context(|| format!("could not create {}", out_dir.display()))?;
    workspace::step(if plan.quick {
        "Benchmarking (quick)"
    } else {
        "Benchmarking (full run: several minutes)"
    });
    let results = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("could not start the tokio runtime")?
        .block_on(measure(workspace, plan, &binary, &out_dir))?;

    report::print_table(&results);
    // Another binary's results go beside the main ones, so that a before and after sit side
    // by side.
    let json = out_dir.join(match options.backend {
        Some(_) => "results-other-backend.json",
        None => "results.json",
    });
    std::fs::write(&json, serde_json::to_string_pretty(&results)?)?;
    eprintln!("\nwrote {}", json.display());
    if !results.plan.quick && !results.plan.fanout_only && options.backend.is_none() {
        let markdown = workspace.root().join("BENCHMARKS.md");
        report::write_markdown(&markdown, &results)?;
        eprintln!("wrote {}", markdown.display());
    }
    Ok(())
}

async fn measure(
    workspace: &Workspace,
    plan: Plan,
    binary: &std::path::Path,
    out_dir: &std::path::Path,
) -> Result<Results> {
    let machine = report::Machine::describe();
    let redis = Redis::start(out_dir).await?;
    let static_dir = frontend_build::dist_dir(workspace);
    let mut replicas = Vec::new();
    for index in 0..2 {
        let log = out_dir.join(format!("replica-{index}.log"));
        replicas.push(Replica::start(binary, &redis.url(), &static_dir, &log).await?);
    }
    let mut bench = Bench {
        workspace,
        plan: plan.clone(),
        redis,
        replicas,
        sources: SourceAddresses::new(),
        ticks_per_second: cluster::clock_ticks_per_second(),
    };
    let mut failures = Vec::new();
    let mut note = |phase: &str, error: anyhow::Error| {
        eprintln!("warning: the {phase} benchmark failed: {error:#}");
        failures.push(format!("{phase}: {error:#}"));
    };

    // `--fanout` runs the fan-out rounds alone.
    let all = !plan.fanout_only;
    let mut idle = Vec::new();
    if all {
        idle = memory::run(&mut bench)
            .await
            .map_err(|error| note("idle-memory", error))
            .unwrap_or_default();
    }
    let fanout = fanout::run(&mut bench)
        .await
        .map_err(|error| note("fan-out", error))
        .unwrap_or_default();
    let (mut writes, mut frontend) = (None, None);
    if all {
        writes = writes::run(&mut bench)
            .await
            .map_err(|error| note("write-throughput", error))
            .ok();
        frontend = frontend::run(&mut bench)
            .await
            .map_err(|error| note("frontend", error))
            .ok();
    }
    Ok(Results {
        machine,
        backend: binary.to_path_buf(),
        plan,
        idle,
        fanout,
        writes,
        frontend,
        failures,
    })
}

/// Resident memory of a process in bytes, now.
fn rss(pid: Option<u32>) -> u64 {
    let ProcessSample { rss_bytes, .. } = cluster::sample(pid);
    rss_bytes
}
