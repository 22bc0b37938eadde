//! Benchmark 4, the frontend: what a first visit downloads, and how long from navigation until
//! the first value shows, in headless Chromium ([`crate::chromium`]).
//!
//! Each load is cold: a new browser with a fresh profile (no cache, no service worker). A
//! script injected before the page's own (CDP `Page.addScriptToEvaluateOnNewDocument`) records
//! `performance.now()` — milliseconds since navigation started — the moment a
//! `[data-testid=count]` with a number in it first exists.

use std::io::Write;
use std::path::Path;
use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};
use serde::Serialize;
use serde_json::json;

use crate::chromium::{Browser, COMMAND_TIMEOUT, ChromeDriver};
use crate::harness::Bench;

/// Sets `window.__benchFirstValue` when the count element first shows a number.
const FIRST_VALUE_PROBE: &str = r#"(() => {
  const seen = () => {
    const el = document.querySelector('[data-testid=count]');
    if (el && /^-?\d+$/.test(el.textContent.trim())) {
      if (window.__benchFirstValue === undefined) window.__benchFirstValue = performance.now();
      return true;
    }
    return false;
  };
  if (seen()) return;
  const observer = new MutationObserver(() => { if (seen()) observer.disconnect(); });
  observer.observe(document, { subtree: true, childList: true, characterData: true });
})();"#;

/// Reads what the probe found, and the bytes transferred for the page and its resources.
const READ_PROBE: &str = r#"return {
  first: window.__benchFirstValue === undefined ? null : window.__benchFirstValue,
  transferred: performance.getEntries()
    .filter(e => typeof e.transferSize === 'number')
    .reduce((sum, e) => sum + e.transferSize, 0)
};"#;

#[derive(Debug, Serialize)]
pub struct FrontendResult {
    /// Each file a first load needs.
    pub files: Vec<FileWeight>,
    /// Sums over html, js, wasm and css: what the first load needs.
    pub total: FileWeight,
    /// Each cold load's time from navigation to the first value.
    pub first_value_ms: Vec<f64>,
    /// Their median, which the target is set on; `None` when no load succeeded.
    pub first_value_median_ms: Option<f64>,
    /// Bytes over the wire for the page and everything it loaded (median over the loads).
    pub transferred_bytes_median: Option<f64>,
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
    let mut first_value_ms = Vec::new();
    let mut transferred = Vec::new();
    let driver = ChromeDriver::start().await?;
    for load in 0..bench.plan.page_loads {
        match cold_load(&driver, &url).await {
            Ok((first, bytes)) => {
                eprintln!("    load {}: first value at {first:.0} ms", load + 1);
                first_value_ms.push(first);
                transferred.push(bytes);
            }
            Err(error) => eprintln!("    load {} failed: {error:#}", load + 1),
        }
    }
    drop(driver);
    Ok(FrontendResult {
        files,
        total,
        first_value_median_ms: median(&first_value_ms),
        transferred_bytes_median: median(&transferred),
        first_value_ms,
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
        // sw.js is fetched by the browser after the page is up, not needed to show it.
        if !wanted || name == "sw.js" || !entry.path().is_file() {
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

/// One load in a new browser with a fresh profile: (ms to the first value, bytes
/// transferred). The browser is closed whatever happens, so that none outlives the load.
async fn cold_load(driver: &ChromeDriver, url: &str) -> Result<(f64, f64)> {
    let browser = driver.browser(&[]).await?;
    let outcome = match tokio::time::timeout(COMMAND_TIMEOUT, measure(&browser, url)).await {
        Ok(outcome) => outcome,
        Err(_) => Err(anyhow!("the load took longer than {COMMAND_TIMEOUT:?}")),
    };
    browser.close().await;
    outcome
}

async fn measure(browser: &Browser, url: &str) -> Result<(f64, f64)> {
    browser
        .cdp(
            "Page.addScriptToEvaluateOnNewDocument",
            json!({"source": FIRST_VALUE_PROBE}),
        )
        .await?;
    browser.client.goto(url).await?;
    for _ in 0..100 {
        let found = browser.client.execute(READ_PROBE, Vec::new()).await?;
        if let Some(first) = found["first"].as_f64() {
            let bytes = found["transferred"].as_f64().unwrap_or(0.0);
            return Ok((first, bytes));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    bail!("no value shown within 10 s of the load")
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
