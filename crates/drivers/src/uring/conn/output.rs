//! The sending half of a uring connection: the chain of output operations a
//! reply becomes (send the bytes, then a file range read into the buffer or
//! spliced through a pipe), and what each completion moves on.

use super::{OutOp, UConn, IDLE_PIPES, SMALL_FILE};
use crate::uring::ring::{self, Pipe};
use io_uring::{opcode, squeue};
use netkit_proto::Session;
use nix::errno::Errno;
use std::io::{self, ErrorKind};
use std::time::Instant;

impl<S: Session> UConn<S> {
    /// The output operations to submit now, if there is output and none in
    /// flight, appended to `into` as one linked chain (the kernel starts
    /// each when the one before it has completed in full, and cancels the
    /// rest when one falls short): the bytes, then a large file range's
    /// splice into a pipe and out of it — one trip through the loop for a
    /// whole reply. A small file range is read into the output buffer first
    /// (a chain of its own: a short read must not let a send of
    /// uninitialised bytes follow). `pipes` lends a pipe; `user_data` names
    /// each operation.
    pub(in crate::uring) fn out_entries(
        &mut self,
        user_data: impl Fn(OutOp) -> u64,
        pipes: &mut Vec<Pipe>,
        into: &mut Vec<squeue::Entry>,
    ) {
        if self.finished || self.out_inflight > 0 {
            return;
        }
        let first = into.len();
        let sock = ring::fd(&self.conn);
        let small = self
            .file
            .as_ref()
            .is_some_and(|f| f.pipe.is_none() && f.sent == 0 && f.chunk.len <= SMALL_FILE);
        if small {
            let Some(f) = self.file.as_ref() else { return };
            self.read_start = self.out.len();
            self.out.reserve(f.chunk.len as usize);
            let spare = self.out.spare_capacity_mut();
            let read = opcode::Read::new(
                ring::fd(&*f.chunk.file),
                spare.as_mut_ptr().cast::<u8>(),
                f.chunk.len as u32,
            )
            .offset(f.chunk.offset)
            .build();
            into.push(read.user_data(user_data(OutOp::Read)));
        } else {
            if self.written < self.out.len() {
                let more = if self.file.is_some() {
                    nix::libc::MSG_MORE
                } else {
                    0
                };
                let rest = &self.out[self.written..];
                let len = u32::try_from(rest.len()).unwrap_or(u32::MAX);
                let send = opcode::Send::new(sock, rest.as_ptr(), len)
                    .flags(nix::libc::MSG_NOSIGNAL | more)
                    .build();
                into.push(send.user_data(user_data(OutOp::Send)));
            }
            if let Some(f) = self.file.as_mut() {
                if f.pipe.is_none() {
                    match pipes.pop().map_or_else(Pipe::new, Ok) {
                        Ok(p) => f.pipe = Some(p),
                        Err(e) => {
                            into.truncate(first);
                            return self.fail(&e);
                        }
                    }
                }
                let Some(pipe) = f.pipe.as_ref() else { return };
                let mut drain = f.in_pipe;
                if f.in_pipe == 0 {
                    let left = f.chunk.len - f.sent;
                    drain = left.min(u64::from(pipe.capacity)) as u32;
                    let Ok(offset) = i64::try_from(f.chunk.offset + f.sent) else {
                        into.truncate(first);
                        return self.close("file offset too large");
                    };
                    let file = ring::fd(&*f.chunk.file);
                    let fill =
                        opcode::Splice::new(file, offset, pipe.write_fd(), -1, drain).build();
                    into.push(fill.user_data(user_data(OutOp::Fill)));
                }
                let flags = if f.sent + u64::from(drain) < f.chunk.len {
                    nix::libc::SPLICE_F_MORE
                } else {
                    0
                };
                let out = opcode::Splice::new(pipe.read_fd(), -1, sock, -1, drain)
                    .flags(flags)
                    .build();
                into.push(out.user_data(user_data(OutOp::Drain)));
            }
        }
        let chain = &mut into[first..];
        self.out_inflight = chain.len() as u8;
        if let Some((_, linked)) = chain.split_last_mut() {
            for entry in linked {
                *entry = entry.clone().flags(squeue::Flags::IO_LINK);
            }
        }
    }

    /// Output operation `op` completed with `result` (bytes or `-errno`); a
    /// pipe whose file range is all sent goes back to `pipes`.
    pub(in crate::uring) fn on_out(
        &mut self,
        now: Instant,
        op: OutOp,
        result: i32,
        pipes: &mut Vec<Pipe>,
    ) {
        self.out_inflight = self.out_inflight.saturating_sub(1);
        self.guarded(|c| c.output_done(now, op, result, pipes));
    }

    fn output_done(&mut self, now: Instant, op: OutOp, result: i32, pipes: &mut Vec<Pipe>) {
        if self.finished {
            return;
        }
        let n = match u32::try_from(result) {
            Ok(n) => n,
            Err(_) => match Errno::from_raw(-result) {
                // The chain was cut short before this one: what is left is
                // submitted again once the whole chain has completed.
                Errno::ECANCELED | Errno::EINTR | Errno::EAGAIN => 0,
                e => return self.fail(&io::Error::from(e)),
            },
        };
        if n > 0 {
            self.stall_deadline = Some(now + self.send_timeout);
        }
        if result >= 0 {
            if let Err(e) = self.account(op, n, pipes) {
                return self.fail(&e);
            }
        }
        if self.out_inflight == 0 {
            self.advance(now);
        }
    }

    /// Moves the output state on by `n` bytes done by `op`.
    fn account(&mut self, op: OutOp, n: u32, pipes: &mut Vec<Pipe>) -> io::Result<()> {
        if op == OutOp::Send {
            self.written += n as usize;
            return Ok(());
        }
        let Some(f) = self.file.as_mut() else {
            return Ok(());
        };
        match op {
            OutOp::Send => {}
            OutOp::Read => {
                if n == 0 {
                    return Err(shrank());
                }
                let len = (self.read_start + n as usize).min(self.out.capacity());
                // SAFETY: the READ completion says the kernel wrote `n` bytes
                // into the spare capacity from `read_start`, reserved for the
                // whole range (>= n) and untouched since.
                unsafe { self.out.set_len(len) };
                f.sent += u64::from(n);
                if f.sent >= f.chunk.len {
                    self.file = None;
                }
            }
            OutOp::Fill => {
                if n == 0 {
                    return Err(shrank());
                }
                f.in_pipe += n;
            }
            OutOp::Drain => {
                f.in_pipe = f.in_pipe.saturating_sub(n);
                f.sent += u64::from(n);
                if f.sent >= f.chunk.len && f.in_pipe == 0 {
                    if let Some(pipe) = self.file.take().and_then(|f| f.pipe) {
                        if pipes.len() < IDLE_PIPES {
                            pipes.push(pipe);
                        }
                    }
                }
            }
        }
        Ok(())
    }
}

fn shrank() -> io::Error {
    io::Error::new(ErrorKind::UnexpectedEof, "file shrank while being sent")
}
