//! Integration tests: real `redis-server`s, real backend replicas, real sockets and a real
//! headless Chromium. One test binary, as in zero2prod; each test starts what it needs.

mod browser;
mod contract;
mod counter_page;
mod deploy;
mod embedded;
mod faults;
mod helpers;
mod history;
mod liveness;
mod load_balancer;
mod protocol;
mod publish;
mod redis;
mod security;
mod static_files;
