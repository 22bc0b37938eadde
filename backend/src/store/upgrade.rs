//! `backend upgrade-keys`: moves keys written in the untagged layout (version 1, and 0.3.0's
//! `meta` and `log`) to version 2's hash-tagged names: `counter:global` becomes
//! `counter:{global}`, `counter:global:op:c1-17` becomes `counter:{global}:op:c1-17`, and so on.
//!
//! Run it with every replica stopped: a replica of the old version would write the old
//! names again behind it, and one of the new version would start a counter afresh under the
//! new name before its old value is moved. Each key moves with one `RENAMENX`, which keeps
//! its TTL and never overwrites: where the tagged key already exists, the tagged key stays,
//! the old one is left in place and listed. A second run finds nothing left to move.

use std::fmt;

use redis::aio::MultiplexedConnection;
use shared::CounterName;

use super::keys::Keys;

/// Which of a counter's keys an untagged key is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Value,
    Version,
    Op,
    Presence,
    Meta,
    Log,
}

impl Kind {
    const ALL: [Kind; 6] = [
        Kind::Value,
        Kind::Version,
        Kind::Op,
        Kind::Presence,
        Kind::Meta,
        Kind::Log,
    ];

    /// What the summary calls keys of this kind, in the plural.
    fn plural(self) -> &'static str {
        match self {
            Kind::Value => "values",
            Kind::Version => "versions",
            Kind::Op => "dedupe records",
            Kind::Presence => "presence hashes",
            Kind::Meta => "settings hashes (meta)",
            Kind::Log => "histories (log)",
        }
    }

    /// Whether the key holds a number worth showing in a conflict.
    fn is_number(self) -> bool {
        matches!(self, Kind::Value | Kind::Version)
    }
}

/// An untagged key of a counter, and the name it moves to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Move {
    pub kind: Kind,
    pub from: String,
    pub to: String,
}

/// What an untagged key under the prefix is, or `None` for a key that is not an untagged
/// counter key (already tagged, the set of owned counters, anything else).
pub fn plan(keys: &Keys, key: &str) -> Option<Move> {
    let rest = key.strip_prefix(keys.prefix())?;
    let (name, suffix) = match rest.find(':') {
        Some(colon) => rest.split_at(colon),
        None => (rest, ""),
    };
    // A name never holds `{` or `:`, so a tagged key, `counter::owned` and foreign keys
    // all fail here.
    let name: CounterName = name.parse().ok()?;
    let kind = match suffix {
        "" => Kind::Value,
        ":version" => Kind::Version,
        ":presence" => Kind::Presence,
        ":meta" => Kind::Meta,
        ":log" => Kind::Log,
        op if op.len() > ":op:".len() && op.starts_with(":op:") => Kind::Op,
        _ => return None,
    };
    let mut to = keys.value(&name);
    to.push_str(suffix);
    Some(Move {
        kind,
        from: key.to_owned(),
        to,
    })
}

/// A key that was not moved because its tagged name was taken.
#[derive(Debug)]
pub struct Conflict {
    pub planned: Move,
    /// For a value or version: what the old key and the tagged one (which stays) hold.
    pub numbers: Option<(String, String)>,
}

/// What one run did (or, dry, would do).
#[derive(Debug, Default)]
pub struct Report {
    pub dry_run: bool,
    moved: [u64; Kind::ALL.len()],
    pub conflicts: Vec<Conflict>,
}

impl Report {
    pub fn moved(&self, kind: Kind) -> u64 {
        self.moved[kind as usize]
    }

    pub fn moved_total(&self) -> u64 {
        self.moved.iter().sum()
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let verb = if self.dry_run { "would move" } else { "moved" };
        let counts: Vec<String> = Kind::ALL
            .iter()
            .map(|&kind| format!("{} {}", self.moved(kind), kind.plural()))
            .collect();
        writeln!(f, "{verb} {}", counts.join(", "))?;
        if self.conflicts.is_empty() {
            return writeln!(f, "no conflicts");
        }
        writeln!(
            f,
            "{} conflicts: the tagged key already exists, so it stays and the old key is left in place:",
            self.conflicts.len()
        )?;
        for conflict in &self.conflicts {
            let Move { from, to, .. } = &conflict.planned;
            match &conflict.numbers {
                Some((old, kept)) => writeln!(f, "  {from} ({old}) not moved; {to} ({kept}) kept")?,
                None => writeln!(f, "  {from} not moved; {to} kept")?,
            }
        }
        Ok(())
    }
}

