//! netkit: the classic network-programming course as one fast, dependable binary.
//!
//! ```text
//!   cli (clap) ── wires a protocol to a driver, prints ready lines and results
//!     │   services: one builder per service, for its command and for `up`
//!     ├── netkit_drivers: iterative thread pool fork select poll epoll async · udp loop
//!     │        │  bytes in / bytes or file ranges out / timers
//!     └── netkit_proto:   echo … (sans-IO state machines)
//! ```
//!
//! Everything the command line does is a library call here, so tests can do it too.
#![warn(missing_docs, unreachable_pub)]

pub mod backplane;
pub mod bench;
pub mod cli;
pub mod relay;
pub mod services;
pub mod tls;
pub mod up;
