//! A Redis Sentinel group on free ports: a primary and a replica (the shipped ACL users,
//! replication as the admin user) watched by three of Debian's `redis-sentinel`, which fail
//! over in a few seconds (down after 1 s, quorum 2).

use std::time::Duration;

use tokio::process::{Child, Command};

use super::acl::{self, ADMIN, ADMIN_PASSWORD, AclFile};
use super::{RedisServer, free_port, process_output};

/// The master's name in the sentinels' configuration.
pub const MASTER: &str = "counters";

/// How long a failover may take here: Sentinel's own timers (1 s to call the primary down,
/// then agreement, election and promotion) on a busy machine.
const FAILOVER_PATIENCE: Duration = Duration::from_secs(40);

pub struct SentinelGroup {
    /// The two data servers, in start order: the first starts as the primary. Killing one
    /// leaves its slot `is_running() == false`.
    pub servers: Vec<RedisServer>,
    /// The sentinels, killed on drop.
    sentinels: Vec<SentinelProcess>,
    /// The filled-in ACL file both servers load.
    _acl: AclFile,
}

/// One `redis-sentinel` process.
struct SentinelProcess {
    /// Killed when the group drops.
    _child: Child,
    /// Where it listens on 127.0.0.1.
    port: u16,
    /// Its configuration file, which Sentinel rewrites as it learns; removed on drop.
    _dir: tempfile::TempDir,
}

impl SentinelGroup {
    /// Starts the primary, its replica and three sentinels, and waits until the sentinels
    /// know the replica and each other (so a failover can be agreed on).
    pub async fn start() -> Self {
        let acl = AclFile::shipped();
        let replication = [
            "--aclfile",
            &acl.path,
            "--masteruser",
            ADMIN.0,
            "--masterauth",
            ADMIN_PASSWORD,
            "--save",
            "",
            "--appendonly",
            "no",
            "--repl-diskless-sync-delay",
            "0",
        ];
        let primary = RedisServer::start_with_auth(&replication, ADMIN).await;
        let primary_port = primary.port.to_string();
        let mut replica_args = replication.to_vec();
        replica_args.extend(["--replicaof", "127.0.0.1", &primary_port]);
        let replica = RedisServer::start_with_auth(&replica_args, ADMIN).await;
        let mut sentinels = Vec::new();
        for _ in 0..3 {
            sentinels.push(SentinelProcess::start(primary.port).await);
        }
        let group = Self {
            servers: vec![primary, replica],
            sentinels,
            _acl: acl,
        };
        super::eventually(
            "the sentinels to know the replica and each other",
            || async {
                for sentinel in &group.sentinels {
                    let quorum: Result<String, _> =
                        sentinel.cmd(&["SENTINEL", "CKQUORUM", MASTER]).await;
                    let replicas: Vec<Vec<String>> =
                        sentinel.cmd(&["SENTINEL", "REPLICAS", MASTER]).await.ok()?;
                    let usable = replicas.iter().any(|fields| {
                        let flags = fields.iter().skip_while(|f| *f != "flags").nth(1);
                        flags.is_some_and(|flags| flags == "slave")
                    });
                    if !(quorum.is_ok_and(|ok| ok.starts_with("OK 3")) && usable) {
                        return None;
                    }
                }
                Some(())
            },
        )
        .await;
        group
    }

    /// The URL the backend replicas use: the sentinels, the master's name, and the
    /// least-privilege service user for the primary.
    pub fn url(&self) -> String {
        let hosts: Vec<String> = self
            .sentinels
            .iter()
            .map(|sentinel| format!("127.0.0.1:{}", sentinel.port))
            .collect();
        format!(
            "redis+sentinel://counter-service:{}@{}/{MASTER}",
            acl::SERVICE_PASSWORD,
            hosts.join(",")
        )
    }

    /// The port of the primary the first answering sentinel names.
    pub async fn primary_port(&self) -> Option<u16> {
        for sentinel in &self.sentinels {
            let named: Result<Vec<String>, _> = sentinel
                .cmd(&["SENTINEL", "GET-MASTER-ADDR-BY-NAME", MASTER])
                .await;
            if let Some(port) = named.ok().and_then(|named| named.get(1)?.parse().ok()) {
                return Some(port);
            }
        }
        None
    }

