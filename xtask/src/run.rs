//! `cargo xtask run`: build everything and serve Shared Counter locally, until Ctrl-C.
//!
//! By default one backend with the embedded store (zero set-up). With `REDIS_URL` set, the
//! backends share Redis, and `--replicas N` starts N of them on consecutive ports, which is how
//! the multi-replica behaviour is tried by hand. The URLs are printed only once every backend
//! accepts connections, and xtask stays in the foreground supervising them: Ctrl-C (or SIGTERM,
//! SIGHUP, or any backend dying) sends each backend SIGTERM and waits for it, so no backend
//! outlives the task.
//! Signals need an event loop, hence tokio here (already a workspace dependency).
//!
//! `--cluster` starts a local Redis Cluster first ([`redis_cluster`]) and two backends on it
//! behind nginx; the Redis nodes are supervised like the backends and stopped after them.

use std::env;
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};
use tokio::process::Child;

use crate::workspace::{self, Workspace};
use crate::{frontend, load_balancer, redis_cluster, system_packages, tools};

/// How long the backends get to start listening before the task gives up.
const STARTUP_TIMEOUT: Duration = Duration::from_secs(60);
/// How long a backend gets to shut down gracefully before it is killed.
const STOP_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(clap::Args)]
pub struct Options {
    /// How many backends to start, on consecutive ports. More than one needs REDIS_URL: the
    /// embedded store belongs to a single process.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..))]
    replicas: u16,
    /// The port of the first backend (on 127.0.0.1); further replicas take the next ports.
    #[arg(long, default_value_t = 8080)]
    port: u16,
    /// Put nginx (configured by deploy/nginx.conf) in front on --port; the replicas take the
    /// ports after it. Try it with several replicas on Redis.
    #[arg(long)]
    lb: bool,
    /// Build and start the backend in the dev profile: quicker to compile, slower to run. The
    /// frontend is a release build either way.
    #[arg(long)]
    debug: bool,
    /// Start a local Redis Cluster (three primaries, three replicas; fresh on every run) and
    /// at least two backends on it behind nginx: implies --lb and --replicas 2.
    #[arg(long)]
    cluster: bool,
}

/// One backend process started by this task.
struct Backend {
    /// What the user opens in a browser, and how messages name this backend.
    url: String,
    /// Where it listens; probed to tell when it is ready.
    address: SocketAddr,
    /// The process, killed on drop should the task fail before stopping it properly.
    child: Child,
}

pub fn run(workspace: &Workspace, options: &Options) -> Result<()> {
    let redis_url = env::var_os("REDIS_URL").is_some_and(|url| !url.is_empty());
    if options.cluster && redis_url {
        bail!("--cluster starts its own Redis Cluster: unset REDIS_URL, or leave out --cluster");
    }
    let cluster = if options.cluster {
        system_packages::ensure_cluster_programs(workspace)?;
        Some(redis_cluster::free_ports()?)
    } else {
        None
    };
    let redis = redis_url || cluster.is_some();
    let replicas = if cluster.is_some() {
        options.replicas.max(2)
    } else {
        options.replicas
    };
    let lb = options.lb || cluster.is_some();
    if replicas > 1 && !redis {
        bail!(
            "--replicas {replicas} needs Redis: the embedded store serves a single backend. \
             Start Redis and set REDIS_URL, for example:\n    \
             REDIS_URL=redis://127.0.0.1:6379 cargo xtask run --replicas {replicas}",
            replicas = options.replicas
        );
    }
    // Behind the load balancer, nginx takes --port and the replicas the ports after it.
    let first_replica_port = u16::from(lb);
    let addresses = (0..replicas)
        .map(|index| {
            let port = options
                .port
                .checked_add(first_replica_port + index)
                .context("the ports run past 65535")?;
            Ok(SocketAddr::from(([127, 0, 0, 1], port)))
        })
        .collect::<Result<Vec<_>>>()?;

    // The backend compiles while the frontend tools install and the frontend builds: on a
    // fresh machine the tools' builds leave a core idle for minutes (large crates, links),
    // which the backend's build fills.
    let (backend, frontend) = std::thread::scope(|scope| {
        let backend = scope.spawn(|| build_backend(workspace, options.debug));
        let frontend = build_frontend(workspace);
        (backend.join(), frontend)
    });
    frontend.context("building the frontend")?;
    let binary = backend.map_err(|_| anyhow!("building the backend panicked"))??;

    workspace::step(&format!("Starting {} backend(s)", addresses.len()));
    for address in &addresses {
        // Checked up front: the readiness probe would otherwise mistake whatever already
        // listens there for our backend.
        TcpListener::bind(address).with_context(|| {
            format!(
                "{address} is already in use (another Shared Counter?); \
                 stop it or pick another --port"
            )
        })?;
    }
    let store = if let Some(nodes) = &cluster {
        format!(
            "a Redis Cluster of {} nodes ({}); try `redis-cli -c -p {} GET 'counter:{{global}}'`",
            nodes.len(),
            redis_cluster::seeds(nodes),
            nodes[0].port()
        )
    } else if redis {
        "Redis at REDIS_URL".to_owned()
    } else {
        let data_dir = env::var("DATA_DIR").unwrap_or_else(|_| "./data".to_owned());
        format!("the embedded store in {data_dir}")
    };
    let load_balancer = if lb {
        let public = SocketAddr::from(([127, 0, 0, 1], options.port));
        TcpListener::bind(public)
            .with_context(|| format!("{public} is already in use; pick another --port"))?;
        Some((
            public,
            load_balancer::prepare(workspace, public, &addresses)?,
        ))
    } else {
        None
    };
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("could not start the tokio runtime")?
        .block_on(serve(
            workspace,
            &binary,
            &addresses,
            load_balancer,
            cluster.as_deref(),
            &store,
        ))
}

