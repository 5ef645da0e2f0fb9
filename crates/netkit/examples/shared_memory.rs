//! shared_memory — one block of memory seen by several processes, guarded by a lock.
//!
//! Seed topics: 共享内存 — `Value(ctype, obj)` and `Array(ctype, obj)` — and
//! 同步互斥机制 (临界资源, 临界区, 互斥 "上锁"): shared memory is the fastest
//! IPC but "复杂，需要同步互斥操作".
//!
//! After `fork`, ordinary memory is copied, so children cannot change the
//! parent's variables (see `fork_basics`). A mapping made with `mmap(...,
//! MAP_SHARED | MAP_ANONYMOUS)` *before* forking is different: parent and
//! children map the very same physical pages, so a write by one is seen by all.
//!
//! The block holds a `Value` (one counter), an `Array` (five slots) and a lock.
//! "Read the counter, add one, write it back" is three steps; two processes
//! doing it at once can both read 41 and both write 42, losing an update. The
//! lock makes the steps a critical section. It is the simplest process-shared
//! lock: an atomic flag in the shared block, taken with compare-and-swap and,
//! while someone else holds it, giving the CPU away (`sched_yield`, std's `thread::yield_now`). Real
//! mutexes (`pthread_mutex` with PTHREAD_PROCESS_SHARED) sleep in the kernel
//! instead of retrying, but the rule is the same. To see why it matters, the
//! block also has a counter updated *without* the lock; it usually ends short.

use std::cell::UnsafeCell;
use std::num::NonZeroUsize;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use nix::sys::mman::{mmap_anonymous, MapFlags, ProtFlags};
use nix::sys::wait::{waitpid, WaitStatus};
use nix::unistd::{fork, ForkResult};

const WORKERS: u64 = 4;
const ROUNDS: u64 = 10_000;
/// Many more, so that the unlocked processes really overlap in time.
const UNLOCKED_ROUNDS: u64 = 1_000_000;

#[repr(C)]
struct Shared {
    lock: AtomicBool,
    value: UnsafeCell<u64>,      // Value('L', 0)
    array: UnsafeCell<[u64; 5]>, // Array('L', 5)
    unlocked: AtomicU64,         // the same counter, updated without the lock
}

impl Shared {
    /// Runs `f` inside the critical section.
    fn with_lock<T>(&self, f: impl FnOnce() -> T) -> T {
        while self
            .lock
            .compare_exchange_weak(false, true, Ordering::Acquire, Ordering::Relaxed)
            .is_err()
        {
            std::thread::yield_now(); // sched_yield(2)
        }
        let out = f();
        self.lock.store(false, Ordering::Release);
        out
    }
}

fn main() {
    let len = NonZeroUsize::new(std::mem::size_of::<Shared>()).unwrap_or(NonZeroUsize::MIN);
    // SAFETY: a fresh anonymous mapping is zero-filled, which is a valid `Shared`
    // (false, 0, zeros, 0); it stays mapped until the process ends.
    let shared: &Shared = unsafe {
        let prot = ProtFlags::PROT_READ | ProtFlags::PROT_WRITE;
        match mmap_anonymous(None, len, prot, MapFlags::MAP_SHARED) {
            Ok(ptr) => ptr.cast::<Shared>().as_ref(),
            Err(e) => {
                eprintln!("shared_memory: mmap: {e}");
                std::process::exit(1);
            }
        }
    };

    let mut children = Vec::new();
    for w in 0..WORKERS {
        // SAFETY: single-threaded, so the child may run arbitrary code.
        match unsafe { fork() } {
            Ok(ForkResult::Parent { child }) => children.push(child),
            Ok(ForkResult::Child) => {
                for i in 0..ROUNDS {
                    // SAFETY: only touched while holding the lock.
                    shared.with_lock(|| unsafe {
                        *shared.value.get() += 1;
                        (*shared.array.get())[(i % 5) as usize] += w + 1;
                    });
                }
                for _ in 0..UNLOCKED_ROUNDS {
                    // A lost-update race, on purpose: a load then a store is two steps.
                    let seen = shared.unlocked.load(Ordering::Relaxed);
                    shared.unlocked.store(seen + 1, Ordering::Relaxed);
                }
                // SAFETY: _exit ends the process at once; it touches no Rust state.
                unsafe { nix::libc::_exit(0) };
            }
            Err(e) => {
                eprintln!("shared_memory: fork: {e}");
                std::process::exit(1);
            }
        }
    }
    let ok = children
        .iter()
        .filter(|&&c| matches!(waitpid(c, None), Ok(WaitStatus::Exited(_, 0))))
        .count();

    // SAFETY: every writer has exited.
    let (value, array) = unsafe { (*shared.value.get(), *shared.array.get()) };
    println!("workers={WORKERS} rounds={ROUNDS} exited_ok={ok}");
    println!("value={value} expected={}", WORKERS * ROUNDS);
    // Slot k got ROUNDS/5 visits from each worker w, each adding w + 1.
    let per_slot: u64 = (1..=WORKERS).sum::<u64>() * (ROUNDS / 5);
    println!("array={array:?} expected_each={per_slot}");
    let unlocked = shared.unlocked.load(Ordering::Relaxed);
    let lost = (WORKERS * UNLOCKED_ROUNDS).saturating_sub(unlocked);
    println!(
        "unlocked={unlocked} expected={} lost={lost}",
        WORKERS * UNLOCKED_ROUNDS
    );
}
