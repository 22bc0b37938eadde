//! `--redis-wait-replicas`: a change is acknowledged only once that many Redis replicas hold
//! it, so a failover to one of them cannot lose it.
//!
//! Redis replicates asynchronously; `WAIT n timeout` blocks until `n` replicas have
//! confirmed the replication stream up to where it was when *the connection it is sent on*
//! ran its previous command. It is not allowed inside a script, so it follows the apply
//! scripts in one pipeline on one connection: if the connection breaks, the whole pipeline
//! fails (a `WAIT` on a fresh connection, or on a restarted server, could confirm at once
//! what it never saw).
//!
//! `WAIT` blocks its connection until the replicas answer, so changes have a connection of
//! their own (`primary.rs`), and they share the wait as changes arriving together share an
//! fsync: one task per replica sends the changes waiting now as one pipeline, each change's
//! `EVALSHA` and then a single `WAIT`, and sends the next group when that one is answered.
//!
//! When fewer replicas confirm in time the change has been applied on the primary (and
//! announced) but is not acknowledged: the client is answered `503 unavailable` and sends it
//! again under the same `op_id`. The retry is answered from the dedupe record and waits
//! again, and that `WAIT` covers the first apply too, even one made through another
//! connection or replica: Redis sets a connection's offset to the server's replication
//! offset after every command it runs, reads included (`c->woff = server.master_repl_offset`
//! in `processCommand`), so a duplicate's script run puts the record behind it. If the
//! primary died before a replica had the change, the promoted replica has no record of it
//! and the retry applies it there: once either way (`failover::*`).

use std::sync::Arc;
use std::time::Duration;

use redis::{Cmd, FromRedisValue, RedisError, Script, ScriptInvocation, Value};
use tokio::sync::{mpsc, oneshot};

use super::primary::Primary;

/// The most changes sent in one group: bounds one pipeline's size and its wait.
const MOST_IN_A_GROUP: usize = 256;

/// How many replicas must hold a change before its ack, and for how long to wait for them.
#[derive(Clone, Copy, Debug)]
pub struct ReplicaWait {
    /// Replicas that must confirm a change (`WAIT`'s first argument); at least 1.
    pub replicas: u32,
    /// The longest wait for them (`WAIT`'s second argument, never 0, which waits forever).
    pub timeout: Duration,
}

/// The apply script's reply and how many replicas confirmed it.
pub struct Confirmed {
    /// What the script answered.
    pub reply: Vec<String>,
    /// Replicas that hold every write made up to the change.
    pub replicas: u32,
}

/// Hands changes to the task that sends them in groups; cheap to share.
pub struct GroupedChanges {
    /// The queue of changes not yet sent.
    queue: mpsc::Sender<Waiting>,
}

/// One change in the queue.
struct Waiting {
    /// Its `EVALSHA` of the apply script.
    eval: Cmd,
    /// Where its result goes; closed when the caller stopped waiting.
    answer: oneshot::Sender<Result<Confirmed, RedisError>>,
}

impl GroupedChanges {
    /// Starts the task that sends changes to `primary`'s changes connection. It ends when
    /// the store is dropped.
    pub fn start(wait: ReplicaWait, primary: Arc<Primary>, script: Script) -> Self {
        let (queue, waiting) = mpsc::channel(4 * MOST_IN_A_GROUP);
        tokio::spawn(send_groups(wait, primary, script, waiting));
        Self { queue }
    }

    /// Applies one change (an invocation of the apply script) and says how many replicas
    /// hold it.
    pub async fn apply(&self, invocation: &ScriptInvocation<'_>) -> Result<Confirmed, RedisError> {
        // The crate builds a script's `EVALSHA` for a pipeline only.
        let mut pipe = redis::pipe();
        pipe.invoke_script(invocation);
        let eval = pipe
            .cmd_iter()
            .next()
            .cloned()
            .expect("one command was added");
        let (answer, answered) = oneshot::channel();
        let stopped = || RedisError::from((redis::ErrorKind::Io, "the change sender stopped"));
        self.queue
            .send(Waiting { eval, answer })
            .await
            .map_err(|_| stopped())?;
        answered.await.map_err(|_| stopped())?
    }
}

