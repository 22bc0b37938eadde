//! A real backend replica: the `backend` binary, started on a free port.

use std::path::PathBuf;
use std::process::Stdio;

use serde_json::Value;
use shared::CounterState;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

use super::{PATIENCE, logs_wanted, workspace_root};

pub struct Replica {
    /// The process; killed (SIGKILL) when this value drops.
    child: Option<Child>,
    /// `127.0.0.1:port`, fixed for the replica's life so it can restart on the same port.
    pub address: String,
    /// Arguments without `--listen`, kept for restarts.
    args: Vec<String>,
    /// Where the process's logs (stderr) go, across restarts; printed on drop when
    /// `TEST_LOG` is set.
    log: tempfile::NamedTempFile,
    /// One client for every request to this replica, reusing its connections.
    http: reqwest::Client,
}

/// An HTTP answer: status and JSON body (Null when not JSON).
pub struct Answer {
    /// The HTTP status code.
    pub status: u16,
    /// The body as JSON, which tests pick apart.
    pub body: Value,
}

impl Replica {
    /// Starts a replica with the given extra flags on a free port.
    pub async fn start(args: &[String]) -> Self {
        let mut replica = Self {
            child: None,
            address: "127.0.0.1:0".into(),
            args: args.to_vec(),
            log: tempfile::NamedTempFile::new().expect("log file"),
            http: reqwest::Client::new(),
        };
        replica.spawn().await;
        replica
    }

    async fn spawn(&mut self) {
        let mut command = Command::new(env!("CARGO_BIN_EXE_backend"));
        command.arg("--listen").arg(&self.address).args(&self.args);
        // Version 2 serves only `global` and created counters by default; the tests of
        // version 1's behaviour use counters of any name, as version 1 did. The tests of
        // owned counters pass `--open-counters` themselves.
        if !self.args.iter().any(|arg| arg == "--open-counters") {
            command.args(["--open-counters", "*"]);
        }
        if !self.args.iter().any(|arg| arg == "--static-dir") {
            command
                .arg("--static-dir")
                .arg(workspace_root().join("dist"));
        }
        let mut child = command
            .env("RUST_LOG", "info,backend=debug")
            .stdout(Stdio::piped())
            .stderr(
                std::fs::OpenOptions::new()
                    .append(true)
                    .open(self.log.path())
                    .expect("log file"),
            )
            .kill_on_drop(true)
            .spawn()
            .expect("start backend");
        let stdout = child.stdout.take().expect("stdout");
        let mut lines = BufReader::new(stdout).lines();
        let line = tokio::time::timeout(PATIENCE, lines.next_line())
            .await
            .expect("backend did not start in time")
            .expect("read backend stdout")
            .expect("backend exited before listening");
        let address = line
            .strip_prefix("listening on http://")
            .unwrap_or_else(|| panic!("unexpected first line {line:?}"));
        self.address = address.to_owned();
        // Keep draining stdout so the replica never blocks on a full pipe.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        self.child = Some(child);
    }

    /// The replica's resident memory in KiB (from /proc), to check that it stays bounded.
    pub fn rss_kib(&self) -> u64 {
        let pid = self
            .child
            .as_ref()
            .and_then(|c| c.id())
            .expect("replica is running");
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("/proc");
        status
            .lines()
            .find_map(|line| line.strip_prefix("VmRSS:"))
            .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
            .expect("VmRSS")
    }

    /// Everything the replica logged so far.
    pub fn logs(&self) -> String {
        std::fs::read_to_string(self.log.path()).unwrap_or_default()
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.address)
    }

    pub fn ws_url(&self, name: &str) -> String {
        format!("ws://{}/ws/counters/{name}", self.address)
    }

    /// `kill -9`: no shutdown code runs.
    pub async fn kill9(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().await.expect("kill replica");
        }
    }

    /// SIGTERM, then waits for the process to exit; returns whether it exited successfully.
    pub async fn terminate(&mut self) -> bool {
        let mut child = self.child.take().expect("replica is running");
        let pid = child.id().expect("pid");
        std::process::Command::new("kill")
            .arg(pid.to_string())
            .status()
            .expect("kill -TERM");
        tokio::time::timeout(PATIENCE, child.wait())
            .await
            .expect("replica did not exit after SIGTERM")
            .expect("wait")
            .success()
    }

    /// Starts the replica again on the same port with the same flags.
    pub async fn restart(&mut self) {
        self.kill9().await;
        self.spawn().await;
    }

    pub async fn get(&self, path: &str) -> Answer {
        let response = self.http.get(self.url(path)).send().await.expect("GET");
        Self::answer(response).await
    }

    pub async fn post(&self, path: &str, body: Option<Value>) -> Answer {
        let mut request = self.http.post(self.url(path));
        if let Some(body) = body {
            request = request.json(&body);
        }
        Self::answer(request.send().await.expect("POST")).await
    }

    pub async fn post_raw(&self, path: &str, body: Vec<u8>) -> Answer {
        let response = self
            .http
            .post(self.url(path))
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .expect("POST");
        Self::answer(response).await
    }

    async fn answer(response: reqwest::Response) -> Answer {
        let status = response.status().as_u16();
        let text = response.text().await.unwrap_or_default();
        Answer {
            status,
            body: serde_json::from_str(&text).unwrap_or(Value::Null),
        }
    }

    /// `GET /api/counters/{name}`, which must succeed.
    pub async fn state(&self, name: &str) -> CounterState {
        let answer = self.get(&format!("/api/counters/{name}")).await;
        assert_eq!(answer.status, 200, "{}", answer.body);
        serde_json::from_value(answer.body).expect("state")
    }

    /// `POST /api/counters/{name}/increment` with `by` and an optional `op_id`.
    pub async fn increment(&self, name: &str, by: i64, op_id: Option<&str>) -> Answer {
        let mut body = serde_json::json!({ "by": by });
        if let Some(op_id) = op_id {
            body["op_id"] = op_id.into();
        }
        self.post(&format!("/api/counters/{name}/increment"), Some(body))
            .await
    }

    /// The value of one series in `/metrics`, named as it is printed (labels included), or
    /// `None` while it has none.
    pub async fn metric(&self, series: &str) -> Option<f64> {
        let text = self.http.get(self.url("/metrics")).send().await.ok()?;
        let text = text.text().await.ok()?;
        let prefix = format!("{series} ");
        text.lines()
            .find_map(|line| line.strip_prefix(&prefix))
            .and_then(|value| value.parse().ok())
    }

    /// Waits until `/readyz` answers `status` (200 or 503).
    pub async fn wait_ready(&self, status: u16) {
        super::eventually(
            &format!("/readyz on {} to say {status}", self.address),
            || async { (self.readyz().await == status).then_some(()) },
        )
        .await;
    }

    pub async fn readyz(&self) -> u16 {
        self.status_of("/readyz").await
    }

    pub async fn healthz(&self) -> u16 {
        self.status_of("/healthz").await
    }

    /// The status of `GET path`, or 0 when nothing answers.
    async fn status_of(&self, path: &str) -> u16 {
        match self.http.get(self.url(path)).send().await {
            Ok(response) => response.status().as_u16(),
            Err(_) => 0,
        }
    }
}

impl Drop for Replica {
    fn drop(&mut self) {
        if logs_wanted() {
            eprintln!("--- logs of replica {} ---\n{}", self.address, self.logs());
        }
    }
}

/// The path of the data folder given to an embedded replica.
pub fn data_dir_arg(dir: &std::path::Path) -> Vec<String> {
    vec![
        "--data-dir".into(),
        PathBuf::from(dir).display().to_string(),
    ]
}
