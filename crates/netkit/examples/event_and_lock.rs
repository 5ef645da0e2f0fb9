//! Event and Lock: the seed's 同步互斥机制 lesson — "Event 事件" (`e.wait()`,
//! `e.set()`, `e.clear()`, `e.is_set()`) and "锁 Lock" (`with lock:`), first across
//! processes (multiprocessing) and then across threads (threading).
//!
//! Synchronisation (同步) is cooperation: "wait until I say go" — an Event.
//! Mutual exclusion (互斥) is restraint: "one at a time in the critical section" — a
//! Lock. Processes share no memory, so their Event and Lock must live in the kernel:
//! here the Event is a pipe (set = write a byte that nobody reads, so the read end
//! stays readable for every waiter; wait = poll for readable) and the Lock is
//! `flock` on a file. Threads share memory, so `Mutex` + `Condvar` do it directly.
//!
//! Run: `cargo run -p netkit --example event_and_lock`
use nix::fcntl::{Flock, FlockArg};
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::wait::{waitpid, WaitStatus};
use nix::unistd::{fork, getpid, pipe, ForkResult};
use std::fs::OpenOptions;
use std::io::{Read, Seek, Write};
use std::os::fd::{AsFd, OwnedFd};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

const WORKERS: usize = 4;
const ROUNDS: usize = 200; // 4 x 200 = 800 per process run, x100 for threads

/// An Event across processes: a pipe whose read end is readable once set.
struct PipeEvent {
    read: OwnedFd,
    write: OwnedFd,
}

impl PipeEvent {
    fn set(&self) -> std::io::Result<()> {
        nix::unistd::write(&self.write, b"!")?;
        Ok(())
    }
    /// Waits up to `ms` milliseconds; true when the event is set.
    fn wait(&self, ms: u16) -> bool {
        let mut fds = [PollFd::new(self.read.as_fd(), PollFlags::POLLIN)];
        matches!(poll(&mut fds, PollTimeout::from(ms)), Ok(n) if n > 0)
    }
}

/// An Event across threads, like `threading.Event`.
#[derive(Default)]
struct Event {
    flag: Mutex<bool>,
    cond: Condvar,
}

impl Event {
    fn set(&self) {
        *self.flag.lock().unwrap_or_else(|e| e.into_inner()) = true;
        self.cond.notify_all();
    }
    fn wait(&self, timeout: Duration) -> bool {
        let flag = self.flag.lock().unwrap_or_else(|e| e.into_inner());
        let waited = self.cond.wait_timeout_while(flag, timeout, |set| !*set);
        *waited.unwrap_or_else(|e| e.into_inner()).0
    }
}

/// One read-modify-write of the counter file while holding `flock` on it.
fn bump(path: &std::path::Path) -> Result<(), Box<dyn std::error::Error>> {
    // Each process opens the file itself: flock belongs to the open file, so a
    // descriptor inherited across fork would share (not contend for) the lock.
    let file = OpenOptions::new().read(true).write(true).open(path)?;
    let mut locked = Flock::lock(file, FlockArg::LockExclusive).map_err(|(_, e)| e)?;
    let mut text = String::new();
    locked.read_to_string(&mut text)?;
    let n: u64 = text.trim().parse()?;
    locked.rewind()?;
    locked.set_len(0)?;
    write!(locked, "{}", n + 1)?;
    Ok(()) // dropping `locked` unlocks: the end of `with lock:`
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // --- processes ---
    let (read, write) = pipe()?;
    let event = PipeEvent { read, write };
    let dir = tempfile::tempdir()?;
    let counter = dir.path().join("counter");
    std::fs::write(&counter, "0")?;
    let mut children = Vec::new();
    for i in 0..WORKERS {
        // SAFETY: single-threaded so far; the child only runs plain code and exits.
        match unsafe { fork() }? {
            ForkResult::Child => {
                let saw = event.wait(10_000);
                println!("process {i} (pid {}): saw the event: {saw}", getpid());
                let ok = saw && (0..ROUNDS).all(|_| bump(&counter).is_ok());
                std::process::exit(if ok { 0 } else { 1 });
            }
            ForkResult::Parent { child } => children.push(child),
        }
    }
    println!("processes: event set = {} before set()", event.wait(0));
    event.set()?;
    let mut all_ok = true;
    for child in children {
        all_ok &= matches!(waitpid(child, None)?, WaitStatus::Exited(_, 0));
    }
    let total = std::fs::read_to_string(&counter)?;
    let total = total.trim();
    println!("processes: all exited 0: {all_ok}; counter = {total} (expected 800)");

    // --- threads ---
    let event = Arc::new(Event::default());
    let count = Arc::new(Mutex::new(0usize));
    let handles: Vec<_> = (0..WORKERS)
        .map(|i| {
            let (event, count) = (Arc::clone(&event), Arc::clone(&count));
            std::thread::spawn(move || {
                let saw = event.wait(Duration::from_secs(10));
                println!("thread {i}: saw the event: {saw}");
                for _ in 0..ROUNDS * 100 {
                    // The guard is `with lock:` — released at the end of the statement.
                    *count.lock().unwrap_or_else(|e| e.into_inner()) += 1;
                }
            })
        })
        .collect();
    event.set();
    for h in handles {
        h.join().map_err(|_| "a thread panicked")?;
    }
    let total = *count.lock().unwrap_or_else(|e| e.into_inner());
    println!("threads: counter = {total} (expected 80000)");
    Ok(())
}
