//! `bench tasks`: the course's efficiency test, done fairly. The same CPU-bound
//! job and the same IO-bound job run `jobs` times one after another, on `jobs`
//! threads, and on `jobs` processes; the wall times and speedups come out as a
//! table like the seed's.
//!
//! - CPU job: count the primes below N by trial division (no allocation, so a
//!   forked child runs it safely), checksum = count and sum of the primes.
//! - IO job: request/reply round trips over TCP to a local server (a thread of
//!   this process) that answers each after a fixed delay, like a remote
//!   service; the job mostly waits. Checksum = sum of the answers.
//!
//! Processes are made with fork(2): each child runs one job, writes its
//! checksum to a pipe and `_exit`s. Python's threads gained nothing on the CPU
//! job because of the GIL; Rust threads have no such lock.

use super::chart;
use super::report::count;
use anyhow::{Context, Result};
use serde::Serialize;
use std::fmt;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// What `bench tasks` runs.
#[derive(Debug, Clone)]
pub struct TasksOptions {
    /// Copies of each job.
    pub jobs: usize,
    /// CPU job: count the primes below this.
    pub primes_below: u64,
    /// IO job: round trips per job.
    pub io_trips: u32,
    /// IO job: the server's delay before each answer.
    pub io_delay: Duration,
}

impl TasksOptions {
    /// The seed's parameters, the ones its Python times ([`SEED_PYTHON`]) are for.
    pub const SEED: TasksOptions = TasksOptions {
        jobs: 10,
        primes_below: 3_000_000,
        io_trips: 40,
        io_delay: Duration::from_millis(5),
    };
}

/// The seed's Python wall times (sequential / threads / processes), measured
/// with [`TasksOptions::SEED`] only: meaningless beside any other job.
const SEED_PYTHON: [(&str, &str); 2] = [
    ("cpu", "8.15 s / 8.41 s / 4.08 s"),
    ("io", "6.84 s / 6.02 s / 3.21 s"),
];

/// One job in one mode.
#[derive(Debug, Clone, Serialize)]
pub struct ModeResult {
    /// Wall time for all the copies, seconds.
    pub seconds: f64,
    /// Every copy's checksum, in job order.
    pub checksums: Vec<u64>,
}

/// One job in every mode.
#[derive(Debug, Clone, Serialize)]
pub struct JobResult {
    /// `cpu` or `io`.
    pub job: &'static str,
    /// What one copy does.
    pub what: String,
    /// One copy after another, in this thread.
    pub sequential: ModeResult,
    /// One thread per copy.
    pub threads: ModeResult,
    /// One process per copy.
    pub processes: ModeResult,
    /// sequential / threads.
    pub thread_speedup: f64,
    /// sequential / processes.
    pub process_speedup: f64,
    /// The seed's Python times for this job, when it ran with the seed's
    /// parameters (sequential / threads / processes).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seed_python: Option<&'static str>,
}

/// The whole test.
#[derive(Debug, Clone, Serialize)]
pub struct TasksReport {
    /// Copies of each job.
    pub jobs: usize,
    /// CPUs on this machine.
    pub cpus: usize,
    /// The CPU job, then the IO job.
    pub results: Vec<JobResult>,
}

#[derive(Debug, Clone, Copy)]
enum Job {
    Cpu { below: u64 },
    Io { server: SocketAddr, trips: u32 },
}

/// Runs both jobs in the three modes.
pub fn run(o: &TasksOptions) -> Result<TasksReport> {
    anyhow::ensure!(o.jobs > 0, "--jobs must be at least 1");
    let server = DelayServer::start(o.io_delay)?;
    let cpu = Job::Cpu {
        below: o.primes_below,
    };
    let io = Job::Io {
        server: server.addr,
        trips: o.io_trips,
    };
    let mut results = vec![
        measure(
            "cpu",
            format!("count the primes below {}", o.primes_below),
            cpu,
            o.jobs,
        )?,
        measure(
            "io",
            format!(
                "{} round trips to a server that waits {} ms",
                o.io_trips,
                o.io_delay.as_secs_f64() * 1000.0
            ),
            io,
            o.jobs,
        )?,
    ];
    // Each job compares with the seed only when it is the seed's job.
    let seed = TasksOptions::SEED;
    let same = [
        o.jobs == seed.jobs && o.primes_below == seed.primes_below,
        o.jobs == seed.jobs && o.io_trips == seed.io_trips && o.io_delay == seed.io_delay,
    ];
    for ((r, (_, times)), same) in results.iter_mut().zip(SEED_PYTHON).zip(same) {
        r.seed_python = same.then_some(times);
    }
    Ok(TasksReport {
        jobs: o.jobs,
        cpus: std::thread::available_parallelism().map_or(2, |n| n.get()),
        results,
    })
}

