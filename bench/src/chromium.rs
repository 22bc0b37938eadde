//! Debian's headless Chromium driven through its `chromedriver` with fantoccini, as the
//! browser tests drive it: one chromedriver per phase, and one browser per page, each a
//! process of its own with a fresh profile.
//!
//! A browser is closed through its WebDriver session. One that could not be (a hung session,
//! a phase that failed half-way) is killed when its [`Browser`] is dropped: its processes are
//! the ones whose command line holds its own profile folder, which no other process has.

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use fantoccini::{Client, ClientBuilder};
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::{Value, json};

use crate::cluster::free_port;

/// How long one WebDriver step (starting a browser, one command, closing it) may take.
pub const COMMAND_TIMEOUT: Duration = Duration::from_secs(60);

/// The flags every browser gets: headless, and nothing running beside the page (no updates,
/// no sync, no first-run pages) that would take CPU from what is measured.
const HEADLESS: [&str; 7] = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
];

/// A `chromedriver` on a free port, killed on drop.
pub struct ChromeDriver {
    /// The process, killed on drop.
    _child: tokio::process::Child,
    /// Its base URL.
    url: String,
    /// Sends the DevTools commands fantoccini has no method for (`goog/cdp/execute`).
    http: reqwest::Client,
}

impl ChromeDriver {
    pub async fn start() -> Result<ChromeDriver> {
        let port = free_port()?;
        let child = tokio::process::Command::new("chromedriver")
            .arg(format!("--port={port}"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .context("could not start chromedriver")?;
        let url = format!("http://127.0.0.1:{port}");
        let http = reqwest::Client::new();
        for _ in 0..100 {
            if http
                .get(format!("{url}/status"))
                .send()
                .await
                .is_ok_and(|response| response.status().is_success())
            {
                return Ok(ChromeDriver {
                    _child: child,
                    url,
                    http,
                });
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        bail!("chromedriver did not answer within 10 s")
    }

    /// A new headless Chromium with a fresh profile and `extra_args` beside the usual flags.
    pub async fn browser(&self, extra_args: &[&str]) -> Result<Browser> {
        let profile = tempfile::tempdir().context("could not create a browser profile")?;
        let mut args: Vec<String> = HEADLESS.iter().map(|arg| (*arg).to_owned()).collect();
        args.extend(extra_args.iter().map(|arg| (*arg).to_owned()));
        args.push(format!("--user-data-dir={}", profile.path().display()));
        let capabilities = json!({
            "browserName": "chrome",
            "goog:chromeOptions": { "binary": "/usr/bin/chromium", "args": args }
        });
        let Value::Object(capabilities) = capabilities else {
            unreachable!("a JSON object literal")
        };
        let started = tokio::time::timeout(
            COMMAND_TIMEOUT,
            ClientBuilder::new(HttpConnector::new())
                .capabilities(capabilities)
                .connect(&self.url),
        )
        .await;
        let client = match started {
            Ok(Ok(client)) => client,
            // A browser that started but whose session did not is killed by its profile.
            Ok(Err(error)) => {
                kill_browser(profile.path());
                return Err(error).context("could not start a Chromium session");
            }
            Err(_) => {
                kill_browser(profile.path());
                bail!("Chromium did not start within {COMMAND_TIMEOUT:?}");
            }
        };
        let mut browser = Browser {
            client,
            devtools: String::new(),
            http: self.http.clone(),
            profile,
            closed: false,
        };
        let session = browser
            .client
            .session_id()
            .await?
            .context("no session id")?;
        browser.devtools = format!("{}/session/{session}/goog/cdp/execute", self.url);
        Ok(browser)
    }
}

/// One Chromium process tree with one page, closed by [`Browser::close`] or killed on drop.
pub struct Browser {
    /// The WebDriver session that drives the page.
    pub client: Client,
    /// chromedriver's endpoint for this session's DevTools commands.
    devtools: String,
    /// Sends the DevTools commands.
    http: reqwest::Client,
    /// The browser's own profile folder: removed on drop, and what finds its processes.
    profile: tempfile::TempDir,
    /// Whether the session was closed, so that drop need not kill anything.
    closed: bool,
}

impl Browser {
    /// Runs one DevTools command in the page and returns its result.
    pub async fn cdp(&self, cmd: &str, params: Value) -> Result<Value> {
        let response = self
            .http
            .post(&self.devtools)
            .json(&json!({"cmd": cmd, "params": params}))
            .send()
            .await?;
        let status = response.status();
        if !status.is_success() {
            let body = response.text().await.unwrap_or_default();
            bail!("chromedriver {cmd}: {status} {body}");
        }
        let mut body: Value = response.json().await?;
        Ok(body["value"].take())
    }

    /// The browser's processes now: the browser itself, its renderers and helpers.
    pub fn pids(&self) -> Vec<u32> {
        processes_of(self.profile.path())
    }

    /// Ends the session, which ends the browser; a session that does not end in time is
    /// killed on drop.
    pub async fn close(mut self) {
        let client = self.client.clone();
        self.closed = matches!(
            tokio::time::timeout(COMMAND_TIMEOUT, client.close()).await,
            Ok(Ok(()))
        );
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        if !self.closed {
            kill_browser(self.profile.path());
        }
    }
}

/// Kills the processes of the browser with `profile` as its user-data folder.
fn kill_browser(profile: &Path) {
    for pid in processes_of(profile) {
        let _ = std::process::Command::new("kill")
            .args(["-KILL", &pid.to_string()])
            .status();
    }
}

/// The processes started with `profile` as their user-data folder: one browser's (its
/// renderers and helpers are given the flag too), and no other's, since every browser gets a
/// folder of its own.
fn processes_of(profile: &Path) -> Vec<u32> {
    let wanted = format!("--user-data-dir={}", profile.display());
    let Ok(processes) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    processes
        .flatten()
        .filter_map(|process| {
            let pid = process.file_name().to_str()?.parse().ok()?;
            let cmdline = std::fs::read(process.path().join("cmdline")).ok()?;
            cmdline
                .split(|&byte| byte == 0)
                .any(|arg| arg == wanted.as_bytes())
                .then_some(pid)
        })
        .collect()
}
