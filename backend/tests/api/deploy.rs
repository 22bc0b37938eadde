//! The shipped operator files stay true: the systemd unit passes `systemd-analyze verify`
//! (or, where systemd's tools are missing, at least parses with the settings it promises),
//! and every setting in the example environment file is one the backend reads.

use std::collections::HashSet;

use crate::helpers::workspace_root;

fn shipped(path: &str) -> String {
    std::fs::read_to_string(workspace_root().join(path)).unwrap_or_else(|_| panic!("{path}"))
}

/// The environment variables `backend --help` lists.
fn backend_env_vars() -> HashSet<String> {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_backend"))
        .arg("--help")
        .output()
        .expect("backend --help");
    let help = String::from_utf8_lossy(&output.stdout);
    help.split("[env: ")
        .skip(1)
        .filter_map(|rest| rest.split(['=', ']']).next())
        .map(str::to_owned)
        .collect()
}

#[test]
fn every_setting_in_the_example_env_file_is_read_by_the_backend() {
    let known = backend_env_vars();
    assert!(
        known.contains("REDIS_URL") && known.contains("LISTEN_ADDR"),
        "{known:?}"
    );
    let env = shipped("deploy/systemd/shared-counter.env");
    let mut settings = 0;
    for line in env.lines().map(str::trim) {
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (key, _) = line.split_once('=').expect("KEY=value");
        assert!(
            key == "RUST_LOG" || known.contains(key),
            "the backend does not read {key}"
        );
        settings += 1;
    }
    assert!(settings >= 5);
}

#[test]
fn the_systemd_unit_is_valid() {
    let unit = shipped("deploy/systemd/shared-counter.service");
    for promised in [
        "ExecStart=/usr/local/bin/shared-counter-backend",
        "EnvironmentFile=/etc/shared-counter/env",
        "Restart=always",
        "LimitNOFILE=",
        "KillSignal=SIGTERM",
        "StateDirectory=shared-counter",
    ] {
        assert!(unit.contains(promised), "the unit lost `{promised}`");
    }
    let Ok(status) = std::process::Command::new("systemd-analyze")
        .arg("--version")
        .output()
    else {
        eprintln!("systemd-analyze is not installed: the unit was only parsed");
        return;
    };
    assert!(status.status.success());
    // The same unit, pointed at this build's binary and the shipped env file.
    let dir = tempfile::tempdir().unwrap();
    let env_file = workspace_root().join("deploy/systemd/shared-counter.env");
    let local = unit
        .replace(
            "ExecStart=/usr/local/bin/shared-counter-backend",
            &format!("ExecStart={}", env!("CARGO_BIN_EXE_backend")),
        )
        .replace(
            "EnvironmentFile=/etc/shared-counter/env",
            &format!("EnvironmentFile={}", env_file.display()),
        );
    let path = dir.path().join("shared-counter.service");
    std::fs::write(&path, local).unwrap();
    let verify = std::process::Command::new("systemd-analyze")
        .arg("verify")
        .arg(&path)
        .output()
        .expect("systemd-analyze verify");
    let complaints = String::from_utf8_lossy(&verify.stderr);
    assert!(verify.status.success(), "{complaints}");
    assert!(
        complaints.trim().is_empty(),
        "systemd-analyze complains: {complaints}"
    );
}
