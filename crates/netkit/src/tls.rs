//! TLS at the binary's edge: how clients check a server's certificate and
//! talk to it over rustls.

pub mod client;
