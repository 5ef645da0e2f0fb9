//! TLS at the binary's edge: where certificates come from (files or made at
//! start) and how a server wraps its service in `netkit_proto::tls`.

pub mod certificate;
pub mod server;
