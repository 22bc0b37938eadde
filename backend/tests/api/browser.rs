//! The UI in a real headless Chromium (Debian's `chromium` driven through its
//! `chromedriver`): a click on one replica's page shows on another replica's page.

use std::process::Stdio;

use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::json;
use tokio::process::{Child, Command};

use crate::helpers::{Cluster, eventually, free_port, logs_wanted, workspace_root};

/// A `chromedriver` on a free port; each [`Browser::open`] starts its own Chromium.
struct Driver {
    /// Killed on drop, which also ends the browsers it started.
    _child: Child,
    url: String,
    /// User-data folders of the browsers, removed on drop.
    profiles: Vec<tempfile::TempDir>,
}

impl Driver {
    async fn start() -> Self {
        let port = free_port();
        let child = Command::new("chromedriver")
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(if logs_wanted() {
                Stdio::inherit()
            } else {
                Stdio::null()
            })
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
        }
    }

    /// A new headless Chromium with its own profile.
    async fn browser(&mut self) -> Client {
        let profile = tempfile::tempdir().expect("profile dir");
        let capabilities = json!({
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
        let serde_json::Value::Object(capabilities) = capabilities else {
            unreachable!()
        };
        ClientBuilder::new(HttpConnector::new())
            .capabilities(capabilities)
            .connect(&self.url)
            .await
            .expect("start a Chromium session")
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

/// The text of the element with `data-testid="{id}"`, if it is on the page.
async fn text_of(browser: &Client, id: &str) -> Option<String> {
    let element = browser
        .find(Locator::Css(&format!("[data-testid=\"{id}\"]")))
        .await
        .ok()?;
    element.text().await.ok()
}

async fn wait_for_count(browser: &Client, expected: i64) {
    let expected = expected.to_string();
    eventually(&format!("the page to show {expected}"), || async {
        (text_of(browser, "count").await.as_deref() == Some(expected.as_str())).then_some(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_click_on_one_replica_shows_on_another() {
    assert!(
        workspace_root().join("dist/index.html").exists(),
        "the frontend must be built first: `cargo xtask test` does it"
    );
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
    eventually("the status to say live", || async {
        let status = first
            .find(Locator::Css("[data-testid=\"status\"]"))
            .await
            .ok()?;
        (status.attr("data-state").await.ok()?.as_deref() == Some("live")).then_some(())
    })
    .await;

    let plus = first
        .find(Locator::Css("[data-testid=\"increment\"]"))
        .await
        .expect("increment button");
    assert_eq!(
        plus.attr("aria-label").await.unwrap().as_deref(),
        Some("Increment")
    );
    plus.click().await.expect("click +");
    wait_for_count(&first, 42).await;
    wait_for_count(&second, 42).await;

    let minus = second
        .find(Locator::Css("[data-testid=\"decrement\"]"))
        .await
        .expect("decrement button");
    minus.click().await.expect("click -");
    minus.click().await.expect("click -");
    wait_for_count(&first, 40).await;
    wait_for_count(&second, 40).await;
    assert_eq!(cluster.stored_value("global").await, 40);

    first.close().await.ok();
    second.close().await.ok();
}
