//! Benchmark 4, the frontend: what a first visit downloads, and how long from navigation until
//! the first value shows, in Debian's headless Chromium driven through `chromedriver`.
//!
//! Each load is cold: a new browser with a fresh profile (no cache, no service worker). A
//! script injected before the page's own (CDP `Page.addScriptToEvaluateOnNewDocument`) records
//! `performance.now()` — milliseconds since navigation started — the moment a
//! `[data-testid=count]` with a number in it first exists.

use std::io::Write;
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use serde::Serialize;
use serde_json::{Value, json};

use super::Bench;
use super::cluster::free_port;
use crate::frontend::dist_dir;

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
    pub files: Vec<FileWeight>,
    /// Sums over html, js, wasm and css: what the first load needs.
    pub total: FileWeight,
    pub first_value_ms: Vec<f64>,
    pub first_value_median_ms: Option<f64>,
    /// Bytes over the wire for the page and everything it loaded (median over the loads).
    pub transferred_bytes_median: Option<f64>,
}

#[derive(Debug, Serialize, Clone, Default)]
pub struct FileWeight {
    pub file: String,
    pub raw: u64,
    pub gzip: u64,
    pub brotli: u64,
}

pub async fn run(bench: &mut Bench<'_>) -> Result<FrontendResult> {
    eprintln!("frontend: weight of dist/");
    let (files, total) = weigh(&dist_dir(bench.workspace))?;
    let url = bench.replicas[0].http_url("/");
    let mut first_value_ms = Vec::new();
    let mut transferred = Vec::new();
    let driver = ChromeDriver::start().await?;
    for load in 0..bench.plan.page_loads {
        match driver.cold_load(&url).await {
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

/// A `chromedriver` on a free port, killed on drop.
struct ChromeDriver {
    _child: tokio::process::Child,
    base: String,
    http: reqwest::Client,
}

impl ChromeDriver {
    async fn start() -> Result<ChromeDriver> {
        let port = free_port()?;
        let child = tokio::process::Command::new("chromedriver")
            .arg(format!("--port={port}"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .context("could not start chromedriver")?;
        let base = format!("http://127.0.0.1:{port}");
        let http = reqwest::Client::new();
        for _ in 0..100 {
            if http
                .get(format!("{base}/status"))
                .send()
                .await
                .is_ok_and(|response| response.status().is_success())
            {
                return Ok(ChromeDriver {
                    _child: child,
                    base,
                    http,
                });
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        bail!("chromedriver did not answer within 10 s")
    }

    async fn call(&self, method: reqwest::Method, path: &str, body: Value) -> Result<Value> {
        let response = self
            .http
            .request(method, format!("{}{path}", self.base))
            .json(&body)
            .timeout(Duration::from_secs(60))
            .send()
            .await?;
        let status = response.status();
        let value: Value = response.json().await?;
        if !status.is_success() {
            bail!("chromedriver {path}: {status} {value}");
        }
        Ok(value["value"].clone())
    }

    /// One load in a new browser with a fresh profile: (ms to the first value, bytes
    /// transferred).
    async fn cold_load(&self, url: &str) -> Result<(f64, f64)> {
        let profile = tempfile_dir()?;
        let capabilities = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": "/usr/bin/chromium",
                "args": ["--headless=new", "--no-sandbox", "--disable-gpu",
                         "--disable-dev-shm-usage", "--disable-background-networking",
                         "--disable-component-update", "--no-first-run",
                         format!("--user-data-dir={}", profile.display())]
            }
        }}});
        let session = self
            .call(reqwest::Method::POST, "/session", capabilities)
            .await?;
        let id = session["sessionId"]
            .as_str()
            .context("no session id")?
            .to_owned();
        let outcome = self.measure(&id, url).await;
        let _ = self
            .call(
                reqwest::Method::DELETE,
                &format!("/session/{id}"),
                json!({}),
            )
            .await;
        let _ = std::fs::remove_dir_all(&profile);
        outcome
    }

    async fn measure(&self, id: &str, url: &str) -> Result<(f64, f64)> {
        use reqwest::Method;
        self.call(
            Method::POST,
            &format!("/session/{id}/goog/cdp/execute"),
            json!({"cmd": "Page.addScriptToEvaluateOnNewDocument",
                   "params": {"source": FIRST_VALUE_PROBE}}),
        )
        .await?;
        self.call(
            Method::POST,
            &format!("/session/{id}/url"),
            json!({"url": url}),
        )
        .await?;
        for _ in 0..100 {
            let found = self
                .call(
                    Method::POST,
                    &format!("/session/{id}/execute/sync"),
                    json!({"script": READ_PROBE, "args": []}),
                )
                .await?;
            if let Some(first) = found["first"].as_f64() {
                let bytes = found["transferred"].as_f64().unwrap_or(0.0);
                return Ok((first, bytes));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        bail!("no value shown within 10 s of the load")
    }
}

/// A fresh, empty directory for one browser profile.
fn tempfile_dir() -> Result<std::path::PathBuf> {
    let dir = std::env::temp_dir().join(format!(
        "shared-counter-bench-{}-{}",
        std::process::id(),
        super::client::now_ns()
    ));
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
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
