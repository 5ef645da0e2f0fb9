//! One spelling per idea: the value syntaxes every command shares (durations,
//! sizes, counts, addresses), as clap value parsers, so a bad value is a usage
//! error (exit 2, with the subcommand's usage line) wherever it is typed; and
//! [`usage_error`] for the checks that span several flags.

use clap::error::ErrorKind;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

/// The longest duration any flag takes: far beyond any sensible time-out,
/// and far from where `Instant + Duration` would overflow.
const MAX_DURATION: Duration = Duration::from_secs(365 * 24 * 3600);

/// `1.5`, `10s`, `250ms`, `2m`, `1h` → a duration (a bare number is seconds),
/// at most a year.
pub(crate) fn duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let (number, scale) = if let Some(n) = s.strip_suffix("ms") {
        (n, 1e-3)
    } else if let Some(n) = s.strip_suffix("us").or_else(|| s.strip_suffix("µs")) {
        (n, 1e-6)
    } else if let Some(n) = s.strip_suffix('s') {
        (n, 1.0)
    } else if let Some(n) = s.strip_suffix('m') {
        (n, 60.0)
    } else if let Some(n) = s.strip_suffix('h') {
        (n, 3600.0)
    } else {
        (s, 1.0)
    };
    let not_a_duration = || format!("'{s}' is not a duration (e.g. 10s, 500ms, 2m, 1.5)");
    let number = number.trim();
    // Only plain decimals: no "inf", "nan" or signs.
    if number.is_empty() || !number.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
        return Err(not_a_duration());
    }
    let value: f64 = number.parse().map_err(|_| not_a_duration())?;
    match Duration::try_from_secs_f64(value * scale) {
        Ok(d) if d <= MAX_DURATION => Ok(d),
        _ => Err(format!("'{s}' is too long (at most a year)")),
    }
}

/// A [`duration`] that is more than zero.
pub(crate) fn positive_duration(s: &str) -> Result<Duration, String> {
    match duration(s)? {
        d if d.is_zero() => Err(format!("'{s}' must be more than 0")),
        d => Ok(d),
    }
}

/// A whole number of at least 1 (`--workers`, `-c`, `--jobs`, `-n`, …).
pub(crate) fn positive<T>(s: &str) -> Result<T, String>
where
    T: std::str::FromStr + PartialOrd + From<u8>,
    T::Err: std::fmt::Display,
{
    let n: T = s
        .trim()
        .parse()
        .map_err(|e| format!("'{s}' is not a whole number: {e}"))?;
    if n < T::from(1) {
        return Err(format!("'{s}' must be at least 1"));
    }
    Ok(n)
}

/// Sizes (`--max-upload`): `1000`, `64K`, `500M`, `2G`, `2GiB`, `1.5GB` (binary
/// multiples; `B`, `KB` and `KiB` spellings alike, any case). Whole numbers are
/// exact; a fraction is rounded down to a byte.
pub(crate) fn size(s: &str) -> Result<u64, String> {
    let s = s.trim();
    let split = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    let (number, unit) = s.split_at(split);
    let shift = match unit.trim().to_ascii_uppercase().as_str() {
        "" | "B" => 0,
        "K" | "KB" | "KIB" => 10,
        "M" | "MB" | "MIB" => 20,
        "G" | "GB" | "GIB" => 30,
        "T" | "TB" | "TIB" => 40,
        other => return Err(format!("unknown size unit '{other}' (K, M, G, T)")),
    };
    let not_a_size = || format!("'{s}' is not a size (e.g. 500M)");
    let out_of_range = || format!("'{s}' is out of range");
    if let Ok(whole) = number.parse::<u64>() {
        return whole.checked_mul(1u64 << shift).ok_or_else(out_of_range);
    }
    let number: f64 = number.parse().map_err(|_| not_a_size())?;
    let bytes = number * (1u64 << shift) as f64;
    if !bytes.is_finite() || bytes < 0.0 || bytes > u64::MAX as f64 {
        return Err(out_of_range());
    }
    Ok(bytes as u64)
}

/// A server to connect to, `host[:port]`: checked for form here (a port
/// 1-65535), resolved when the command runs.
pub(crate) fn addr(s: &str) -> Result<String, String> {
    let bad_port = |port: &str| format!("'{s}': '{port}' is not a port (1-65535)");
    if s.parse::<SocketAddr>().is_ok_and(|a| a.port() != 0) || s.parse::<IpAddr>().is_ok() {
        return Ok(s.to_owned());
    }
    if let Some(rest) = s.strip_prefix('[') {
        // [v6] or [v6]:port
        let (ip, after) = rest
            .split_once(']')
            .ok_or_else(|| format!("'{s}' is not host[:port]"))?;
        ip.parse::<std::net::Ipv6Addr>()
            .map_err(|_| format!("'{s}': '{ip}' is not an IPv6 address"))?;
        return match after.strip_prefix(':') {
            None if after.is_empty() => Ok(s.to_owned()),
            Some(port) if port.parse::<u16>().is_ok_and(|p| p != 0) => Ok(s.to_owned()),
            Some(port) => Err(bad_port(port)),
            None => Err(format!("'{s}' is not host[:port]")),
        };
    }
    let (host, port) = match s.rsplit_once(':') {
        Some((host, port)) => (host, Some(port)),
        None => (s, None),
    };
    if host.is_empty() || host.contains(char::is_whitespace) || host.contains(':') {
        return Err(format!("'{s}' is not host[:port]"));
    }
    match port {
        Some(port) if !port.parse::<u16>().is_ok_and(|p| p != 0) => Err(bad_port(port)),
        _ => Ok(s.to_owned()),
    }
}

