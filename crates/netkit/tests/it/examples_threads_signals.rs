//! Runs the signal, thread and socket examples (issue 9) as real processes and
//! checks what they print and how they exit — the examples are lessons, and this
//! keeps each lesson true. Every run is bounded (killed after `LIMIT`) and every
//! process a test starts is stopped by the test.
use crate::common;

use common::spawn_example;
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use std::io::Write;
use std::process::{Child, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::time::Duration;

const LIMIT: Duration = Duration::from_secs(30);

/// Collects lines until the writer side closes (bounded by `LIMIT`).
fn drain(lines: &Receiver<String>) -> Vec<String> {
    let mut out = Vec::new();
    loop {
        match lines.recv_timeout(LIMIT) {
            Ok(line) => out.push(line),
            Err(RecvTimeoutError::Disconnected) => return out,
            Err(RecvTimeoutError::Timeout) => panic!("output never closed; so far {out:?}"),
        }
    }
}

/// Runs an example to completion: (exit code, stdout lines).
fn run(name: &str, args: &[&str]) -> (Option<i32>, Vec<String>) {
    let (mut child, lines) = spawn_example(name, args, Stdio::null());
    let code = common::wait_bounded(&mut child, LIMIT);
    (code, drain(&lines))
}

/// Waits for the next line that contains `needle`; returns it.
fn expect_line(lines: &Receiver<String>, needle: &str) -> String {
    let deadline = std::time::Instant::now() + LIMIT;
    loop {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        match lines.recv_timeout(left) {
            Ok(line) if line.contains(needle) => return line,
            Ok(_) => {}
            Err(e) => panic!("no line containing {needle:?}: {e}"),
        }
    }
}

fn has(lines: &[String], needle: &str) -> bool {
    lines.iter().any(|l| l.contains(needle))
}

fn assert_has(lines: &[String], needle: &str) {
    assert!(
        has(lines, needle),
        "no line containing {needle:?} in {lines:#?}"
    );
}

/// The value after `prefix` on the line that starts with it.
fn value_after<'a>(lines: &'a [String], prefix: &str) -> &'a str {
    let line = lines.iter().find(|l| l.starts_with(prefix));
    line.unwrap_or_else(|| panic!("no line starting {prefix:?} in {lines:#?}"))[prefix.len()..]
        .trim()
}

#[test]
fn signals_handler_ignore_alarm_and_uncatchable_sigkill() {
    let (code, out) = run("signals", &[]);
    assert_eq!(code, Some(0), "{out:#?}");
    assert_has(&out, "handler: SIGUSR1 caught 2 time(s)");
    assert_has(&out, "SIG_IGN: SIGUSR2 ignored, still alive");
    assert_has(&out, "alarm: SIGALRM woke pause()");
    // The same child that failed to catch SIGKILL is the one SIGKILL ended.
    let refused = out
        .iter()
        .find(|l| l.contains("sigaction(SIGKILL) refused: EINVAL"));
    let refused = refused.unwrap_or_else(|| panic!("no refusal line in {out:#?}"));
    let pid = refused
        .trim_start_matches("child ")
        .split(':')
        .next()
        .unwrap_or("?");
    assert_has(&out, &format!("parent: child {pid} ended by SIGKILL"));
    assert_has(&out, "ended by SIGTERM (default action)");
    assert_eq!(out.last().map(String::as_str), Some("done"));
}

#[test]
fn event_and_lock_across_processes_and_threads() {
    let (code, out) = run("event_and_lock", &[]);
    assert_eq!(code, Some(0), "{out:#?}");
    // Nobody passes the event before the parent reports it unset and sets it.
    let unset = out
        .iter()
        .position(|l| l == "processes: event set = false before set()");
    let unset = unset.unwrap_or_else(|| panic!("no unset line in {out:#?}"));
    for i in 0..4 {
        let saw = out
            .iter()
            .position(|l| l.starts_with(&format!("process {i} ")));
        let saw = saw.unwrap_or_else(|| panic!("process {i} silent: {out:#?}"));
        assert!(
            saw > unset && out[saw].ends_with("saw the event: true"),
            "{out:#?}"
        );
        assert_has(&out, &format!("thread {i}: saw the event: true"));
    }
    assert_has(
        &out,
        "processes: all exited 0: true; counter = 800 (expected 800)",
    );
    assert_has(&out, "threads: counter = 80000 (expected 80000)");
}

#[test]
fn threads_names_custom_type_mutex_and_detachment() {
    let (code, out) = run("threads", &[]);
    assert_eq!(code, Some(0), "{out:#?}");
    let expected = [
        "main thread name: main",
        "worker-1 alive before go: true",
        "worker-1 reported its own name: worker-1",
        "custom thread sum-to-100 returned 5050",
        "custom thread sum-to-1000 returned 500500",
        "shared counter = 40000 (expected 40000)",
        "detached daemon thread running: true; main returns now",
    ];
    assert_eq!(out, expected);
}

