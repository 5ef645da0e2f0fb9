//! semaphore — a counter that lets at most N processes in at a time.
//!
//! Seed topic: 信号量 — `sem = Semaphore(num)`, `sem.acquire()` ("将信号量数量减1
//! 当数量为0则阻塞"), `sem.release()`, `sem.get_value()`.
//!
//! A semaphore is a shared counter with two operations: *wait* (acquire)
//! takes one unit, sleeping while the counter is 0; *post* (release) gives one
//! back and wakes a sleeper. Started at N, it bounds how many processes are
//! inside a section at once — N download slots, N database connections.
//!
//! This is a POSIX *unnamed* semaphore (`sem_init` with `pshared = 1`) placed
//! in a `MAP_SHARED` anonymous mapping made before `fork`, so every child
//! works on the same one. (A *named* one, `sem_open("/name")`, lets unrelated
//! processes share it too.) nix has no wrapper for semaphores, so this is the
//! one example that calls libc directly, through `nix::libc`.
//!
//! To show the bound holds, each worker bumps a shared "holders" count on the
//! way in, records the highest value ever seen, and decrements on the way out.

use std::num::NonZeroUsize;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use nix::libc;
use nix::sys::mman::{mmap_anonymous, MapFlags, ProtFlags};
use nix::sys::wait::{waitpid, WaitStatus};
use nix::unistd::{fork, ForkResult};

const LIMIT: u32 = 2;
const WORKERS: u32 = 6;

#[repr(C)]
struct Shared {
    sem: libc::sem_t,
    holders: AtomicU32,
    max_holders: AtomicU32,
}

fn fail(what: &str) -> ! {
    eprintln!("semaphore: {what}: {}", std::io::Error::last_os_error());
    std::process::exit(1);
}

fn value(sem: *mut libc::sem_t) -> i32 {
    let mut v = -1;
    // SAFETY: `sem` points to the semaphore sem_init set up in the shared mapping.
    unsafe { libc::sem_getvalue(sem, &mut v) };
    v
}

fn main() {
    let len = NonZeroUsize::new(std::mem::size_of::<Shared>()).unwrap_or(NonZeroUsize::MIN);
    let prot = ProtFlags::PROT_READ | ProtFlags::PROT_WRITE;
    // SAFETY: zero-filled shared memory is valid for the atomics; sem_init fills the semaphore.
    let shared = match unsafe { mmap_anonymous(None, len, prot, MapFlags::MAP_SHARED) } {
        Ok(ptr) => ptr.cast::<Shared>(),
        Err(_) => fail("mmap"),
    };
    // SAFETY: `shared` is a live, aligned mapping of a `Shared`; this only takes a field's address.
    let sem = unsafe { &raw mut (*shared.as_ptr()).sem };
    // SAFETY: `sem` points into the mapping; pshared = 1 makes it work across fork.
    if unsafe { libc::sem_init(sem, 1, LIMIT) } != 0 {
        fail("sem_init");
    }
    // SAFETY: the mapping lives until the end of main and is only accessed through atomics.
    let shared = unsafe { shared.as_ref() };
    println!("limit={LIMIT} get_value={}", value(sem));

    // acquire(block=False): take every unit, then one more is refused.
    let mut taken = 0;
    // SAFETY: `sem` points to the initialised semaphore in the shared mapping.
    while unsafe { libc::sem_trywait(sem) } == 0 {
        taken += 1;
    }
    println!(
        "trywait took={taken} then would_block={}",
        std::io::Error::last_os_error().raw_os_error() == Some(libc::EAGAIN)
    );
    for _ in 0..taken {
        // SAFETY: `sem` points to the initialised semaphore in the shared mapping.
        unsafe { libc::sem_post(sem) };
    }

    let mut children = Vec::new();
    for w in 0..WORKERS {
        // SAFETY: single-threaded, so the child may run arbitrary code.
        match unsafe { fork() } {
            Ok(ForkResult::Parent { child }) => children.push(child),
            Ok(ForkResult::Child) => {
                // A signal can interrupt the wait (EINTR); then wait again.
                // SAFETY: `sem` points to the initialised semaphore in the shared mapping.
                while unsafe { libc::sem_wait(sem) } != 0 {
                    if std::io::Error::last_os_error().raw_os_error() != Some(libc::EINTR) {
                        // SAFETY: _exit ends the process at once; it touches no Rust state.
                        unsafe { libc::_exit(1) };
                    }
                }
                let now = shared.holders.fetch_add(1, Ordering::SeqCst) + 1;
                shared.max_holders.fetch_max(now, Ordering::SeqCst);
                println!("worker {w} in: holders={now}");
                std::thread::sleep(Duration::from_millis(50)); // the "work"
                shared.holders.fetch_sub(1, Ordering::SeqCst);
                println!("worker {w} out");
                // SAFETY: `sem` points to the initialised semaphore in the shared mapping.
                unsafe { libc::sem_post(sem) };
                // SAFETY: _exit ends the process at once; it touches no Rust state.
                unsafe { libc::_exit(0) };
            }
            Err(_) => fail("fork"),
        }
    }
    let ok = children
        .iter()
        .filter(|&&c| matches!(waitpid(c, None), Ok(WaitStatus::Exited(_, 0))))
        .count();
    println!("workers={WORKERS} exited_ok={ok}");
    println!(
        "max_holders={} limit={LIMIT}",
        shared.max_holders.load(Ordering::SeqCst)
    );
    println!("final get_value={}", value(sem));
    // SAFETY: every child has been reaped, so no process uses the semaphore any more.
    unsafe { libc::sem_destroy(sem) };
}
