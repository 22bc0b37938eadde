//! The system under test: one `redis-server` and the release-built replicas on it (or one
//! replica on the embedded store), each on a free port of 127.0.0.1, and the client source
//! addresses the load comes from.
//!
//! Everything here is started with `kill_on_drop`, so a benchmark that fails half-way leaves
//! no process behind.

use std::ffi::OsString;
use std::fs::File;
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use tokio::io::{AsyncBufReadExt, BufReader, Lines};
use tokio::process::{Child, ChildStdout, Command};

/// How long Redis or a replica gets to start listening.
const START_TIMEOUT: Duration = Duration::from_secs(30);

/// A `redis-server` without persistence, on a free port.
pub struct Redis {
    /// The process, killed when the benchmark ends.
    child: Child,
    /// Where it listens on 127.0.0.1.
    pub port: u16,
}

impl Redis {
    pub async fn start(log_dir: &Path) -> Result<Redis> {
        Self::start_named(log_dir, "redis", &[]).await
    }

    /// A server logging to `{name}.log`, with extra `redis-server` arguments (to make it a
    /// replica: `--replicaof 127.0.0.1 PORT`).
    pub async fn start_named(log_dir: &Path, name: &str, extra: &[&str]) -> Result<Redis> {
        let port = free_port()?;
        let log = File::create(log_dir.join(format!("{name}.log")))?;
        let child = Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no", "--protected-mode", "no"])
            .args(["--maxclients", "10000"])
            .args(extra)
            .current_dir(log_dir)
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .kill_on_drop(true)
            .spawn()
            .context("could not start redis-server")?;
        let started = tokio::time::Instant::now();
        while tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_err()
        {
            if started.elapsed() > START_TIMEOUT {
                bail!("redis-server did not listen on port {port} within {START_TIMEOUT:?}");
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        Ok(Redis { child, port })
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    pub fn pid(&self) -> Option<u32> {
        self.child.id()
    }
}

/// Where a replica keeps its counters.
pub enum Backing {
    /// The benchmark's Redis, at this URL.
    Redis(String),
    /// The embedded store, in this data folder (one replica only).
    Embedded(PathBuf),
}

impl Backing {
    /// The backend's flags for this store.
    fn args(&self) -> Vec<OsString> {
        match self {
            Backing::Redis(url) => vec!["--redis-url".into(), url.into()],
            Backing::Embedded(dir) => vec!["--data-dir".into(), dir.into()],
        }
    }
}

/// One release-built backend process.
pub struct Replica {
    /// The process, killed when the benchmark ends.
    child: Child,
    /// Its standard output, held open: the backend prints its address there, and a closed pipe
    /// would make any later print fail.
    _stdout: Lines<BufReader<ChildStdout>>,
    /// Where it listens, as it announced on its first line.
    pub address: SocketAddr,
}

impl Replica {
    /// Starts `binary` on a free port of 127.0.0.1 with limits raised for load testing, and
    /// waits for its `listening on http://ADDR` line.
    pub async fn start(
        binary: &Path,
        store: &Backing,
        static_dir: &Path,
        log: &Path,
    ) -> Result<Replica> {
        Self::start_with(binary, store, static_dir, log, &[]).await
    }

    /// As [`Replica::start`], with extra backend flags.
    pub async fn start_with(
        binary: &Path,
        store: &Backing,
        static_dir: &Path,
        log: &Path,
        extra: &[&str],
    ) -> Result<Replica> {
        let log = File::create(log)?;
        let mut child = Command::new(binary)
            .args(["--listen", "127.0.0.1:0"])
            .args(store.args())
            .args(extra)
            .arg("--static-dir")
            .arg(static_dir)
            // A replica here may hold up to 20,000 open files; the benchmark never opens more
            // sockets than that on one replica.
            .args([
                "--max-connections",
                "19500",
                "--max-connections-per-ip",
                "0",
            ])
            .args([
                "--max-ops-per-second",
                "1000000",
                "--max-ops-burst",
                "1000000",
            ])
            .env("RUST_LOG", "warn")
            // Version 2 serves only `global` and created counters unless told otherwise; the
            // benchmark uses counters of any name, as version 1 did. An environment variable
            // rather than the flag, so that a version-1 binary measured beside it (which has
            // no such flag) starts the same way.
            .env("OPEN_COUNTERS", "*")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(log)
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("could not start {}", binary.display()))?;
        let (address, lines) = announced_address(&mut child, "the backend").await?;
        Ok(Replica {
            child,
            _stdout: lines,
            address,
        })
    }

    pub fn pid(&self) -> Option<u32> {
        self.child.id()
    }

    /// The WebSocket URL of counter `name` on this replica.
    pub fn ws_url(&self, name: &str) -> String {
        format!("ws://{}/ws/counters/{name}", self.address)
    }

    pub fn http_url(&self, path: &str) -> String {
        format!("http://{}{path}", self.address)
    }

    /// The value of one unlabelled series of the replica's `/metrics` (`None` when it has no
    /// such series, as an older backend may not).
    pub async fn metric(&self, series: &str) -> Result<Option<f64>> {
        let text = reqwest::get(self.http_url("/metrics"))
            .await?
            .text()
            .await?;
        Ok(text.lines().find_map(|line| {
            let value = line.strip_prefix(series)?.strip_prefix(' ')?;
            value.trim().parse().ok()
        }))
    }
}

/// Waits for the `listening on http://ADDR` line a server started by the benchmark prints
/// first (the backend, or a socket.io server), and returns the address with its standard
/// output, which must be held open: a closed pipe would make any later print fail.
pub async fn announced_address(
    child: &mut Child,
    who: &str,
) -> Result<(SocketAddr, Lines<BufReader<ChildStdout>>)> {
    let stdout = child.stdout.take().context("no stdout pipe")?;
    let mut lines = BufReader::new(stdout).lines();
    let first = tokio::time::timeout(START_TIMEOUT, lines.next_line())
        .await
        .with_context(|| format!("{who} did not announce its address in time"))??
        .with_context(|| format!("{who} exited before announcing its address"))?;
    let address = first
        .strip_prefix("listening on http://")
        .with_context(|| format!("unexpected first line from {who}: {first:?}"))?
        .parse()
        .with_context(|| format!("{who} announced an unreadable address"))?;
    Ok((address, lines))
}

/// A port that was free a moment ago on 127.0.0.1.
pub fn free_port() -> Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// Hands out client source addresses 127.0.0.2 … 127.0.0.254 in turn, so that every batch of
/// connections gets addresses of its own and never runs out of ephemeral ports (about 28,000
/// per source address, some still in TIME_WAIT from an earlier phase).
pub struct SourceAddresses {
    /// The last octet of the next address to hand out.
    next: u8,
}

impl SourceAddresses {
    pub fn new() -> SourceAddresses {
        SourceAddresses { next: 2 }
    }

    pub fn take(&mut self, count: usize) -> Vec<IpAddr> {
        (0..count)
            .map(|_| {
                let address = IpAddr::V4(Ipv4Addr::new(127, 0, 0, self.next));
                self.next = if self.next >= 254 { 2 } else { self.next + 1 };
                address
            })
            .collect()
    }
}
