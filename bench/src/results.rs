//! Everything one run measured, and the machine it ran on: `target/bench/results.json` is a
//! [`Results`], serialised.

use std::path::PathBuf;

use serde::Serialize;

use crate::beside_socketio::BesideSocketIo;
use crate::clicks::ClickResult;
use crate::fanout::FanoutResult;
use crate::frontend::FrontendResult;
use crate::idle_counters::IdleCountersResult;
use crate::memory::IdleResult;
use crate::plan::Plan;
use crate::replicated::ReplicatedRun;
use crate::writes::WriteResults;

/// Everything one run measured.
#[derive(Serialize)]
pub struct Results {
    /// Where the figures come from: they mean little without the machine.
    pub machine: Machine,
    /// The backend binary measured.
    pub backend: PathBuf,
    /// The sizes the run used.
    pub plan: Plan,
    /// Idle memory, one entry per step of connections.
    pub idle: Vec<IdleResult>,
    /// One entry per fan-out round.
    pub fanout: Vec<FanoutResult>,
    /// Fan-out rounds again beside idle counters; `None` when the phase failed or did not run.
    pub fanout_idle: Option<IdleCountersResult>,
    /// Write throughput; `None` when the phase failed or did not run.
    pub writes: Option<WriteResults>,
    /// Writes through a primary with one replica, without and with waiting for it.
    pub replicated: Vec<ReplicatedRun>,
    /// The frontend's weight and start; `None` when the phase failed or did not run.
    pub frontend: Option<FrontendResult>,
    /// Click latency in browsers, one entry per number of pages and kind of page.
    pub clicks: Vec<ClickResult>,
    /// The app's click latency over socket.io's in the same run, one entry per K.
    pub clicks_beside_socketio: Vec<BesideSocketIo>,
    /// Phases that failed, with the reason: the run goes on and reports what it could.
    pub failures: Vec<String>,
    /// Comparisons left out because a program they need is not installed: not failures.
    pub left_out: Vec<String>,
}

/// The machine a run measured, as far as `/proc` tells.
#[derive(Serialize)]
pub struct Machine {
    /// CPU cores: every process of the run shares them.
    pub cores: usize,
    /// The CPU, from `/proc/cpuinfo`.
    pub cpu_model: String,
    /// Total memory, from `/proc/meminfo`.
    pub memory_gib: f64,
    /// The Linux release: the network stack's cost changes with it.
    pub kernel: String,
    /// When the run started.
    pub date_utc: String,
    /// `/proc/loadavg` when the run started: how busy the shared box already was.
    pub load_average: String,
    /// `git describe --always --dirty` of the tree that was measured.
    pub commit: String,
}

impl Machine {
    pub fn describe() -> Machine {
        let read = |path: &str| std::fs::read_to_string(path).unwrap_or_default();
        let cpu_model = read("/proc/cpuinfo")
            .lines()
            .find_map(|line| line.strip_prefix("model name")?.split_once(':'))
            .map(|(_, model)| model.trim().to_owned())
            .unwrap_or_else(|| "unknown".to_owned());
        let memory_gib = read("/proc/meminfo")
            .lines()
            .find_map(|line| line.strip_prefix("MemTotal:"))
            .and_then(|rest| rest.split_whitespace().next()?.parse::<f64>().ok())
            .map_or(0.0, |kib| kib / 1048576.0);
        let date_utc = std::process::Command::new("date")
            .args(["-u", "+%Y-%m-%d %H:%M UTC"])
            .output()
            .map(|out| String::from_utf8_lossy(&out.stdout).trim().to_owned())
            .unwrap_or_default();
        let commit = std::process::Command::new("git")
            .args(["describe", "--always", "--dirty"])
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .output()
            .map(|out| String::from_utf8_lossy(&out.stdout).trim().to_owned())
            .unwrap_or_default();
        Machine {
            commit,
            cores: std::thread::available_parallelism().map_or(0, usize::from),
            cpu_model,
            memory_gib,
            kernel: read("/proc/sys/kernel/osrelease").trim().to_owned(),
            date_utc,
            load_average: read("/proc/loadavg")
                .split_whitespace()
                .take(3)
                .collect::<Vec<_>>()
                .join(" "),
        }
    }
}
