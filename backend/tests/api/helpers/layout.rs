//! Redis key and channel names as DESIGN.md's version-2 layout spells them, for tests that
//! look at Redis as an operator would (`redis-cli GET 'counter:{global}'`). Written out here
//! rather than taken from the backend's `Keys`, so a change of layout fails the tests.

/// `counter:{name}`: the value, and the channel of its states.
pub fn value(name: &str) -> String {
    format!("counter:{{{name}}}")
}

/// `counter:{name}:version`.
pub fn version(name: &str) -> String {
    of(name, "version")
}

/// `counter:{name}:op:{op_id}`: a dedupe record.
pub fn op(name: &str, op_id: &str) -> String {
    of(name, &format!("op:{op_id}"))
}

/// `counter:{name}:presence`.
pub fn presence(name: &str) -> String {
    of(name, "presence")
}

/// `counter:{name}:meta`: an owned counter's settings and key hashes.
pub fn meta(name: &str) -> String {
    of(name, "meta")
}

/// `counter:{name}:log`: the history stream.
pub fn log(name: &str) -> String {
    of(name, "log")
}

/// `counter:{name}:{suffix}`.
fn of(name: &str, suffix: &str) -> String {
    format!("{}:{suffix}", value(name))
}
