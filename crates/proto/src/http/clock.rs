//! The wall clock, as the service is given it.
//!
//! A session is told the time as an [`Instant`] on every call (the seam in
//! `lib.rs`); `Date` headers and log lines need the calendar time too. The
//! protocol does not read it: whoever runs the service hands it a
//! [`WallClock`], which the session asks — with the `Instant` it was told — at
//! most once a second (rustls takes a `TimeProvider` the same way). The binary
//! gives one that reads the system clock; tests give an [`AnchoredClock`],
//! which turns the harness's fake `Instant`s into calendar times, so a test
//! that advances its clock sees the `Date` move with it.

use std::time::{Instant, SystemTime};

/// The calendar time, for a service that is told only [`Instant`]s.
pub trait WallClock: Send + Sync + 'static {
    /// The wall-clock time at `now` (an `Instant` the session was just told).
    fn wall_time(&self, now: Instant) -> SystemTime;
}

/// A wall clock that reads nothing: `wall` was the time at `instant`, and
/// time moves as the `Instant`s a session is told do.
#[derive(Debug, Clone, Copy)]
pub struct AnchoredClock {
    /// The instant `wall` refers to.
    pub instant: Instant,
    /// The calendar time at `instant`.
    pub wall: SystemTime,
}

impl WallClock for AnchoredClock {
    fn wall_time(&self, now: Instant) -> SystemTime {
        // Out of `SystemTime`'s range (never, in practice): stay at the anchor.
        let moved = match now.checked_duration_since(self.instant) {
            Some(ahead) => self.wall.checked_add(ahead),
            None => self.wall.checked_sub(self.instant.duration_since(now)),
        };
        moved.unwrap_or(self.wall)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, UNIX_EPOCH};

    #[test]
    fn an_anchored_clock_follows_the_instants_it_is_told() {
        let t0 = Instant::now() + Duration::from_secs(10);
        let wall = UNIX_EPOCH + Duration::from_secs(1_000);
        let clock = AnchoredClock { instant: t0, wall };
        assert_eq!(clock.wall_time(t0), wall);
        assert_eq!(
            clock.wall_time(t0 + Duration::from_secs(3)),
            wall + Duration::from_secs(3)
        );
        assert_eq!(
            clock.wall_time(t0 - Duration::from_secs(2)),
            wall - Duration::from_secs(2)
        );
    }
}
