//! The non-blocking connection state shared by the readiness loops (being written).
