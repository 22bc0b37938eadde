//! Benchmark 4, the frontend: what a first visit downloads, and how long from navigation until
//! the first value shows, in headless Chromium ([`crate::chromium`]).
//!
//! Each load is cold: a new browser with a fresh profile (no cache, no service worker). A
//! script injected before the page's own (CDP `Page.addScriptToEvaluateOnNewDocument`) records
//! `performance.now()` — milliseconds since navigation started — when a number is first on
//! screen (the app's `[data-testid=count]`, or the server's first screen: the animation frame
//! after the number is in the page, which is the frame that paints it), and the load's other
//! stages ([`load_stages`]); a load is over once the page has rendered its first state frame.

use std::io::Write;
use std::path::Path;
use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};
use serde::Serialize;
use serde_json::json;

use crate::chromium::{Browser, COMMAND_TIMEOUT, ChromeDriver};
use crate::harness::Bench;
use crate::load_stages::{self, STAGES};

#[derive(Debug, Serialize)]
pub struct FrontendResult {
    /// Each file a first load needs.
    pub files: Vec<FileWeight>,
    /// Sums over html, js, wasm and css: what the first load needs.
    pub total: FileWeight,
    /// Each cold load's time from navigation to the first value on screen.
    pub first_value_ms: Vec<f64>,
    /// Their median, which the target is set on; `None` when no load succeeded.
    pub first_value_median_ms: Option<f64>,
    /// Bytes over the wire for the page and everything it loaded (median over the loads).
    pub transferred_bytes_median: Option<f64>,
    /// Where the time of a load goes, stage by stage, in the order of [`STAGES`].
    pub stages: Vec<StageResult>,
}

/// One stage of the loads: when, after navigation, each load reached it.
#[derive(Debug, Serialize)]
pub struct StageResult {
    /// The stage, as the report names it.
    pub stage: String,
    /// Each load that recorded the stage: milliseconds after navigation started.
    pub each_ms: Vec<f64>,
    /// Their median; `None` when no load recorded it (an app without the marks).
    pub median_ms: Option<f64>,
}

/// What one cold load measured.
struct Load {
    /// Milliseconds from navigation to the first number on screen.
    first: f64,
    /// Bytes over the wire for the page and everything it loaded.
    transferred: f64,
    /// Each stage of [`STAGES`], when recorded.
    stages: Vec<Option<f64>>,
}

#[derive(Debug, Serialize, Clone, Default)]
pub struct FileWeight {
    /// The file name in `dist/`, or `total`.
    pub file: String,
    /// Bytes on disk.
    pub raw: u64,
    /// Bytes at gzip level 9: what any browser accepts.
    pub gzip: u64,
    /// Bytes at brotli quality 11: about the least a server can send.
    pub brotli: u64,
}

/// `bytes` in kilobytes, as the report and the targets write weights.
pub fn kb(bytes: u64) -> String {
    format!("{:.1} KB", bytes as f64 / 1000.0)
}

pub async fn run(bench: &mut Bench) -> Result<FrontendResult> {
    eprintln!("frontend: weight of dist/");
    let (files, total) = weigh(&bench.static_dir)?;
    let url = bench.replicas[0].http_url("/");
    let mut loads = Vec::new();
    let driver = ChromeDriver::start().await?;
    for index in 0..bench.plan.page_loads {
        match cold_load(&driver, &url).await {
            Ok(load) => {
                eprintln!(
                    "    load {}: first value at {:.0} ms",
                    index + 1,
                    load.first
                );
                loads.push(load);
            }
            Err(error) => eprintln!("    load {} failed: {error:#}", index + 1),
        }
    }
    drop(driver);
    let first_value_ms: Vec<f64> = loads.iter().map(|load| load.first).collect();
    let transferred: Vec<f64> = loads.iter().map(|load| load.transferred).collect();
    let stages = STAGES
        .iter()
        .enumerate()
        .map(|(index, (_, stage))| {
            let each_ms: Vec<f64> = loads.iter().filter_map(|load| load.stages[index]).collect();
            StageResult {
                stage: (*stage).to_owned(),
                median_ms: median(&each_ms),
                each_ms,
            }
        })
        .collect();
    Ok(FrontendResult {
        files,
        total,
        first_value_median_ms: median(&first_value_ms),
        transferred_bytes_median: median(&transferred),
        first_value_ms,
        stages,
    })
}

