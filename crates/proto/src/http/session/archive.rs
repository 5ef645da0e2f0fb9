//! The session's side of a streamed archive: its body is produced as the
//! output drains, never queued whole. While one is being sent it is the last
//! reply queued (the session takes no further request until it ends), so
//! its bytes always follow everything queued before.

use super::super::zip::Next;
use super::{HttpSession, Phase};

/// Archive bytes produced ahead of the socket at most (plus one file range).
const AHEAD: usize = 64 * 1024;

impl HttpSession {
    /// Lets the archive being sent add its next bytes (and file range) once
    /// the queued file ranges are out.
    pub(super) fn refill(&mut self) {
        let Some(stream) = &mut self.zip else { return };
        if !self.chunks.is_empty() || self.out.len() >= AHEAD {
            return;
        }
        match stream.fill(&mut self.out, AHEAD) {
            Next::More => {}
            Next::Chunk(chunk) => self.chunks.push_back((self.out.len(), chunk)),
            Next::Done => self.zip = None,
            Next::Abort => {
                // A file changed under us: a short body, never a wrong one.
                self.zip = None;
                self.phase = Phase::Closing;
            }
        }
    }
}
