//! Whether a build's inputs changed since it last succeeded, so that a warm `cargo xtask run`
//! skips the frontend build.
//!
//! Trunk has no quick "nothing to do": even with nothing to recompile it runs cargo, then
//! wasm-bindgen and wasm-opt again, about 5 s here. A fingerprint of the inputs' names, sizes
//! and modification times (and of anything else that shapes the output, such as whether
//! wasm-opt runs) is compared with the one recorded after the last successful build. Any
//! difference, a missing record or a missing output means "build": a needless build costs
//! seconds, a skipped one would serve an old app.

use std::fs;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::path::{Path, PathBuf};
use std::time::UNIX_EPOCH;

use anyhow::{Context, Result};

/// The inputs of one build and where their fingerprint is recorded.
pub struct Inputs {
    /// Files and folders (walked whole) under `root` that the build reads.
    paths: Vec<PathBuf>,
    /// Where the fingerprint of the last successful build is kept.
    record: PathBuf,
    /// Anything besides the files that changes the output (tool choices), hashed in too.
    settings: String,
}

impl Inputs {
    pub fn new(paths: Vec<PathBuf>, record: PathBuf, settings: String) -> Inputs {
        Inputs {
            paths,
            record,
            settings,
        }
    }

    /// Whether the last successful build saw exactly these inputs.
    pub fn unchanged(&self) -> bool {
        let recorded = fs::read_to_string(&self.record).ok();
        let current = self.fingerprint().ok();
        current.is_some() && recorded.as_deref().map(str::trim) == current.as_deref()
    }

    /// Forgets the last build, before a new one starts: a build that fails half-way must not
    /// be taken for a current one.
    pub fn forget(&self) {
        let _ = fs::remove_file(&self.record);
    }

    /// Records the inputs as built, after a successful build.
    pub fn record_built(&self) -> Result<()> {
        let fingerprint = self.fingerprint()?;
        if let Some(folder) = self.record.parent() {
            fs::create_dir_all(folder)
                .with_context(|| format!("could not create {}", folder.display()))?;
        }
        fs::write(&self.record, fingerprint)
            .with_context(|| format!("could not write {}", self.record.display()))
    }

    fn fingerprint(&self) -> Result<String> {
        let mut files = Vec::new();
        for path in &self.paths {
            collect(path, &mut files)?;
        }
        files.sort();
        let mut hasher = DefaultHasher::new();
        self.settings.hash(&mut hasher);
        files.hash(&mut hasher);
        Ok(format!("{:016x}", hasher.finish()))
    }
}

/// One input file as the fingerprint sees it: path, size, modification time in nanoseconds.
type FileStamp = (PathBuf, u64, u128);

fn collect(path: &Path, files: &mut Vec<FileStamp>) -> Result<()> {
    let metadata =
        fs::metadata(path).with_context(|| format!("could not read {}", path.display()))?;
    if metadata.is_dir() {
        for entry in
            fs::read_dir(path).with_context(|| format!("could not read {}", path.display()))?
        {
            collect(&entry?.path(), files)?;
        }
    } else {
        let modified = metadata
            .modified()
            .ok()
            .and_then(|time| time.duration_since(UNIX_EPOCH).ok())
            .map_or(0, |since| since.as_nanos());
        files.push((path.to_path_buf(), metadata.len(), modified));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inputs(folder: &Path, settings: &str) -> Inputs {
        Inputs::new(
            vec![folder.join("src")],
            folder.join("record"),
            settings.to_owned(),
        )
    }

    #[test]
    fn a_build_is_current_until_an_input_or_a_setting_changes() {
        let folder = std::env::temp_dir().join(format!("xtask-freshness-{}", std::process::id()));
        let _ = fs::remove_dir_all(&folder);
        fs::create_dir_all(folder.join("src")).unwrap();
        fs::write(folder.join("src/a.rs"), "fn a() {}").unwrap();
        let build = inputs(&folder, "wasm-opt");
        assert!(!build.unchanged(), "never built");
        build.record_built().unwrap();
        assert!(build.unchanged());
        assert!(
            !inputs(&folder, "no wasm-opt").unchanged(),
            "another setting"
        );
        fs::write(folder.join("src/b.rs"), "fn b() {}").unwrap();
        assert!(!build.unchanged(), "a file added");
        build.record_built().unwrap();
        fs::write(folder.join("src/a.rs"), "fn a() { 1; }").unwrap();
        assert!(!build.unchanged(), "a file changed");
        build.record_built().unwrap();
        build.forget();
        assert!(!build.unchanged(), "forgotten");
        fs::remove_dir_all(&folder).unwrap();
    }
}
