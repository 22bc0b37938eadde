//! A real `redis-server` on a free port, in its own temporary folder.

use tokio::process::{Child, Command};

use super::{eventually, free_port, process_output};

pub struct RedisServer {
    /// The server process; killed when this value drops.
    child: Option<Child>,
    /// Where it listens on 127.0.0.1; kept across restarts, so replicas find it again.
    pub port: u16,
    /// Its working folder (AOF files live here); removed on drop.
    dir: tempfile::TempDir,
    /// Extra arguments, kept to restart the server the same way.
    args: Vec<String>,
    /// The user the helper logs in as, when the server has ACL users.
    admin: Option<(String, String)>,
    /// A configuration file given before the other arguments, as redis-server wants it.
    config_file: Option<std::path::PathBuf>,
}

impl RedisServer {
    /// Starts a server without persistence.
    pub async fn start() -> Self {
        Self::start_with(&["--save", "", "--appendonly", "no"]).await
    }

    /// Starts a server with extra `redis-server` arguments.
    pub async fn start_with(args: &[&str]) -> Self {
        Self::start_as(args, None).await
    }

    /// Starts a server whose default user is off; the helper logs in as `admin`.
    pub async fn start_with_auth(args: &[&str], admin: (&str, &str)) -> Self {
        Self::start_as(args, Some((admin.0.to_owned(), admin.1.to_owned()))).await
    }

    async fn start_as(args: &[&str], admin: Option<(String, String)>) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut server = Self {
            child: None,
            port: free_port(),
            dir,
            args: args.iter().map(|a| a.to_string()).collect(),
            admin,
            config_file: None,
        };
        server.spawn().await;
        server
    }

    /// Starts a server from the shipped production settings (`deploy/redis/redis.conf`, its
    /// ACL file path pointed at `acl_file`), logging in as `admin`.
    pub async fn start_production(acl_file: &str, admin: (&str, &str)) -> Self {
        let shipped =
            std::fs::read_to_string(super::workspace_root().join("deploy/redis/redis.conf"))
                .expect("deploy/redis/redis.conf");
        let dir = tempfile::tempdir().expect("temp dir");
        let config_file = dir.path().join("redis.conf");
        let config = shipped.replace("/etc/redis/users.acl", acl_file);
        assert!(
            config.contains(acl_file),
            "the shipped config names the ACL file"
        );
        std::fs::write(&config_file, config).expect("write redis.conf");
        let mut server = Self {
            child: None,
            port: free_port(),
            dir,
            args: Vec::new(),
            admin: Some((admin.0.to_owned(), admin.1.to_owned())),
            config_file: Some(config_file),
        };
        server.spawn().await;
        server
    }

    async fn spawn(&mut self) {
        let child = Command::new("redis-server")
            .args(&self.config_file)
            .arg("--port")
            .arg(self.port.to_string())
            .args(["--bind", "127.0.0.1", "--dir"])
            .arg(self.dir.path())
            .args(&self.args)
            .stdout(process_output())
            .stderr(process_output())
            .kill_on_drop(true)
            .spawn()
            .expect("redis-server must be installed (cargo xtask test installs it)");
        self.child = Some(child);
        let url = self.url();
        eventually("redis-server to answer PING", || {
            let url = url.clone();
            async move {
                let client = redis::Client::open(url).ok()?;
                let mut conn = client.get_multiplexed_async_connection().await.ok()?;
                redis::cmd("PING")
                    .query_async::<String>(&mut conn)
                    .await
                    .ok()
            }
        })
        .await;
    }

    /// The URL the helper itself uses (as the admin user, when there is one).
    pub fn url(&self) -> String {
        match &self.admin {
            Some((user, password)) => format!("redis://{user}:{password}@127.0.0.1:{}/", self.port),
            None => format!("redis://127.0.0.1:{}/", self.port),
        }
    }

    /// Runs one command and returns its reply.
    pub async fn cmd<T: redis::FromRedisValue>(&self, args: &[&str]) -> T {
        let client = redis::Client::open(self.url()).expect("url");
        let mut conn = client
            .get_multiplexed_async_connection()
            .await
            .expect("connect to redis");
        let mut cmd = redis::cmd(args[0]);
        for arg in &args[1..] {
            cmd.arg(*arg);
        }
        cmd.query_async(&mut conn).await.expect("redis command")
    }

    /// `GET key` as an integer (what `redis-cli GET counter:global` shows).
    pub async fn get_i64(&self, key: &str) -> Option<i64> {
        let value: Option<String> = self.cmd(&["GET", key]).await;
        value.map(|v| v.parse().expect("integer value"))
    }

    /// Stops the server the way an operator would (`SHUTDOWN` semantics on SIGTERM).
    pub async fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            if let Some(pid) = child.id() {
                let _ = std::process::Command::new("kill")
                    .arg(pid.to_string())
                    .status();
            }
            let _ = child.wait().await;
        }
    }

    /// `kill -9`: no shutdown, no final write.
    pub async fn kill9(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().await.expect("kill -9 redis-server");
        }
    }

    /// Whether the server process is running (not stopped or killed by the test).
    pub fn is_running(&self) -> bool {
        self.child.is_some()
    }

    /// The server's process id, to send it signals (SIGSTOP to hang it).
    pub fn pid(&self) -> u32 {
        self.child
            .as_ref()
            .and_then(|child| child.id())
            .expect("redis-server is running")
    }

    /// Starts the server again on the same port and folder.
    pub async fn restart(&mut self) {
        self.stop().await;
        self.spawn().await;
    }
}
