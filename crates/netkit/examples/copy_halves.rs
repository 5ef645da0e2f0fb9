//! copy_halves — the homework: two processes copy the two halves of one file.
//!
//! Seed topic: 作业 "使用父子进程复制一个文件，分别复制文件的上半部分和下半部分到
//! 一个新的文件中。以字节区分" (copy a file with two processes, one taking the
//! first half and one the second, split by bytes).
//!
//! Usage: `copy_halves [SRC DST]`. Without arguments it makes a temporary
//! source file of an odd size, copies it, and removes both afterwards.
//!
//! The trap in this homework: descriptors opened before `fork` are *shared*
//! with the child, including their file position. If both processes `seek`
//! and `read` on the same descriptor, each moves the other's position. So each
//! worker uses `pread` / `pwrite`, which take an explicit offset and never
//! touch the shared position. The parent sizes the output first (`set_len`,
//! i.e. `ftruncate`) so both halves can be written in any order; then it waits
//! for both workers and compares the result byte for byte.

use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};

use nix::sys::uio::{pread, pwrite};
use nix::sys::wait::{waitpid, WaitStatus};
use nix::unistd::{fork, getpid, ForkResult};

/// Copies bytes `start..end` of `src` to the same offsets of `dst`.
fn copy_range(src: &File, dst: &File, start: u64, end: u64) -> nix::Result<()> {
    let mut buf = vec![0u8; 64 * 1024];
    let mut pos = start;
    while pos < end {
        let want = buf.len().min((end - pos) as usize);
        let n = pread(src, &mut buf[..want], pos as i64)?;
        if n == 0 {
            return Err(nix::errno::Errno::EIO); // the source shrank under us
        }
        let mut done = 0;
        while done < n {
            done += pwrite(dst, &buf[done..n], (pos as usize + done) as i64)?;
        }
        pos += n as u64;
    }
    Ok(())
}

fn copy_in_halves(src_path: &Path, dst_path: &Path) -> Result<u64, String> {
    let src = File::open(src_path).map_err(|e| format!("{}: {e}", src_path.display()))?;
    let size = src.metadata().map_err(|e| e.to_string())?.len();
    let dst = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .open(dst_path);
    let dst = dst.map_err(|e| format!("{}: {e}", dst_path.display()))?;
    dst.set_len(size).map_err(|e| e.to_string())?;
    let mid = size / 2;
    let mut workers = Vec::new();
    for (half, (start, end)) in [(0, mid), (mid, size)].into_iter().enumerate() {
        // SAFETY: single-threaded, so the child may run arbitrary code.
        match unsafe { fork() }.map_err(|e| e.to_string())? {
            ForkResult::Parent { child } => workers.push(child),
            ForkResult::Child => {
                let code = i32::from(copy_range(&src, &dst, start, end).is_err());
                println!("half {half}: bytes {start}..{end} by pid {}", getpid());
                // SAFETY: _exit ends the process at once; it touches no Rust state.
                unsafe { nix::libc::_exit(code) };
            }
        }
    }
    let ok = workers
        .into_iter()
        .filter(|&w| matches!(waitpid(w, None), Ok(WaitStatus::Exited(_, 0))));
    if ok.count() != 2 {
        return Err("a worker failed".into());
    }
    Ok(size)
}

fn main() {
    let args: Vec<PathBuf> = std::env::args_os().skip(1).map(PathBuf::from).collect();
    let mut _tmp = None; // keeps the default's directory alive until the end
    let (src, dst) = match args.as_slice() {
        [src, dst] => (src.clone(), dst.clone()),
        [] => {
            let dir = tempfile::tempdir().unwrap_or_else(|e| {
                eprintln!("copy_halves: temp dir: {e}");
                std::process::exit(1)
            });
            let src = dir.path().join("source.bin");
            // An odd size, so the halves differ by one byte; content that shows misplaced bytes.
            let data: Vec<u8> = (0..300_001u32)
                .map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8)
                .collect();
            if let Err(e) = std::fs::write(&src, data) {
                eprintln!("copy_halves: {e}");
                std::process::exit(1);
            }
            let dst = dir.path().join("copy.bin");
            _tmp = Some(dir);
            (src, dst)
        }
        _ => {
            eprintln!("usage: copy_halves [SRC DST]");
            std::process::exit(2);
        }
    };
    let code = match copy_in_halves(&src, &dst) {
        Ok(size) => {
            let same = std::fs::read(&src).ok() == std::fs::read(&dst).ok();
            println!("copied {size} bytes, identical={same}");
            i32::from(!same)
        }
        Err(e) => {
            eprintln!("copy_halves: {e}");
            1
        }
    };
    drop(_tmp); // process::exit skips destructors: remove the default files first
    std::process::exit(code);
}
