//! The shipped Redis ACL file (`deploy/redis/users.acl`) with test passwords filled in.

use super::workspace_root;

pub const SERVICE_PASSWORD: &str = "svc-pw-3f9a1c7e";
pub const ADMIN_PASSWORD: &str = "admin-pw-8b2d4e60";
/// The operators' user, which the test helpers log in as.
pub const ADMIN: (&str, &str) = ("counter-admin", ADMIN_PASSWORD);

/// A filled-in copy of the shipped ACL file, removed on drop.
pub struct AclFile {
    /// The folder holding the file; removed on drop.
    _dir: tempfile::TempDir,
    /// The file's path, for `redis-server`'s `aclfile` setting.
    pub path: String,
}

impl AclFile {
    pub fn shipped() -> Self {
        let shipped = std::fs::read_to_string(workspace_root().join("deploy/redis/users.acl"))
            .expect("deploy/redis/users.acl");
        let filled = shipped
            .replace("CHANGE-ME-service", SERVICE_PASSWORD)
            .replace("CHANGE-ME-admin", ADMIN_PASSWORD);
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("users.acl");
        std::fs::write(&path, filled).expect("write users.acl");
        Self {
            path: path.display().to_string(),
            _dir: dir,
        }
    }
}

/// The URL a replica uses to reach Redis as the least-privilege service user.
pub fn service_url(scheme: &str, port: impl std::fmt::Display) -> String {
    format!("{scheme}://counter-service:{SERVICE_PASSWORD}@127.0.0.1:{port}/")
}
