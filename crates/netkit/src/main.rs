//! The `netkit` binary: parse the command line, run the command, map the outcome
//! to an exit status (0 success, 1 runtime failure, 2 usage error).

use std::process::ExitCode;

fn main() -> ExitCode {
    netkit::cli::run(netkit::cli::parse())
}
