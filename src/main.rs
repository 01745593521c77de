//! bulwark: a user-space application kernel for Linux.
//!
//! One binary: `bulwark do` (the CLI), and the hidden `bulwark boot` (the
//! sandbox) and `bulwark gofer` (the file server) it re-executes itself as;
//! and the OCI runtime's verbs (`create`, `start`, `state`, ..., see `oci`).

mod bench;
mod boot;
mod caps;
mod cli;
mod debug_log;
mod fds;
mod forward;
mod launch;
mod nic;
mod oci;

use clap::Parser;

use cli::{Cli, Command};

/// Exit status when the sandbox itself fails (runc/podman convention).
const EXIT_SANDBOX_FAILED: i32 = 125;

fn main() {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(err) => {
            // --help and --version print to stdout and succeed; a bad command
            // line is bulwark's own failure, not the program's (for an OCI
            // verb, 1 as runc).
            let _ = err.print();
            let args: Vec<_> = std::env::args_os().collect();
            let failed = if oci::is_oci_command_line(&args) {
                if err.use_stderr() {
                    oci::log_usage_error(&args, &err.render().to_string());
                }
                1
            } else {
                EXIT_SANDBOX_FAILED
            };
            std::process::exit(if err.use_stderr() { failed } else { 0 });
        }
    };
    let result = match cli.command {
        Command::Do(opts) => launch::run_do(&opts),
        Command::Bench(opts) => bench::run(&opts),
        Command::Boot(opts) => boot::run_boot(opts),
        Command::Gofer(opts) => launch::run_gofer(&opts).map(|()| 0),
        Command::ExecWait => Ok(oci::exec::exec_wait()),
        // Errors are reported there, as runc reports them.
        Command::Oci(cmd) => Ok(oci::run(&cli.oci, cmd)),
    };
    let code = result.unwrap_or_else(|err| {
        eprintln!("bulwark: {err:#}");
        EXIT_SANDBOX_FAILED
    });
    std::process::exit(code);
}