/// Installs the frontend tools where missing, then builds the frontend.
fn build_frontend(workspace: &Workspace) -> Result<()> {
    workspace::step("Checking the frontend tools");
    let tools = tools::ensure_frontend_tools(workspace)?;
    workspace::step("Building the frontend (release)");
    frontend::build(workspace, &tools)
}

/// Builds the backend, in release unless `debug`; returns the binary.
fn build_backend(workspace: &Workspace, debug: bool) -> Result<PathBuf> {
    let profile = if debug { "debug" } else { "release" };
    workspace::step(&format!("Building the backend ({profile})"));
    let mut cargo_build = workspace.cargo();
    cargo_build.args(["build", "--package", "backend"]);
    if !debug {
        cargo_build.arg("--release");
    }
    workspace::run(&mut cargo_build).context("building the backend")?;
    Ok(workspace
        .target_dir()
        .join(profile)
        .join(format!("backend{}", env::consts::EXE_SUFFIX)))
}

/// Starts one backend per address (after the Redis Cluster's nodes, if any) and supervises
/// them until a stop signal or a failure.
async fn serve(
    workspace: &Workspace,
    binary: &Path,
    addresses: &[SocketAddr],
    load_balancer: Option<(SocketAddr, Vec<String>)>,
    cluster: Option<&[SocketAddr]>,
    store: &str,
) -> Result<()> {
    // Installed before any child exists, so no Ctrl-C can kill xtask and orphan a backend.
    let mut stop = StopSignals::install()?;
    // The Redis nodes outlive the backends: stopped last, so a draining backend still
    // reaches its store.
    let mut nodes = Vec::new();
    if let Some(cluster) = cluster {
        let outcome = start_cluster(workspace, cluster, &mut nodes).await;
        if let Err(error) = outcome {
            stop_all(&mut nodes).await;
            return Err(error);
        }
    }
    let static_dir = frontend::dist_dir(workspace);
    let mut backends = Vec::with_capacity(addresses.len());
    for &address in addresses {
        let mut command = workspace.command(binary);
        command
            .arg("--listen")
            .arg(address.to_string())
            .arg("--static-dir")
            .arg(&static_dir);
        if let Some(cluster) = cluster {
            command.env("REDIS_CLUSTER_NODES", redis_cluster::seeds(cluster));
        }
        backends.push(Backend::spawn(command, address)?);
    }
    // nginx is supervised like a backend (listed last): it is probed, announced first, and
    // stopped with the rest.
    if let Some((public, arguments)) = load_balancer {
        let mut command = workspace.command("nginx");
        command.args(&arguments);
        backends.push(Backend::spawn(command, public)?);
    }

    let started = Instant::now();
    let mut announced = false;
    let mut tick = tokio::time::interval(Duration::from_millis(100));
    let outcome = loop {
        tokio::select! {
            () = stop.received() => {
                eprintln!("\nstopping the backend(s)…");
                break Ok(());
            }
            _ = tick.tick() => {
                if let Some(failure) = first_exit(&mut backends).or_else(|| first_exit(&mut nodes)) {
                    break Err(failure);
                }
                if !announced && all_listening(&backends).await {
                    announce(&backends, addresses.len(), store);
                    announced = true;
                } else if !announced && started.elapsed() > STARTUP_TIMEOUT {
                    break Err(anyhow!(
                        "the backend(s) did not accept connections within {STARTUP_TIMEOUT:?}"
                    ));
                }
            }
        }
    };
    stop_all(&mut backends).await;
    stop_all(&mut nodes).await;
    outcome
}

