//! `ulimit -n 64` (EMFILE) under every model: accept failures are logged and
//! retried after a pause (no busy loop: CPU time stays low), and service
//! resumes once descriptors free up.

use super::*;

/// CPU time (user + system) of a process, in clock ticks.
fn cpu_ticks(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let after = &stat[stat.rfind(')').unwrap() + 2..];
    let f: Vec<&str> = after.split(' ').collect();
    f[11].parse::<u64>().unwrap() + f[12].parse::<u64>().unwrap()
}

fn emfile_pauses_accept_and_service_resumes(model: &str) {
    let (_dir, root) = served();
    let mut cmd = std::process::Command::new("sh");
    cmd.arg("-c")
        .arg("ulimit -n 64 && exec \"$0\" \"$@\"")
        .arg(common::netkit_bin())
        .args([
            "http",
            "serve",
            &root,
            "--bind",
            "127.0.0.1",
            "--port",
            "0",
            "--quiet",
            "--model",
            model,
        ])
        .stdin(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped());
    let mut server = Server::start_cmd(cmd);
    let stderr = server.child.stderr.take().unwrap();
    let log = common::spawn_line_reader(stderr);
    let (addr, pid) = (server.addr(), server.child.id());
    let limits = std::fs::read_to_string(format!("/proc/{pid}/limits")).unwrap();
    let line = limits
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .unwrap();
    assert!(line.split_whitespace().nth(3) == Some("64"), "{line}");
    // Hold more connections than descriptors, each with a request in flight.
    let mut held = Vec::new();
    for _ in 0..120 {
        if let Ok(mut s) = TcpStream::connect(addr) {
            let _ = s.write_all(b"GET /a.txt HTTP/1.1\r\nHost: t\r\n");
            held.push(s);
        }
    }
    // The server says why it stopped accepting (bounded wait for the line).
    // `iterative` holds one connection at a time and `fork` hands each to a
    // child and closes its copy, so neither runs out in the accepting process.
    if model != "iterative" && model != "fork" {
        let deadline = Instant::now() + Duration::from_secs(20);
        let warned = std::iter::from_fn(|| {
            let left = deadline.saturating_duration_since(Instant::now());
            log.recv_timeout(left).ok()
        })
        .any(|l| l.contains("accept"));
        assert!(warned, "{model}: no accept warning logged");
    }
    // No busy loop: over a two-second watch it uses well under one CPU.
    let (t0, c0) = (Instant::now(), cpu_ticks(pid));
    while t0.elapsed() < Duration::from_secs(2) {
        std::thread::sleep(Duration::from_millis(100)); // watching, not synchronising
    }
    let used = cpu_ticks(pid) - c0;
    assert!(
        used < 100,
        "{model}: {used} ticks of CPU in 2 s while out of descriptors"
    );
    if let Some(status) = server.child.try_wait().unwrap() {
        let lines: Vec<String> = log.try_iter().collect();
        panic!(
            "{model}: the server died ({status}); its log:\n{}",
            lines.join("\n")
        );
    }
    drop(held);
    // Service resumes: a normal request is answered once descriptors are free.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Ok(reply) = http(addr, b"GET /a.txt HTTP/1.1\r\nHost: t\r\n", b"") {
            if reply.starts_with(b"HTTP/1.1 200") && reply.ends_with(b"hello\n") {
                break;
            }
        }
        assert!(
            Instant::now() < deadline,
            "{model}: never served again after EMFILE"
        );
    }
    drop(log);
}

common::every_model! {
    emfile_pauses_accept_and_service_resumes,
}
