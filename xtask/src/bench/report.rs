//! The report: the machine, a table on the terminal, and the results section of
//! `BENCHMARKS.md`, which is replaced between two markers so that hand-written notes around
//! it (profiles, optimisations with their before and after) survive a new run.

use std::fmt::Write as _;
use std::path::Path;

use anyhow::Result;
use serde::Serialize;

use super::Results;
use super::fanout::FanoutResult;

const BEGIN: &str = "<!-- bench:results:begin (written by `cargo xtask bench`) -->";
const END: &str = "<!-- bench:results:end -->";

/// The machine a run measured, as far as `/proc` tells.
#[derive(Serialize)]
pub struct Machine {
    pub cores: usize,
    pub cpu_model: String,
    pub memory_gib: f64,
    pub kernel: String,
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

pub fn fanout_line(result: &FanoutResult) -> String {
    format!(
        "p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms, {:.0} frames/s ({:.0} % of versions), \
         {} stale, {} not converged, converged {:.1} ms after the last change ({:.1} ms after its ack), \
         CPU replicas {:.0} % redis {:.0} % generator {:.0} %",
        result.latency.p50_ms,
        result.latency.p99_ms,
        result.latency.max_ms,
        result.frames_per_second,
        result.delivered_share * 100.0,
        result.stale_frames,
        result.not_converged,
        result.converge_ms,
        result.converge_after_ack_ms,
        result.cpu.replicas_pct,
        result.cpu.redis_pct,
        result.cpu.generator_pct,
    )
}

/// The results as Markdown tables (also printed on the terminal).
pub fn tables(results: &Results) -> String {
    let mut out = String::new();
    let m = &results.machine;
    let _ = writeln!(
        out,
        "Run: {} ({}) of commit {}, {} cores ({}), {:.1} GiB, Linux {}, load average at start {}.\n",
        m.date_utc,
        if results.plan.fanout_only {
            "fan-out only"
        } else if results.plan.quick {
            "quick"
        } else {
            "full"
        },
        m.commit,
        m.cores,
        m.cpu_model,
        m.memory_gib,
        m.kernel,
        m.load_average
    );
    if !results.failures.is_empty() {
        let _ = writeln!(out, "Phases that failed:\n");
        for failure in &results.failures {
            let _ = writeln!(out, "- {failure}");
        }
        out.push('\n');
    }

    let _ = writeln!(out, "### Fan-out (2 replicas, one writer)\n");
    let _ = writeln!(
        out,
        "| subscribers | changes/s | p50 ms | p99 ms | max ms | frames/s | delivered | stale | \
         not converged | converged after last change (after its ack), ms | CPU replicas / redis / generator % | \
         replica RSS MiB |"
    );
    let _ = writeln!(
        out,
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---|"
    );
    for r in &results.fanout {
        let _ = writeln!(
            out,
            "| {} ({} connected) | {} | {:.1} | {:.1} | {:.1} | {:.0} | {:.0} % | {} | {} | {:.1} ({:.1}) | \
             {:.0} / {:.0} / {:.0} | {} |",
            r.subscribers,
            r.connected,
            r.changes_per_second,
            r.latency.p50_ms,
            r.latency.p99_ms,
            r.latency.max_ms,
            r.frames_per_second,
            r.delivered_share * 100.0,
            r.stale_frames,
            r.not_converged,
            r.converge_ms,
            r.converge_after_ack_ms,
            r.cpu.replicas_pct,
            r.cpu.redis_pct,
            r.cpu.generator_pct,
            r.replica_rss_mib
                .iter()
                .map(|mib| format!("{mib:.0}"))
                .collect::<Vec<_>>()
                .join(" + "),
        );
    }

    if let Some(writes) = &results.writes {
        let _ = writeln!(
            out,
            "\n### Write throughput (2 replicas, one change in flight per writer)\n"
        );
        let _ = writeln!(
            out,
            "| transport | writers | ops/s | of redis-benchmark | p50 ms | p99 ms | errors | \
             CPU replicas / redis / generator % |"
        );
        let _ = writeln!(out, "|---|---:|---:|---:|---:|---:|---:|---|");
        for r in &writes.runs {
            let _ = writeln!(
                out,
                "| {} | {} | {:.0} | {:.0} % | {:.2} | {:.2} | {} | {:.0} / {:.0} / {:.0} |",
                r.transport,
                r.writers,
                r.ops_per_second,
                ratio(r.ops_per_second, writes.redis_benchmark_ops_per_second) * 100.0,
                r.latency.p50_ms,
                r.latency.p99_ms,
                r.errors,
                r.cpu.replicas_pct,
                r.cpu.redis_pct,
                r.cpu.generator_pct,
            );
        }
        let _ = writeln!(
            out,
            "| redis-benchmark EVALSHA apply.lua (50 clients, -P 1) | — | {:.0} | 100 % | {:.2} | | | \
             — / {:.0} / — |",
            writes.redis_benchmark_ops_per_second,
            writes.redis_benchmark_p50_ms,
            writes.redis_benchmark_cpu.redis_pct,
        );
    }

    if !results.idle.is_empty() {
        let _ = writeln!(out, "\n### Idle memory (one replica)\n");
        for idle in &results.idle {
            let _ = writeln!(
                out,
                "- {} idle WebSockets: RSS {:.1} → {:.1} MiB, **{:.1} KiB per connection**.",
                idle.connections, idle.rss_before_mib, idle.rss_after_mib, idle.kib_per_connection
            );
        }
    }

    if let Some(front) = &results.frontend {
        let _ = writeln!(out, "\n### Frontend\n");
        let _ = writeln!(out, "| file | raw | gzip -9 | brotli -11 |");
        let _ = writeln!(out, "|---|---:|---:|---:|");
        for f in front.files.iter().chain(std::iter::once(&front.total)) {
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} |",
                f.file,
                kb(f.raw),
                kb(f.gzip),
                kb(f.brotli)
            );
        }
        let loads: Vec<String> = front
            .first_value_ms
            .iter()
            .map(|ms| format!("{ms:.0}"))
            .collect();
        let _ = writeln!(
            out,
            "\nFirst value shown, headless Chromium, cold loads: median **{}** (each: {} ms). \
             Bytes over the wire for a first load (median): {}.",
            front
                .first_value_median_ms
                .map_or("n/a".to_owned(), |ms| format!("{ms:.0} ms")),
            loads.join(", "),
            front
                .transferred_bytes_median
                .map_or("n/a".to_owned(), |bytes| kb(bytes as u64)),
        );
    }

    let _ = writeln!(out, "\n### Targets\n");
    let _ = writeln!(out, "| target | measured | verdict |");
    let _ = writeln!(out, "|---|---|---|");
    for (target, measured, verdict) in targets(results) {
        let _ = writeln!(out, "| {target} | {measured} | {verdict} |");
    }
    out
}