/// `bench load`'s target: `http://host[:port][/path]` or `tcp://host:port`.
pub(crate) fn load_url(s: &str) -> Result<String, String> {
    let (scheme, rest) = s
        .split_once("://")
        .ok_or_else(|| format!("'{s}' is not a URL (http://…, https://… or tcp://…)"))?;
    let (authority, path) = match rest.find('/') {
        Some(at) => (&rest[..at], &rest[at..]),
        None => (rest, "/"),
    };
    match scheme {
        "http" | "https" | "tcp" => {}
        other => return Err(format!("unsupported scheme '{other}' (http, https or tcp)")),
    }
    if scheme == "tcp" && path != "/" {
        return Err(format!("'{s}': a tcp:// URL has no path"));
    }
    addr(authority).map_err(|e| format!("'{s}': {e}"))?;
    Ok(s.to_owned())
}

/// Parses the process's arguments; on a usage error, prints it with the
/// usage line of the subcommand it is about (clap leaves that line out of a
/// rejected value) and exits with status 2.
pub(crate) fn parse_args() -> super::Cli {
    use clap::error::{ContextKind, ContextValue};
    use clap::{CommandFactory, Parser};
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    let mut error = match super::Cli::try_parse_from(&args) {
        Ok(cli) => return cli,
        Err(e) => e,
    };
    if error.use_stderr() && error.get(ContextKind::Usage).is_none() {
        // The subcommand is named by the leading words that are subcommands.
        let mut cmd = super::Cli::command();
        cmd.build();
        for word in args.iter().skip(1) {
            match word.to_str().and_then(|w| cmd.find_subcommand(w)) {
                Some(sub) => cmd = sub.clone(),
                None => break,
            }
        }
        let usage = cmd.render_usage();
        error.insert(ContextKind::Usage, ContextValue::StyledStr(usage));
    }
    error.exit()
}

/// A server's `--port` with its service's default, shown in `--help` (every
/// serving command states its port, as SPEC.md lists them).
pub(crate) fn default_port(port: clap::Arg, default: &'static str) -> clap::Arg {
    port.default_value(default)
        .help("Port to listen on (0 picks a free one)")
}

/// A usage error on the subcommand at `path` (e.g. `["chat", "serve"]`): clap
/// prints it with that subcommand's own usage line and exits with status 2.
/// For checks that span flags (`--model fork` with `--irc-port`), which a
/// value parser cannot make.
pub(crate) fn usage_error(path: &[&str], kind: ErrorKind, message: &str) -> ! {
    use clap::CommandFactory;
    let mut cmd = super::Cli::command();
    cmd.build();
    for name in path {
        match cmd.find_subcommand(name) {
            Some(sub) => cmd = sub.clone(),
            None => break,
        }
    }
    cmd.error(kind, message).exit()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(duration("10"), Ok(Duration::from_secs(10)));
        assert_eq!(duration("0.5"), Ok(Duration::from_millis(500)));
        assert_eq!(duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(duration("1.5s"), Ok(Duration::from_millis(1500)));
        assert_eq!(duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(duration("1h"), Ok(Duration::from_secs(3600)));
        assert_eq!(duration("0"), Ok(Duration::ZERO));
        for bad in [
            "soon", "-1s", "1e20", "inf", "NaN", "", "s", "400d", "9999999h",
        ] {
            assert!(duration(bad).is_err(), "{bad}");
        }
        assert!(positive_duration("0s").is_err());
        assert_eq!(positive_duration("1ms"), Ok(Duration::from_millis(1)));
    }

    #[test]
    fn counts() {
        assert_eq!(positive::<usize>("3"), Ok(3));
        assert!(positive::<usize>("0").is_err());
        assert!(positive::<u64>("-1").is_err());
        assert!(positive::<u32>("x").is_err());
    }

    #[test]
    fn sizes() {
        assert_eq!(size("10"), Ok(10));
        assert_eq!(size("1000"), Ok(1000));
        assert_eq!(size("512K"), Ok(512 << 10));
        assert_eq!(size("64K"), Ok(65536));
        assert_eq!(size("100MiB"), Ok(100 << 20));
        assert_eq!(size("1.5MiB"), Ok(1572864));
        assert_eq!(size("2g"), Ok(2 << 30));
        assert_eq!(size("16777217T"), Err("'16777217T' is out of range".into()));
        for bad in ["lots", "x", "5Q", "99999999999T"] {
            assert!(size(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn addresses() {
        for good in [
            "127.0.0.1",
            "127.0.0.1:8888",
            "localhost",
            "localhost:1",
            "::1",
            "[::1]",
            "[::1]:9",
            "example.com:65535",
        ] {
            assert_eq!(addr(good), Ok(good.to_owned()), "{good}");
        }
        for bad in [
            "127.0.0.1:99999",
            "127.0.0.1:0",
            "host:port",
            ":80",
            "",
            "a b",
            "[::1]:x",
            "[nope]",
        ] {
            assert!(addr(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn load_urls() {
        for good in [
            "http://127.0.0.1:8000/a?b",
            "http://localhost",
            "https://localhost/x",
            "tcp://h:7",
        ] {
            assert!(load_url(good).is_ok(), "{good}");
        }
        for bad in [
            "notaurl",
            "ftp://h",
            "http://",
            "tcp://h:7/x",
            "http://h:0/",
        ] {
            assert!(load_url(bad).is_err(), "{bad}");
        }
    }
}
