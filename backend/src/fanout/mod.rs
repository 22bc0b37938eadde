//! Fan-out: who hears about a change. The store applies and reads; this module brings each
//! new state to the sockets watching its counter.
//!
//! - [`hub`]: this replica's sockets, one latest-value channel per counter, and whether
//!   changes made on other replicas reach them now.
//! - [`subscriber`]: the replica's one Redis subscriber, which brings other replicas' changes
//!   to the hub and re-reads the served counters when pub/sub may have dropped some.
//! - [`presence`]: how many people watch each counter over all replicas, once a second.

pub mod hub;
pub mod presence;
pub mod subscriber;

pub use self::hub::{Hub, Membership, StateFrame};
