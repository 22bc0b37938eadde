//! The UI in a real headless Chromium (Debian's `chromium` driven through its
//! `chromedriver`): presses on one replica's page show on another's, the keyboard works,
//! named counters are their own; the submodules cover the first screen, reconnecting, the
//! offline app, a press Redis refuses, the work that follows the number, the screenshots, and
//! (version 2) the roles, links and display page of owned counters.
//!
//! DevTools commands (installability, colour-scheme emulation, viewport sizes) go through
//! chromedriver's `goog/cdp/execute` endpoint. Browser tests take [`BROWSERS`] so that only
//! one Chromium runs at a time: two at once on a small machine make timing flaky.

mod first_screen;
mod follow_up;
mod load_balancer;
mod offline;
mod owner;
mod reconnect;
mod refused;
mod roles;
mod screenshots;

use std::process::Stdio;

use fantoccini::actions::{InputSource, KeyAction, KeyActions};
use fantoccini::key::Key;
use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::{Value, json};
use tokio::process::{Child, Command};
use tokio::sync::{Mutex, MutexGuard};

use crate::helpers::{Cluster, eventually, free_port, process_output, workspace_root};

/// Held by each browser test for its whole run.
static BROWSERS: Mutex<()> = Mutex::const_new(());

/// Waits for the other browser tests to finish, and checks the frontend is built.
async fn browser_turn() -> MutexGuard<'static, ()> {
    assert!(
        workspace_root().join("dist/index.html").exists(),
        "the frontend must be built first: `cargo xtask test` does it"
    );
    BROWSERS.lock().await
}

/// A `chromedriver` on a free port; each [`Driver::browser`] starts its own Chromium.
struct Driver {
    /// Killed on drop, which also ends the browsers it started.
    _child: Child,
    /// chromedriver's base URL.
    url: String,
    /// User-data folders of the browsers, removed on drop.
    profiles: Vec<tempfile::TempDir>,
    /// Sends DevTools commands to chromedriver.
    http: reqwest::Client,
}

impl Drop for Driver {
    /// Ends the browsers this driver started, even when a test failed before closing its
    /// session: killing chromedriver alone would leave them running. Each is found by its
    /// own profile folder.
    fn drop(&mut self) {
        for profile in &self.profiles {
            let _ = std::process::Command::new("pkill")
                .arg("-KILL")
                .arg("-f")
                // `--` ends pkill's options: the pattern itself starts with `--`, and without
                // it pkill refused it as an unknown option and killed nothing.
                .arg("--")
                .arg(format!("--user-data-dir={}", profile.path().display()))
                .status();
        }
    }
}

impl Driver {
    async fn start() -> Self {
        let port = free_port();
        let child = Command::new("chromedriver")
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(process_output())
            .kill_on_drop(true)
            .spawn()
            .expect("chromedriver must be installed (cargo xtask test installs it)");
        let url = format!("http://127.0.0.1:{port}");
        let status = format!("{url}/status");
        eventually("chromedriver to answer", || {
            let status = status.clone();
            async move { reqwest::get(&status).await.ok().map(|_| ()) }
        })
        .await;
        Self {
            _child: child,
            url,
            profiles: Vec::new(),
            http: reqwest::Client::new(),
        }
    }

    /// A new headless Chromium with its own profile.
    async fn browser(&mut self) -> Client {
        self.browser_with(json!({})).await
    }

    /// A new headless Chromium with its own profile and `extra` capabilities (e.g. Chromium's
    /// performance log, which lists every request the page made).
    async fn browser_with(&mut self, extra: Value) -> Client {
        let profile = tempfile::tempdir().expect("profile dir");
        let mut capabilities = json!({
            "goog:chromeOptions": {
                "binary": which("chromium"),
                "args": [
                    "--headless=new",
                    "--no-sandbox",
                    "--disable-gpu",
                    "--disable-dev-shm-usage",
                    "--disable-background-networking",
                    "--disable-component-update",
                    "--disable-sync",
                    "--no-first-run",
                    format!("--user-data-dir={}", profile.path().display()),
                    "--window-size=390,844",
                ]
            }
        });
        self.profiles.push(profile);
        if let (Value::Object(all), Value::Object(extra)) = (&mut capabilities, extra) {
            all.extend(extra);
        }
        let serde_json::Value::Object(capabilities) = capabilities else {
            unreachable!()
        };
        ClientBuilder::new(HttpConnector::new())
            .capabilities(capabilities)
            .connect(&self.url)
            .await
            .expect("start a Chromium session")
    }

    /// Runs one DevTools command in `browser`'s page and returns its result.
    async fn cdp(&self, browser: &Client, cmd: &str, params: Value) -> Value {
        let session = browser
            .session_id()
            .await
            .expect("session id")
            .expect("a session");
        let response = self
            .http
            .post(format!("{}/session/{session}/goog/cdp/execute", self.url))
            .json(&json!({ "cmd": cmd, "params": params }))
            .send()
            .await
            .expect("chromedriver answers");
        let body: Value = response.json().await.expect("JSON from chromedriver");
        assert!(body["value"]["error"].is_null(), "{cmd}: {body}");
        body["value"].clone()
    }
}

fn which(program: &str) -> String {
    let output = std::process::Command::new("which")
        .arg(program)
        .output()
        .expect("run which");
    let path = String::from_utf8_lossy(&output.stdout).trim().to_owned();
    assert!(
        !path.is_empty(),
        "{program} must be installed (cargo xtask test installs it)"
    );
    path
}

fn by_testid(id: &str) -> String {
    format!("[data-testid=\"{id}\"]")
}

