//! `--model uring` where the kernel refuses io_uring: the server exits 1 with
//! one line naming the cause, before any ready line. The refusal is arranged
//! the way a container runtime does it: a seccomp filter, installed in the
//! child between fork and exec, makes io_uring_setup fail with EPERM (a
//! policy) or ENOSYS (as if the kernel had none).

use crate::common::{netkit_bin, read_all_on_a_thread, wait_bounded, READY_TIMEOUT};
use nix::libc;
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};

/// Runs `netkit echo serve --model uring` with io_uring_setup failing with
/// `errno`; returns (exit code, stdout, stderr).
fn serve_without_io_uring(errno: u32) -> (Option<i32>, String, String) {
    let mut cmd = Command::new(netkit_bin());
    cmd.args(["echo", "serve", "--bind", "127.0.0.1", "--port", "0"])
        .args(["--model", "uring"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    // SAFETY: only prctl(2) runs between fork and exec (async-signal-safe),
    // on a filter that lives on this closure's stack for the call.
    unsafe {
        cmd.pre_exec(move || deny_io_uring_setup(errno));
    }
    let mut child = cmd.spawn().expect("spawn netkit");
    let stdout = read_all_on_a_thread(child.stdout.take().expect("piped stdout"));
    let stderr = read_all_on_a_thread(child.stderr.take().expect("piped stderr"));
    let code = wait_bounded(&mut child, READY_TIMEOUT);
    let stdout = stdout.join().expect("stdout reader");
    (code, stdout, stderr.join().expect("stderr reader"))
}

/// A seccomp filter: io_uring_setup returns `-errno`, every other call is
/// allowed. (The syscall number is the same on every architecture: it came
/// after the tables were unified.)
fn deny_io_uring_setup(errno: u32) -> std::io::Result<()> {
    const LOAD_NR: u16 = (libc::BPF_LD | libc::BPF_W | libc::BPF_ABS) as u16;
    const JUMP_EQ: u16 = (libc::BPF_JMP | libc::BPF_JEQ | libc::BPF_K) as u16;
    const RETURN: u16 = (libc::BPF_RET | libc::BPF_K) as u16;
    let mut filter = [
        libc::sock_filter {
            code: LOAD_NR,
            jt: 0,
            jf: 0,
            k: 0,
        },
        libc::sock_filter {
            code: JUMP_EQ,
            jt: 0,
            jf: 1,
            k: libc::SYS_io_uring_setup as u32,
        },
        libc::sock_filter {
            code: RETURN,
            jt: 0,
            jf: 0,
            k: libc::SECCOMP_RET_ERRNO | errno,
        },
        libc::sock_filter {
            code: RETURN,
            jt: 0,
            jf: 0,
            k: libc::SECCOMP_RET_ALLOW,
        },
    ];
    let program = libc::sock_fprog {
        len: filter.len() as u16,
        filter: filter.as_mut_ptr(),
    };
    // SAFETY: plain prctl calls; `program` points at `filter`, both alive
    // across the call (the kernel copies the filter).
    let ok = unsafe {
        libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0
            && libc::prctl(
                libc::PR_SET_SECCOMP,
                libc::SECCOMP_MODE_FILTER,
                &program as *const libc::sock_fprog,
            ) == 0
    };
    if ok {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

fn assert_refused(errno: u32, cause: &str) {
    let (code, stdout, stderr) = serve_without_io_uring(errno);
    assert_eq!(code, Some(1), "stdout: {stdout}\nstderr: {stderr}");
    assert!(
        stdout.is_empty(),
        "no ready line before the refusal: {stdout}"
    );
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 1, "one line: {stderr}");
    assert!(lines[0].contains("--model uring"), "{stderr}");
    assert!(lines[0].contains(cause), "{stderr}");
}

#[test]
fn seccomp_denial_is_named_and_exits_1() {
    assert_refused(libc::EPERM as u32, "seccomp");
}

#[test]
fn a_kernel_without_io_uring_is_named_and_exits_1() {
    assert_refused(libc::ENOSYS as u32, "no io_uring (ENOSYS");
}
