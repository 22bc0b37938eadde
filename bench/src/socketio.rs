//! The click benchmark's socket.io counter (`bench/socketio/`): the same counter written the
//! idiomatic socket.io way (a room per counter, the Redis adapter between replicas, an INCRBY
//! per click), measured in the same run as the app so that "never behind socket.io" (issue
//! 11) is judged side by side rather than against a figure from another day.
//!
//! Two Node processes on the benchmark's own Redis are its two replicas; each serves the page
//! (a copy of the plain page with a socket.io client, WebSocket transport only) itself. The
//! package is installed with `npm ci` from its pinned lock file into a folder under the log
//! folder (`target/bench/socketio`), again only when the lock file changed, so `node_modules`
//! is never in the tree. Node is needed by this comparison only: without `node` and `npm` the
//! column is left out with a note, and nothing else of the benchmark (or its tests) needs them.

use std::fs::{self, File};
use std::net::SocketAddr;
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use tokio::io::{BufReader, Lines};
use tokio::process::{Child, ChildStdout, Command};

use crate::cluster::announced_address;

/// The package as it is in `bench/socketio/`, written to the install folder each run.
const PACKAGE: &str = include_str!("../socketio/package.json");
const LOCK: &str = include_str!("../socketio/package-lock.json");
const SERVER: &str = include_str!("../socketio/server.js");
const HTML: &str = include_str!("../socketio/sio.html");
const SCRIPT: &str = include_str!("../socketio/sio.js");
const FILES: [(&str, &str); 5] = [
    ("package.json", PACKAGE),
    ("package-lock.json", LOCK),
    ("server.js", SERVER),
    ("sio.html", HTML),
    ("sio.js", SCRIPT),
];
/// Written into `node_modules` after an install: the lock file it was installed from.
const STAMP: &str = ".installed-from-lock";
/// How long `npm ci` may take (it fetches a few hundred kilobytes from the registry).
const INSTALL_TIMEOUT: Duration = Duration::from_secs(300);

/// The socket.io servers, one per replica, killed when dropped.
pub struct Servers {
    servers: Vec<Server>,
}

struct Server {
    /// The Node process, killed on drop.
    child: Child,
    /// Its standard output, held open.
    _stdout: Lines<BufReader<ChildStdout>>,
    /// Where it listens, as it announced.
    address: SocketAddr,
}

/// Why the socket.io comparison cannot run on this machine (`node` or `npm` missing), or
/// `None` when it can.
pub fn missing_programs() -> Option<String> {
    let missing: Vec<&str> = ["node", "npm"]
        .into_iter()
        .filter(|program| {
            !std::process::Command::new(program)
                .arg("--version")
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|status| status.success())
        })
        .collect();
    (!missing.is_empty()).then(|| {
        format!(
            "the socket.io column of the click latency: {} not installed (the comparison \
             needs Node.js and npm)",
            missing.join(" and ")
        )
    })
}

impl Servers {
    /// Installs the package into `folder` if needed and starts `count` servers on the Redis
    /// at `redis_url`, each logging to `socketio-{index}.log` in `log_dir`.
    pub async fn start(
        redis_url: &str,
        folder: &Path,
        log_dir: &Path,
        count: usize,
    ) -> Result<Servers> {
        install(folder).await?;
        let mut servers = Vec::with_capacity(count);
        for index in 0..count {
            let log = File::create(log_dir.join(format!("socketio-{index}.log")))?;
            let mut child = Command::new("node")
                .arg(folder.join("server.js"))
                .arg(redis_url)
                .env("NODE_ENV", "production")
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(log)
                .kill_on_drop(true)
                .spawn()
                .context("could not start node")?;
            let (address, stdout) = announced_address(&mut child, "the socket.io server").await?;
            servers.push(Server {
                child,
                _stdout: stdout,
                address,
            });
        }
        Ok(Servers { servers })
    }

    /// How many servers (replicas) there are.
    pub fn len(&self) -> usize {
        self.servers.len()
    }

    /// The URL of `path` on server `index`.
    pub fn http_url(&self, index: usize, path: &str) -> String {
        format!("http://{}{path}", self.servers[index].address)
    }

    /// The Node processes, for CPU accounting.
    pub fn pids(&self) -> Vec<Option<u32>> {
        self.servers
            .iter()
            .map(|server| server.child.id())
            .collect()
    }
}

/// The page's path for `counter`, to open on a server.
pub fn path(counter: &str) -> String {
    format!("/sio.html?counter={counter}")
}

/// Writes the package into `folder` and runs `npm ci` there unless `node_modules` was
/// installed from this very lock file.
async fn install(folder: &Path) -> Result<()> {
    fs::create_dir_all(folder).with_context(|| format!("could not create {}", folder.display()))?;
    for (name, text) in FILES {
        fs::write(folder.join(name), text)?;
    }
    let stamp = folder.join("node_modules").join(STAMP);
    if fs::read_to_string(&stamp).is_ok_and(|installed| installed == LOCK) {
        return Ok(());
    }
    eprintln!(
        "clicks: npm ci of the socket.io page in {}",
        folder.display()
    );
    let install = Command::new("npm")
        .args(["ci", "--no-audit", "--no-fund"])
        .current_dir(folder)
        .stdin(Stdio::null())
        .kill_on_drop(true)
        .output();
    let output = tokio::time::timeout(INSTALL_TIMEOUT, install)
        .await
        .with_context(|| format!("npm ci took longer than {INSTALL_TIMEOUT:?}"))?
        .context("could not run npm")?;
    if !output.status.success() {
        bail!(
            "npm ci failed: {}",
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    fs::write(stamp, LOCK)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every dependency pinned to one version, and the lock file made from this package.json:
    /// a range would let two runs measure two different socket.io's.
    #[test]
    fn the_package_is_pinned_and_locked() {
        let package: serde_json::Value = serde_json::from_str(PACKAGE).unwrap();
        let lock: serde_json::Value = serde_json::from_str(LOCK).unwrap();
        let dependencies = package["dependencies"].as_object().unwrap();
        assert!(dependencies.contains_key("socket.io"));
        assert!(dependencies.contains_key("@socket.io/redis-adapter"));
        assert!(dependencies.contains_key("socket.io-client"));
        for (name, version) in dependencies {
            let version = version.as_str().unwrap();
            assert!(
                version.chars().all(|c| c.is_ascii_digit() || c == '.'),
                "{name} is not pinned: {version}"
            );
            assert_eq!(
                lock["packages"][format!("node_modules/{name}")]["version"],
                version,
                "package-lock.json does not hold {name} {version}: run npm install"
            );
        }
        assert_eq!(
            lock["packages"][""]["dependencies"],
            package["dependencies"]
        );
    }

    /// The page asks for WebSocket only, as the server allows, and loads what the server
    /// serves.
    #[test]
    fn the_page_uses_the_websocket_transport_and_the_served_client() {
        assert!(SCRIPT.contains("transports: ['websocket']"));
        assert!(SERVER.contains("transports: ['websocket']"));
        for served in ["/socket.io.min.js", "/sio.js"] {
            assert!(HTML.contains(&format!("src=\"{served}\"")));
            assert!(SERVER.contains(&format!("'{served}'")));
        }
        assert!(path("c").starts_with("/sio.html?"));
        assert!(SERVER.contains("'/sio.html'"));
    }
}
