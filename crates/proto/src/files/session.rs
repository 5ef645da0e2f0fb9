//! One files-protocol connection as a state machine.
//!
//! ```text
//!            ┌──────────── LIST / GET / bad line: reply, stay ───────────┐
//!            ▼                                                           │
//!   ──▶  Commands ──── PUT ok: READY ───▶ Receiving ── size bytes ──▶ commit: OK <sha>
//!         │ ▲  └ SUM: hash a slice per wake-up (no command taken) ──▶ OK <sha>
//!         │   │                              │  write failed: ERR 507/500
//!         │   └ line > MAX_LINE: ERR 400 ─▶ SkipLine (to the next \n)   ▼
//!         │                                                     Discarding (rest of body)
//!         └ QUIT: BYE · EOF · idle timeout · shutdown ──▶ Closing (flush, then done)
//! ```
//!
//! `handle_input` works through every complete command in what it is offered
//! (several commands in one segment all get answers) and takes PUT body bytes
//! as they come: each slice is written to the upload's temporary file at once
//! and hashed (here, or by the server's [`super::digest`] pool from the file),
//! so memory stays at the driver's input buffer whatever the file size. A
//! GET's bytes are never read here: the reply is a header and a [`FileChunk`]
//! that the driver sends with `sendfile(2)`.
//!
//! A SUM hashes its file a slice at a time across wake-ups ([`super::sum`]):
//! meanwhile the session reads nothing (`wants_read` is false, so pipelined
//! commands wait in the driver's buffer and replies stay in order) and has no
//! idle timer; EOF or shutdown let it finish and answer first.
//!
//! The idle timeout counts from the last input or the end of the last file
//! sent: no timer runs while a file is going out, and when the driver asks for
//! output again (the file is out) the session asks for a timeout at once to
//! learn the instant, as the HTTP session does.
//!
//! An upload that does not finish (EOF, reset, timeout, a dropped session)
//! drops its [`AtomicFile`](crate::root::AtomicFile), which removes the
//! temporary; nothing partial is ever visible under the real name.
//!
//! The state machine is here; what each command does is `session/commands.rs`,
//! and how a PUT body is written, hashed and committed is `session/upload.rs`.

mod commands;
mod folders;
mod gate;
mod upload;

pub(crate) use gate::Gate;

use super::digest::DigestPool;
use super::sum::{Sum, SumBuffers};
use super::wire::{self, ErrCode, Line};
use super::FilesConfig;
use crate::access_log::Pending;
use crate::root::Root;
use crate::{FileChunk, Session};
use std::collections::VecDeque;
use std::sync::Arc;
use std::task::Waker;
use std::time::Instant;
use upload::Upload;

/// At most this many GET replies (each an open file) wait to be sent; past it
/// the session stops taking commands until the driver has drained them.
const MAX_QUEUED_FILES: usize = 64;

/// One connection of the files protocol.
#[derive(Debug)]
pub struct FilesSession {
    root: Arc<Root>,
    config: Arc<FilesConfig>,
    /// Hashes large uploads off this thread, if the server has one.
    pool: Option<Arc<dyn DigestPool>>,
    state: State,
    /// Reply bytes not yet handed to the driver, after every queued file.
    out: Vec<u8>,
    /// Replies that end in a file range: (bytes before it, the range).
    files: VecDeque<(Vec<u8>, FileChunk)>,
    /// When the connection has been idle too long: the idle timeout after the
    /// last input or the end of the last file sent, whichever came later.
    deadline: Option<Instant>,
    /// The last input's instant (never in the future).
    input_at: Instant,
    /// A file range was handed to the driver and not yet confirmed sent (the
    /// driver calls `poll_transmit` again once it is): busy, not idle.
    sending: bool,
    /// The last file range finished at an instant we were not told: the idle
    /// time restarts at the next `handle_timeout`, asked for at once (the
    /// trick the HTTP session uses too).
    stamp_idle: bool,
    /// The server is stopping: finish the current upload, take no new command.
    shutting_down: bool,
    /// A SUM being hashed, one slice per wake-up.
    sum: Option<Box<Sum>>,
    /// The service's read buffers, one borrowed per SUM step.
    sum_buffers: Arc<SumBuffers>,
    /// Wakes this session through its driver, to hash the next slice.
    waker: Option<Waker>,
    /// The access log: who this is, the command being answered.
    pub(super) log: Pending,
    /// Who the session is logged in as, and what it may do.
    pub(super) gate: Gate,
}

#[derive(Debug)]
enum State {
    /// Reading command lines.
    Commands,
    /// Throwing away the rest of an over-long line.
    SkipLine,
    /// Taking a PUT body.
    Receiving(Box<Upload>),
    /// Throwing away the rest of a PUT body that could not be stored.
    Discarding { remaining: u64 },
    /// No more input: flush and close.
    Closing,
}

impl FilesSession {
    pub(super) fn new(
        root: Arc<Root>,
        config: Arc<FilesConfig>,
        pool: Option<Arc<dyn DigestPool>>,
        sum_buffers: Arc<SumBuffers>,
        gate: Gate,
        now: Instant,
    ) -> Self {
        let deadline = config.idle_timeout.map(|t| now + t);
        FilesSession {
            root,
            config,
            pool,
            state: State::Commands,
            out: Vec::new(),
            files: VecDeque::new(),
            deadline,
            input_at: now,
            sending: false,
            stamp_idle: false,
            shutting_down: false,
            sum: None,
            sum_buffers,
            waker: None,
            log: Pending::default(),
            gate,
        }
    }

