//! exit_status — how a process ends, and how its parent learns the status.
//!
//! Seed topic: 进程退出 `os._exit(status)` versus `sys.exit([status])`, and
//! 获取原来退出状态 `os.WEXITSTATUS(status)` after `os.wait()` / `os.waitpid()`.
//!
//! There are two ways out:
//!
//! * `exit()` (Rust: `std::process::exit`) is the *polite* exit: the language
//!   runtime cleans up first, which includes flushing buffered output.
//! * `_exit()` is the raw system call: the kernel ends the process at once.
//!   Whatever still sits in the process's own user-space buffers is lost.
//!
//! Rust's stdout is line-buffered, so text printed without a newline waits in
//! a buffer. Each child below prints such a partial line and then leaves: the
//! `exit()` child's text appears, the `_exit()` child's text never does. This
//! is also why forked children normally end with `_exit`: they must not flush
//! (and so duplicate) buffers they inherited from the parent.
//!
//! The parent collects each child with `waitpid`. The kernel packs "how did it
//! end" into one status word; nix decodes it into `WaitStatus::Exited(pid,
//! code)` (that `code` is `WEXITSTATUS`) or `WaitStatus::Signaled(pid, sig, _)`
//! for a child killed by a signal.

use std::io::Write;

use nix::sys::signal::{kill, Signal};
use nix::sys::wait::{waitpid, WaitStatus};
use nix::unistd::{fork, ForkResult, Pid};

/// Forks; the child runs `body` (which must not return) and the parent gets its PID.
fn spawn(body: impl FnOnce()) -> Pid {
    // Nothing may sit in our stdout buffer, or the child would inherit a copy.
    let _ = std::io::stdout().flush();
    // SAFETY: single-threaded, so the child may run arbitrary code.
    match unsafe { fork() } {
        Ok(ForkResult::Parent { child }) => child,
        Ok(ForkResult::Child) => {
            body();
            // SAFETY: _exit ends the process at once; it touches no Rust state.
            unsafe { nix::libc::_exit(99) }
        }
        Err(e) => {
            eprintln!("exit_status: fork failed: {e}");
            std::process::exit(1);
        }
    }
}

/// Waits for `pid` and prints what the status word says.
fn report(label: &str, pid: Pid) {
    let status = waitpid(pid, None);
    // The child's partial line (if it survived) has no newline; end it.
    println!();
    match status {
        Ok(WaitStatus::Exited(_, code)) => println!("{label}: exited WEXITSTATUS={code}"),
        Ok(WaitStatus::Signaled(_, sig, _)) => println!("{label}: killed by {sig}"),
        other => {
            eprintln!("exit_status: unexpected wait result {other:?}");
            std::process::exit(1);
        }
    }
}

fn main() {
    // 1. exit(): the runtime flushes stdout before the process ends.
    let pid = spawn(|| {
        print!("exit-child: buffered text survives exit()");
        std::process::exit(3);
    });
    report("exit-child", pid);

    // 2. _exit(): the process ends now; the buffered text is dropped.
    let pid = spawn(|| {
        print!("_exit-child: buffered text is LOST");
        // SAFETY: _exit ends the process at once; it touches no Rust state.
        unsafe { nix::libc::_exit(4) };
    });
    report("_exit-child", pid);

    // 3. A child that never exits by itself: the parent kills it.
    let pid = spawn(|| loop {
        nix::unistd::pause();
    });
    if let Err(e) = kill(pid, Signal::SIGKILL) {
        eprintln!("exit_status: kill failed: {e}");
        std::process::exit(1);
    }
    report("killed-child", pid);
}
