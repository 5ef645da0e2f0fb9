//! TLS at the binary's edge: where a server's certificate comes from (files
//! or made at start) and how a server wraps its service in `netkit_proto::tls`;
//! how clients check a server's certificate and talk to it over rustls.

pub mod certificate;
pub mod client;
pub mod server;
