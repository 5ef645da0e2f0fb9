//! `netkit files serve [DIR]`: the files protocol under any `--model`.

use crate::cli::common::{announce, shutdown_on_signals, ModelArgs, ServerArgs};
use anyhow::{Context, Result};
use clap::Args;
use netkit_drivers::Listener;
use netkit_proto::files::{FilesConfig, FilesService, DEFAULT_PORT};
use netkit_proto::root::Root;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// `netkit files serve` flags.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// The directory to share.
    #[arg(default_value = ".")]
    dir: PathBuf,
    #[command(flatten)]
    server: ServerArgs,
    #[command(flatten)]
    model: ModelArgs,
    /// Allow uploads (PUT); without it they get ERR 403.
    #[arg(long)]
    upload: bool,
    /// Let an upload replace an existing file (otherwise ERR 409).
    #[arg(long)]
    overwrite: bool,
    /// Largest upload accepted, e.g. 500M or 2GiB (otherwise ERR 413).
    #[arg(long, value_name = "SIZE", value_parser = parse_size)]
    max_upload: Option<u64>,
    /// Close connections idle for this many seconds (0: never).
    #[arg(long, default_value_t = 300)]
    idle_timeout: u64,
}

pub(crate) fn run(args: ServeArgs) -> Result<()> {
    let shutdown = shutdown_on_signals()?;
    // A file-size limit (RLIMIT_FSIZE) must fail one upload with EFBIG (ERR
    // 507), not kill the server with SIGXFSZ.
    // SAFETY: SIG_IGN installs no handler code.
    unsafe {
        nix::sys::signal::signal(
            nix::sys::signal::Signal::SIGXFSZ,
            nix::sys::signal::SigHandler::SigIgn,
        )
    }
    .context("ignoring SIGXFSZ")?;
    let root = Root::open(&args.dir)
        .with_context(|| format!("cannot open directory {}", args.dir.display()))?;
    let stale = root
        .remove_stale_temporaries()
        .context("removing stale upload temporaries")?;
    if stale > 0 {
        tracing::info!("removed {stale} unfinished upload(s) left by an earlier run");
    }
    let config = args.model.config()?;
    let addr = args.server.addr(DEFAULT_PORT);
    let listener =
        Listener::bind_tcp(addr).with_context(|| format!("cannot listen on tcp {addr}"))?;
    let files = FilesConfig {
        upload: args.upload,
        overwrite: args.overwrite,
        max_upload: args.max_upload,
        idle_timeout: (args.idle_timeout > 0).then(|| Duration::from_secs(args.idle_timeout)),
    };
    let service = Arc::new(FilesService::new(Arc::new(root), files));
    announce("files", &listener.url("tcp")?)?;
    netkit_drivers::serve(args.model.model, listener, service, &config, &shutdown)?;
    Ok(())
}

/// `1000`, `64K`, `500M`, `2G`, `2GiB`, `1.5GB`: binary multiples.
fn parse_size(s: &str) -> Result<u64, String> {
    let s = s.trim();
    let split = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    let (number, unit) = s.split_at(split);
    let number: f64 = number
        .parse()
        .map_err(|_| format!("'{s}' is not a size (e.g. 500M)"))?;
    let shift = match unit.trim().to_ascii_uppercase().as_str() {
        "" | "B" => 0,
        "K" | "KB" | "KIB" => 10,
        "M" | "MB" | "MIB" => 20,
        "G" | "GB" | "GIB" => 30,
        "T" | "TB" | "TIB" => 40,
        other => return Err(format!("unknown size unit '{other}' (K, M, G, T)")),
    };
    let bytes = number * (1u64 << shift) as f64;
    if !bytes.is_finite() || bytes < 0.0 || bytes > u64::MAX as f64 {
        return Err(format!("'{s}' is out of range"));
    }
    Ok(bytes as u64)
}

#[cfg(test)]
mod tests {
    use super::parse_size;

    #[test]
    fn sizes() {
        assert_eq!(parse_size("1000"), Ok(1000));
        assert_eq!(parse_size("64K"), Ok(65536));
        assert_eq!(parse_size("1.5MiB"), Ok(1572864));
        assert_eq!(parse_size("2g"), Ok(2 << 30));
        assert!(parse_size("x").is_err());
        assert!(parse_size("5Q").is_err());
    }
}