fn measure(name: &'static str, what: String, job: Job, jobs: usize) -> Result<JobResult> {
    let sequential = timed(|| (0..jobs).map(|i| job.run(i)).collect())?;
    let threads = timed(|| {
        std::thread::scope(|s| {
            let handles: Vec<_> = (0..jobs).map(|i| s.spawn(move || job.run(i))).collect();
            handles
                .into_iter()
                .map(|h| {
                    h.join()
                        .unwrap_or_else(|_| Err(anyhow::anyhow!("a job thread panicked")))
                })
                .collect()
        })
    })?;
    let processes = timed(|| in_processes(job, jobs))?;
    let speedup = |m: &ModeResult| sequential.seconds / m.seconds.max(1e-9);
    Ok(JobResult {
        job: name,
        what,
        thread_speedup: speedup(&threads),
        process_speedup: speedup(&processes),
        sequential,
        threads,
        processes,
        seed_python: None,
    })
}

fn timed(f: impl FnOnce() -> Result<Vec<u64>>) -> Result<ModeResult> {
    let start = Instant::now();
    let checksums = f()?;
    Ok(ModeResult {
        seconds: start.elapsed().as_secs_f64(),
        checksums,
    })
}

impl Job {
    fn run(self, index: usize) -> Result<u64> {
        match self {
            Job::Cpu { below } => Ok(count_primes(below)),
            Job::Io { server, trips } => round_trips(server, index, trips),
        }
    }
}

/// The primes below `n` by trial division: count in the high 32 bits mixed
/// with their sum, so a wrong answer cannot hide.
fn count_primes(n: u64) -> u64 {
    let (mut count, mut sum) = (0u64, 0u64);
    for k in 2..n {
        let prime = k < 4
            || (k % 2 != 0
                && (3..)
                    .step_by(2)
                    .take_while(|d| d * d <= k)
                    .all(|d| k % d != 0));
        if prime {
            count += 1;
            sum = sum.wrapping_add(k);
        }
    }
    (count << 32) ^ sum
}

/// The server's answer to `x` (any fixed mixing function).
fn answer(x: u64) -> u64 {
    x.wrapping_mul(0x9E37_79B9_7F4A_7C15).rotate_left(17)
}

fn round_trips(server: SocketAddr, index: usize, trips: u32) -> Result<u64> {
    let mut s = TcpStream::connect(server).context("connecting to the delay server")?;
    s.set_nodelay(true)?;
    let mut sum = 0u64;
    let mut reply = [0u8; 8];
    for t in 0..trips {
        let x = (index as u64) << 32 | u64::from(t);
        s.write_all(&x.to_le_bytes())?;
        s.read_exact(&mut reply)?;
        sum = sum.wrapping_add(u64::from_le_bytes(reply));
    }
    Ok(sum)
}

/// Forks one child per job; each sends its checksum through its own pipe.
fn in_processes(job: Job, jobs: usize) -> Result<Vec<u64>> {
    use nix::sys::wait::waitpid;
    use nix::unistd::{fork, pipe, ForkResult};
    let mut children = Vec::with_capacity(jobs);
    for i in 0..jobs {
        let (read_end, write_end) = pipe().context("pipe")?;
        // SAFETY: the child only computes, uses sockets and a pipe (no locks
        // another thread could hold, no allocation on the success path), then exits.
        match unsafe { fork() }.context("fork")? {
            ForkResult::Child => {
                drop(read_end);
                let code = match job.run(i) {
                    Ok(sum) => {
                        let bytes = sum.to_le_bytes();
                        let ok = nix::unistd::write(&write_end, &bytes) == Ok(bytes.len());
                        i32::from(!ok)
                    }
                    Err(_) => 1,
                };
                std::process::exit(code);
            }
            ForkResult::Parent { child } => {
                drop(write_end);
                children.push((child, std::fs::File::from(read_end)));
            }
        }
    }
    let mut sums = Vec::with_capacity(jobs);
    let mut failure = None;
    for (pid, mut pipe) in children {
        let mut bytes = [0u8; 8];
        match pipe.read_exact(&mut bytes) {
            Ok(()) => sums.push(u64::from_le_bytes(bytes)),
            Err(e) => failure = failure.or(Some(e)),
        }
        let _ = waitpid(pid, None);
    }
    match failure {
        Some(e) => Err(e).context("a job process failed"),
        None => Ok(sums),
    }
}

