//! Steady write load that survives faults, as the frontend does.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use tokio::task::JoinHandle;

use super::ResilientWriter;

/// Writers running in the background until told to stop, each applying its ops in turn,
/// spread over the replicas, retrying every op under its op_id until it is acknowledged.
/// Writer `w`'s `k`-th op is `{name}-w{w}-{k}`.
pub struct Load {
    /// The writers; each returns what it applied, how often it retried and how many ops it
    /// had acknowledged.
    tasks: Vec<JoinHandle<(i64, usize, usize)>>,
    /// Set to end the load; every writer finishes the op it is on.
    stop: Arc<AtomicBool>,
}

impl Load {
    /// `writers` writers on counter `name`, spread over `urls` (replicas, or one load
    /// balancer).
    pub fn start(urls: Vec<String>, name: &str, writers: usize) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let tasks = (0..writers)
            .map(|w| {
                let mut writer = ResilientWriter::new(urls.clone(), w);
                let name = name.to_owned();
                let stop = stop.clone();
                tokio::spawn(async move {
                    let mut sum = 0;
                    let mut k = 0;
                    while !stop.load(Ordering::Relaxed) {
                        let delta = if (w + k) % 4 == 0 { -1 } else { 2 };
                        writer.apply(delta, &format!("{name}-w{w}-{k}")).await;
                        sum += delta;
                        k += 1;
                        tokio::time::sleep(Duration::from_millis(5)).await;
                    }
                    (sum, writer.retries, k)
                })
            })
            .collect();
        Self { tasks, stop }
    }

    /// Stops the writers and waits for them; returns the value the counter must end on
    /// (every acknowledged op exactly once) and how many sends had to be retried.
    pub async fn finish(self) -> (i64, usize) {
        let (expected, retries, _) = self.finish_counting().await;
        (expected, retries)
    }

    /// As [`Load::finish`], with the op_ids acknowledged, writer by writer.
    pub async fn finish_counting(self) -> (i64, usize, Vec<usize>) {
        self.stop.store(true, Ordering::Relaxed);
        let (mut expected, mut retries, mut acknowledged) = (0, 0, Vec::new());
        for task in self.tasks {
            let (sum, retried, ops) = task.await.expect("writer");
            expected += sum;
            retries += retried;
            acknowledged.push(ops);
        }
        (expected, retries, acknowledged)
    }
}