/// Starts the cluster's nodes into `nodes` (so the caller stops them whatever happens), waits
/// until each listens, and joins them.
async fn start_cluster(
    workspace: &Workspace,
    cluster: &[SocketAddr],
    nodes: &mut Vec<Backend>,
) -> Result<()> {
    workspace::step(&format!(
        "Starting a Redis Cluster of {} nodes",
        cluster.len()
    ));
    let dir = workspace.target_dir().join("xtask-redis-cluster");
    for &address in cluster {
        let command = redis_cluster::node_command(workspace, &dir, address)?;
        let mut node = Backend::spawn(command, address)?;
        node.url = format!("redis://{address}");
        nodes.push(node);
    }
    let started = Instant::now();
    while !all_listening(nodes).await {
        if let Some(failure) = first_exit(nodes) {
            return Err(failure);
        }
        if started.elapsed() > STARTUP_TIMEOUT {
            bail!("the Redis nodes did not accept connections within {STARTUP_TIMEOUT:?}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    redis_cluster::form(workspace, cluster).await
}

impl Backend {
    /// Starts `command`, which will listen on `address`.
    fn spawn(mut command: std::process::Command, address: SocketAddr) -> Result<Self> {
        command.stdin(Stdio::null());
        // A process group of its own, so that Ctrl-C in the terminal reaches only xtask, which
        // then asks each process exactly once to stop: a second signal could cut a graceful
        // shutdown short.
        #[cfg(unix)]
        std::os::unix::process::CommandExt::process_group(&mut command, 0);
        let shown = workspace::display(&command);
        eprintln!("$ {shown}");
        let child = tokio::process::Command::from(command)
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("could not start `{shown}`"))?;
        Ok(Self {
            url: format!("http://{address}"),
            address,
            child,
        })
    }
}

/// An error naming the first backend that is no longer running, if any.
fn first_exit(backends: &mut [Backend]) -> Option<anyhow::Error> {
    backends
        .iter_mut()
        .find_map(|backend| match backend.child.try_wait() {
            Ok(None) => None,
            Ok(Some(status)) => Some(anyhow!("{} exited ({status})", backend.url)),
            Err(error) => Some(anyhow!("could not check {}: {error}", backend.url)),
        })
}

async fn all_listening(backends: &[Backend]) -> bool {
    for backend in backends {
        if tokio::net::TcpStream::connect(backend.address)
            .await
            .is_err()
        {
            return false;
        }
    }
    true
}

fn announce(backends: &[Backend], replicas: usize, store: &str) {
    if backends.len() > replicas {
        let (replicas, nginx) = backends.split_at(replicas);
        println!("\nShared Counter is running at {} (nginx)", nginx[0].url);
        println!("in front of:");
        for backend in replicas {
            println!("    {}", backend.url);
        }
    } else if let [backend] = backends {
        println!("\nShared Counter is running at {}", backend.url);
    } else {
        println!("\nShared Counter is running at:");
        for backend in backends {
            println!("    {}", backend.url);
        }
    }
    println!(
        "({} backend(s) on {store}; press Ctrl-C to stop)",
        backends.len()
    );
}

/// Asks every backend to shut down, then waits for each, killing those that take too long.
async fn stop_all(backends: &mut [Backend]) {
    for backend in backends.iter_mut() {
        request_stop(&mut backend.child);
    }
    for backend in backends.iter_mut() {
        if tokio::time::timeout(STOP_TIMEOUT, backend.child.wait())
            .await
            .is_err()
        {
            eprintln!(
                "{} did not stop within {STOP_TIMEOUT:?}; killing it",
                backend.url
            );
            let _ = backend.child.kill().await;
        }
    }
}

/// Sends SIGTERM, the conventional "shut down cleanly" request. std and tokio can only send
/// SIGKILL and unsafe code (libc) is forbidden, so the `kill` program sends it; should that fail,
/// the backend is killed outright.
#[cfg(unix)]
fn request_stop(child: &mut Child) {
    if !matches!(child.try_wait(), Ok(None)) {
        return;
    }
    let sent = child.id().is_some_and(|pid| {
        std::process::Command::new("kill")
            .args(["-TERM", &pid.to_string()])
            .status()
            .is_ok_and(|status| status.success())
    });
    if !sent {
        let _ = child.start_kill();
    }
}

#[cfg(not(unix))]
fn request_stop(child: &mut Child) {
    let _ = child.start_kill();
}

/// The signals that end `cargo xtask run`: Ctrl-C, SIGTERM, and SIGHUP (terminal closed).
#[cfg(unix)]
struct StopSignals {
    /// Ctrl-C at the terminal.
    interrupt: tokio::signal::unix::Signal,
    /// A service manager or `kill` asking politely.
    terminate: tokio::signal::unix::Signal,
    /// The terminal went away: the servers must not outlive it.
    hangup: tokio::signal::unix::Signal,
}

#[cfg(unix)]
impl StopSignals {
    fn install() -> Result<StopSignals> {
        use tokio::signal::unix::{SignalKind, signal};
        let install = |kind| signal(kind).context("could not install a signal handler");
        Ok(StopSignals {
            interrupt: install(SignalKind::interrupt())?,
            terminate: install(SignalKind::terminate())?,
            hangup: install(SignalKind::hangup())?,
        })
    }

    /// Resolves when one of the signals arrives. Cancel-safe: a signal that arrives while
    /// this is not being awaited is kept for the next call.
    async fn received(&mut self) {
        tokio::select! {
            _ = self.interrupt.recv() => {}
            _ = self.terminate.recv() => {}
            _ = self.hangup.recv() => {}
        }
    }
}

/// Ctrl-C only, where there are no Unix signals.
#[cfg(not(unix))]
struct StopSignals;

#[cfg(not(unix))]
impl StopSignals {
    fn install() -> Result<StopSignals> {
        Ok(StopSignals)
    }

    async fn received(&mut self) {
        let _ = tokio::signal::ctrl_c().await;
    }
}
