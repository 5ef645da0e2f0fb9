//! process_pool — a fixed set of worker processes fed tasks over pipes.
//!
//! Seed topic: 进程池技术 — `Pool(processes)`, `pool.apply_async(fun, args)`
//! with `.get()`, `pool.map(func, iter)`, `pool.close()`, `pool.join()`.
//!
//! Creating and destroying a process per short task costs more than the task.
//! A pool forks N workers once and feeds them. Here all workers read the same
//! *task pipe*: each task is one fixed-size 16-byte record (id, argument), and
//! writes up to PIPE_BUF bytes are atomic, so every read takes exactly one
//! whole task — whichever worker is free picks up the next one. Answers come
//! back on one shared *result pipe* as (id, result, worker pid) records.
//!
//! Because fork copies the program, the workers already contain `work`; we only
//! send its argument (Python pickles the function name for the same reason).
//! `close` drops our end of the task pipe: workers read EOF and exit. `join`
//! waits for every worker, so none remains a zombie.

use std::collections::HashMap;
use std::os::fd::OwnedFd;

use nix::sys::wait::{waitpid, WaitStatus};
use nix::unistd::{fork, getpid, pipe, read, write, ForkResult, Pid};

/// The job every worker knows how to do. The nap stands for real work; without
/// it one worker finishes every task before the others wake up.
fn work(n: u64) -> u64 {
    std::thread::sleep(std::time::Duration::from_millis(5));
    n * n
}

struct Pool {
    workers: Vec<Pid>,
    tasks: Option<OwnedFd>,
    results: OwnedFd,
    next_id: u64,
    done: HashMap<u64, [u64; 3]>,
}

/// Writes one record of u64s; one `write` of at most PIPE_BUF bytes is atomic.
fn send(fd: &OwnedFd, vals: &[u64]) -> bool {
    let rec: Vec<u8> = vals.iter().flat_map(|v| v.to_le_bytes()).collect();
    write(fd, &rec) == Ok(rec.len())
}

/// Reads one record of `N` u64s; `None` on EOF or error.
fn recv<const N: usize>(fd: &OwnedFd) -> Option<[u64; N]> {
    let (mut buf, mut got) = (vec![0u8; N * 8], 0);
    while got < buf.len() {
        got += read(fd, &mut buf[got..]).ok().filter(|&n| n > 0)?;
    }
    let word = |i: usize| u64::from_le_bytes(buf[i * 8..i * 8 + 8].try_into().unwrap_or_default());
    Some(std::array::from_fn(word))
}

impl Pool {
    fn new(size: usize) -> nix::Result<Pool> {
        let (task_rd, task_wr) = pipe()?;
        let (res_rd, res_wr) = pipe()?;
        let mut workers = Vec::new();
        for _ in 0..size {
            // SAFETY: single-threaded, so the child may run arbitrary code.
            match unsafe { fork() }? {
                ForkResult::Parent { child } => workers.push(child),
                ForkResult::Child => {
                    drop(task_wr); // our copy would keep EOF from ever coming
                    let me = getpid().as_raw() as u64;
                    while let Some([id, arg]) = recv(&task_rd) {
                        if !send(&res_wr, &[id, work(arg), me]) {
                            // SAFETY: _exit ends the process at once; it touches no Rust state.
                            unsafe { nix::libc::_exit(1) };
                        }
                    }
                    // SAFETY: _exit ends the process at once; it touches no Rust state.
                    unsafe { nix::libc::_exit(0) };
                }
            }
        }
        drop(res_wr); // so that reading results ends if every worker dies
        let (tasks, done) = (Some(task_wr), HashMap::new());
        Ok(Pool {
            workers,
            tasks,
            results: res_rd,
            next_id: 0,
            done,
        })
    }

    /// Queues `arg` and returns a ticket for `get`. (A 64 KiB pipe holds a few
    /// thousand tasks; past that the parent must collect results as it goes.)
    fn apply_async(&mut self, arg: u64) -> Option<u64> {
        self.next_id += 1;
        send(self.tasks.as_ref()?, &[self.next_id, arg]).then_some(self.next_id)
    }

    /// Blocks until the answer for `ticket` arrives: (result, worker pid).
    fn get(&mut self, ticket: u64) -> Option<(u64, u64)> {
        while !self.done.contains_key(&ticket) {
            let rec: [u64; 3] = recv(&self.results)?;
            self.done.insert(rec[0], rec);
        }
        self.done
            .remove(&ticket)
            .map(|[_, result, pid]| (result, pid))
    }

    fn map(&mut self, args: impl IntoIterator<Item = u64>) -> Option<Vec<(u64, u64)>> {
        let tickets: Option<Vec<u64>> = args.into_iter().map(|a| self.apply_async(a)).collect();
        tickets?.into_iter().map(|t| self.get(t)).collect()
    }

    fn close(&mut self) {
        self.tasks = None;
    }

    /// Waits for every worker; returns how many exited cleanly.
    fn join(&mut self) -> usize {
        let clean = |pid| matches!(waitpid(pid, None), Ok(WaitStatus::Exited(_, 0)));
        self.workers.drain(..).filter(|&pid| clean(pid)).count()
    }
}

fn main() {
    let mut pool = Pool::new(3).unwrap_or_else(|e| {
        eprintln!("process_pool: {e}");
        std::process::exit(1)
    });
    let pids: Vec<i32> = pool.workers.iter().map(|p| p.as_raw()).collect();
    println!("workers={pids:?}");

    let seven = pool.apply_async(7).and_then(|t| pool.get(t));
    println!("apply_async(7).get()={:?}", seven.map(|r| r.0));

    let Some(results) = pool.map(0..20) else {
        eprintln!("process_pool: a worker died");
        std::process::exit(1);
    };
    let values: Vec<u64> = results.iter().map(|r| r.0).collect();
    println!("map(0..20)={values:?}");
    let mut used: Vec<u64> = results.iter().map(|r| r.1).collect();
    used.sort_unstable();
    used.dedup();
    println!("tasks=20 ran_on={used:?}");

    pool.close();
    println!("joined={}", pool.join());
}