/// A local server that answers each 8-byte request after a delay: the IO
/// job's "remote service". A thread per connection; stops when dropped.
struct DelayServer {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
}

impl DelayServer {
    fn start(delay: Duration) -> Result<DelayServer> {
        let listener = TcpListener::bind("127.0.0.1:0").context("binding the delay server")?;
        let addr = listener.local_addr()?;
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                if flag.load(Ordering::Relaxed) {
                    return;
                }
                let Ok(mut conn) = conn else { continue };
                std::thread::spawn(move || {
                    let _ = conn.set_nodelay(true);
                    let mut req = [0u8; 8];
                    while conn.read_exact(&mut req).is_ok() {
                        std::thread::sleep(delay);
                        let x = answer(u64::from_le_bytes(req));
                        if conn.write_all(&x.to_le_bytes()).is_err() {
                            return;
                        }
                    }
                });
            }
        });
        Ok(DelayServer { addr, stop })
    }
}

impl Drop for DelayServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        let _ = TcpStream::connect(self.addr); // wakes the accept loop
    }
}

/// Draws wall times as grouped bars.
pub fn draw(report: &TasksReport, path: &Path) -> Result<()> {
    let groups: Vec<chart::Group> = report
        .results
        .iter()
        .map(|r| chart::Group {
            name: format!("{} job", r.job),
            bars: vec![
                ("sequential".to_owned(), r.sequential.seconds),
                (
                    count(report.jobs as u64, "thread", "threads"),
                    r.threads.seconds,
                ),
                (
                    count(report.jobs as u64, "process", "processes"),
                    r.processes.seconds,
                ),
            ],
        })
        .collect();
    let title = format!(
        "netkit bench tasks: {} of each job, {}",
        count(report.jobs as u64, "copy", "copies"),
        count(report.cpus as u64, "CPU", "CPUs")
    );
    chart::bars(path, &title, &groups)
}

impl fmt::Display for TasksReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "bench tasks: {} of each job, {}",
            count(self.jobs as u64, "copy", "copies"),
            count(self.cpus as u64, "CPU", "CPUs")
        )?;
        writeln!(
            f,
            "{:<4} {:>11} {:>18} {:>18}  one copy",
            "job", "sequential", "threads", "processes"
        )?;
        for r in &self.results {
            writeln!(
                f,
                "{:<4} {:>9.2} s {:>9.2} s ({:>4.1}×) {:>9.2} s ({:>4.1}×)  {}",
                r.job,
                r.sequential.seconds,
                r.threads.seconds,
                r.thread_speedup,
                r.processes.seconds,
                r.process_speedup,
                r.what
            )?;
        }
        // Lines are joined, not ended: the caller adds the final newline.
        for (i, r) in self.results.iter().enumerate() {
            let same = r.sequential.checksums == r.threads.checksums
                && r.threads.checksums == r.processes.checksums;
            let first = r.sequential.checksums.first().copied().unwrap_or(0);
            write!(
                f,
                "{}{} checksums: {} (first {first:#018x})",
                if i == 0 { "" } else { "\n" },
                r.job,
                if same {
                    "the same in every mode"
                } else {
                    "DIFFER between modes"
                }
            )?;
        }
        let seed: Vec<String> = self
            .results
            .iter()
            .filter_map(|r| r.seed_python.map(|t| format!("{} {t}", r.job)))
            .collect();
        if !seed.is_empty() {
            write!(f, "\nthe seed's Python (GIL): {}", seed.join(", "))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn primes_are_counted_right() {
        // 2 3 5 7 11 13 17 19 23 29: ten primes below 30, sum 129.
        assert_eq!(count_primes(30), (10 << 32) ^ 129);
        assert_eq!(count_primes(2), 0);
        assert_eq!(count_primes(1000) >> 32, 168);
    }
}
