//! orphan_and_zombie — what happens to children nobody waits for, and four cures.
//!
//! Seed topics: 僵尸进程 (zombie), 孤儿进程 (orphan), 如何避免僵尸进程产生
//! (`os.wait` / `os.waitpid(pid, WNOHANG)`, `signal(SIGCHLD, SIG_IGN)`) and
//! 创建二级子进程 (the double fork).
//!
//! * A **zombie** is a child that has exited while its parent has not yet
//!   collected its exit status. The kernel keeps its process-table entry (PID,
//!   status) until the parent calls `wait`; `ps` shows it with STAT `Z`, and
//!   we read the same letter from `/proc/<pid>/stat`.
//! * An **orphan** is a child whose parent exited first. The kernel hands it
//!   to a reaper (PID 1, or the nearest "subreaper"), which waits for it, so
//!   orphans never stay zombies.
//!
//! Cures shown: `waitpid` (blocking), `WNOHANG` (poll without blocking, so the
//! parent keeps working), ignoring `SIGCHLD` (the kernel then reaps children
//! itself and `wait` reports `ECHILD`), and the double fork (the worker is a
//! grandchild; its parent exits at once and is reaped, the worker becomes an
//! orphan that the reaper collects). At the end we scan `/proc` to show that
//! we left no child behind.

use std::io::Read;

use nix::sys::signal::{signal, SigHandler, Signal};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::{fork, getpid, getppid, pipe, read, write, ForkResult, Pid};

fn fail(what: &str, e: impl std::fmt::Display) -> ! {
    eprintln!("orphan_and_zombie: {what}: {e}");
    std::process::exit(1);
}

/// Forks a child that runs `body` and then `_exit(0)`s.
fn spawn(body: impl FnOnce()) -> Pid {
    // SAFETY: single-threaded, so the child may run arbitrary code.
    match unsafe { fork() } {
        Ok(ForkResult::Parent { child }) => child,
        Ok(ForkResult::Child) => {
            body();
            // SAFETY: _exit ends the process at once; it touches no Rust state.
            unsafe { nix::libc::_exit(0) }
        }
        Err(e) => fail("fork", e),
    }
}

/// The state letter (R, S, Z, ...) and parent PID from `/proc/<pid>/stat`.
fn proc_stat(pid: i32) -> Option<(char, i32)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name is in parentheses and may contain spaces: split after it.
    let rest = &stat[stat.rfind(')')? + 2..];
    let mut fields = rest.split(' ');
    let state = fields.next()?.chars().next()?;
    Some((state, fields.next()?.parse().ok()?))
}

/// Our children still in the process table (zombies included).
fn children_left() -> usize {
    let me = getpid().as_raw();
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return 0;
    };
    dir.filter_map(|e| e.ok()?.file_name().to_str()?.parse::<i32>().ok())
        .filter(|&pid| matches!(proc_stat(pid), Some((_, ppid)) if ppid == me))
        .count()
}

/// Asks `check` up to 500 times, 10 ms apart, until it has an answer.
fn poll<T>(mut check: impl FnMut() -> Option<T>) -> Option<T> {
    (0..500).find_map(|_| {
        check().or_else(|| {
            std::thread::sleep(std::time::Duration::from_millis(10));
            None
        })
    })
}

fn main() {
    // 1. Zombie: the child exits, we do not wait, the kernel keeps it as `Z`.
    let zombie = spawn(|| {});
    let state = poll(|| proc_stat(zombie.as_raw()).filter(|s| s.0 == 'Z'));
    println!("zombie pid={zombie} state={}", state.map_or('?', |s| s.0));
    // Cure 1: waitpid collects the status and the entry disappears.
    let status = waitpid(zombie, None).unwrap_or_else(|e| fail("waitpid", e));
    let gone = proc_stat(zombie.as_raw()).is_none();
    println!("waitpid reaped pid={zombie} status={status:?} gone={gone}");

    // 2. Orphan, which is also cure 4, the double fork: the middle child exits
    // at once, the grandchild reports its parent before and after.
    let (rd, wr) = pipe().unwrap_or_else(|e| fail("pipe", e));
    let middle = spawn(|| {
        let middle = getpid();
        spawn(|| {
            let adopted = poll(|| Some(getppid()).filter(|&p| p != middle));
            let new = adopted.map_or(-1, |p| p.as_raw());
            let line = format!("orphan pid={} old_ppid={middle} new_ppid={new}\n", getpid());
            let _ = write(&wr, line.as_bytes());
        });
    });
    drop(wr); // keep only the grandchild's write end, so EOF means "it is gone"
    let status = waitpid(middle, None).unwrap_or_else(|e| fail("waitpid", e));
    println!("double fork: middle pid={middle} reaped status={status:?}");
    let mut report = String::new();
    let _ = std::fs::File::from(rd).read_to_string(&mut report);
    print!("{report}");

    // 3. WNOHANG: ask "has it exited?" without blocking; the parent keeps working.
    let (rd, wr) = pipe().unwrap_or_else(|e| fail("pipe", e));
    let busy = spawn(|| {
        let _ = read(&rd, &mut [0u8; 1]); // blocks until the parent says go
    });
    let first = waitpid(busy, Some(WaitPidFlag::WNOHANG));
    println!("WNOHANG while running: {first:?}");
    let _ = write(&wr, b"g"); // now the child may exit
    let done = poll(|| match waitpid(busy, Some(WaitPidFlag::WNOHANG)) {
        Ok(WaitStatus::StillAlive) => None, // meanwhile the parent could do other work
        other => Some(other),
    });
    println!("WNOHANG after exit: {done:?}");

    // 4. SIGCHLD ignored: the kernel reaps at once, there is nothing to wait for.
    // SAFETY: SigIgn/SigDfl install no handler code, so nothing can run in a signal context.
    unsafe { signal(Signal::SIGCHLD, SigHandler::SigIgn) }.unwrap_or_else(|e| fail("signal", e));
    let ignored = spawn(|| {});
    println!(
        "SIG_IGN: waitpid -> {:?} (kernel reaped it)",
        waitpid(ignored, None)
    );
    // SAFETY: SigIgn/SigDfl install no handler code, so nothing can run in a signal context.
    unsafe { signal(Signal::SIGCHLD, SigHandler::SigDfl) }.unwrap_or_else(|e| fail("signal", e));

    println!("children left={}", children_left());
}
