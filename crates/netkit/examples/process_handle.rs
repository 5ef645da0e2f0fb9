//! process_handle — a small `multiprocessing.Process` built on fork.
//!
//! Seed topics: multiprocessing 模块创建进程 — `Process(target, name, args)`,
//! `p.start()`, `p.join()`, `p.name`, `p.pid`, `p.is_alive()`, `p.daemon`
//! ("如果设置为True 则主进程退出时子进程也会结束"), and 创建自定义进程类
//! (a type that owns the work, like subclassing `Process` and overriding `run`).
//!
//! `Process` holds a closure; `start` forks and runs it in the child, whose
//! return value becomes the exit code. `is_alive` asks the kernel without
//! blocking (`waitpid` + `WNOHANG`) and `join` blocks until the child ends, so
//! a joined child never stays a zombie.
//!
//! Daemon semantics: a non-daemon child is joined when its handle is dropped
//! (Python joins them at exit); a daemon child is killed instead. Drop does not
//! run if the parent dies abruptly (or calls `process::exit`), so a daemon child
//! also asks the kernel to send it SIGKILL when its parent dies
//! (`prctl(PR_SET_PDEATHSIG)`). The last daemon below is left to exactly that.

use nix::sys::prctl::set_pdeathsig;
use nix::sys::signal::{kill, Signal};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::{fork, getpid, getppid, pause, ForkResult, Pid};

struct Process {
    name: String,
    daemon: bool,
    target: Option<Box<dyn FnOnce() -> i32>>,
    pid: Option<Pid>,
    status: Option<WaitStatus>,
}

impl Process {
    fn new(name: &str, target: impl FnOnce() -> i32 + 'static) -> Process {
        let (name, target) = (name.into(), Some(Box::new(target) as Box<_>));
        let (daemon, pid, status) = (false, None, None);
        Process {
            name,
            daemon,
            target,
            pid,
            status,
        }
    }

    /// Like `p.daemon = True`: only meaningful before `start`.
    fn daemon(mut self, daemon: bool) -> Process {
        self.daemon = daemon;
        self
    }

    fn start(&mut self) -> nix::Result<Pid> {
        let target = self.target.take().ok_or(nix::errno::Errno::EINVAL)?;
        let parent = getpid();
        // SAFETY: single-threaded, so the child may run arbitrary code.
        match unsafe { fork() }? {
            ForkResult::Parent { child } => Ok(*self.pid.insert(child)),
            ForkResult::Child => {
                // If the parent is already gone, the death signal would never come.
                if self.daemon && (set_pdeathsig(Signal::SIGKILL).is_err() || getppid() != parent) {
                    // SAFETY: _exit ends the process at once; it touches no Rust state.
                    unsafe { nix::libc::_exit(1) };
                }
                let code = target();
                // SAFETY: _exit ends the process at once; it touches no Rust state.
                unsafe { nix::libc::_exit(code) }
            }
        }
    }

    fn is_alive(&mut self) -> bool {
        let (Some(pid), None) = (self.pid, self.status) else {
            return false;
        };
        match waitpid(pid, Some(WaitPidFlag::WNOHANG)) {
            Ok(WaitStatus::StillAlive) => true,
            other => {
                self.status = other.ok();
                false
            }
        }
    }

    fn join(&mut self) -> Option<WaitStatus> {
        if self.status.is_none() {
            self.status = waitpid(self.pid?, None).ok();
        }
        self.status
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        if let (true, true, Some(pid)) = (self.daemon, self.is_alive(), self.pid) {
            let _ = kill(pid, Signal::SIGKILL);
        }
        if self.pid.is_none() {
            return; // never started
        }
        let status = self.join();
        println!(
            "drop {}: daemon={} status={status:?}",
            self.name, self.daemon
        );
    }
}

/// A daemon's job: run until killed.
fn forever() -> i32 {
    loop {
        pause();
    }
}

fn die(e: nix::Error) -> ! {
    eprintln!("process_handle: {e}");
    std::process::exit(1)
}

fn main() {
    // A normal child: its return value is its exit code.
    let (rd, wr) = nix::unistd::pipe().unwrap_or_else(|e| die(e));
    let mut worker = Process::new("Process-1", move || {
        let _ = nix::unistd::read(&rd, &mut [0u8; 1]); // stay alive until the parent says go
        7
    });
    let pid = worker.start().unwrap_or_else(|e| die(e));
    let alive = worker.is_alive();
    println!("{}: pid={pid} alive={alive}", worker.name);
    let _ = nix::unistd::write(&wr, b"g");
    let (status, alive) = (worker.join(), worker.is_alive());
    println!("{}: join={status:?} alive={alive}", worker.name);

    // A daemon child that would run forever: dropping its handle kills it.
    let mut ticker = Process::new("ticker", forever).daemon(true);
    let pid = ticker.start().unwrap_or_else(|e| die(e));
    println!("ticker: pid={pid} alive={}", ticker.is_alive());
    drop(ticker);

    // A daemon whose handle is never dropped: process::exit skips Drop, and
    // the kernel's parent-death signal kills it instead.
    let mut orphan = Process::new("left-behind", forever).daemon(true);
    let pid = orphan.start().unwrap_or_else(|e| die(e));
    println!("left-behind: pid={pid} alive={}", orphan.is_alive());
    std::process::exit(0);
}
