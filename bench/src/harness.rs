//! What every phase works with: the plan, the system under test, the source addresses not yet
//! used, and the files a phase reads.

use std::path::PathBuf;

use anyhow::Result;

use crate::cluster::{Backing, Redis, Replica, SourceAddresses};
use crate::plain_page;
use crate::plan::{Plan, Scope};
use crate::usage::{self, Processes};

/// Replicas started for a run on Redis: fan-out and writes spread over them. A run of the
/// embedded store's writes has one, the only kind that store allows.
const REPLICAS: usize = 2;

/// The files a run reads and writes, as `cargo xtask bench` hands them over.
pub struct Paths {
    /// The backend binary measured.
    pub backend: PathBuf,
    /// The built frontend: the replicas serve a copy with the plain page added, the frontend
    /// phase weighs it.
    pub static_dir: PathBuf,
    /// Where the Redis and replica logs go.
    pub log_dir: PathBuf,
}

/// What every benchmark works with.
pub struct Bench {
    /// The sizes of this run.
    pub plan: Plan,
    /// The store every replica shares.
    pub redis: Redis,
    /// The backends under test, each on its own port (on Redis, or one on the embedded store).
    pub replicas: Vec<Replica>,
    /// Client source addresses not yet used, so that no phase runs out of ports.
    pub sources: SourceAddresses,
    /// The unit of `/proc` CPU times on this machine.
    pub ticks_per_second: f64,
    /// The built frontend, weighed by the frontend phase.
    pub static_dir: PathBuf,
}

impl Bench {
    /// Starts Redis and the replicas. They are killed when the returned value is dropped,
    /// whether the run ends or fails.
    pub async fn start(plan: Plan, paths: &Paths) -> Result<Bench> {
        let redis = Redis::start(&paths.log_dir).await?;
        let served = plain_page::serve_beside(&paths.static_dir, &paths.log_dir.join("static"))?;
        let (store, count) = if plan.scope == Scope::EmbeddedWrites {
            // A fresh file each run: a grown file would make later runs slower.
            let dir = paths.log_dir.join("embedded-data");
            if dir.exists() {
                std::fs::remove_dir_all(&dir)?;
            }
            (Backing::Embedded(dir), 1)
        } else {
            (Backing::Redis(redis.url()), REPLICAS)
        };
        let mut replicas = Vec::with_capacity(count);
        for index in 0..count {
            let log = paths.log_dir.join(format!("replica-{index}.log"));
            replicas.push(Replica::start(&paths.backend, &store, &served, &log).await?);
        }
        Ok(Bench {
            plan,
            redis,
            replicas,
            sources: SourceAddresses::new(),
            ticks_per_second: usage::clock_ticks_per_second(),
            static_dir: paths.static_dir.clone(),
        })
    }

    /// The replicas, Redis and this coordinator, for CPU accounting; a phase adds its workers.
    pub fn system_pids(&self) -> Processes {
        Processes {
            replicas: self.replicas.iter().map(Replica::pid).collect(),
            redis: self.redis.pid(),
            generator: vec![Some(std::process::id())],
        }
    }
}
