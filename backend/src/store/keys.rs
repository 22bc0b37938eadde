//! Redis key and channel names (DESIGN.md's Redis layout).

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

    /// `counter:{name}`: the live value, what `redis-cli GET counter:global` prints.
    pub fn value(&self, name: &CounterName) -> String {
        format!("{}{name}", self.prefix)
    }

    /// `counter:{name}:version`.
    pub fn version(&self, name: &CounterName) -> String {
        format!("{}{name}:version", self.prefix)
    }

    /// `counter:{name}:op:{op_id}`: the dedupe record of an applied operation.
    pub fn op(&self, name: &CounterName, op_id: &OpId) -> String {
        format!("{}{name}:op:{op_id}", self.prefix)
    }

    /// `counter:{name}:meta` (version 2): an owned counter's hash of settings and key
    /// hashes. A counter with this key is owned.
    pub fn meta(&self, name: &CounterName) -> String {
        format!("{}{name}:meta", self.prefix)
    }

    /// `counter:{name}:log` (version 2): the stream of the counter's changes.
    pub fn log(&self, name: &CounterName) -> String {
        format!("{}{name}:log", self.prefix)
    }

    /// The pattern of a counter's dedupe records, for removing them with the counter.
    pub fn op_pattern(&self, name: &CounterName) -> String {
        let mut pattern = escape_glob(&self.op_prefix(name));
        pattern.push('*');
        pattern
    }

    fn op_prefix(&self, name: &CounterName) -> String {
        format!("{}{name}:op:", self.prefix)
    }

    /// `counter::owned` (version 2): the set of owned counters' names, which
    /// `--max-counters` bounds. No counter's key can be named so: a name is never empty.
    pub fn owned(&self) -> String {
        format!("{}:owned", self.prefix)
    }

    /// Channel `counter:{name}:events` (version 2): `meta` when an owned counter's settings
    /// or keys changed, `deleted` when it was deleted. The subscriber's pattern covers it.
    pub fn events(&self, name: &CounterName) -> String {
        format!("{}{name}:events", self.prefix)
    }

    /// The counter an events channel belongs to, if the channel is one.
    pub fn name_of_events(&self, channel: &str) -> Option<CounterName> {
        channel
            .strip_prefix(&self.prefix)?
            .strip_suffix(":events")?
            .parse()
            .ok()
    }

    /// `counter:{name}:presence`: sockets per replica.
    pub fn presence(&self, name: &CounterName) -> String {
        format!("{}{name}:presence", self.prefix)
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

    /// The counter a channel belongs to, if the channel is one of ours.
    pub fn name_of_channel(&self, channel: &str) -> Option<CounterName> {
        channel.strip_prefix(&self.prefix)?.parse().ok()
    }
}

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
        assert_eq!(keys.value(&name), "counter:global");
        assert_eq!(keys.version(&name), "counter:global:version");
        assert_eq!(keys.op(&name, &op), "counter:global:op:c1-17");
        assert_eq!(keys.channel(&name), "counter:global");
        assert_eq!(keys.channel_pattern(), "counter:*");
        assert_eq!(keys.name_of_channel("counter:global"), Some(name.clone()));
        assert_eq!(keys.name_of_channel("counter:global:presence"), None);
        assert_eq!(keys.name_of_channel("other:global"), None);
        assert_eq!(keys.meta(&name), "counter:global:meta");
        assert_eq!(keys.log(&name), "counter:global:log");
        assert_eq!(keys.owned(), "counter::owned");
        assert_eq!(keys.events(&name), "counter:global:events");
        assert_eq!(
            keys.name_of_events("counter:global:events"),
            Some(name.clone())
        );
        assert_eq!(keys.name_of_events("counter:global"), None);
        assert_eq!(keys.name_of_channel("counter:global:events"), None);
        assert_eq!(keys.op_pattern(&name), "counter:global:op:*");
    }

    #[test]
    fn glob_characters_in_the_prefix_are_escaped() {
        assert_eq!(Keys::new("a*[b]:").channel_pattern(), r"a\*\[b\]:*");
    }
}
