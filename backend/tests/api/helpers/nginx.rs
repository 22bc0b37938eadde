//! Debian's nginx in front of the replicas, configured by the shipped `deploy/nginx.conf`.

use std::process::Stdio;

use tokio::process::{Child, Command};

use super::{eventually, free_port, process_output, workspace_root};

pub struct Nginx {
    /// The master process; asked to stop on drop.
    child: Child,
    /// `127.0.0.1:port`, the one public address.
    pub address: String,
    /// Its prefix folder: configuration, pid, logs and temp files.
    dir: tempfile::TempDir,
}

impl Nginx {
    /// Starts nginx with `deploy/nginx.conf` included verbatim but for its addresses: the
    /// public one becomes a free port, the two replicas' become `replicas`.
    pub async fn start(replicas: [&str; 2]) -> Self {
        let port = free_port();
        let address = format!("127.0.0.1:{port}");
        let shipped = std::fs::read_to_string(workspace_root().join("deploy/nginx.conf"))
            .expect("deploy/nginx.conf");
        let site = shipped
            .replace("listen 127.0.0.1:8080;", &format!("listen {address};"))
            .replace("127.0.0.1:8081", replicas[0])
            .replace("127.0.0.1:8082", replicas[1]);
        assert_ne!(
            site, shipped,
            "the shipped file has the documented addresses"
        );
        let dir = tempfile::tempdir().expect("temp dir");
        let prefix = dir.path().display().to_string();
        std::fs::write(dir.path().join("shared-counter.conf"), site).expect("site");
        // The smallest main configuration around the shipped file, as Debian's nginx.conf
        // would include it from `http { }`.
        let main = format!(
            "daemon off;\nworker_processes 1;\npid {prefix}/nginx.pid;\n\
             error_log {prefix}/error.log warn;\nevents {{ worker_connections 4096; }}\n\
             http {{\n  access_log off;\n  include {prefix}/shared-counter.conf;\n}}\n"
        );
        std::fs::write(dir.path().join("nginx.conf"), main).expect("nginx.conf");
        let child = Command::new("nginx")
            .args(["-p", &prefix, "-c", &format!("{prefix}/nginx.conf"), "-e"])
            .arg(format!("{prefix}/error.log"))
            .stdout(Stdio::null())
            .stderr(process_output())
            .kill_on_drop(true)
            .spawn()
            .expect("nginx must be installed (cargo xtask test installs it)");
        let health = format!("http://{address}/healthz");
        eventually("nginx to answer", || {
            let health = health.clone();
            async move {
                let response = reqwest::get(&health).await.ok()?;
                response.status().is_success().then_some(())
            }
        })
        .await;
        Self {
            child,
            address,
            dir,
        }
    }

    /// What nginx logged (warnings and errors), to explain a failure.
    pub fn error_log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("error.log")).unwrap_or_default()
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.address)
    }

    pub fn ws_url(&self, name: &str) -> String {
        format!("ws://{}/ws/counters/{name}", self.address)
    }
}

impl Drop for Nginx {
    /// SIGTERM, not SIGKILL: a killed master leaves its workers running, still listening.
    fn drop(&mut self) {
        let Some(pid) = self.child.id() else { return };
        let _ = std::process::Command::new("kill")
            .arg(pid.to_string())
            .status();
        for _ in 0..100 {
            if matches!(self.child.try_wait(), Ok(Some(_))) {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        let _ = self.child.start_kill();
    }
}
