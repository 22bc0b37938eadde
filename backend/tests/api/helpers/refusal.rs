//! The four ways a running Redis refuses writes while it still answers reads, each brought
//! about as it happens in production and each undone the way an operator would.

use super::{RedisServer, eventually, free_port};

/// Why Redis refuses a write.
#[derive(Clone, Copy, Debug)]
pub enum Refusal {
    /// `OOM`: `maxmemory` reached (here: set to 1 byte).
    OutOfMemory,
    /// `READONLY`: the server is now a replica, as a primary is during a failover (here: of
    /// a primary that does not exist).
    ReadOnly,
    /// `MISCONF`: the last RDB save failed and `stop-writes-on-bgsave-error` is on (here: a
    /// folder in the way of the snapshot's file name, which no user, root included, can
    /// rename a file onto).
    FailedSave,
    /// `NOREPLICAS`: `min-replicas-to-write` is 1 and no replica is connected.
    NoReplicas,
}

impl Refusal {
    /// Makes `redis` refuse writes this way.
    pub async fn begin(self, redis: &RedisServer) {
        match self {
            Refusal::OutOfMemory => config_set(redis, "maxmemory", "1").await,
            Refusal::ReadOnly => {
                let nowhere = free_port().to_string();
                redis.cmd::<()>(&["REPLICAOF", "127.0.0.1", &nowhere]).await;
            }
            Refusal::FailedSave => {
                std::fs::create_dir_all(snapshot_path(redis).await.join("in-the-way"))
                    .expect("a folder where the snapshot goes");
                // Redis stops writes after a failed save only when it has save points.
                config_set(redis, "save", "3600 1").await;
                redis.cmd::<()>(&["BGSAVE"]).await;
                wait_for_save(redis, "err").await;
            }
            Refusal::NoReplicas => config_set(redis, "min-replicas-to-write", "1").await,
        }
    }

    /// Makes `redis` accept writes again.
    pub async fn end(self, redis: &RedisServer) {
        match self {
            Refusal::OutOfMemory => config_set(redis, "maxmemory", "0").await,
            Refusal::ReadOnly => redis.cmd::<()>(&["REPLICAOF", "NO", "ONE"]).await,
            Refusal::FailedSave => {
                std::fs::remove_dir_all(snapshot_path(redis).await).expect("clear the way");
                redis.cmd::<()>(&["BGSAVE"]).await;
                wait_for_save(redis, "ok").await;
            }
            Refusal::NoReplicas => config_set(redis, "min-replicas-to-write", "0").await,
        }
    }
}

async fn config_set(redis: &RedisServer, name: &str, value: &str) {
    redis.cmd::<()>(&["CONFIG", "SET", name, value]).await;
}

/// Where `redis` writes its RDB snapshot.
async fn snapshot_path(redis: &RedisServer) -> std::path::PathBuf {
    let dir: Vec<String> = redis.cmd(&["CONFIG", "GET", "dir"]).await;
    let file: Vec<String> = redis.cmd(&["CONFIG", "GET", "dbfilename"]).await;
    std::path::Path::new(&dir[1]).join(&file[1])
}

/// Waits until the last background save's status is `status` (`ok` or `err`).
async fn wait_for_save(redis: &RedisServer, status: &str) {
    let line = format!("rdb_last_bgsave_status:{status}");
    eventually(&line, || async {
        let info: String = redis.cmd(&["INFO", "persistence"]).await;
        let saving = info.contains("rdb_bgsave_in_progress:1");
        (!saving && info.contains(&line)).then_some(())
    })
    .await;
}
