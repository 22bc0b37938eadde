//! The keys of a counter this device created or manages, in the same `localStorage` entries
//! as the app's `device.rs` (one per counter and role, `shared-counter:v2:key:{name}:{role}`),
//! so the counter's page presents the owner key the form kept, and the owner view finds the
//! staff key. The entry's format is pinned by the test below; the browser tests
//! (`backend/tests/api/browser/owner.rs`) check the two sides agree: the page the form opens
//! is the owner's.
//!
//! A key reaches the device in a link's fragment (`/c/door-2#staff=KEY`) or from the server
//! when this device created the counter; the server keeps only hashes, so the staff key the
//! owner was shown at creation is kept here too, for the owner view to show the staff link
//! again. A key is never put in a URL's path or query: it travels in the fragment, an
//! `Authorization` header or an `auth` frame only.

use shared::{CounterName, Role};

/// Where `name`'s key for `role` lives. The version lets a later format move on without
/// misreading this one.
fn entry(name: &CounterName, role: Role) -> String {
    format!("shared-counter:v2:key:{name}:{}", role_word(role))
}

/// A role as links and entries spell it.
pub fn role_word(role: Role) -> &'static str {
    match role {
        Role::Viewer => "viewer",
        Role::Staff => "staff",
        Role::Owner => "owner",
    }
}

/// Keeps `key` as this device's `role` key for `name`. A full or disabled storage only
/// costs the key after a reload; the caller still holds it.
pub fn remember(name: &CounterName, role: Role, key: &str) {
    if let Some(storage) = local_storage() {
        let _ = storage.set_item(&entry(name, role), key);
    }
}

/// This device's `role` key for `name`, if it holds one.
pub fn recall(name: &CounterName, role: Role) -> Option<String> {
    local_storage()?
        .get_item(&entry(name, role))
        .ok()
        .flatten()
        .filter(|key| !key.is_empty())
}

/// Drops every key of `name` (the counter was deleted).
pub fn forget(name: &CounterName) {
    if let Some(storage) = local_storage() {
        for role in [Role::Staff, Role::Owner] {
            let _ = storage.remove_item(&entry(name, role));
        }
    }
}

/// `localStorage`, when the browser lets the page have it.
fn local_storage() -> Option<web_sys::Storage> {
    web_sys::window()?.local_storage().ok().flatten()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_entry_per_counter_and_role() {
        let name: CounterName = "door-2".parse().unwrap();
        assert_eq!(
            entry(&name, Role::Staff),
            "shared-counter:v2:key:door-2:staff"
        );
        assert_eq!(
            entry(&name, Role::Owner),
            "shared-counter:v2:key:door-2:owner"
        );
    }
}
