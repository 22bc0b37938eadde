//! Fan-out: who hears about a change. The store applies and reads; this module brings each
//! new state to the sockets watching its counter.
//!
//! - [`hub`]: this replica's sockets, one latest-value channel per counter, and whether
//!   changes made on other replicas reach them now.
//! - [`subscriber`]: the replica's one Redis subscriber, which brings other replicas' changes
//!   to the hub and starts the [`reconcile`] rounds, which re-read the served counters when
//!   pub/sub may have dropped some, in a task of their own.
//! - [`presence`]: how many people watch each counter over all replicas, once a second.

pub mod cluster_stopgap;
pub mod hub;
pub mod presence;
pub mod reconcile;
pub mod subscriber;

pub use self::hub::{Hub, Membership, StateFrame};