/// The text of the element with `data-testid="{id}"`, if it is on the page.
async fn text_of(browser: &Client, id: &str) -> Option<String> {
    let element = browser.find(Locator::Css(&by_testid(id))).await.ok()?;
    element.text().await.ok()
}

/// The notice line under the number: its text and whether it is an alert. Read in one
/// script, so a re-render cannot swap the element between the two reads.
async fn notice(page: &Client) -> (String, bool) {
    let read = page
        .execute(
            "const notice = document.querySelector('p.notice');\
             return [notice.textContent, notice.getAttribute('role') === 'alert'];",
            vec![],
        )
        .await
        .expect("the notice line");
    serde_json::from_value(read).expect("text and role")
}

/// Presses the page keeps in `localStorage` for `name`.
async fn stored_presses(page: &Client, name: &str) -> i64 {
    page.execute(
        "const entry = JSON.parse(localStorage.getItem(`shared-counter:v1:${arguments[0]}`));\
         return entry.ops.reduce((sum, op) => sum + Math.abs(op.delta), 0);",
        vec![json!(name)],
    )
    .await
    .expect("read localStorage")
    .as_i64()
    .expect("a number")
}

async fn wait_for_count(browser: &Client, expected: i64) {
    let expected = expected.to_string();
    eventually(&format!("the page to show {expected}"), || async {
        (text_of(browser, "count").await.as_deref() == Some(expected.as_str())).then_some(())
    })
    .await;
}

/// Waits until the connection indicator's `data-state` is `state`.
async fn wait_for_status(browser: &Client, state: &str) {
    eventually(&format!("the status to say {state}"), || async {
        let status = browser
            .find(Locator::Css(&by_testid("status")))
            .await
            .ok()?;
        (status.attr("data-state").await.ok()?.as_deref() == Some(state)).then_some(())
    })
    .await;
}

async fn click(browser: &Client, id: &str) {
    browser
        .find(Locator::Css(&by_testid(id)))
        .await
        .unwrap_or_else(|_| panic!("{id} button"))
        .click()
        .await
        .unwrap_or_else(|_| panic!("click {id}"));
}

/// Presses and releases one key, as a keyboard would.
async fn press_key(browser: &Client, key: char) {
    let actions = KeyActions::new("keyboard".into())
        .then(KeyAction::Down { value: key })
        .then(KeyAction::Up { value: key });
    browser.perform_actions(actions).await.expect("press a key");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn presses_and_keys_on_one_replica_show_on_another() {
    let _turn = browser_turn().await;
    let cluster = Cluster::redis(2).await;
    cluster.replicas[0].increment("global", 41, None).await;

    let mut driver = Driver::start().await;
    let first = driver.browser().await;
    let second = driver.browser().await;
    first
        .goto(&cluster.replicas[0].url("/"))
        .await
        .expect("open page");
    second
        .goto(&cluster.replicas[1].url("/"))
        .await
        .expect("open page");
    wait_for_count(&first, 41).await;
    wait_for_count(&second, 41).await;
    wait_for_status(&first, "live").await;

    let plus = first
        .find(Locator::Css(&by_testid("increment")))
        .await
        .expect("increment button");
    assert_eq!(
        plus.attr("aria-label").await.unwrap().as_deref(),
        Some("Increment")
    );
    plus.click().await.expect("click +");
    wait_for_count(&first, 42).await;
    wait_for_count(&second, 42).await;

    click(&second, "decrement").await;
    click(&second, "decrement").await;
    wait_for_count(&first, 40).await;
    wait_for_count(&second, 40).await;
    assert_eq!(cluster.stored_value("global").await, 40);
    eventually("the title to carry the value", || async {
        (first.title().await.ok()? == "40 · global — Shared Counter").then_some(())
    })
    .await;
    // Presence: both pages watch the counter.
    eventually("presence to count both pages", || async {
        text_of(&first, "status")
            .await?
            .contains("2 here")
            .then_some(())
    })
    .await;

    // The keyboard: + = ArrowUp add one each, - ArrowDown take one each.
    for key in ['+', '=', char::from(Key::Up)] {
        press_key(&first, key).await;
    }
    wait_for_count(&second, 43).await;
    for key in ['-', char::from(Key::Down)] {
        press_key(&second, key).await;
    }
    wait_for_count(&first, 41).await;
    assert_eq!(cluster.stored_value("global").await, 41);

    // Share: headless Chromium on Linux has no share sheet, so the link goes to the clipboard,
    // or, where the clipboard is refused, the page shows it; either way it says so.
    click(&first, "share").await;
    let shared = eventually("the share button to confirm", || async {
        let text = text_of(&first, "share").await?;
        (text.contains("Link copied") || text.contains("Copy the address")).then_some(text)
    })
    .await;
    assert!(!shared.is_empty());

    // A named counter is its own number.
    first
        .goto(&cluster.replicas[0].url("/c/door-2"))
        .await
        .expect("open a named counter");
    wait_for_count(&first, 0).await;
    click(&first, "increment").await;
    wait_for_count(&first, 1).await;
    eventually("door-2 to be stored", || async {
        (cluster.stored_value("door-2").await == 1).then_some(())
    })
    .await;
    assert_eq!(cluster.stored_value("global").await, 41);
    wait_for_count(&second, 41).await;

    // A name the contract refuses gets a clear page, not a counter.
    first
        .goto(&cluster.replicas[0].url("/c/not%20a%20name"))
        .await
        .expect("open an invalid name");
    let message = eventually("the invalid-name page", || async {
        text_of(&first, "invalid-name").await
    })
    .await;
    assert!(
        message.contains("“not a name” is not a counter name"),
        "{message}"
    );
    assert!(text_of(&first, "count").await.is_none());

    first.close().await.ok();
    second.close().await.ok();
}