#[test]
fn gil_free_prints_six_rows_with_correct_results() {
    let (code, out) = run("gil_free", &[]);
    assert_eq!(code, Some(0), "{out:#?}");
    for model in ["sequential", "threads", "processes"] {
        for (kind, result) in [("cpu", "9592"), ("io", "100000")] {
            let row = out.iter().find(|l| {
                let mut words = l.split_whitespace();
                words.next() == Some(model) && words.next() == Some(kind)
            });
            let row = row.unwrap_or_else(|| panic!("no {model} {kind} row in {out:#?}"));
            let all = format!("[{result}, {result}, {result}, {result}] ok");
            assert!(row.ends_with(&all), "{row}");
        }
    }
}

/// Kills the driver and (if still there) the conductor when a test ends early.
struct Bus {
    driver: Child,
    conductor: Option<Pid>,
}

impl Drop for Bus {
    fn drop(&mut self) {
        if let Some(pid) = self.conductor {
            let _ = kill(pid, Signal::SIGKILL);
        }
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

#[test]
fn driver_and_conductor_follow_the_signals_in_order() {
    let (driver, lines) = spawn_example("driver_and_conductor", &[], Stdio::null());
    let mut bus = Bus {
        driver,
        conductor: None,
    };
    let (mut driver_pid, mut conductor_pid) = (None, None);
    while driver_pid.is_none() || conductor_pid.is_none() {
        let line = lines.recv_timeout(LIMIT).expect("pid lines");
        let pid = |p: &str| Pid::from_raw(p.trim().parse().expect("a pid"));
        if let Some(p) = line.strip_prefix("driver pid ") {
            driver_pid = Some(pid(p));
        } else if let Some(p) = line.strip_prefix("conductor pid ") {
            conductor_pid = Some(pid(p));
        }
    }
    let (driver, conductor) = (
        driver_pid.expect("driver"),
        conductor_pid.expect("conductor"),
    );
    bus.conductor = Some(conductor);
    assert_eq!(driver.as_raw() as u32, bus.driver.id());

    kill(conductor, Signal::SIGINT).expect("SIGINT to the conductor");
    assert!(expect_line(&lines, "driver:").contains("老司机开车了"));
    kill(conductor, Signal::SIGQUIT).expect("SIGQUIT to the conductor");
    assert!(expect_line(&lines, "driver:").contains("车速有点快"));
    // Ctrl-C reaches the driver too from a terminal: it must not stop the bus.
    kill(driver, Signal::SIGINT).expect("SIGINT to the driver");
    kill(driver, Signal::SIGTSTP).expect("SIGTSTP to the driver");
    let rest = drain(&lines);
    let expected = [
        "conductor: 到站了请下车 — we've arrived, please get off",
        "conductor: gets off",
        "driver: the conductor got off, the driver gets off",
    ];
    assert_eq!(rest, expected);
    assert_eq!(common::wait_bounded(&mut bus.driver, LIMIT), Some(0));
    // The driver reaped the conductor: no process, no zombie left under its pid.
    assert!(!std::path::Path::new(&format!("/proc/{conductor}")).exists());
    bus.conductor = None;
}

#[test]
fn socket_info_reports_names_addresses_and_options() {
    let (code, out) = run("socket_info", &[]);
    assert_eq!(code, Some(0), "{out:#?}");
    let host = nix::unistd::gethostname().expect("gethostname");
    assert_eq!(value_after(&out, "gethostname:"), host.to_string_lossy());
    assert_has(&out, "inet_aton(192.168.1.2) = [c0, a8, 01, 02]");
    assert_has(&out, "inet_ntoa([c0, a8, 01, 02]) = 192.168.1.2");
    let services = std::fs::read_to_string("/etc/services").unwrap_or_default();
    if services
        .lines()
        .any(|l| l.starts_with("http") && l.contains("80/tcp"))
    {
        assert_has(&out, "getservbyname(http/tcp) = 80");
    } else {
        assert_has(&out, "getservbyname(http/tcp):");
    }
    let listener = value_after(&out, "listener getsockname:");
    assert_eq!(value_after(&out, "client getpeername:"), listener);
    let client = value_after(&out, "client getsockname:");
    assert_eq!(value_after(&out, "server conn getpeername:"), client);
    assert_has(&out, "peer of the accepted socket is the client: true");
    assert_has(&out, "family: AF_INET, type: SOCK_STREAM");
    assert_has(&out, "SO_REUSEADDR after setsockopt: true");
    assert_has(&out, "TCP_NODELAY after setsockopt: true");
    let rcvbuf: usize = value_after(&out, "SO_RCVBUF asked 65536, getsockopt says")
        .parse()
        .expect("a size");
    assert!(rcvbuf >= 65536, "{rcvbuf}");
}

#[test]
fn udp_basics_demo_exchanges_continuous_messages() {
    let (code, out) = run("udp_basics", &[]);
    assert_eq!(code, Some(0), "{out:#?}");
    let replies: Vec<_> = out.iter().filter(|l| l.starts_with("client: ")).collect();
    let expected = [
        r#"client: got "ack 1: hello""#,
        r#"client: got "ack 2: how are you""#,
        r#"client: got "ack 3: bye""#,
    ];
    assert_eq!(replies, expected);
    assert_eq!(out.last().map(String::as_str), Some("done"));
}

#[test]
fn udp_basics_server_mode_answers_and_stops_on_bye() {
    let (mut server, lines) =
        spawn_example("udp_basics", &["server", "127.0.0.1:0"], Stdio::null());
    let ready = lines.recv_timeout(LIMIT).expect("ready line");
    let addr = ready.strip_prefix("udp server on ").expect("address line");
    let sock = std::net::UdpSocket::bind("127.0.0.1:0").expect("bind");
    sock.set_read_timeout(Some(LIMIT)).expect("timeout");
    let mut buf = [0u8; 1024];
    for (msg, reply) in [("one", "ack 1: one"), ("bye", "ack 2: bye")] {
        sock.send_to(msg.as_bytes(), addr).expect("send");
        let (n, _) = sock.recv_from(&mut buf).expect("reply");
        assert_eq!(&buf[..n], reply.as_bytes());
    }
    assert_eq!(common::wait_bounded(&mut server, LIMIT), Some(0));
}

#[test]
fn tcp_basics_demo_sees_replies_and_the_empty_recv() {
    let (code, out) = run("tcp_basics", &[]);
    assert_eq!(code, Some(0), "{out:#?}");
    assert_has(&out, "client: reply 1: hello");
    assert_has(&out, "client: reply 2: how are you");
    assert_has(&out, "client: reply 3: bye");
    assert_has(&out, "closed; 3 message(s)");
    assert_eq!(out.last().map(String::as_str), Some("done"));
}

#[test]
fn tcp_basics_client_and_server_modes_talk() {
    let (mut server, lines) =
        spawn_example("tcp_basics", &["server", "127.0.0.1:0"], Stdio::null());
    let ready = lines.recv_timeout(LIMIT).expect("ready line");
    let addr = ready
        .strip_prefix("tcp server on ")
        .expect("address line")
        .to_owned();
    let (mut client, client_lines) =
        spawn_example("tcp_basics", &["client", &addr], Stdio::piped());
    let mut stdin = client.stdin.take().expect("piped stdin");
    stdin
        .write_all("first\nsecond\n".as_bytes())
        .expect("write stdin");
    drop(stdin); // EOF ends the client
    assert_eq!(common::wait_bounded(&mut client, LIMIT), Some(0));
    assert_eq!(
        drain(&client_lines),
        ["client: reply 1: first", "client: reply 2: second"]
    );
    expect_line(&lines, "closed; 2 message(s)");
    let _ = server.kill();
    let _ = server.wait();
}

#[test]
fn file_transfer_copies_a_given_file_byte_exact() {
    let dir = tempfile::tempdir().expect("tempdir");
    for (name, len) in [("empty", 0usize), ("image", 300_001)] {
        let (src, dst) = (
            dir.path().join(name),
            dir.path().join(format!("{name}.copy")),
        );
        let data: Vec<u8> = (0..len).map(|i| (i * 7 + i / 256) as u8).collect();
        std::fs::write(&src, &data).expect("write source");
        let (code, out) = run(
            "file_transfer",
            &[src.to_str().expect("utf8"), dst.to_str().expect("utf8")],
        );
        assert_eq!(code, Some(0), "{out:#?}");
        assert_has(&out, &format!("sent {len} bytes, received {len} bytes"));
        assert_eq!(std::fs::read(&dst).expect("read copy"), data);
    }
}

#[test]
fn file_transfer_default_run_is_identical() {
    let (code, out) = run("file_transfer", &[]);
    assert_eq!(code, Some(0), "{out:#?}");
    assert_has(&out, "announces 1048583 bytes");
    assert_has(&out, "identical: true");
}

#[test]
fn unix_socket_talks_and_removes_its_file() {
    let (code, out) = run("unix_socket", &[]);
    assert_eq!(code, Some(0), "{out:#?}");
    let path = value_after(&out, "server listening on unix://");
    assert_has(&out, "socket file exists: true, is a socket: true");
    assert_has(&out, r#"client: sent "hello", got "HELLO""#);
    assert_has(&out, r#"client: sent "socket", got "SOCKET""#);
    assert_has(&out, "server: answered 3 line(s)");
    assert_has(&out, "socket file still there after close: true");
    assert_has(&out, "socket file removed: true");
    assert!(!std::path::Path::new(path).exists(), "{path} left behind");
}
