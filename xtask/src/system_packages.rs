//! The Debian packages the tests need: the tests use real parts, so they start a real
//! `redis-server` per test, read it with `redis-cli`, fail it over with `redis-sentinel`,
//! drive a real, Debian-packaged Chromium (never a downloaded browser) through
//! `chromedriver`, and put a real nginx in front of the replicas.
//!
//! Missing programs are installed with apt when that is possible without asking (apt-get
//! exists and we are root); otherwise the task stops and names exactly what to install.

use anyhow::{Result, bail};

use crate::workspace::{self, Workspace};

/// A program the tests start, and the Debian package that provides it.
struct Requirement {
    /// Looked for on PATH: if it is there, nothing is installed.
    program: &'static str,
    /// What `apt-get install` takes to provide it.
    package: &'static str,
}

const TEST_REQUIREMENTS: [Requirement; 6] = [
    Requirement {
        program: "redis-server",
        package: "redis-server",
    },
    Requirement {
        program: "redis-cli",
        package: "redis-tools",
    },
    Requirement {
        program: "redis-sentinel",
        package: "redis-sentinel",
    },
    Requirement {
        program: "chromium",
        package: "chromium",
    },
    Requirement {
        program: "chromedriver",
        package: "chromium-driver",
    },
    Requirement {
        program: "nginx",
        package: "nginx",
    },
];

/// What `cargo xtask run --cluster` starts: six Redis servers joined by `redis-cli`, and
/// nginx in front of the replicas.
const CLUSTER_PROGRAMS: [&str; 3] = ["redis-server", "redis-cli", "nginx"];

/// Makes sure every program the tests start is on `PATH`, installing the missing packages with
/// apt when running as root on Debian. Prints one line per package installed.
pub fn ensure_test_programs(workspace: &Workspace) -> Result<()> {
    ensure(workspace, "the tests", |_| true)
}

/// Makes sure what a local Redis Cluster behind nginx needs is on `PATH`, as for the tests.
pub fn ensure_cluster_programs(workspace: &Workspace) -> Result<()> {
    ensure(workspace, "--cluster", |requirement| {
        CLUSTER_PROGRAMS.contains(&requirement.program)
    })
}

/// Installs the missing programs of the requirements `wanted` picks; `who` needs them.
fn ensure(workspace: &Workspace, who: &str, wanted: impl Fn(&Requirement) -> bool) -> Result<()> {
    let missing: Vec<&Requirement> = TEST_REQUIREMENTS
        .iter()
        .filter(|requirement| wanted(requirement))
        .filter(|requirement| workspace.find_program(requirement.program).is_none())
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    let programs = missing
        .iter()
        .map(|requirement| requirement.program)
        .collect::<Vec<_>>();
    let packages = missing
        .iter()
        .map(|requirement| requirement.package)
        .collect::<Vec<_>>();
    let programs = programs.join(", ");
    let packages = packages.join(" ");

    if workspace.find_program("apt-get").is_none() {
        bail!(
            "{who} needs {programs}, which are not on PATH. Install them with your system's \
             package manager (Debian packages: {packages})"
        );
    }
    if !is_root(workspace) {
        bail!(
            "{who} needs {programs}, which are not on PATH. Install them with:\n    \
             sudo apt-get install {packages}"
        );
    }
    for package in packages.split(' ') {
        eprintln!("installing the Debian package {package} (apt-get)");
    }
    workspace::run(workspace.command("apt-get").arg("update"))?;
    workspace::run(
        workspace
            .command("apt-get")
            .env("DEBIAN_FRONTEND", "noninteractive")
            .args(["install", "-y"])
            .args(packages.split(' ')),
    )?;
    let still_missing: Vec<&str> = missing
        .iter()
        .map(|requirement| requirement.program)
        .filter(|program| workspace.find_program(program).is_none())
        .collect();
    if !still_missing.is_empty() {
        bail!(
            "installed {packages}, yet {} is still not on PATH",
            still_missing.join(", ")
        );
    }
    Ok(())
}

/// Whether this process runs as root, which `apt-get install` needs.
fn is_root(workspace: &Workspace) -> bool {
    workspace::probe(workspace.command("id").arg("-u")).is_some_and(|uid| uid.trim() == "0")
}
