//! No GIL: the seed's 效率测试 (efficiency test) after "python线程的GIL问题" — the
//! same CPU-bound and IO-bound work run sequentially (单进程, "Line"), on threads
//! (多线程) and on processes (多进程), with the time of each.
//!
//! In CPython the global interpreter lock (全局解释器锁) lets only one thread run
//! Python code at a time, so the seed measured threads no faster than a single
//! process on CPU work and only processes gave a speed-up. Rust has no interpreter
//! lock: threads run truly in parallel, so on a machine with several cores the
//! "threads cpu" row should be close to the "processes cpu" row, both faster than
//! "sequential cpu". IO-bound work (write a file, read it back) gains from overlap
//! in every model. Times vary from run to run; only the results are checked.
//!
//! Run: `cargo run -p netkit --example gil_free [PRIME_LIMIT]` (default 100000;
//! `--release` and a larger limit show the difference more clearly).
use nix::sys::wait::{waitpid, WaitStatus};
use nix::unistd::{fork, pipe, ForkResult};
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

const TASKS: usize = 4;
const IO_LINES: u64 = 100_000;

/// CPU-bound: count primes below `limit` by trial division.
fn cpu_task(limit: u64) -> u64 {
    (2..limit)
        .filter(|&n| (2..).take_while(|d| d * d <= n).all(|d| n % d != 0))
        .count() as u64
}

/// IO-bound: write `IO_LINES` lines to `path`, read them back, return the count.
fn io_task(path: &Path) -> u64 {
    let write = || -> std::io::Result<u64> {
        let mut out = std::io::BufWriter::new(std::fs::File::create(path)?);
        for i in 0..IO_LINES {
            writeln!(out, "line {i}")?;
        }
        out.flush()?;
        drop(out);
        let lines = BufReader::new(std::fs::File::open(path)?).lines().count();
        std::fs::remove_file(path)?;
        Ok(lines as u64)
    };
    write().unwrap_or(0) // 0 shows up as a wrong result in the table
}

type Job = Arc<dyn Fn(usize) -> u64 + Send + Sync>;
type Res<T> = Result<T, Box<dyn std::error::Error>>;
/// A concurrency model: runs `TASKS` copies of a job, returns their results.
type Model = fn(&Job) -> Res<Vec<u64>>;

fn sequential(job: &Job) -> Res<Vec<u64>> {
    Ok((0..TASKS).map(|i| job(i)).collect())
}

fn threads(job: &Job) -> Res<Vec<u64>> {
    let handles: Vec<_> = (0..TASKS)
        .map(|i| {
            let job = job.clone();
            std::thread::spawn(move || job(i))
        })
        .collect();
    Ok(handles.into_iter().map(|h| h.join().unwrap_or(0)).collect())
}

/// Each task in a forked child that sends its 8-byte result back through a pipe.
/// (Forking is safe here: every earlier thread has been joined.)
fn processes(job: &Job) -> Res<Vec<u64>> {
    let mut readers = Vec::new();
    for i in 0..TASKS {
        let (read, write) = pipe()?;
        // SAFETY: no other thread is alive at this point.
        match unsafe { fork() }? {
            ForkResult::Child => {
                let ok = std::fs::File::from(write)
                    .write_all(&job(i).to_be_bytes())
                    .is_ok();
                std::process::exit(if ok { 0 } else { 1 });
            }
            ForkResult::Parent { child } => readers.push((child, read, write)),
        }
    }
    let mut results = Vec::new();
    for (child, read, write) in readers {
        drop(write); // so a dead child gives EOF instead of a hang
        let mut buf = [0u8; 8];
        let got = std::fs::File::from(read).read_exact(&mut buf).is_ok();
        let exited_ok = matches!(waitpid(child, None)?, WaitStatus::Exited(_, 0));
        results.push(if got && exited_ok {
            u64::from_be_bytes(buf)
        } else {
            0
        });
    }
    Ok(results)
}

fn main() -> Res<()> {
    let limit: u64 = match std::env::args().nth(1) {
        Some(arg) => arg
            .parse()
            .map_err(|_| format!("usage: gil_free [PRIME_LIMIT], got {arg:?}"))?,
        None => 100_000,
    };
    let dir = tempfile::tempdir()?;
    let base: PathBuf = dir.path().to_owned();
    let cpu: Job = Arc::new(move |_| cpu_task(limit));
    let io: Job = Arc::new(move |i| io_task(&base.join(format!("task-{i}"))));
    let expected_cpu = cpu_task(limit);
    println!("{TASKS} tasks each; cpu = primes below {limit} ({expected_cpu}), io = {IO_LINES} lines written and read");
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    println!("cores available: {cores}");

    let mut all_ok = true;
    let models: [(&str, Model); 3] = [
        ("sequential", sequential),
        ("threads", threads),
        ("processes", processes),
    ];
    for (model, run) in models {
        for (kind, job, expected) in [("cpu", &cpu, expected_cpu), ("io", &io, IO_LINES)] {
            let start = Instant::now();
            let results = run(job)?;
            let secs = start.elapsed().as_secs_f64();
            let ok = results.len() == TASKS && results.iter().all(|&r| r == expected);
            all_ok &= ok;
            let verdict = if ok { "ok" } else { "WRONG" };
            println!("{model:<10} {kind:<3} {secs:>8.3} s  results {results:?} {verdict}");
        }
    }
    if !all_ok {
        return Err("some task returned a wrong result".into());
    }
    Ok(())
}
