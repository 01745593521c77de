//! The command line: `bulwark do` and the two hidden subcommands (`boot`,
//! `gofer`) that `do` re-executes itself as.

use std::ffi::OsString;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// The `PATH` of the default environment inside the sandbox.
pub const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

#[derive(Debug, Parser)]
#[command(
    name = "bulwark",
    version,
    about = "A user-space application kernel: runs Linux programs with every system call \
             carried out by the sentry, never by the host kernel",
    propagate_version = true
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run one program in a fresh sandbox and exit with its status.
    ///
    /// The host's root (or --rootfs) is served read-only by the gofer under an
    /// in-memory upper layer: the program sees its own writes, the host never
    /// changes. Exit status is the program's (128+N if it dies by signal N);
    /// 125 if the sandbox itself fails.
    Do(DoOpts),
    /// (internal) The sandbox process: namespaces, pivot_root, then the sentry.
    #[command(hide = true)]
    Boot(BootOpts),
    /// (internal) The file server for the sandbox's root filesystem.
    #[command(hide = true)]
    Gofer(GoferOpts),
}

/// Options of `bulwark do`. They are passed on to `bulwark boot` with
/// [`DoOpts::to_boot_args`], so every field here must round-trip.
#[derive(Debug, Clone, Args)]
pub struct DoOpts {
    /// How application code is run and its system calls trapped.
    #[arg(long, value_name = "NAME", default_value = "ptrace", value_parser = ["ptrace"])]
    pub platform: String,

    /// Host directory served as the sandbox's root filesystem (read-only;
    /// writes go to an in-memory layer on top and are lost on exit).
    #[arg(long, value_name = "DIR", default_value = "/")]
    pub rootfs: PathBuf,

    /// Working directory of the program, inside the sandbox.
    #[arg(long, value_name = "DIR", default_value = "/")]
    pub cwd: String,

    /// Add K=V to the program's environment (repeatable; a later value
    /// replaces an earlier one). The environment starts clean, with only
    /// PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin,
    /// HOME=/root, and TERM copied from the host if it is set there.
    #[arg(long = "env", short = 'e', value_name = "K=V", value_parser = parse_env)]
    pub env: Vec<String>,

    /// Host name the program sees (uname, /proc/sys/kernel/hostname).
    #[arg(long, value_name = "NAME", default_value = "bulwark")]
    pub hostname: String,

    /// Print every system call the program makes, with decoded arguments and
    /// result, one line per call, to standard error.
    #[arg(long)]
    pub strace: bool,

    /// Append the sandbox's own log (unsupported system calls, reported once
    /// each; internal errors) to FILE on the host.
    #[arg(long, value_name = "FILE")]
    pub debug_log: Option<PathBuf>,

    /// The program (looked up in the sandbox's PATH when it has no '/') and
    /// its arguments.
    #[arg(required = true, last = true, value_name = "PROGRAM")]
    pub argv: Vec<OsString>,
}

fn parse_env(s: &str) -> Result<String, String> {
    match s.split_once('=') {
        Some((k, _)) if !k.is_empty() => Ok(s.to_owned()),
        _ => Err(format!("expected K=V, got {s:?}")),
    }
}

impl DoOpts {
    /// The program's environment: the clean defaults, then every `--env`
    /// (a later value for the same name replaces an earlier one, in place).
    pub fn environment(&self, host_term: Option<String>) -> Vec<String> {
        let mut env = vec![format!("PATH={DEFAULT_PATH}"), "HOME=/root".to_owned()];
        if let Some(term) = host_term {
            env.push(format!("TERM={term}"));
        }
        for kv in &self.env {
            let name = kv.split_once('=').map_or(kv.as_str(), |(k, _)| k);
            match env.iter_mut().find(|e| e.split_once('=').map(|(k, _)| k) == Some(name)) {
                Some(slot) => slot.clone_from(kv),
                None => env.push(kv.clone()),
            }
        }
        env
    }

