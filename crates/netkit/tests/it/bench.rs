//! `netkit bench`: the load generator against tiny servers written here, whose
//! behaviour is known (every reply 200, every reply 500, close without a reply,
//! chunked replies), plus the echo server; `bench models` with a short duration;
//! `bench tasks` with small jobs. Every run is `--json`, so the numbers are read,
//! not scraped.

use crate::common;

use common::{netkit, Server};
use serde_json::Value;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc, Arc};
use std::time::Duration;

mod models;
mod tasks;

/// How a test server answers each request.
#[derive(Clone, Copy)]
enum Behaviour {
    /// `200 OK` with a 5-byte body, keep-alive.
    Ok,
    /// `500` with a body, keep-alive.
    Error500,
    /// Reads the request, then closes without a reply.
    Close,
    /// `200 OK`, chunked body in three chunks.
    Chunked,
    /// Reads requests and never answers.
    Silent,
}

/// A tiny HTTP/1.1 server on 127.0.0.1:0, a thread per connection, counting
/// requests and connections. Its threads end when the test process does.
struct TestServer {
    addr: std::net::SocketAddr,
    requests: Arc<AtomicU64>,
    connections: Arc<AtomicU64>,
    /// One message per request received.
    arrivals: mpsc::Receiver<()>,
}

impl TestServer {
    fn start(behaviour: Behaviour) -> TestServer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = listener.local_addr().expect("addr");
        let requests = Arc::new(AtomicU64::new(0));
        let connections = Arc::new(AtomicU64::new(0));
        let (r, c) = (Arc::clone(&requests), Arc::clone(&connections));
        let (tx, arrivals) = mpsc::channel();
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                let Ok(conn) = conn else { continue };
                c.fetch_add(1, Ordering::Relaxed);
                let r = Arc::clone(&r);
                let tx = tx.clone();
                std::thread::spawn(move || serve(conn, behaviour, &r, &tx));
            }
        });
        TestServer {
            addr,
            requests,
            connections,
            arrivals,
        }
    }

    fn url(&self) -> String {
        format!("http://{}/x", self.addr)
    }
}

fn serve(
    mut conn: TcpStream,
    behaviour: Behaviour,
    requests: &AtomicU64,
    arrived: &mpsc::Sender<()>,
) {
    let _ = conn.set_read_timeout(Some(Duration::from_secs(30)));
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        // One request head (the load generator sends no body here).
        let end = loop {
            if let Some(at) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break at + 4;
            }
            match conn.read(&mut chunk) {
                Ok(0) | Err(_) => return,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        };
        let head = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
        buf.drain(..end);
        requests.fetch_add(1, Ordering::Relaxed);
        let _ = arrived.send(());
        let close = head.contains("connection: close");
        let connection = if close { "close" } else { "keep-alive" };
        let reply = match behaviour {
            Behaviour::Ok => {
                format!("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nConnection: {connection}\r\n\r\nhello")
            }
            Behaviour::Error500 => format!(
                "HTTP/1.1 500 Internal Server Error\r\nContent-Length: 4\r\nConnection: {connection}\r\n\r\noops"
            ),
            Behaviour::Close => return,
            Behaviour::Silent => continue,
            Behaviour::Chunked => format!(
                "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nConnection: {connection}\r\n\r\n\
                 3\r\nabc\r\n4\r\ndefg\r\n1\r\nh\r\n0\r\n\r\n"
            ),
        };
        if conn.write_all(reply.as_bytes()).is_err() || close {
            return;
        }
    }
}

/// A child process killed (and reaped) when the test ends, however it ends.
struct KillOnDrop(std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Runs `netkit bench ARGS --json` and returns the parsed document.
fn bench_json(args: &[&str]) -> Value {
    let mut all = vec!["bench"];
    all.extend_from_slice(args);
    all.push("--json");
    let out = netkit(&all).output().expect("run netkit bench");
    assert!(
        out.status.success(),
        "netkit {all:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&out.stdout)))
}

/// Runs `netkit bench ARGS --json` that must fail (exit 1: nothing
/// succeeded) and returns the report it still printed, and its stderr.
fn bench_json_failing(args: &[&str]) -> (Value, String) {
    let mut all = vec!["bench"];
    all.extend_from_slice(args);
    all.push("--json");
    let out = netkit(&all)
        .stderr(std::process::Stdio::piped())
        .output()
        .expect("run netkit bench");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(1), "netkit {all:?}: {stderr}");
    assert!(stderr.contains("no request succeeded"), "{stderr}");
    let report = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&out.stdout)));
    (report, stderr)
}

