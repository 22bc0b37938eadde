//! The report: the results as tables on the terminal, and the results section of
//! `BENCHMARKS.md`, which is replaced between two markers so that hand-written notes around
//! it (profiles, optimisations with their before and after) survive a new run.

use std::fmt::Write as _;
use std::path::Path;

use anyhow::Result;

use crate::beside_socketio::BesideSocketIo;
use crate::clicks::ClickResult;
use crate::fanout::FanoutResult;
use crate::frontend::kb;
use crate::idle_counters::IdleCountersResult;
use crate::latency::Percentiles;
use crate::replicated::ReplicatedRun;
use crate::results::Results;
use crate::targets;

const BEGIN: &str = "<!-- bench:results:begin (written by `cargo xtask bench`) -->";
const END: &str = "<!-- bench:results:end -->";

/// The results as Markdown tables (also printed on the terminal).
pub fn tables(results: &Results) -> String {
    let mut out = String::new();
    let m = &results.machine;
    let _ = writeln!(
        out,
        "Run: {} ({}) of commit {}, {} cores ({}), {:.1} GiB, Linux {}, load average at start {}.\n",
        m.date_utc,
        results.plan.scope.label(),
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
    if !results.left_out.is_empty() {
        let _ = writeln!(out, "Left out (a program they need is not installed):\n");
        for left_out in &results.left_out {
            let _ = writeln!(out, "- {left_out}");
        }
        out.push('\n');
    }

    if !results.fanout.is_empty() {
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
    }

    if results.fanout.iter().any(|r| r.floor.is_some()) {
        floor(&mut out, results);
    }

    if let Some(idle) = &results.fanout_idle {
        fanout_beside_idle(&mut out, idle, &results.fanout);
    }

    if let Some(writes) = &results.writes {
        let _ = writeln!(
            out,
            "\n### Write throughput ({}, one change in flight per writer)\n",
            writes.setup
        );
        let _ = writeln!(
            out,
            "| transport | writers | ops/s | of redis-benchmark | p50 ms | p99 ms | errors | \
             CPU replicas / redis / generator % |"
        );
        let _ = writeln!(out, "|---|---:|---:|---:|---:|---:|---:|---|");
        for r in &writes.runs {
            let share = match writes.share_of_redis_benchmark(r.ops_per_second) {
                0.0 => "—".to_owned(),
                share => format!("{:.0} %", share * 100.0),
            };
            let _ = writeln!(
                out,
                "| {} | {} | {:.0} | {share} | {:.2} | {:.2} | {} | {:.0} / {:.0} / {:.0} |",
                r.transport,
                r.writers,
                r.ops_per_second,
                r.latency.p50_ms,
                r.latency.p99_ms,
                r.errors,
                r.cpu.replicas_pct,
                r.cpu.redis_pct,
                r.cpu.generator_pct,
            );
        }
        if writes.redis_benchmark_ops_per_second > 0.0 {
            let _ = writeln!(
                out,
                "| redis-benchmark EVALSHA apply.lua (50 clients, -P 1) | — | {:.0} | 100 % | {:.2} | | | \
                 — / {:.0} / — |",
                writes.redis_benchmark_ops_per_second,
                writes.redis_benchmark_p50_ms,
                writes.redis_benchmark_cpu.redis_pct,
            );
        }
        let per_commit: Vec<String> = writes
            .runs
            .iter()
            .filter_map(|r| {
                let per_commit = r.changes_per_commit?;
                Some(format!("{} × {}: {per_commit:.1}", r.transport, r.writers))
            })
            .collect();
        if !per_commit.is_empty() {
            let _ = writeln!(out, "\nChanges per commit: {}.", per_commit.join(", "));
        }
    }

    if !results.replicated.is_empty() {
        replicated(&mut out, &results.replicated);
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
            "\nFirst value on screen (the animation frame after it is in the page), headless \
             Chromium, cold loads: median **{}** (each: {} ms). Bytes over the wire for a first \
             load (median): {}.",
            front
                .first_value_median_ms
                .map_or("n/a".to_owned(), |ms| format!("{ms:.0} ms")),
            loads.join(", "),
            front
                .transferred_bytes_median
                .map_or("n/a".to_owned(), |bytes| kb(bytes as u64)),
        );
        let _ = writeln!(
            out,
            "\n| stage of a cold load, ms after navigation | median | loads |\n|---|---:|---:|"
        );
        for stage in &front.stages {
            let _ = writeln!(
                out,
                "| {} | {} | {} |",
                stage.stage,
                stage
                    .median_ms
                    .map_or("n/a".to_owned(), |ms| format!("{ms:.1}")),
                stage.each_ms.len()
            );
        }
    }

    if !results.clicks.is_empty() {
        clicks(&mut out, &results.clicks);
    }
    if !results.clicks_beside_socketio.is_empty() {
        beside_socketio(&mut out, &results.clicks_beside_socketio);
    }

    let _ = writeln!(out, "\n### Targets\n");
    let _ = writeln!(out, "| target | measured | verdict |");
    let _ = writeln!(out, "|---|---|---|");
    for row in targets::check(results) {
        let _ = writeln!(
            out,
            "| {} | {} | {} |",
            row.target, row.measured, row.verdict
        );
    }
    out
}

