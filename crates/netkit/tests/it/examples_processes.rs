//! Runs the process and IPC lesson examples (fork, exit status, zombies,
//! a Process handle, a pool, pipes, a queue, shared memory, a semaphore, the
//! copy-halves homework) as real programs and checks what they claim: the
//! values they print, their exit status, and that no child is left running.

use crate::common;

use std::process::Stdio;

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use std::time::{Duration, Instant};

/// What one run of an example produced.
struct Run {
    code: Option<i32>,
    out: String,
}

impl Run {
    /// The line starting with `prefix`, or a failure that shows the whole output.
    fn line(&self, prefix: &str) -> &str {
        let found = self.out.lines().find(|l| l.starts_with(prefix));
        found.unwrap_or_else(|| panic!("no line starting {prefix:?} in:\n{}", self.out))
    }

    /// The number after `key=` on the line starting with `prefix`.
    fn num(&self, prefix: &str, key: &str) -> i64 {
        let line = self.line(prefix);
        let pat = format!("{key}=");
        let rest = line
            .split(' ')
            .find_map(|w| w.strip_prefix(pat.as_str()))
            .unwrap_or_else(|| panic!("no {key}= in {line:?}"));
        let digits: String = rest.chars().take_while(|c| c.is_ascii_digit()).collect();
        digits
            .parse()
            .unwrap_or_else(|_| panic!("{key} not a number in {line:?}"))
    }
}

/// Runs example `name` with `args`, killing it after 30 s.
fn run(name: &str, args: &[&str]) -> Run {
    let (mut child, lines) = common::spawn_example(name, args, Stdio::null());
    let code = common::wait_bounded(&mut child, Duration::from_secs(30));
    // The reader ends at EOF; bounded in case a stray grandchild holds stdout open.
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut out = String::new();
    while let Ok(line) = lines.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
        out.push_str(&line);
        out.push('\n');
    }
    Run { code, out }
}

