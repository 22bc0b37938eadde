//! What `/proc` says about the processes of a run: CPU time and resident memory, and the
//! split of CPU between the replicas, Redis and the load generator during one measurement.

use std::time::Instant;

use serde::Serialize;

/// CPU time and memory of one process, from `/proc`.
#[derive(Clone, Copy, Default)]
pub struct ProcessSample {
    /// User plus system time, in clock ticks.
    pub cpu_ticks: u64,
    /// Resident set size, in bytes.
    pub rss_bytes: u64,
}

/// Reads `/proc/PID/stat` and `/proc/PID/status`; zeros when the process is gone.
pub fn sample(pid: Option<u32>) -> ProcessSample {
    let Some(pid) = pid else {
        return ProcessSample::default();
    };
    let cpu_ticks = std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|stat| {
            // The command name (field 2) may hold spaces; fields after it are plain numbers.
            let rest = &stat[stat.rfind(')')? + 1..];
            let fields: Vec<&str> = rest.split_whitespace().collect();
            // utime and stime are fields 14 and 15 of the line, 11 and 12 after the name.
            Some(fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?)
        })
        .unwrap_or(0);
    let rss_bytes = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|status| {
            let line = status.lines().find(|line| line.starts_with("VmRSS:"))?;
            let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
            Some(kib * 1024)
        })
        .unwrap_or(0);
    ProcessSample {
        cpu_ticks,
        rss_bytes,
    }
}

/// Clock ticks per second (`getconf CLK_TCK`), the unit of `/proc/PID/stat` times.
pub fn clock_ticks_per_second() -> f64 {
    std::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|out| String::from_utf8_lossy(&out.stdout).trim().parse().ok())
        .unwrap_or(100.0)
}

/// Resident memory of a process in bytes, now.
pub fn rss(pid: Option<u32>) -> u64 {
    sample(pid).rss_bytes
}

/// The processes whose CPU time is split in the report.
pub struct Processes {
    /// The replicas under test.
    pub replicas: Vec<Option<u32>>,
    /// The benchmark's `redis-server`.
    pub redis: Option<u32>,
    /// The coordinator and its worker processes.
    pub generator: Vec<Option<u32>>,
}

/// CPU ticks of each group of [`Processes`] at one moment.
pub struct Samples {
    /// When they were read: the wall time the ticks are divided by.
    at: Instant,
    /// Ticks of all replicas together.
    replicas: u64,
    /// Ticks of `redis-server`.
    redis: u64,
    /// Ticks of the coordinator and its workers.
    generator: u64,
}

impl Processes {
    pub fn sample(&self) -> Samples {
        let ticks =
            |pids: &[Option<u32>]| -> u64 { pids.iter().map(|pid| sample(*pid).cpu_ticks).sum() };
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
    /// All replicas together: the server's cost.
    pub replicas_pct: f64,
    /// `redis-server`: the store's cost.
    pub redis_pct: f64,
    /// The load generator: what the machine spent measuring rather than serving.
    pub generator_pct: f64,
    /// The wall time the shares are of, in seconds: a share times this is CPU time.
    pub seconds: f64,
}

impl CpuSplit {
    pub fn between(before: &Samples, after: &Samples, ticks_per_second: f64) -> CpuSplit {
        let wall = after.at.duration_since(before.at).as_secs_f64().max(0.001);
        let pct = |a: u64, b: u64| (b.saturating_sub(a) as f64 / ticks_per_second) / wall * 100.0;
        CpuSplit {
            replicas_pct: pct(before.replicas, after.replicas),
            redis_pct: pct(before.redis, after.redis),
            generator_pct: pct(before.generator, after.generator),
            seconds: wall,
        }
    }

    /// The server's CPU time (the replicas', or whatever stood in their place) per frame
    /// delivered, in µs; 0 without frames.
    pub fn server_us_per(&self, frames: u64) -> f64 {
        if frames == 0 {
            return 0.0;
        }
        self.replicas_pct / 100.0 * self.seconds * 1e6 / frames as f64
    }
}