fn num(v: &Value, path: &[&str]) -> u64 {
    let mut at = v;
    for key in path {
        at = &at[*key];
    }
    at.as_u64()
        .unwrap_or_else(|| panic!("{path:?} is not a count in {v}"))
}

fn assert_monotone(report: &Value) {
    let l = &report["latency_us"];
    let order = ["min", "p50", "p90", "p99", "p999", "max"];
    let values: Vec<u64> = order.iter().map(|k| num(l, &[k])).collect();
    assert!(values[0] >= 1, "latency recorded: {l}");
    assert!(
        values.windows(2).all(|w| w[0] <= w[1]),
        "percentiles not monotone: {l}"
    );
}

#[test]
fn exactly_n_requests_are_made_and_counted_over_keep_alive() {
    let server = TestServer::start(Behaviour::Ok);
    let r = bench_json(&["load", &server.url(), "-n", "500", "-c", "8", "-t", "2"]);
    assert_eq!(num(&r, &["requests"]), 500);
    assert_eq!(
        num(&r, &["errors", "status"]) + num(&r, &["errors", "read"]),
        0,
        "{r}"
    );
    assert_eq!(server.requests.load(Ordering::Relaxed), 500);
    assert!(
        server.connections.load(Ordering::Relaxed) <= 8,
        "keep-alive reuses the 8 connections"
    );
    assert!(num(&r, &["bytes_read"]) >= 500 * 5);
    assert_monotone(&r);
}

#[test]
fn close_mode_uses_a_connection_per_request() {
    let server = TestServer::start(Behaviour::Ok);
    let r = bench_json(&["load", &server.url(), "-n", "40", "-c", "4", "--close"]);
    assert_eq!(num(&r, &["requests"]), 40);
    assert_eq!(server.connections.load(Ordering::Relaxed), 40);
    assert_eq!(server.requests.load(Ordering::Relaxed), 40);
}

#[test]
fn status_500_replies_are_requests_and_errors() {
    let server = TestServer::start(Behaviour::Error500);
    let (r, stderr) = bench_json_failing(&["load", &server.url(), "-n", "60", "-c", "3"]);
    assert_eq!(num(&r, &["requests"]), 60);
    assert_eq!(num(&r, &["errors", "status"]), 60);
    assert_eq!(num(&r, &["errors", "statuses", "500"]), 60);
    assert!(
        stderr.contains("500 ×60"),
        "the status code is named: {stderr}"
    );
    assert_monotone(&r);
}

/// Human output names the status codes, and a run where every request got a
/// 404 exits 1, as wrk does.
#[test]
fn every_request_a_404_exits_1_and_names_the_code() {
    let dirs = common::Dirs::new();
    let dir = common::utf8(&dirs.served);
    let http = Server::start(&common::local_args(&["http", "serve", dir], "epoll"));
    let url = format!("http://{}/missing", http.addr());
    let out = netkit(&["bench", "load", &url, "-n", "20", "-c", "1", "-t", "1"])
        .stderr(std::process::Stdio::piped())
        .output()
        .expect("run bench load");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stdout}{stderr}");
    assert!(stdout.contains("404 ×20"), "{stdout}");
    assert!(stdout.contains("1 connection on 1 thread,"), "{stdout}");
    assert_eq!(http.terminate(), Some(0));
}

#[test]
fn a_server_that_closes_without_replying_gives_read_errors() {
    let server = TestServer::start(Behaviour::Close);
    let (r, _) = bench_json_failing(&["load", &server.url(), "-n", "30", "-c", "3"]);
    assert_eq!(num(&r, &["requests"]), 0);
    let failed = num(&r, &["errors", "read"]) + num(&r, &["errors", "write"]);
    assert_eq!(failed, 30, "{r}");
}

#[test]
fn chunked_replies_are_framed() {
    let server = TestServer::start(Behaviour::Chunked);
    let r = bench_json(&[
        "load",
        &server.url(),
        "-n",
        "100",
        "-c",
        "2",
        "-H",
        "X-A: b",
    ]);
    assert_eq!(num(&r, &["requests"]), 100);
    assert_eq!(
        num(&r, &["errors", "invalid"]) + num(&r, &["errors", "timeout"]),
        0
    );
}

