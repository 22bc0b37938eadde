//! Version 2's access rules: which names are open (`--open-counters`), an owned counter's
//! keys, and the role a key gives.
//!
//! Keys are 192 random bits, shown once at creation or rotation and kept only as their
//! SHA-256 (a fast hash is enough: the keys are random, not passwords a dictionary can
//! guess). A presented key is hashed and compared with the stored hashes in constant time.
//! With Redis the change scripts compare the hash again themselves, in the same atomic step
//! as the change, so a key that was rotated can change nothing from the moment the rotation
//! is answered, whatever a replica or a socket still believes.

use std::collections::HashSet;
use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};
use shared::{CounterMeta, CounterName, Role, Settings};
use subtle::ConstantTimeEq;

/// Random bytes in a key: 192 bits, 32 characters of base64url.
const KEY_BYTES: usize = 24;

/// Random bytes in a name the server picks: 96 bits, 16 characters of base64url, which
/// are all valid name characters.
const NAME_BYTES: usize = 12;

/// Which names are open: anyone reads and changes them, and they exist without creation.
#[derive(Clone, Debug)]
pub enum OpenCounters {
    /// `*`: every name, as in version 1.
    All,
    /// These names only (`global` by default).
    Names(HashSet<CounterName>),
}

impl OpenCounters {
    /// From `--open-counters`; a name that breaks the naming rule is an error.
    pub fn from_config(names: &[String]) -> Result<Self, String> {
        if names.iter().any(|name| name.trim() == "*") {
            return Ok(Self::All);
        }
        let names = names
            .iter()
            .map(|name| name.trim())
            .filter(|name| !name.is_empty())
            .map(|name| {
                name.parse()
                    .map_err(|_| format!("--open-counters: {name:?} is not a counter name"))
            })
            .collect::<Result<_, _>>()?;
        Ok(Self::Names(names))
    }

    pub fn contains(&self, name: &CounterName) -> bool {
        match self {
            Self::All => true,
            Self::Names(names) => names.contains(name),
        }
    }
}

/// The SHA-256 of a key: what is stored, and what a change carries to the store.
#[derive(Clone, Copy, Debug)]
pub struct KeyHash([u8; 32]);

impl KeyHash {
    pub fn of(key: &str) -> Self {
        Self(Sha256::digest(key.as_bytes()).into())
    }

    /// Lower-case hex, as Redis's meta hash holds it.
    pub fn hex(&self) -> String {
        self.0.iter().map(|byte| format!("{byte:02x}")).collect()
    }

    pub fn from_hex(text: &str) -> Option<Self> {
        if text.len() != 64 {
            return None;
        }
        let mut bytes = [0; 32];
        for (i, byte) in bytes.iter_mut().enumerate() {
            *byte = u8::from_str_radix(text.get(2 * i..2 * i + 2)?, 16).ok()?;
        }
        Some(Self(bytes))
    }

    /// Constant-time equality: how long it takes says nothing of where two hashes differ.
    pub fn matches(&self, other: &KeyHash) -> bool {
        self.0.ct_eq(&other.0).into()
    }
}

/// A new secret key.
pub fn new_key() -> String {
    URL_SAFE_NO_PAD.encode(random::<KEY_BYTES>())
}

/// A new unguessable counter name (16 characters).
pub fn new_name() -> CounterName {
    URL_SAFE_NO_PAD
        .encode(random::<NAME_BYTES>())
        .parse()
        .expect("base64url is made of name characters")
}

fn random<const N: usize>() -> [u8; N] {
    let mut bytes = [0; N];
    // The operating system's random source does not fail on any system this runs on; a
    // key made without it would be guessable, so there is no fallback.
    getrandom::fill(&mut bytes).expect("the operating system's random source failed");
    bytes
}

/// What the store holds of an owned counter besides its value.
#[derive(Clone, Debug)]
pub struct Owned {
    /// Title, capacity, warn level.
    pub settings: Settings,
    /// The owner key's hash.
    pub owner: KeyHash,
    /// The staff key's hash.
    pub staff: KeyHash,
    /// Bumped by every change of the above (microseconds since the epoch at that change,
    /// and always above the one before), so replicas keep the newest they hear of.
    pub rev: u64,
}

impl Owned {
    /// The role a key gives on this counter: owner, staff, or (no key, another key) viewer.
    pub fn role(&self, key: Option<&KeyHash>) -> Role {
        match key {
            // Both compared, whichever matches, so the time taken says nothing either.
            Some(key) => match (key.matches(&self.owner), key.matches(&self.staff)) {
                (true, _) => Role::Owner,
                (false, true) => Role::Staff,
                (false, false) => Role::Viewer,
            },
            None => Role::Viewer,
        }
    }
}

/// What a counter is now.
#[derive(Clone, Debug)]
pub enum Standing {
    /// An open name without an owner: everyone is staff.
    Open,
    /// Created with keys.
    Owned(Arc<Owned>),
}

impl Standing {
    /// What `key` may do here.
    pub fn role(&self, key: Option<&KeyHash>) -> Role {
        match self {
            Self::Open => Role::Staff,
            Self::Owned(owned) => owned.role(key),
        }
    }

    /// The public settings (none for an open counter).
    pub fn meta(&self) -> CounterMeta {
        match self {
            Self::Open => CounterMeta::default(),
            Self::Owned(owned) => owned.settings.public(),
        }
    }

    /// Orders what replicas hear: an open counter is older than any owned one.
    pub fn rev(&self) -> u64 {
        match self {
            Self::Open => 0,
            Self::Owned(owned) => owned.rev,
        }
    }
}

/// The key a REST request presents: `Authorization: Bearer <key>`.
pub fn bearer(headers: &axum::http::HeaderMap) -> Option<KeyHash> {
    let value = headers
        .get(axum::http::header::AUTHORIZATION)?
        .to_str()
        .ok()?;
    let (scheme, key) = value.trim().split_once(' ')?;
    let key = key.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !key.is_empty()).then(|| KeyHash::of(key))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_and_names_are_long_random_and_distinct() {
        let (a, b) = (new_key(), new_key());
        assert_eq!(a.len(), 32);
        assert_ne!(a, b);
        let name = new_name();
        assert!(name.as_str().len() >= 10);
        assert_ne!(name, new_name());
    }

    #[test]
    fn a_key_gives_its_role_and_nothing_else() {
        let (owner, staff) = (new_key(), new_key());
        let owned = Owned {
            settings: Settings::default(),
            owner: KeyHash::of(&owner),
            staff: KeyHash::of(&staff),
            rev: 1,
        };
        assert_eq!(owned.role(Some(&KeyHash::of(&owner))), Role::Owner);
        assert_eq!(owned.role(Some(&KeyHash::of(&staff))), Role::Staff);
        assert_eq!(owned.role(Some(&KeyHash::of("guess"))), Role::Viewer);
        assert_eq!(owned.role(None), Role::Viewer);
        let hash = KeyHash::of(&owner);
        assert!(KeyHash::from_hex(&hash.hex()).unwrap().matches(&hash));
        assert!(KeyHash::from_hex("zz").is_none());
    }

    #[test]
    fn open_counters_are_a_list_or_everything() {
        let open = OpenCounters::from_config(&["global".into(), " door-2".into()]).unwrap();
        assert!(open.contains(&"door-2".parse().unwrap()));
        assert!(!open.contains(&"door-3".parse().unwrap()));
        assert!(
            OpenCounters::from_config(&["*".into()])
                .unwrap()
                .contains(&"x".parse().unwrap())
        );
        assert!(OpenCounters::from_config(&["a b".into()]).is_err());
    }
}
