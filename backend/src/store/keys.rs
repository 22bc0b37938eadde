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
        let mut pattern = String::with_capacity(self.prefix.len() + 1);
        for c in self.prefix.chars() {
            if matches!(c, '*' | '?' | '[' | ']' | '\\') {
                pattern.push('\\');
            }
            pattern.push(c);
        }
        pattern.push('*');
        pattern
    }

    /// The counter a channel belongs to, if the channel is one of ours.
    pub fn name_of_channel(&self, channel: &str) -> Option<CounterName> {
        channel.strip_prefix(&self.prefix)?.parse().ok()
    }
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
        assert_eq!(keys.name_of_channel("counter:global"), Some(name));
        assert_eq!(keys.name_of_channel("counter:global:presence"), None);
        assert_eq!(keys.name_of_channel("other:global"), None);
    }

    #[test]
    fn glob_characters_in_the_prefix_are_escaped() {
        assert_eq!(Keys::new("a*[b]:").channel_pattern(), r"a\*\[b\]:*");
    }
}
