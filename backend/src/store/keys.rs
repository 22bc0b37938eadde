//! Redis key and channel names (DESIGN.md's Redis layout, version 2).
//!
//! Every key and channel of one counter carries its name as a Redis Cluster hash tag, the
//! braces literal: `counter:{global}`, `counter:{global}:version`, … so that everything one
//! script touches hashes to one slot. Data written in version 1's layout (`counter:global`)
//! is moved by `backend upgrade-keys` ([`crate::store::upgrade`]).

use shared::{CounterName, OpId};

/// Builds every key and channel name from the configured prefix.
#[derive(Clone, Debug)]
pub struct Keys {
    /// `counter:` by default; lets several deployments share one Redis.
    prefix: String,
}

impl Keys {
    pub fn new(prefix: impl Into<String>) -> Self {
        Self {
            prefix: prefix.into(),
        }
    }

    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// `counter:{name}`: the live value, what `redis-cli GET 'counter:{global}'` prints. Every
    /// other key and channel of the counter starts with it.
    pub fn value(&self, name: &CounterName) -> String {
        format!("{}{{{name}}}", self.prefix)
    }

    /// `counter:{name}:version`.
    pub fn version(&self, name: &CounterName) -> String {
        self.value_and(name, ":version")
    }

    /// `counter:{name}:op:{op_id}`: the dedupe record of an applied operation.
    pub fn op(&self, name: &CounterName, op_id: &OpId) -> String {
        self.value_and(name, &format!(":op:{op_id}"))
    }

    /// `counter:{name}:meta` (version 2): an owned counter's hash of settings and key
    /// hashes. A counter with this key is owned.
    pub fn meta(&self, name: &CounterName) -> String {
        self.value_and(name, ":meta")
    }

    /// `counter:{name}:log` (version 2): the stream of the counter's changes.
    pub fn log(&self, name: &CounterName) -> String {
        self.value_and(name, ":log")
    }

    /// The pattern of a counter's dedupe records, for removing them with the counter. `{`
    /// and `}` are not special in a Redis glob; the prefix may hold characters that are.
    pub fn op_pattern(&self, name: &CounterName) -> String {
        let mut pattern = escape_glob(&self.value_and(name, ":op:"));
        pattern.push('*');
        pattern
    }

    /// `counter::owned` (version 2): the set of owned counters' names, which
    /// `--max-counters` bounds. No counter's key can be named so: every counter key has `{`
    /// after the prefix. It belongs to no counter, so it carries no hash tag: under a Redis
    /// Cluster it lives in a slot of its own, apart from the counters' keys.
    pub fn owned(&self) -> String {
        format!("{}:owned", self.prefix)
    }

    /// Channel `counter:{name}:events` (version 2): `meta` when an owned counter's settings
    /// or keys changed, `deleted` when it was deleted. The subscriber's pattern covers it.
    pub fn events(&self, name: &CounterName) -> String {
        self.value_and(name, EVENTS)
    }

    /// The counter an events channel (`prefix{name}:events`, exactly) belongs to, if the
    /// channel is one.
    pub fn name_of_events(&self, channel: &str) -> Option<CounterName> {
        self.tagged_name(channel.strip_suffix(EVENTS)?)
    }

    /// `counter:{name}:presence`: sockets per replica.
    pub fn presence(&self, name: &CounterName) -> String {
        self.value_and(name, ":presence")
    }

    /// Channel `counter:{name}`: one JSON state per change.
    pub fn channel(&self, name: &CounterName) -> String {
        self.value(name)
    }

    /// The pattern every replica subscribes to: all channels under the prefix. One pattern
    /// subscription means there is nothing to (un)subscribe as sockets come and go, and
    /// nothing to forget when the subscriber reconnects.
    pub fn channel_pattern(&self) -> String {
        let mut pattern = escape_glob(&self.prefix);
        pattern.push('*');
        pattern
    }

    /// The counter a state channel (`prefix{name}`, exactly) belongs to, if the channel is
    /// one of ours.
    pub fn name_of_channel(&self, channel: &str) -> Option<CounterName> {
        self.tagged_name(channel)
    }

