//! The connection loops the models share, so that each model file holds only
//! what makes it different:
//!
//! ```text
//!   iterative thread pool fork ──▶ blocking    one connection, blocking reads and writes
//!   select poll                ──▶ scan        every connection in a Vec, scanned per wake-up
//!   select poll epoll          ──▶ readiness   one non-blocking connection and its session,
//!                                              driven by readiness reports; accepting in batches
//!   epoll uring                ──▶ workers     one loop per thread on its own listeners
//! ```

pub(crate) mod blocking;
pub(crate) mod readiness;
pub(crate) mod scan;
pub(crate) mod workers;