fn kb(bytes: u64) -> String {
    format!("{:.1} KB", bytes as f64 / 1000.0)
}

fn ratio(ours: f64, limit: f64) -> f64 {
    if limit > 0.0 { ours / limit } else { 0.0 }
}

/// Each target of issue 5 with what this run measured and whether it was met.
fn targets(results: &Results) -> Vec<(String, String, String)> {
    let mut rows = Vec::new();
    let cell = |subscribers: usize, rate: u32| {
        results
            .fanout
            .iter()
            .find(|r| r.subscribers == subscribers && r.changes_per_second == rate)
    };
    let verdict = |met: bool, by: String| {
        if met {
            "met".to_owned()
        } else {
            format!("**missed** ({by})")
        }
    };
    let not_run = || ("not run".to_owned(), "n/a".to_owned());
    for (subscribers, rate) in [(10_000, 10), (20_000, 1)] {
        let (measured, verdict) = match cell(subscribers, rate) {
            Some(r) => (
                format!(
                    "p99 {:.1} ms, {} stale, {} not converged",
                    r.latency.p99_ms, r.stale_frames, r.not_converged
                ),
                verdict(
                    r.latency.p99_ms < 50.0 && r.stale_frames == 0 && r.not_converged == 0,
                    format!("p99 {:.1}× the 50 ms budget", r.latency.p99_ms / 50.0),
                ),
            ),
            None => not_run(),
        };
        rows.push((
            format!("{subscribers} subscribers at {rate} change/s: p99 < 50 ms, 0 stale"),
            measured,
            verdict,
        ));
    }
    let (measured, hot) = match cell(1_000, 1_000) {
        Some(r) => (
            format!(
                "last subscriber showed the final value {:.1} ms after the last change was sent \
                 ({:.1} ms after its ack; {} not converged)",
                r.converge_ms, r.converge_after_ack_ms, r.not_converged
            ),
            verdict(
                r.converge_ms < 50.0 && r.not_converged == 0,
                format!("{:.1}× the 50 ms budget", r.converge_ms / 50.0),
            ),
        ),
        None => not_run(),
    };
    rows.push((
        "1,000 subscribers at 1,000 changes/s: all show the final value within 50 ms".to_owned(),
        measured,
        hot,
    ));
    // The target is set at the most connections measured (19,000 in a full run).
    let (measured, idle) = match results.idle.last() {
        Some(idle) => (
            format!(
                "{:.1} KiB per connection at {} connections",
                idle.kib_per_connection, idle.connections
            ),
            verdict(
                idle.kib_per_connection <= 8.0,
                format!("{:.1}× the 8 KiB budget", idle.kib_per_connection / 8.0),
            ),
        ),
        None => not_run(),
    };
    rows.push((
        "Idle memory ≤ 8 KiB RSS per WebSocket".to_owned(),
        measured,
        idle,
    ));
    let (measured, writes) = match &results.writes {
        Some(writes) => {
            let best = writes
                .runs
                .iter()
                .max_by(|a, b| a.ops_per_second.total_cmp(&b.ops_per_second));
            match best {
                Some(best) => {
                    let share = ratio(best.ops_per_second, writes.redis_benchmark_ops_per_second);
                    (
                        format!(
                            "best {:.0} ops/s ({} × {}) = {:.0} % of redis-benchmark's {:.0}",
                            best.ops_per_second,
                            best.writers,
                            best.transport,
                            share * 100.0,
                            writes.redis_benchmark_ops_per_second
                        ),
                        verdict(share >= 0.5, format!("{:.0} % of the 50 %", share * 200.0)),
                    )
                }
                None => not_run(),
            }
        }
        None => not_run(),
    };
    rows.push((
        "Write throughput ≥ 50 % of redis-benchmark".to_owned(),
        measured,
        writes,
    ));
    match &results.frontend {
        Some(front) => {
            let weight = front.total.brotli.min(front.total.gzip);
            rows.push((
                "First load ≤ 150 KB compressed".to_owned(),
                format!(
                    "{} brotli, {} gzip (html + js + wasm + css)",
                    kb(front.total.brotli),
                    kb(front.total.gzip)
                ),
                verdict(
                    weight <= 150_000,
                    format!("{:.2}× the budget", weight as f64 / 150_000.0),
                ),
            ));
            let (measured, start) = match front.first_value_median_ms {
                Some(ms) => (
                    format!("median {ms:.0} ms"),
                    verdict(ms < 300.0, format!("{:.2}× the budget", ms / 300.0)),
                ),
                None => not_run(),
            };
            rows.push((
                "First value < 300 ms after navigation".to_owned(),
                measured,
                start,
            ));
        }
        None => {
            let (measured, verdict) = not_run();
            rows.push(("Frontend weight and start".to_owned(), measured, verdict));
        }
    }
    rows
}

