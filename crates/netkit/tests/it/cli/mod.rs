//! Command-line behaviour shared by every service, run end to end.

pub mod access_log;
pub mod share_flags;