/// The fan-out rounds' CPU per delivered frame against the floor's.
fn floor(out: &mut String, results: &Results) {
    let _ = writeln!(
        out,
        "\n### Fan-out against the floor (the same rounds from a blocking writer per replica)\n"
    );
    let _ = writeln!(
        out,
        "| subscribers | changes/s | replicas' CPU µs per frame | floor's CPU µs per frame | \
         replicas / floor | floor p50 / p99 ms | floor frames/s (delivered) | \
         CPU floor / generator % |"
    );
    let _ = writeln!(out, "|---:|---:|---:|---:|---:|---|---:|---|");
    for r in &results.fanout {
        let Some(floor) = &r.floor else { continue };
        let _ = writeln!(
            out,
            "| {} | {} | {:.2} | {:.2} | {:.2}× | {:.1} / {:.1} | {:.0} ({:.0} %) | {:.0} / {:.0} |",
            r.subscribers,
            r.changes_per_second,
            r.replica_cpu_us_per_frame,
            floor.cpu_us_per_frame,
            r.floor_ratio().unwrap_or(f64::NAN),
            floor.latency.p50_ms,
            floor.latency.p99_ms,
            floor.frames_per_second,
            floor.delivered_share * 100.0,
            floor.cpu.replicas_pct,
            floor.cpu.generator_pct,
        );
    }
}

/// The fan-out rounds beside idle counters, each next to the same round without them.
fn fanout_beside_idle(out: &mut String, idle: &IdleCountersResult, without: &[FanoutResult]) {
    let _ = writeln!(
        out,
        "\n### Fan-out beside {} idle counters per replica ({} idle sockets connected)\n",
        idle.per_replica, idle.connected
    );
    let _ = writeln!(
        out,
        "| subscribers | changes/s | p50 ms without / beside | p99 ms without / beside | \
         max ms without / beside | not converged beside | CPU replicas / redis / generator % beside |"
    );
    let _ = writeln!(out, "|---:|---:|---:|---:|---:|---:|---|");
    for r in &idle.rounds {
        let base = without.iter().find(|b| {
            b.subscribers == r.subscribers && b.changes_per_second == r.changes_per_second
        });
        let pair = |ms: fn(&FanoutResult) -> f64| match base {
            Some(b) => format!("{:.1} / {:.1}", ms(b), ms(r)),
            None => format!("— / {:.1}", ms(r)),
        };
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} | {:.0} / {:.0} / {:.0} |",
            r.subscribers,
            r.changes_per_second,
            pair(|r| r.latency.p50_ms),
            pair(|r| r.latency.p99_ms),
            pair(|r| r.latency.max_ms),
            r.not_converged,
            r.cpu.replicas_pct,
            r.cpu.redis_pct,
            r.cpu.generator_pct,
        );
    }
}

