//! Threads: the seed's 多线程 lesson — `threading.Thread(target, name, args)`,
//! `t.start()`, `t.join()`, `t.name`, `t.is_alive()`, `t.daemon`, "创建自己的线程类"
//! (your own thread class: inherit Thread, override `run`), and 线程通信 through
//! shared (global) variables guarded by a lock.
//!
//! A thread is a "lightweight process": it runs independently but shares the whole
//! address space of its process. In Rust:
//! - `thread::Builder::new().name(..)` is `Thread(name=..)`; `JoinHandle::join` is
//!   `t.join()` and also hands back the thread's return value;
//!   `JoinHandle::is_finished` is `not t.is_alive()`.
//! - Every Rust thread is "daemon": when `main` returns the process exits and takes
//!   all threads with it. Python's non-daemon behaviour (main waits) is an explicit
//!   `join`. Dropping a `JoinHandle` detaches the thread.
//! - There is no Thread class to inherit; a "custom thread type" is a struct that
//!   owns its state and a `run` method, started on a thread by a small wrapper.
//! - Shared state must be `Arc<Mutex<..>>`: the compiler refuses unsynchronised
//!   sharing, which is the 同步互斥 warning of the seed turned into a type error.
//!
//! Run: `cargo run -p netkit --example threads`
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::Duration;

/// The "custom thread class": state plus `run`, like overriding `Thread.run`.
struct Counter {
    label: String,
    upto: u64,
}

impl Counter {
    fn run(&self) -> u64 {
        (1..=self.upto).sum()
    }
}

/// Starts a `Counter` on its own named thread: the `start()` of our thread class.
struct CounterThread {
    handle: JoinHandle<u64>,
}

impl CounterThread {
    fn start(job: Counter) -> std::io::Result<CounterThread> {
        let name = job.label.clone();
        let handle = thread::Builder::new().name(name).spawn(move || job.run())?;
        Ok(CounterThread { handle })
    }
    fn name(&self) -> String {
        self.handle.thread().name().unwrap_or("?").to_owned()
    }
    fn join(self) -> Option<u64> {
        self.handle.join().ok()
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let main_name = thread::current().name().unwrap_or("?").to_owned();
    println!("main thread name: {main_name}");

    // 1. Names, start, is_alive, join.
    let (go_tx, go_rx) = mpsc::channel::<()>();
    let named = thread::Builder::new()
        .name("worker-1".into())
        .spawn(move || {
            // Blocks until main says go, so main can observe the thread alive.
            let _ = go_rx.recv_timeout(Duration::from_secs(10));
            thread::current().name().unwrap_or("?").to_owned()
        })?;
    println!("worker-1 alive before go: {}", !named.is_finished());
    go_tx.send(())?;
    let reported = named.join().map_err(|_| "worker-1 panicked")?;
    println!("worker-1 reported its own name: {reported}");

    // 2. Custom thread type.
    let jobs = [("sum-to-100", 100), ("sum-to-1000", 1000)];
    let started: Vec<_> = jobs
        .iter()
        .map(|&(label, upto)| {
            CounterThread::start(Counter {
                label: label.into(),
                upto,
            })
        })
        .collect::<Result<_, _>>()?;
    for t in started {
        let name = t.name();
        let sum = t.join().ok_or("custom thread panicked")?;
        println!("custom thread {name} returned {sum}");
    }

    // 3. Shared state with a Mutex: 4 threads x 10,000 increments, none lost.
    let total = Arc::new(Mutex::new(0u64));
    let workers: Vec<_> = (0..4)
        .map(|_| {
            let total = Arc::clone(&total);
            thread::spawn(move || {
                for _ in 0..10_000 {
                    *total.lock().unwrap_or_else(|e| e.into_inner()) += 1;
                }
            })
        })
        .collect();
    for w in workers {
        w.join().map_err(|_| "a worker panicked")?;
    }
    let total = *total.lock().unwrap_or_else(|e| e.into_inner());
    println!("shared counter = {total} (expected 40000)");

    // 4. Daemon-like detachment: this thread never ends; main returns anyway and
    // the process exit stops it (Python's `t.daemon = True`).
    let running = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&running);
    let (up_tx, up_rx) = mpsc::channel();
    drop(
        thread::Builder::new()
            .name("daemon".into())
            .spawn(move || {
                flag.store(true, Ordering::SeqCst);
                let _ = up_tx.send(());
                loop {
                    thread::park(); // sleeps until unparked, which never happens
                }
            })?,
    );
    up_rx.recv_timeout(Duration::from_secs(10))?;
    let running = running.load(Ordering::SeqCst);
    println!("detached daemon thread running: {running}; main returns now");
    Ok(())
}