pub fn print_table(results: &Results) {
    println!("\n{}", tables(results));
}

/// Replaces the results section of `BENCHMARKS.md`, creating the file if needed.
pub fn write_markdown(path: &Path, results: &Results) -> Result<()> {
    let section = format!("{BEGIN}\n\n{}\n{END}", tables(results));
    let existing = std::fs::read_to_string(path).unwrap_or_default();
    std::fs::write(path, replace_section(&existing, &section))?;
    Ok(())
}

/// `existing` with its results section replaced by `section`; a new file if it has none.
fn replace_section(existing: &str, section: &str) -> String {
    match (existing.find(BEGIN), existing.find(END)) {
        (Some(begin), Some(end)) if begin < end => {
            format!(
                "{}{section}{}",
                &existing[..begin],
                &existing[end + END.len()..]
            )
        }
        _ => format!("# Benchmarks\n\n## Latest full run\n\n{section}\n"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_section_between_the_markers_is_replaced() {
        let existing = format!("# Notes\nby hand\n{BEGIN}\nold\n{END}\n## After\nkept\n");
        let section = format!("{BEGIN}\nnew\n{END}");
        let updated = replace_section(&existing, &section);
        assert_eq!(
            updated,
            format!("# Notes\nby hand\n{section}\n## After\nkept\n")
        );
        assert!(replace_section("", &section).contains("new"));
    }
}