/// Sends the changes waiting now as one group, then the next, until the queue closes.
async fn send_groups(
    wait: ReplicaWait,
    primary: Arc<Primary>,
    script: Script,
    mut waiting: mpsc::Receiver<Waiting>,
) {
    let mut group = Vec::with_capacity(MOST_IN_A_GROUP);
    while waiting.recv_many(&mut group, MOST_IN_A_GROUP).await > 0 {
        // A caller that gave up (its deadline passed) is not sent: its client was answered
        // 503 and sends the change again.
        group.retain(|change| !change.answer.is_closed());
        if group.is_empty() {
            continue;
        }
        let evals: Vec<&Cmd> = group.iter().map(|change| &change.eval).collect();
        let results = match primary.changes() {
            Some(mut conn) => send(&wait, &script, &mut conn, &evals).await,
            None => Err(RedisError::from((
                redis::ErrorKind::Io,
                "Sentinel has named no Redis primary yet",
            ))),
        };
        match results {
            Ok(results) => {
                for (change, result) in group.drain(..).zip(results) {
                    let _ = change.answer.send(result);
                }
            }
            Err(err) => {
                for change in group.drain(..) {
                    let _ = change.answer.send(Err(err.clone()));
                }
            }
        }
    }
}

/// One group: the scripts and one `WAIT` in one pipeline; the scripts Redis lost (NOSCRIPT,
/// after a restart or `SCRIPT FLUSH`) are loaded and sent again, with a `WAIT` of their own.
async fn send(
    wait: &ReplicaWait,
    script: &Script,
    conn: &mut redis::aio::ConnectionManager,
    evals: &[&Cmd],
) -> Result<Vec<Result<Confirmed, RedisError>>, RedisError> {
    let mut results = pipeline(wait, conn, evals).await?;
    let lost: Vec<usize> = (0..results.len())
        .filter(|&i| matches!(&results[i], Err(err) if err.kind() == redis::ServerErrorKind::NoScript.into()))
        .collect();
    if !lost.is_empty() {
        script.load_async(conn).await?;
        let again: Vec<&Cmd> = lost.iter().map(|&i| evals[i]).collect();
        for (i, result) in lost.into_iter().zip(pipeline(wait, conn, &again).await?) {
            results[i] = result;
        }
    }
    Ok(results)
}

/// `EVALSHA …` for each change, then `WAIT`; each change's result with the replicas the
/// `WAIT` counted. Each reply is looked at on its own: one script's error (READONLY,
/// NOSCRIPT…) is that change's, not the group's.
async fn pipeline(
    wait: &ReplicaWait,
    conn: &mut redis::aio::ConnectionManager,
    evals: &[&Cmd],
) -> Result<Vec<Result<Confirmed, RedisError>>, RedisError> {
    let mut pipe = redis::pipe();
    for eval in evals {
        pipe.add_command((*eval).clone());
    }
    let timeout_ms = wait.timeout.as_millis().max(1) as u64;
    pipe.cmd("WAIT").arg(wait.replicas).arg(timeout_ms);
    let mut replies: Vec<Value> = pipe.ignore_errors().query_async(conn).await?;
    let confirmed = match replies.pop() {
        Some(wait) if replies.len() == evals.len() => u32::from_redis_value(wait.extract_error()?)?,
        _ => {
            return Err(RedisError::from((
                redis::ErrorKind::UnexpectedReturnType,
                "a pipeline did not answer once per command",
            )));
        }
    };
    Ok(replies
        .into_iter()
        .map(|reply| {
            let reply = Vec::<String>::from_redis_value(reply.extract_error()?)?;
            Ok(Confirmed {
                reply,
                replicas: confirmed,
            })
        })
        .collect())
}
