//! Integration tests: real `redis-server`s, real backend replicas, real sockets and a real
//! headless Chromium. One test binary, as in zero2prod; each test starts what it needs.

mod broken_frames;
mod browser;
mod change_log;
mod contract;
mod counter_page;
mod damage;
mod deploy;
mod embedded;
mod failover;
mod faults;
mod helpers;
mod history;
mod hosts;
mod keys;
mod liveness;
mod load_balancer;
mod open_counters;
mod owned;
mod protocol;
mod publish;
mod reconcile;
mod redis;
mod redis_cluster;
mod refusals;
mod security;
mod slow_clients;
mod static_files;
mod upgrade;