/// Moves every untagged counter key under the prefix to its tagged name (or, `dry_run`,
/// only finds out what would move).
pub async fn run(
    conn: &mut MultiplexedConnection,
    keys: &Keys,
    dry_run: bool,
) -> redis::RedisResult<Report> {
    let mut report = Report {
        dry_run,
        ..Report::default()
    };
    let pattern = keys.all_pattern();
    let mut cursor = 0u64;
    loop {
        let (next, found): (u64, Vec<String>) = redis::cmd("SCAN")
            .arg(cursor)
            .arg("MATCH")
            .arg(&pattern)
            .arg("COUNT")
            .arg(1000)
            .query_async(conn)
            .await?;
        // SCAN may return a key twice, and keys moved during the scan show up under their
        // tagged names: neither is moved twice (the second RENAMENX finds no key).
        for planned in found.iter().filter_map(|key| plan(keys, key)) {
            move_one(conn, planned, &mut report).await?;
        }
        if next == 0 {
            return Ok(report);
        }
        cursor = next;
    }
}

async fn move_one(
    conn: &mut MultiplexedConnection,
    planned: Move,
    report: &mut Report,
) -> redis::RedisResult<()> {
    let moved = if report.dry_run {
        let exists: bool = redis::cmd("EXISTS")
            .arg(&planned.to)
            .query_async(conn)
            .await?;
        !exists
    } else {
        let renamed: redis::RedisResult<bool> = redis::cmd("RENAMENX")
            .arg(&planned.from)
            .arg(&planned.to)
            .query_async(conn)
            .await;
        match renamed {
            Ok(renamed) => renamed,
            // Gone since the scan: a dedupe record that expired, or a duplicate of the
            // scan whose key has already moved.
            Err(err) if err.to_string().contains("no such key") => return Ok(()),
            Err(err) => return Err(err),
        }
    };
    if moved {
        report.moved[planned.kind as usize] += 1;
        return Ok(());
    }
    let numbers = if planned.kind.is_number() {
        Some((
            show(conn, &planned.from).await,
            show(conn, &planned.to).await,
        ))
    } else {
        None
    };
    report.conflicts.push(Conflict { planned, numbers });
    Ok(())
}

/// What a value or version key holds, for the conflict list.
async fn show(conn: &mut MultiplexedConnection, key: &str) -> String {
    match redis::cmd("GET")
        .arg(key)
        .query_async::<Option<String>>(conn)
        .await
    {
        Ok(Some(text)) => text,
        Ok(None) => "gone".to_owned(),
        Err(_) => "not a string".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn planned(key: &str) -> Option<(Kind, String)> {
        plan(&Keys::new("counter:"), key).map(|m| (m.kind, m.to))
    }

    #[test]
    fn version_one_keys_move_to_their_tagged_names() {
        let cases = [
            ("counter:global", Kind::Value, "counter:{global}"),
            (
                "counter:global:version",
                Kind::Version,
                "counter:{global}:version",
            ),
            (
                "counter:door-2:op:c1-17",
                Kind::Op,
                "counter:{door-2}:op:c1-17",
            ),
            ("counter:door-2:op:a:b", Kind::Op, "counter:{door-2}:op:a:b"),
            (
                "counter:global:presence",
                Kind::Presence,
                "counter:{global}:presence",
            ),
            ("counter:door-2:meta", Kind::Meta, "counter:{door-2}:meta"),
            ("counter:door-2:log", Kind::Log, "counter:{door-2}:log"),
        ];
        for (from, kind, to) in cases {
            assert_eq!(planned(from), Some((kind, to.to_owned())), "{from}");
        }
    }

    #[test]
    fn tagged_and_foreign_keys_stay() {
        for key in [
            "counter:{global}",
            "counter:{global}:version",
            "counter:{global}:op:c1",
            "counter::owned",
            "counter:",
            "counter:global:op:",
            "counter:global:other",
            "counter:bad name",
            "other:global",
        ] {
            assert_eq!(planned(key), None, "{key}");
        }
    }

    #[test]
    fn another_prefix_is_honoured() {
        let keys = Keys::new("team2:");
        let planned = plan(&keys, "team2:global:version").unwrap();
        assert_eq!(planned.to, "team2:{global}:version");
        assert_eq!(plan(&keys, "counter:global"), None);
    }
}