#[test]
fn a_server_that_never_answers_gives_timeouts() {
    let server = TestServer::start(Behaviour::Silent);
    let (r, _) = bench_json_failing(&[
        "load",
        &server.url(),
        "-n",
        "4",
        "-c",
        "2",
        "--timeout",
        "100ms",
    ]);
    assert_eq!(num(&r, &["requests"]), 0);
    assert_eq!(num(&r, &["errors", "timeout"]), 4, "{r}");
    assert_eq!(num(&r, &["starved_connections"]), 2, "{r}");
}

#[test]
fn ctrl_c_ends_a_run_early_with_a_report() {
    let server = TestServer::start(Behaviour::Ok);
    let url = server.url();
    let child = netkit(&["bench", "load", &url, "-d", "60s", "-c", "2", "--json"])
        .spawn()
        .expect("spawn");
    let mut child = KillOnDrop(child);
    // Each of the 2 connections runs one request at a time, so a third
    // arrival means some connection had a whole reply and went on: the run has
    // a success to report (an interrupt before that would rightly exit 1).
    for _ in 0..3 {
        server
            .arrivals
            .recv_timeout(common::READY_TIMEOUT)
            .expect("the load reached the server");
    }
    common::signal(&child.0, "INT");
    let status = common::wait_bounded(&mut child.0, Duration::from_secs(20));
    assert_eq!(status, Some(0));
    let mut out = String::new();
    child
        .0
        .stdout
        .take()
        .expect("stdout")
        .read_to_string(&mut out)
        .expect("read");
    let r: Value = serde_json::from_str(&out).expect("JSON report");
    assert!(num(&r, &["requests"]) > 0, "{r}");
    assert!(r["seconds"].as_f64().unwrap_or(60.0) < 30.0, "{r}");
}

#[test]
fn a_refused_port_gives_connect_errors() {
    let port = {
        let l = TcpListener::bind("127.0.0.1:0").expect("bind");
        l.local_addr().expect("addr").port()
    };
    let (r, _) = bench_json_failing(&[
        "load",
        &format!("http://127.0.0.1:{port}/"),
        "-n",
        "5",
        "-c",
        "1",
    ]);
    assert_eq!(num(&r, &["requests"]), 0);
    assert_eq!(num(&r, &["errors", "connect"]), 5);
}

#[test]
fn echo_round_trips_move_exactly_the_bytes_sent() {
    let server = Server::start(&["echo", "serve", "--bind", "127.0.0.1", "--port", "0"]);
    let r = bench_json(&[
        "load",
        &server.url,
        "-n",
        "200",
        "-c",
        "4",
        "--size",
        "3000",
    ]);
    assert_eq!(num(&r, &["requests"]), 200);
    assert_eq!(num(&r, &["bytes_read"]), 200 * 3000);
    assert_eq!(num(&r, &["bytes_written"]), 200 * 3000);
    assert_eq!(num(&r, &["errors", "invalid"]), 0);
    assert_monotone(&r);
}

#[test]
fn big_echoes_do_not_deadlock_while_both_directions_are_full() {
    let server = Server::start(&["echo", "serve", "--bind", "127.0.0.1", "--port", "0"]);
    let r = bench_json(&[
        "load",
        &server.url,
        "-n",
        "12",
        "-c",
        "3",
        "--size",
        "2000000",
    ]);
    assert_eq!(num(&r, &["requests"]), 12, "{r}");
    assert_eq!(num(&r, &["bytes_read"]), 12 * 2_000_000);
    assert_eq!(num(&r, &["errors", "invalid"]), 0);
}

#[test]
fn a_duration_run_stops_and_reports_a_rate() {
    let server = TestServer::start(Behaviour::Ok);
    let r = bench_json(&["load", &server.url(), "-d", "200ms", "-c", "2"]);
    assert!(num(&r, &["requests"]) > 0);
    let secs = r["seconds"].as_f64().expect("seconds");
    assert!((0.2..10.0).contains(&secs), "{secs}");
    assert!(r["requests_per_sec"].as_f64().expect("rate") > 0.0);
}
