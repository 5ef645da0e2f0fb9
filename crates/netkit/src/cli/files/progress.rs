//! Transfer progress on a terminal, silence elsewhere; plus the small
//! formatting helpers the client commands share (sizes, rates, dates).

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use netkit_proto::date::Civil;
use std::io::IsTerminal;

/// A progress bar with rate and ETA when stdout is a terminal; a hidden one
/// (which costs nothing) when it is not.
pub(crate) fn bar(total: u64, label: &str) -> ProgressBar {
    if !std::io::stdout().is_terminal() {
        return ProgressBar::hidden();
    }
    let style = ProgressStyle::with_template(
        "{msg} [{bar:30}] {bytes}/{total_bytes} {binary_bytes_per_sec} eta {eta}",
    )
    .map(|s| s.progress_chars("=> "))
    .unwrap_or_else(|_| ProgressStyle::default_bar());
    let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
    bar.set_style(style);
    bar.set_message(label.to_owned());
    bar
}

/// Whether human-readable summaries should be printed.
pub(crate) fn chatty() -> bool {
    std::io::stdout().is_terminal()
}

/// A finished transfer on stdout: `done` as pretty JSON with `--json`, else
/// its one-line `summary` when stdout is a terminal (quiet when piped).
pub(crate) fn report(
    done: &impl serde::Serialize,
    summary: String,
    json: bool,
) -> anyhow::Result<()> {
    if json {
        println!("{}", serde_json::to_string_pretty(done)?);
    } else if chatty() {
        println!("{summary}");
    }
    Ok(())
}

/// Seconds since the epoch as `YYYY-MM-DD HH:MM` (UTC).
pub(crate) fn date(unix: u64) -> String {
    let c = Civil::from_unix(unix);
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02}",
        c.year, c.month, c.day, c.hour, c.minute
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates() {
        assert_eq!(date(0), "1970-01-01 00:00");
        assert_eq!(date(1_700_000_000), "2023-11-14 22:13");
        assert_eq!(date(951_782_400), "2000-02-29 00:00");
    }
}