/// The cost of `--redis-wait-replicas 1`: medians of the rounds of each setting, side by side.
fn replicated(out: &mut String, runs: &[ReplicatedRun]) {
    let _ = writeln!(
        out,
        "\n### Writes acknowledged by a Redis replica (primary + 1 replica, 2 replicas of the \
         backend, WebSocket writers; medians of {} alternating rounds)\n",
        crate::replicated::ROUNDS
    );
    let _ = writeln!(
        out,
        "| writers | ops/s without / with WAIT | ratio | p50 ms without / with | ratio | \
         p99 ms without / with | errors without / with |"
    );
    let _ = writeln!(out, "|---:|---:|---:|---:|---:|---:|---:|");
    for r in runs {
        let _ = writeln!(
            out,
            "| {} | {:.0} / {:.0} | × {:.2} | {:.2} / {:.2} | × {:.2} | {:.2} / {:.2} | {} / {} |",
            r.writers,
            r.without_wait.ops_per_second,
            r.with_wait.ops_per_second,
            r.throughput_ratio(),
            r.without_wait.p50_ms,
            r.with_wait.p50_ms,
            r.latency_ratio(),
            r.without_wait.p99_ms,
            r.with_wait.p99_ms,
            r.without_wait.errors,
            r.with_wait.errors,
        );
    }
}

/// The click-latency table: one row per stage and K, p50 / p95 in milliseconds.
fn clicks(out: &mut String, runs: &[ClickResult]) {
    let _ = writeln!(
        out,
        "\n### Click latency in Chromium (K pages over 2 replicas, one clicked)\n"
    );
    let _ = write!(out, "| p50 / p95 ms |");
    for run in runs {
        let _ = write!(out, " K = {}, {} |", run.pages, run.page.label());
    }
    let _ = write!(out, "\n|---|");
    for _ in runs {
        let _ = write!(out, "---:|");
    }
    out.push('\n');
    let stages = [
        "click → send (clicking page)",
        "send → first other page's message",
        "send → message (each other page)",
        "message → number written (each other page)",
        "**click → last page shows it**",
        "floor: send → last plain WebSocket client",
    ];
    for (row, stage) in stages.iter().enumerate() {
        let _ = write!(out, "| {stage} |");
        for run in runs {
            let p = click_stages(run)[row];
            let _ = write!(out, " {:.1} / {:.1} |", p.p50_ms, p.p95_ms);
        }
        out.push('\n');
    }
    let _ = write!(out, "| click → last page over the floor |");
    for run in runs {
        let _ = write!(out, " {:.1}× / {:.1}× |", run.ratio_p50, run.ratio_p95);
    }
    let _ = write!(
        out,
        "\n| CPU per click, all browsers (of it idle) / replicas |"
    );
    for run in runs {
        let _ = write!(
            out,
            " {:.1} ({:.1}) / {:.1} ms |",
            run.browser_cpu_ms_per_click, run.browser_idle_cpu_ms, run.replica_cpu_ms_per_click
        );
    }
    let _ = write!(out, "\n| clicks measured (of made); clock spread |");
    for run in runs {
        let _ = write!(
            out,
            " {} (of {}); {:.2} ms |",
            run.clicks - run.incomplete,
            run.clicks,
            run.clock_spread_ms
        );
    }
    out.push('\n');
}

/// Click → last page shows it, the app beside socket.io for each K, from the table above.
fn beside_socketio(out: &mut String, compared: &[BesideSocketIo]) {
    let _ = writeln!(
        out,
        "\n| click → last page shows it, ms | app p50 / p95 | socket.io p50 / p95 | \
         app / socket.io p50 / p95 |"
    );
    let _ = writeln!(out, "|---|---:|---:|---:|");
    for c in compared {
        let _ = writeln!(
            out,
            "| K = {} | {:.1} / {:.1} | {:.1} / {:.1} | {:.2}× / {:.2}× |",
            c.pages,
            c.app_ms.0,
            c.app_ms.1,
            c.socketio_ms.0,
            c.socketio_ms.1,
            c.ratio_p50,
            c.ratio_p95
        );
    }
}

/// The rows of the click-latency table, in its order.
fn click_stages(run: &ClickResult) -> [&Percentiles; 6] {
    [
        &run.click_to_send,
        &run.send_to_first_message,
        &run.send_to_message,
        &run.message_to_shown,
        &run.click_to_last_shown,
        &run.floor,
    ]
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