pub fn median(values: &[f64]) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let middle = sorted.len() / 2;
    Some(if sorted.len().is_multiple_of(2) {
        (sorted[middle - 1] + sorted[middle]) / 2.0
    } else {
        sorted[middle]
    })
}

/// The raw, gzip (level 9) and brotli (quality 11) sizes of the html, js, wasm and css files at
/// the top of `dist`.
fn weigh(dist: &Path) -> Result<(Vec<FileWeight>, FileWeight)> {
    let mut files = Vec::new();
    let mut entries: Vec<_> = std::fs::read_dir(dist)
        .with_context(|| format!("could not read {}", dist.display()))?
        .collect::<Result<_, _>>()?;
    entries.sort_by_key(|entry| entry.file_name());
    for entry in entries {
        let name = entry.file_name().to_string_lossy().into_owned();
        let wanted = [".html", ".js", ".wasm", ".css"]
            .iter()
            .any(|ext| name.ends_with(ext));
        // sw.js is fetched by the browser after the page is up, not needed to show it; the
        // owner module (owner.js, owner_bg.wasm) only on `/new` and in the owner view.
        let later = ["sw.js", "owner.js", "owner_bg.wasm"].contains(&name.as_str());
        if !wanted || later || !entry.path().is_file() {
            continue;
        }
        let bytes = std::fs::read(entry.path())?;
        let mut gzip = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        gzip.write_all(&bytes)?;
        let gzip = gzip.finish()?.len() as u64;
        let mut brotli = Vec::new();
        {
            let mut writer = brotli::CompressorWriter::new(&mut brotli, 4096, 11, 22);
            writer.write_all(&bytes)?;
        }
        files.push(FileWeight {
            file: name,
            raw: bytes.len() as u64,
            gzip,
            brotli: brotli.len() as u64,
        });
    }
    let total = files.iter().fold(
        FileWeight {
            file: "total".to_owned(),
            ..FileWeight::default()
        },
        |mut total, file| {
            total.raw += file.raw;
            total.gzip += file.gzip;
            total.brotli += file.brotli;
            total
        },
    );
    Ok((files, total))
}

/// One load in a new browser with a fresh profile. The browser is closed whatever happens, so
/// that none outlives the load.
async fn cold_load(driver: &ChromeDriver, url: &str) -> Result<Load> {
    let browser = driver.browser(&[]).await?;
    let outcome = match tokio::time::timeout(COMMAND_TIMEOUT, measure(&browser, url)).await {
        Ok(outcome) => outcome,
        Err(_) => Err(anyhow!("the load took longer than {COMMAND_TIMEOUT:?}")),
    };
    browser.close().await;
    outcome
}

async fn measure(browser: &Browser, url: &str) -> Result<Load> {
    browser
        .cdp(
            "Page.addScriptToEvaluateOnNewDocument",
            json!({"source": load_stages::PROBE}),
        )
        .await?;
    browser.client.goto(url).await?;
    for _ in 0..100 {
        let read = browser
            .client
            .execute(load_stages::READ, Vec::new())
            .await?;
        if read["done"].as_bool() == Some(true) {
            let stages = load_stages::stages_of(&read);
            return Ok(Load {
                first: read["stages"]["on_screen"]
                    .as_f64()
                    .context("done without a first number")?,
                transferred: read["transferred"].as_f64().unwrap_or(0.0),
                stages,
            });
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    bail!("the page was not live within 10 s of the load")
}

#[cfg(test)]
mod tests {
    use super::median;

    #[test]
    fn median_of_odd_and_even_counts() {
        assert_eq!(median(&[]), None);
        assert_eq!(median(&[3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(&[4.0, 1.0, 3.0, 2.0]), Some(2.5));
    }
}