    /// The pattern of every key under the prefix, tagged or not (for `upgrade-keys`' SCAN).
    pub fn all_pattern(&self) -> String {
        self.channel_pattern()
    }

    /// `name` from `prefix{name}`, and nothing else.
    fn tagged_name(&self, text: &str) -> Option<CounterName> {
        text.strip_prefix(&self.prefix)?
            .strip_prefix('{')?
            .strip_suffix('}')?
            .parse()
            .ok()
    }

    /// `prefix{name}` followed by `suffix`.
    fn value_and(&self, name: &CounterName, suffix: &str) -> String {
        let mut key = self.value(name);
        key.push_str(suffix);
        key
    }
}

const EVENTS: &str = ":events";

/// `text` as a Redis glob pattern that matches it alone.
fn escape_glob(text: &str) -> String {
    let mut pattern = String::with_capacity(text.len() + 1);
    for c in text.chars() {
        if matches!(c, '*' | '?' | '[' | ']' | '\\') {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    pattern
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_matches_the_design() {
        let keys = Keys::new("counter:");
        let name = CounterName::global();
        let op: OpId = "c1-17".to_owned().try_into().unwrap();
        assert_eq!(keys.value(&name), "counter:{global}");
        assert_eq!(keys.version(&name), "counter:{global}:version");
        assert_eq!(keys.op(&name, &op), "counter:{global}:op:c1-17");
        assert_eq!(keys.channel(&name), "counter:{global}");
        assert_eq!(keys.channel_pattern(), "counter:*");
        assert_eq!(keys.meta(&name), "counter:{global}:meta");
        assert_eq!(keys.log(&name), "counter:{global}:log");
        assert_eq!(keys.presence(&name), "counter:{global}:presence");
        assert_eq!(keys.owned(), "counter::owned");
        assert_eq!(keys.events(&name), "counter:{global}:events");
        assert_eq!(keys.op_pattern(&name), "counter:{global}:op:*");
    }

    #[test]
    fn channels_parse_back_to_their_counter_exactly() {
        let keys = Keys::new("counter:");
        let name = CounterName::global();
        assert_eq!(keys.name_of_channel("counter:{global}"), Some(name.clone()));
        assert_eq!(
            keys.name_of_events("counter:{global}:events"),
            Some(name.clone())
        );
        for not_a_state in [
            "counter:global",
            "counter:{global}:presence",
            "counter:{global}:events",
            "counter:{global",
            "counter:global}",
            "counter:{}",
            "counter:{a}{b}",
            "counter:{a:b}",
            "counter::owned",
            "other:{global}",
            "counter:{global}x",
        ] {
            assert_eq!(keys.name_of_channel(not_a_state), None, "{not_a_state}");
        }
        for not_events in [
            "counter:global:events",
            "counter:{global}",
            "counter:{global}:events:x",
            "counter:{global:events}",
            "other:{global}:events",
        ] {
            assert_eq!(keys.name_of_events(not_events), None, "{not_events}");
        }
    }

    #[test]
    fn every_key_of_a_counter_has_its_name_as_hash_tag() {
        // Redis Cluster hashes only what is between the first `{` and the next `}`.
        let keys = Keys::new("counter:");
        let name: CounterName = "door-2".parse().unwrap();
        let op: OpId = "c1-17".to_owned().try_into().unwrap();
        let tag = |key: &str| {
            let open = key.find('{').expect("a tag") + 1;
            let close = open + key[open..].find('}').expect("closed");
            key[open..close].to_owned()
        };
        for key in [
            keys.value(&name),
            keys.version(&name),
            keys.op(&name, &op),
            keys.meta(&name),
            keys.log(&name),
            keys.presence(&name),
            keys.channel(&name),
            keys.events(&name),
        ] {
            assert_eq!(tag(&key), "door-2", "{key}");
        }
    }

    #[test]
    fn glob_characters_in_the_prefix_are_escaped() {
        let keys = Keys::new("a*[b]:");
        assert_eq!(keys.channel_pattern(), r"a\*\[b\]:*");
        let name = CounterName::global();
        assert_eq!(keys.op_pattern(&name), r"a\*\[b\]:{global}:op:*");
    }
}
