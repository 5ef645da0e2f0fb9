//! netkit's end-to-end tests, in one binary (one link instead of one per
//! file): each module drives the real `netkit` binary, or an example, over
//! loopback. Run one area with a filter, e.g. `cargo test -p netkit --test it
//! models::epoll` or `cargo test -p netkit --test it tftp_`.

// Helpers shared by several test modules.
mod chat_backplane_support;
mod common;
mod hardening_support;
mod http;
mod tftp_support;
mod tls_support;

// The tests, one module per area.
mod access_browser;
mod access_files;
mod access_http;
mod bench;
mod chat_backplane;
mod chat_backplane_outage;
mod chat_irc;
mod chat_join;
mod chat_udp;
mod chat_verbs;
/// Flags every service shares (access log, sharing flags).
mod cli;
mod cli_usage;
mod examples_processes;
mod examples_threads_signals;
mod files;
mod files_cli;
mod files_folders;
mod files_shell;
mod files_verify;
mod hardening_faults;
mod hardening_hostile;
mod hardening_traversal;
mod http_clients;
mod http_conformance;
mod install;
mod models;
mod ports;
mod relay;
mod summaries;
mod tftp_cli;
mod tftp_clients;
mod tftp_raw;
mod tftp_requests;
mod tls_client;
mod tls_clients;
mod tls_models;
mod tools;
mod up_browser;
mod up_services;
mod uring_refusal;
mod web_share;
mod web_share_browser;
mod web_verbs;
mod webdav;