/// True once `pid` no longer runs: gone from /proc, or dead and waiting for
/// a reaper that is not us (state Z). Polls for at most 5 s.
fn stops_running(pid: i64) -> bool {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let state = std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .ok()
            .and_then(|s| s.rsplit_once(") ").and_then(|(_, r)| r.chars().next()));
        if matches!(state, None | Some('Z') | Some('X')) {
            return true;
        }
        if Instant::now() > deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn fork_basics_shows_pids_and_copied_memory() {
    let r = run("fork_basics", &[]);
    assert_eq!(r.code, Some(0), "{}", r.out);
    let parent = r.num("parent pid=", "pid");
    let child = r.num("child pid=", "pid");
    assert_ne!(parent, child);
    assert_eq!(
        r.num("child pid=", "ppid"),
        parent,
        "child's getppid is the parent"
    );
    assert_eq!(r.num("child pid=", "fork_returned"), 0);
    assert_eq!(r.num("parent fork_returned=", "fork_returned"), child);
    assert_eq!(r.num("child counter=", "counter"), 100);
    assert_eq!(
        r.num("parent counter=", "counter"),
        1,
        "the child's write is not seen"
    );
}

#[test]
fn exit_status_flushes_on_exit_loses_on_underscore_exit() {
    let r = run("exit_status", &[]);
    assert_eq!(r.code, Some(0), "{}", r.out);
    assert!(
        r.out.contains("exit-child: buffered text survives exit()"),
        "{}",
        r.out
    );
    assert!(
        !r.out.contains("LOST"),
        "_exit must drop the buffer:\n{}",
        r.out
    );
    assert_eq!(r.num("exit-child: exited", "WEXITSTATUS"), 3);
    assert_eq!(r.num("_exit-child: exited", "WEXITSTATUS"), 4);
    assert!(
        r.out.contains("killed-child: killed by SIGKILL"),
        "{}",
        r.out
    );
}

#[test]
fn orphan_and_zombie_shows_both_and_leaves_no_child() {
    let r = run("orphan_and_zombie", &[]);
    assert_eq!(r.code, Some(0), "{}", r.out);
    let zombie = r.num("zombie pid=", "pid");
    assert!(r.line("zombie pid=").ends_with("state=Z"), "{}", r.out);
    let reaped = r.line("waitpid reaped");
    assert!(
        reaped.contains(&format!("Exited(Pid({zombie}), 0)")),
        "{reaped}"
    );
    assert!(reaped.ends_with("gone=true"), "{reaped}");
    let middle = r.num("double fork: middle", "pid");
    assert_eq!(r.num("orphan pid=", "old_ppid"), middle);
    assert_ne!(
        r.num("orphan pid=", "new_ppid"),
        middle,
        "the orphan was re-parented"
    );
    assert!(
        r.out.contains("WNOHANG while running: Ok(StillAlive)"),
        "{}",
        r.out
    );
    assert!(
        r.line("WNOHANG after exit:").contains("Exited("),
        "{}",
        r.out
    );
    assert!(
        r.out.contains("SIG_IGN: waitpid -> Err(ECHILD)"),
        "{}",
        r.out
    );
    assert_eq!(r.num("children left=", "left"), 0, "no zombie left behind");
    assert!(stops_running(r.num("orphan pid=", "pid")));
}

#[test]
fn process_handle_joins_and_kills_daemons() {
    let r = run("process_handle", &[]);
    assert_eq!(r.code, Some(0), "{}", r.out);
    let worker = r.num("Process-1: pid=", "pid");
    assert!(
        r.line("Process-1: pid=").ends_with("alive=true"),
        "{}",
        r.out
    );
    let joined = r.line("Process-1: join=");
    assert!(
        joined.contains(&format!("Exited(Pid({worker}), 7)")),
        "{joined}"
    );
    assert!(joined.ends_with("alive=false"), "{joined}");
    let ticker = r.num("ticker: pid=", "pid");
    assert!(r.line("ticker: pid=").ends_with("alive=true"), "{}", r.out);
    let dropped = r.line("drop ticker:");
    assert!(
        dropped.contains(&format!("Signaled(Pid({ticker}), SIGKILL")),
        "{dropped}"
    );
    // Never dropped: only the parent-death signal can have stopped it.
    let left = r.num("left-behind: pid=", "pid");
    let gone = [left, ticker, worker].map(|pid| {
        let stopped = stops_running(pid);
        if !stopped {
            // Never leave a stray process behind, even when the test fails.
            let _ = kill(Pid::from_raw(pid as i32), Signal::SIGKILL);
        }
        stopped
    });
    assert_eq!(
        gone, [true; 3],
        "daemon {left} / ticker / worker outlived the parent"
    );
}

#[test]
fn process_pool_returns_every_result_from_its_fixed_workers() {
    let r = run("process_pool", &[]);
    assert_eq!(r.code, Some(0), "{}", r.out);
    let parse = |s: &str| -> Vec<i64> {
        let inner = s
            .split_once('[')
            .and_then(|(_, t)| t.split_once(']'))
            .expect("a list")
            .0;
        inner
            .split(", ")
            .map(|n| n.parse().expect("number"))
            .collect()
    };
    let workers = parse(r.line("workers="));
    assert_eq!(workers.len(), 3);
    assert!(r.out.contains("apply_async(7).get()=Some(49)"), "{}", r.out);
    let squares: Vec<i64> = (0..20).map(|n| n * n).collect();
    assert_eq!(parse(r.line("map(0..20)=")), squares);
    let used = parse(r.line("tasks=20 ran_on="));
    assert!(
        !used.is_empty() && used.iter().all(|p| workers.contains(p)),
        "{}",
        r.out
    );
    assert_eq!(r.num("joined=", "joined"), 3);
    assert!(workers.iter().all(|&w| stops_running(w)));
}

#[test]
fn pipe_one_way_duplex_and_broken() {
    let r = run("pipe", &[]);
    assert_eq!(r.code, Some(0), "{}", r.out);
    let one_way = r.line("one-way:");
    assert!(
        one_way.contains(r#"["message 1", "message 2", "message 3"] then EOF"#),
        "{one_way}"
    );
    for i in 1..=3 {
        let want = format!("duplex: sent ping {i} (true) got Some(Ok(\"pong {i}\"))");
        assert!(r.out.contains(&want), "missing {want:?} in\n{}", r.out);
    }
    assert!(r.line("duplex child:").contains(", 0))"), "{}", r.out);
    assert!(
        r.out.contains("write with no reader: Err(EPIPE)"),
        "{}",
        r.out
    );
}

#[test]
fn queue_is_bounded_times_out_and_keeps_order() {
    let r = run("queue", &[]);
    assert_eq!(r.code, Some(0), "{}", r.out);
    assert!(r.out.contains("empty=true qsize=0"), "{}", r.out);
    assert!(
        r.out.contains("get(timeout=200ms) on empty -> Empty"),
        "{}",
        r.out
    );
    assert!(
        r.out
            .contains("put_nowait accepted=4 then Err(EAGAIN) full=true"),
        "{}",
        r.out
    );
    let depths: Vec<i64> = r
        .out
        .lines()
        .filter(|l| l.starts_with("got "))
        .map(|l| {
            l.rsplit_once("qsize=")
                .and_then(|(_, n)| n.parse().ok())
                .expect("qsize")
        })
        .collect();
    assert_eq!(depths.len(), 15);
    assert!(depths.iter().all(|&d| (0..=4).contains(&d)), "{depths:?}");
    assert!(r.out.contains("received=15 producers_ok=3"), "{}", r.out);
    for p in 0..3 {
        let want = format!(
            "p{p} order={:?}",
            (0..5).map(|i| format!("p{p}-{i}")).collect::<Vec<_>>()
        );
        assert!(r.out.contains(&want), "missing {want:?} in\n{}", r.out);
    }
}

#[test]
fn shared_memory_counter_is_exact_under_the_lock() {
    let r = run("shared_memory", &[]);
    assert_eq!(r.code, Some(0), "{}", r.out);
    assert_eq!(r.num("workers=", "exited_ok"), 4);
    assert_eq!(r.num("value=", "value"), 40_000);
    assert!(
        r.out.contains("array=[20000, 20000, 20000, 20000, 20000]"),
        "{}",
        r.out
    );
    assert!(r.num("unlocked=", "unlocked") <= 4_000_000);
}

#[test]
fn semaphore_never_admits_more_than_its_limit() {
    let r = run("semaphore", &[]);
    assert_eq!(r.code, Some(0), "{}", r.out);
    assert!(r.out.contains("limit=2 get_value=2"), "{}", r.out);
    assert!(
        r.out.contains("trywait took=2 then would_block=true"),
        "{}",
        r.out
    );
    assert_eq!(r.num("workers=", "exited_ok"), 6);
    let max = r.num("max_holders=", "max_holders");
    assert!((1..=2).contains(&max), "max holders {max}");
    assert_eq!(r.num("final get_value=", "get_value"), 2);
    // Each worker prints "in" and "out" while it holds a unit, so at any
    // point of the output at most 2 workers are between their two lines.
    let (mut inside, mut entered) = (0, 0);
    for line in r.out.lines().filter(|l| l.starts_with("worker ")) {
        if line.contains(" in:") {
            inside += 1;
            entered += 1;
        } else if line.ends_with(" out") {
            inside -= 1;
        }
        assert!(
            (0..=2).contains(&inside),
            "{inside} inside at {line:?}\n{}",
            r.out
        );
    }
    assert_eq!(entered, 6);
}

#[test]
fn copy_halves_copies_a_file_byte_exact() {
    let dir = tempfile::tempdir().expect("temp dir");
    let src = dir.path().join("src.bin");
    let dst = dir.path().join("dst.bin");
    // Odd length and position-dependent bytes, so a misplaced or missing byte shows.
    let data: Vec<u8> = (0..1_000_003u32)
        .map(|i| (i ^ (i >> 8) ^ (i >> 16)) as u8)
        .collect();
    std::fs::write(&src, &data).expect("write source");
    let (s, d) = (src.to_str().expect("utf-8"), dst.to_str().expect("utf-8"));
    let r = run("copy_halves", &[s, d]);
    assert_eq!(r.code, Some(0), "{}", r.out);
    assert_eq!(std::fs::read(&dst).expect("read copy"), data);
    assert!(
        r.out.contains("half 0: bytes 0..500001 by pid"),
        "{}",
        r.out
    );
    assert!(
        r.out.contains("half 1: bytes 500001..1000003 by pid"),
        "{}",
        r.out
    );
}

#[test]
fn copy_halves_default_and_errors() {
    let r = run("copy_halves", &[]);
    assert_eq!(r.code, Some(0), "{}", r.out);
    assert!(
        r.out.contains("copied 300001 bytes, identical=true"),
        "{}",
        r.out
    );
    assert_eq!(run("copy_halves", &["only-one-arg"]).code, Some(2));
    let dir = tempfile::tempdir().expect("temp dir");
    let missing = dir.path().join("missing");
    let out = dir.path().join("out");
    let r = run(
        "copy_halves",
        &[
            missing.to_str().expect("utf-8"),
            out.to_str().expect("utf-8"),
        ],
    );
    assert_eq!(r.code, Some(1));
    assert!(!out.exists(), "nothing created for a missing source");
}
