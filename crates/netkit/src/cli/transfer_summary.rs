//! The one line a finished transfer prints, in one style for `files get|put`
//! and `tftp get|put`: `WHAT: SIZE in TIME (RATE)[, MORE]`, sizes in binary
//! units (`1.50 MiB`), times scaled (`3 ms`, `1.20 s`) and rates that stay
//! readable for a tiny file (`6.00 KiB/s`, never `0.0 MB/s`).

use indicatif::HumanBytes;
use std::time::Duration;

/// `notes.txt → ./notes.txt: 12 B in 2 ms (6.00 KiB/s)`, then `more` (e.g.
/// `sha256 … verified`) after a comma when there is one.
pub(crate) fn line(what: &str, bytes: u64, elapsed: Duration, more: Option<&str>) -> String {
    let mut line = format!(
        "{what}: {} in {} ({})",
        size(bytes),
        time(elapsed),
        rate(bytes, elapsed)
    );
    if let Some(more) = more {
        line.push_str(", ");
        line.push_str(more);
    }
    line
}

/// `12 B`, `1.50 MiB`.
pub(crate) fn size(bytes: u64) -> String {
    HumanBytes(bytes).to_string()
}

/// `850 µs`, `12 ms`, `1.20 s`.
fn time(elapsed: Duration) -> String {
    let secs = elapsed.as_secs_f64();
    if secs >= 1.0 {
        format!("{secs:.2} s")
    } else if secs >= 1e-3 {
        format!("{:.0} ms", secs * 1e3)
    } else {
        format!("{:.0} µs", secs * 1e6)
    }
}

/// Bytes per second in binary units; `instant` when the clock saw no time
/// pass (a rate would be a division by zero).
fn rate(bytes: u64, elapsed: Duration) -> String {
    let secs = elapsed.as_secs_f64();
    if secs < 1e-6 {
        return "instant".to_owned();
    }
    let per_sec = (bytes as f64 / secs).min(u64::MAX as f64) as u64;
    format!("{}/s", HumanBytes(per_sec))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tiny_and_big_transfers_read_well() {
        let tiny = line("a → b", 12, Duration::from_millis(2), None);
        assert_eq!(tiny, "a → b: 12 B in 2 ms (5.86 KiB/s)");
        let big = line("x", 3 << 20, Duration::from_millis(1500), Some("done"));
        assert_eq!(big, "x: 3.00 MiB in 1.50 s (2.00 MiB/s), done");
        assert_eq!(
            line("z", 0, Duration::ZERO, None),
            "z: 0 B in 0 µs (instant)"
        );
    }
}
