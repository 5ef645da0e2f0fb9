//! Benchmarks anyone can run: a load generator as fast as wrk, the same load
//! against every concurrency model, and the course's efficiency test.
//!
//! ```text
//!   load    threads ─▶ worker (epoll loop, many connections, TLS via link) ─▶ reply framing
//!              └──────────── merged tallies ─▶ report (HDR percentiles)
//!   models  spawn `netkit <service> serve --model M` ─▶ load at each rung ─▶ table / chart
//!   tasks   cpu job and io job × 10: sequential, threads, processes ─▶ table / chart
//! ```

mod chart;
pub mod chat_backplane;
pub mod chat_fanout;
mod link;
pub mod load;
pub mod models;
mod reply;
pub mod report;
mod server;
pub mod tasks;
mod worker;

pub use load::{LoadOptions, Stop};
pub use report::{ErrorCounts, Latency, LoadReport};