    /// The arguments that make `bulwark boot` see the same options. The
    /// rootfs (the gofer's business) and the debug log (passed as an open
    /// descriptor) are left out.
    pub fn to_boot_args(&self) -> Vec<OsString> {
        let mut args: Vec<OsString> = vec![
            "--platform".into(),
            self.platform.clone().into(),
            "--cwd".into(),
            self.cwd.clone().into(),
            "--hostname".into(),
            self.hostname.clone().into(),
        ];
        for kv in &self.env {
            args.push("--env".into());
            args.push(kv.into());
        }
        if self.strace {
            args.push("--strace".into());
        }
        args.push("--".into());
        args.extend(self.argv.iter().cloned());
        args
    }
}

/// Options of the hidden `bulwark boot`.
#[derive(Debug, Args)]
pub struct BootOpts {
    /// Descriptor of the gofer connection (inherited).
    #[arg(long, value_name = "N")]
    pub gofer_fd: i32,

    /// Descriptor of the debug log (inherited), if any.
    #[arg(long, value_name = "N")]
    pub debug_log_fd: Option<i32>,

    /// The host's TERM, forwarded by the CLI (boot's own environment is
    /// cleared).
    #[arg(long, value_name = "TERM")]
    pub host_term: Option<String>,

    #[command(flatten)]
    pub opts: DoOpts,
}

/// Options of the hidden `bulwark gofer`.
#[derive(Debug, Args)]
pub struct GoferOpts {
    /// Host directory to serve.
    #[arg(long, value_name = "DIR")]
    pub root: PathBuf,

    /// Descriptor of the connection to the sandbox (inherited).
    #[arg(long, value_name = "N")]
    pub fd: i32,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> DoOpts {
        let cli = Cli::try_parse_from(args).expect("valid command line");
        match cli.command {
            Command::Do(o) => o,
            other => panic!("expected do, got {other:?}"),
        }
    }

    #[test]
    fn do_defaults_are_root_slash_and_hostname_bulwark() {
        let o = parse(&["bulwark", "do", "--", "/bin/true"]);

        assert_eq!(
            (o.rootfs.as_path(), o.cwd.as_str(), o.hostname.as_str(), o.strace),
            (std::path::Path::new("/"), "/", "bulwark", false)
        );
    }

    #[test]
    fn env_later_value_replaces_default_in_place() {
        let o = parse(&["bulwark", "do", "--env", "HOME=/h", "--env", "A=1", "--", "x"]);

        let env = o.environment(Some("xterm".into()));

        assert_eq!(env, [&format!("PATH={DEFAULT_PATH}"), "HOME=/h", "TERM=xterm", "A=1"]);
    }

    #[test]
    fn env_without_equals_is_rejected() {
        let r = Cli::try_parse_from(["bulwark", "do", "--env", "NOPE", "--", "x"]);

        assert!(r.is_err());
    }

    #[test]
    fn boot_args_round_trip_through_the_boot_parser() {
        let o = parse(&[
            "bulwark",
            "do",
            "--cwd",
            "/tmp",
            "--env",
            "A=1",
            "--hostname",
            "h",
            "--strace",
            "--",
            "prog",
            "--flag",
            "arg",
        ]);
        let mut argv: Vec<OsString> = vec!["bulwark".into(), "boot".into(), "--gofer-fd".into(), "3".into()];
        argv.extend(o.to_boot_args());

        let Command::Boot(b) = Cli::try_parse_from(argv).expect("valid boot line").command else {
            panic!("expected boot");
        };

        assert_eq!(
            (b.gofer_fd, b.opts.cwd, b.opts.env, b.opts.hostname, b.opts.strace, b.opts.argv),
            (
                3,
                "/tmp".into(),
                vec!["A=1".to_owned()],
                "h".into(),
                true,
                vec!["prog".into(), "--flag".into(), "arg".into()]
            )
        );
    }
}