    /// The data server listening on `port`.
    pub fn server(&self, port: u16) -> &RedisServer {
        self.servers
            .iter()
            .find(|server| server.port == port)
            .expect("one of the group's servers")
    }

    /// The data server the sentinels name the primary now.
    pub async fn primary(&self) -> &RedisServer {
        let port = self.primary_port().await.expect("a sentinel answers");
        self.server(port)
    }

    /// Waits until every sentinel names a primary other than `old_port`, and that server
    /// answers as a primary; returns its port.
    pub async fn wait_for_promotion(&self, old_port: u16) -> u16 {
        let deadline = tokio::time::Instant::now() + FAILOVER_PATIENCE;
        loop {
            if let Some(port) = self.promoted(old_port).await {
                return port;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "no failover away from {old_port} within {FAILOVER_PATIENCE:?}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    async fn promoted(&self, old_port: u16) -> Option<u16> {
        let mut named = None;
        for sentinel in &self.sentinels {
            let answer: Vec<String> = sentinel
                .cmd(&["SENTINEL", "GET-MASTER-ADDR-BY-NAME", MASTER])
                .await
                .ok()?;
            let port: u16 = answer.get(1)?.parse().ok()?;
            if port == old_port || named.is_some_and(|named| named != port) {
                return None;
            }
            named = Some(port);
        }
        let port = named?;
        let role: Vec<redis::Value> = self.server(port).cmd(&["ROLE"]).await;
        let role = role.first().and_then(|role| match role {
            redis::Value::BulkString(bytes) => Some(bytes.clone()),
            _ => None,
        });
        (role.as_deref() == Some(b"master".as_slice())).then_some(port)
    }

    /// `SENTINEL FAILOVER`: promotes the replica as an operator would before maintenance.
    /// Sentinel turns the old primary into a replica only when it next looks at it (about
    /// 8 s later); until then the old primary still takes writes.
    pub async fn manual_failover(&self) {
        let answer: String = self.sentinels[0]
            .cmd(&["SENTINEL", "FAILOVER", MASTER])
            .await
            .expect("SENTINEL FAILOVER");
        assert_eq!(answer, "OK");
    }

    /// Makes the server on `port` a replica of the one on `primary` and waits until it has
    /// taken over its data, as Sentinel does with a primary it replaced.
    pub async fn demote(&self, port: u16, primary: u16) {
        let server = self.server(port);
        server
            .cmd::<()>(&["REPLICAOF", "127.0.0.1", &primary.to_string()])
            .await;
        super::eventually("the demoted server to sync with the primary", || async {
            let info: String = server.cmd(&["INFO", "replication"]).await;
            info.contains("master_link_status:up").then_some(())
        })
        .await;
    }
}

impl SentinelProcess {
    async fn start(primary_port: u16) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let port = free_port();
        let config = dir.path().join("sentinel.conf");
        let text = format!(
            "port {port}\nbind 127.0.0.1\ndir {dir}\n\
             sentinel monitor {MASTER} 127.0.0.1 {primary_port} 2\n\
             sentinel down-after-milliseconds {MASTER} 1000\n\
             sentinel failover-timeout {MASTER} 10000\n\
             sentinel auth-user {MASTER} {user}\n\
             sentinel auth-pass {MASTER} {password}\n",
            dir = dir.path().display(),
            user = ADMIN.0,
            password = ADMIN_PASSWORD,
        );
        std::fs::write(&config, text).expect("write sentinel.conf");
        let child = Command::new("redis-sentinel")
            .arg(&config)
            .stdout(process_output())
            .stderr(process_output())
            .kill_on_drop(true)
            .spawn()
            .expect("redis-sentinel must be installed (cargo xtask test installs it)");
        let sentinel = Self {
            _child: child,
            port,
            _dir: dir,
        };
        super::eventually("redis-sentinel to answer PING", || async {
            sentinel.cmd::<String>(&["PING"]).await.ok()
        })
        .await;
        sentinel
    }

    /// Runs one command on the sentinel.
    async fn cmd<T: redis::FromRedisValue>(&self, args: &[&str]) -> redis::RedisResult<T> {
        let client = redis::Client::open(format!("redis://127.0.0.1:{}/", self.port))?;
        let mut conn = client.get_multiplexed_async_connection().await?;
        let mut cmd = redis::cmd(args[0]);
        for arg in &args[1..] {
            cmd.arg(*arg);
        }
        cmd.query_async(&mut conn).await
    }
}
