//! `cargo xtask run --lb`: nginx in front of the replicas, configured by the shipped
//! `deploy/nginx.conf` — the file the tests use — so what a user tries by hand is what
//! production runs.

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::{Context, Result, bail};

use crate::workspace::Workspace;

/// Writes an nginx configuration for `public` in front of `replicas` under the target folder
/// and returns the nginx command line arguments that start it in the foreground.
pub fn prepare(
    workspace: &Workspace,
    public: SocketAddr,
    replicas: &[SocketAddr],
) -> Result<Vec<String>> {
    if workspace.find_program("nginx").is_none() {
        bail!("--lb needs nginx; install it (Debian: apt-get install nginx)");
    }
    let shipped_path = workspace.root().join("deploy/nginx.conf");
    let shipped = std::fs::read_to_string(&shipped_path)
        .with_context(|| format!("could not read {}", shipped_path.display()))?;
    let site = site_for(&shipped, public, replicas)?;
    let dir: PathBuf = workspace.target_dir().join("xtask-nginx");
    std::fs::create_dir_all(&dir).with_context(|| format!("could not create {}", dir.display()))?;
    let prefix = dir.display().to_string();
    std::fs::write(dir.join("shared-counter.conf"), site)?;
    // The smallest main configuration around the shipped file, as Debian's own nginx.conf
    // includes site files from `http { }`.
    let main = format!(
        "daemon off;\nworker_processes 1;\npid {prefix}/nginx.pid;\n\
         error_log {prefix}/error.log warn;\nevents {{ worker_connections 4096; }}\n\
         http {{\n  access_log off;\n  include {prefix}/shared-counter.conf;\n}}\n"
    );
    std::fs::write(dir.join("nginx.conf"), main)?;
    Ok(vec![
        "-p".into(),
        prefix.clone(),
        "-c".into(),
        format!("{prefix}/nginx.conf"),
        "-e".into(),
        format!("{prefix}/error.log"),
    ])
}

/// The shipped site file with its public address and its upstream servers replaced: one
/// `server` line per replica, each keeping the shipped line's parameters.
fn site_for(shipped: &str, public: SocketAddr, replicas: &[SocketAddr]) -> Result<String> {
    let mut site = String::new();
    let mut servers_written = false;
    for line in shipped.lines() {
        let trimmed = line.trim_start();
        if trimmed.starts_with("listen 127.0.0.1:8080;") {
            site.push_str(&format!("    listen {public};\n"));
        } else if let Some(rest) = trimmed.strip_prefix("server 127.0.0.1:808") {
            // `rest` is the port's last digit, then the parameters.
            if !servers_written {
                let parameters = rest.get(1..).unwrap_or(";");
                for replica in replicas {
                    site.push_str(&format!("    server {replica}{parameters}\n"));
                }
                servers_written = true;
            }
        } else {
            site.push_str(line);
            site.push('\n');
        }
    }
    if !servers_written || !site.contains(&format!("listen {public};")) {
        bail!("deploy/nginx.conf no longer has the documented listen and server lines");
    }
    Ok(site)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_file_gets_one_server_line_per_replica() {
        let shipped = include_str!("../../deploy/nginx.conf");
        let public: SocketAddr = "127.0.0.1:9000".parse().unwrap();
        let replicas: Vec<SocketAddr> = (9001..9004)
            .map(|port| SocketAddr::from(([127, 0, 0, 1], port)))
            .collect();
        let site = site_for(shipped, public, &replicas).unwrap();
        assert!(site.contains("    listen 127.0.0.1:9000;\n"));
        for port in 9001..9004 {
            assert!(
                site.contains(&format!("server 127.0.0.1:{port} max_fails")),
                "{site}"
            );
        }
        assert!(!site.contains("server 127.0.0.1:808"), "{site}");
    }
}
