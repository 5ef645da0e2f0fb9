//! fork_basics — one process becomes two.
//!
//! Seed topic: 创建进程 `os.fork()`, with 获取进程PID `os.getpid()` / `os.getppid()`.
//!
//! `fork()` asks the kernel to copy the calling process. Both copies continue
//! from the line after `fork()`; the only difference between them is the
//! return value: the parent gets the new child's PID, the child gets 0. That
//! is why almost every fork program is an `if`/`match` on the result.
//!
//! The child gets a *copy* of the parent's memory (copy-on-write pages), so
//! when the child changes `counter` below the parent's `counter` stays
//! untouched: after the fork they are two separate variables in two separate
//! address spaces. The child also has its own PID, and its parent PID
//! (`getppid`) is the PID of the process that forked it.
//!
//! The parent waits for the child (`waitpid`) so the child never lingers as a
//! zombie (see `orphan_and_zombie`). Output is `key=value` lines so a test can
//! check every claim:
//!
//! ```text
//! parent pid=100
//! child pid=101 ppid=100 fork_returned=0
//! child counter=100
//! parent fork_returned=101
//! parent counter=1
//! ```

use nix::sys::wait::{waitpid, WaitStatus};
use nix::unistd::{fork, getpid, getppid, ForkResult};

fn main() {
    let mut counter = 1;
    println!("parent pid={}", getpid());

    // SAFETY: the process is single-threaded here, so the child may run any code.
    match unsafe { fork() } {
        Err(e) => {
            eprintln!("fork_basics: fork failed: {e}");
            std::process::exit(1);
        }
        Ok(ForkResult::Child) => {
            // Only the child runs this arm; fork returned 0 here.
            println!("child pid={} ppid={} fork_returned=0", getpid(), getppid());
            counter = 100;
            println!("child counter={counter}");
            // Leave without running the parent's cleanup a second time.
            // SAFETY: _exit ends the process at once; it touches no Rust state.
            unsafe { nix::libc::_exit(0) };
        }
        Ok(ForkResult::Parent { child }) => {
            // Wait first so the child's lines come before ours.
            match waitpid(child, None) {
                Ok(WaitStatus::Exited(_, 0)) => {}
                other => {
                    eprintln!("fork_basics: child ended badly: {other:?}");
                    std::process::exit(1);
                }
            }
            println!("parent fork_returned={child}");
            // Still 1: the child changed its own copy.
            println!("parent counter={counter}");
        }
    }
}