    /// An upload cut short (EOF, idle timeout) is logged as the client's
    /// doing (499, as nginx says), with the bytes that arrived.
    fn abandoned(&mut self) {
        if let State::Receiving(upload) = &self.state {
            let written = upload.written();
            self.log.finish(499, written);
        }
    }

    /// After a body: back to commands (or to closing, if the server stops).
    fn after_body(&mut self) {
        if matches!(self.state, State::Discarding { remaining: 0 }) {
            self.state = State::Commands;
        }
        if self.shutting_down && matches!(self.state, State::Commands) {
            self.state = State::Closing;
        }
    }

    fn take_commands(&mut self, now: Instant, input: &[u8]) -> usize {
        let mut used = 0;
        while used < input.len() {
            let rest = &input[used..];
            match std::mem::replace(&mut self.state, State::Closing) {
                State::Commands if self.sum.is_some() => {
                    // Replies stay in order: the next command waits for the SUM.
                    self.state = State::Commands;
                    return used;
                }
                State::Commands if self.shutting_down => return used,
                State::Commands if self.files.len() >= MAX_QUEUED_FILES => {
                    self.state = State::Commands;
                    return used;
                }
                State::Commands => match wire::split_line(rest) {
                    Line::Complete(line, n) => {
                        self.state = State::Commands;
                        used += n;
                        self.command(now, line);
                    }
                    Line::Incomplete => {
                        self.state = State::Commands;
                        return used;
                    }
                    Line::TooLong => {
                        self.state = State::SkipLine;
                        self.err(
                            ErrCode::BadRequest,
                            &wire::CommandError::TooLong.to_string(),
                        );
                    }
                },
                State::SkipLine => match rest.iter().position(|&b| b == b'\n') {
                    Some(end) => {
                        used += end + 1;
                        self.state = State::Commands;
                    }
                    None => {
                        self.state = State::SkipLine;
                        return input.len();
                    }
                },
                State::Receiving(upload) => used += self.receive(upload, rest),
                State::Discarding { remaining } => {
                    let take = rest
                        .len()
                        .min(usize::try_from(remaining).unwrap_or(usize::MAX));
                    used += take;
                    self.state = State::Discarding {
                        remaining: remaining - take as u64,
                    };
                    self.after_body();
                }
                State::Closing => return used,
            }
        }
        used
    }
}

impl Session for FilesSession {
    fn handle_input(&mut self, now: Instant, input: &[u8]) -> usize {
        if !input.is_empty() {
            self.deadline = self.config.idle_timeout.map(|t| now + t);
            self.input_at = self.input_at.max(now);
        }
        self.take_commands(now, input)
    }

    fn handle_eof(&mut self, _now: Instant) {
        // An unfinished upload is dropped here, and its temporary with it. A
        // SUM goes on: its answer is sent before the close.
        self.abandoned();
        self.state = State::Closing;
    }

    fn handle_timeout(&mut self, now: Instant) {
        if self.stamp_idle {
            // A download just ended: idle from now, not from its command.
            self.stamp_idle = false;
            if self.deadline.is_some() {
                self.deadline = self.config.idle_timeout.map(|t| now + t);
            }
            return;
        }
        // While a file goes out there is no idle timer (a peer that stops
        // reading is the driver's send timeout), however long it takes.
        if self.sending || self.sum.is_some() || self.deadline.is_none_or(|d| now < d) {
            return;
        }
        self.abandoned();
        self.state = State::Closing;
        self.deadline = None;
    }

    fn handle_shutdown(&mut self, _now: Instant) {
        self.shutting_down = true;
        if matches!(self.state, State::Commands | State::SkipLine) {
            self.state = State::Closing;
        }
    }

    fn poll_transmit(&mut self, out: &mut Vec<u8>) -> Option<FileChunk> {
        if std::mem::take(&mut self.sending) && self.files.is_empty() {
            self.stamp_idle = self.deadline.is_some();
        }
        match self.files.pop_front() {
            Some((mut bytes, chunk)) => {
                out.append(&mut bytes);
                self.sending = true;
                Some(chunk)
            }
            None => {
                out.append(&mut self.out);
                None
            }
        }
    }

    fn poll_timeout(&self) -> Option<Instant> {
        if self.sending || self.sum.is_some() {
            None
        } else if self.stamp_idle {
            Some(self.input_at)
        } else {
            self.deadline
        }
    }

    fn wants_read(&self) -> bool {
        !matches!(self.state, State::Closing) && self.sum.is_none()
    }

    fn is_done(&self) -> bool {
        matches!(self.state, State::Closing)
            && self.files.is_empty()
            && self.out.is_empty()
            && self.sum.is_none()
    }

    fn set_waker(&mut self, waker: Waker) {
        self.waker = Some(waker);
    }

    fn handle_wake(&mut self, now: Instant) {
        let Some(sum) = self.sum.take() else {
            return; // a spurious or merged wake-up
        };
        self.step_sum(sum);
        if self.sum.is_none() {
            // Busy until now, like a download: idle from here.
            self.deadline = self.config.idle_timeout.map(|t| now + t);
        }
    }
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod sum_tests;

#[cfg(test)]
mod access_tests;

#[cfg(test)]
mod folder_tests;
