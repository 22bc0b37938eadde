//! The click benchmark's plain page (`bench/plain-page/`): a WebSocket, a text node and a
//! button in a few lines of JavaScript, no framework, no WebAssembly. Measured in the same run
//! as the app, it is what a page in this browser on this machine costs at the least, so the
//! app's own share of a click's time can be told from the browser's.
//!
//! The replicas serve it beside the app: the run's static folder is a copy of the built app
//! with the page added under [`FOLDER`], so it comes from the replica's own origin and its
//! socket passes the origin check like the app's.

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

/// Where in the served folder the page lives.
const FOLDER: &str = "bench-plain";
const HTML: &str = include_str!("../plain-page/plain.html");
const SCRIPT: &str = include_str!("../plain-page/plain.js");

/// Copies the built app in `dist` to `into` and adds the plain page; returns `into`.
pub fn serve_beside(dist: &Path, into: &Path) -> Result<PathBuf> {
    if into.exists() {
        fs::remove_dir_all(into).with_context(|| format!("could not clear {}", into.display()))?;
    }
    copy_dir(dist, into)?;
    let folder = into.join(FOLDER);
    fs::create_dir_all(&folder)?;
    fs::write(folder.join("plain.html"), HTML)?;
    fs::write(folder.join("plain.js"), SCRIPT)?;
    Ok(into.to_path_buf())
}

/// The plain page's path for `counter`, to open on a replica.
pub fn path(counter: &str) -> String {
    format!("/{FOLDER}/plain.html?counter={counter}")
}

fn copy_dir(from: &Path, to: &Path) -> Result<()> {
    fs::create_dir_all(to).with_context(|| format!("could not create {}", to.display()))?;
    for entry in fs::read_dir(from).with_context(|| format!("could not read {}", from.display()))? {
        let entry = entry?;
        let target = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            copy_dir(&entry.path(), &target)?;
        } else {
            fs::copy(entry.path(), &target)
                .with_context(|| format!("could not copy {}", entry.path().display()))?;
        }
    }
    Ok(())
}
