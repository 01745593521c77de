//! The OCI runtime: `bulwark create|start|state|kill|delete|run|list|ps|
//! spec|features ...` with runc's command line, so that podman (`--runtime`),
//! conmon and containerd's runc shim can drive bulwark as they drive runc.
//!
//! Each verb is a new process; what a container is lives in its state
//! directory, `ROOT/ID/` (`--root`, default `/run/bulwark`):
//!
//! | file           | what                                                     |
//! |----------------|----------------------------------------------------------|
//! | `state.json`   | [`state::Saved`]: pid, its start time, bundle, rootfs, created, annotations |
//! | `control.sock` | the sandbox's control socket (`sentry::control`): `start`, `state` |
//! | `waiters/PID`  | a host process `exec --detach` left (its start time), which `ps` lists |
//!
//! `create` leaves the sandbox (boot, see [`crate::launch::spawn_detached`])
//! waiting on the control socket; boot's host pid is the container's pid and
//! its exit status the container's. A container whose pid is gone, or now
//! names another process (its start time changed), is `stopped`.
//!
//! Exit status: 0, or 1 on any error (as runc), except `run` without
//! `--detach`, which exits with the container's status. Errors go to
//! standard error and, with `--log`, to the log as runc writes them (one
//! JSON object per line with `--log-format json`, which conmon reads).
//!
//! Where bulwark differs from runc on purpose: `list --format json` with no
//! containers prints `[]` (runc: `null`); `state` asks the sandbox itself
//! (over the control socket) whether it has started.
//!
//! Flags runc takes that bulwark accepts and ignores: `--systemd-cgroup`,
//! `--rootless`, `--criu` (global); `--no-pivot`, `--no-new-keyring`,
//! `--preserve-fds` (logged when non-zero), `--pidfd-socket` (`create`,
//! `run`); `--no-subreaper` (`run`); `--all` (`kill`: boot passes every
//! signal to the whole sandbox anyway); `--quiet` (`list`).

mod cgroup;
mod commands;
mod config;
mod console;
pub mod exec;
mod hooks;
mod log;
mod seccomp;
mod state;

use std::ffi::OsString;
use std::path::PathBuf;

use clap::{Args, Subcommand, ValueEnum};

use crate::cli::Network;

/// Where container state lives unless `--root` says otherwise.
pub const DEFAULT_ROOT: &str = "/run/bulwark";

/// Flags given before the verb (`bulwark --root R --log L create ...`), as
/// runc's clients pass them.
#[derive(Debug, Clone, Args)]
pub struct GlobalOpts {
    /// OCI runtime: directory holding the containers' state.
    #[arg(long, value_name = "DIR", default_value = DEFAULT_ROOT)]
    pub root: PathBuf,

    /// OCI runtime: append errors (and with --debug, progress) to FILE.
    #[arg(long, value_name = "FILE")]
    pub log: Option<PathBuf>,

    /// OCI runtime: how --log writes: `text` (`time=... level=... msg=...`)
    /// or `json` (`{"level","msg","time"}` per line), as runc.
    #[arg(long, value_name = "FORMAT", value_enum, default_value_t = OciLogFormat::Text)]
    pub log_format: OciLogFormat,

    /// OCI runtime: log debug messages too (and the sandbox logs at debug
    /// level to --debug-log).
    #[arg(long)]
    pub debug: bool,

    /// OCI runtime: accepted for runc compatibility; bulwark makes no
    /// cgroups (its limits are the sandbox's own).
    #[arg(long)]
    pub systemd_cgroup: bool,

    /// OCI runtime: accepted for runc compatibility, ignored.
    #[arg(long, value_name = "VALUE", hide = true)]
    pub rootless: Option<String>,

    /// OCI runtime: accepted for runc compatibility, ignored.
    #[arg(long, value_name = "PATH", hide = true)]
    pub criu: Option<String>,

    /// OCI runtime: how containers' application code is trapped.
    #[arg(long = "platform", value_name = "NAME", value_parser = ["ptrace"])]
    pub oci_platform: Option<String>,

    /// OCI runtime: the containers' network, overriding what config.json's
    /// namespaces imply (a network namespace with a path: `sandbox` in it;
    /// one without: `none`; none at all: `host`).
    #[arg(long = "network", value_name = "MODE", value_enum)]
    pub oci_network: Option<Network>,

    /// OCI runtime: print the containers' system calls to their stderr.
    #[arg(long = "strace")]
    pub oci_strace: bool,

    /// OCI runtime: append the sandboxes' own logs to FILE.
    #[arg(long = "debug-log", value_name = "FILE")]
    pub oci_debug_log: Option<PathBuf>,
}

/// `--log-format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OciLogFormat {
    Text,
    Json,
}

/// The verbs, with runc's names and flags.
#[derive(Debug, Subcommand)]
pub enum OciCommand {
    /// Create a container from an OCI bundle: the sandbox is set up and
    /// waits for `start`; its pid (`--pid-file`) is the container's.
    ///
    /// From config.json: process.args, env, cwd, user (uid, gid,
    /// additionalGids), terminal, rlimits and oomScoreAdj; hooks;
    /// linux.maskedPaths and readonlyPaths; linux.seccomp; root.path (relative to the bundle) and root.readonly (a
    /// writable root is written through to the rootfs, as with runc);
    /// hostname; bind mounts of directories and of single files (`ro`
    /// honoured) and tmpfs mounts; linux.resources.pids.limit and
    /// memory.limit. The sandbox provides /proc, /sys, /dev, /dev/pts,
    /// /dev/shm and /dev/mqueue itself; other mount types are an error. The network: a network
    /// namespace with a path is joined and its interface taken by the
    /// sandbox's own TCP/IP stack (a loopback of its own if it has none
    /// with an address); one without a path: the sandbox's own loopback;
    /// none: the host's network. The program is pid 1, as with runc.
    /// With process.terminal, a host pty's master is sent to
    /// --console-socket and its slave is the program's stdio; else the
    /// program gets this command's stdin, stdout and stderr.
    Create(CreateArgs),
    /// Run the program of a created container.
    Start(IdArgs),
    /// Print a container's state as JSON (ociVersion, id, pid, status
    /// created|running|stopped, bundle, rootfs, created, owner, annotations).
    State(IdArgs),
    /// Send a signal (name or number; default SIGTERM) to a container.
    Kill(KillArgs),
    /// Delete a container's state; a created one is killed first, a running
    /// one only with --force.
    Delete(DeleteArgs),
    /// Create and start a container; without --detach, wait for it, delete
    /// it and exit with its status.
    Run(RunArgs),
    /// List the containers under --root.
    List(ListArgs),
    /// List a container's host processes: the sandbox and its descendants,
    /// and the waiters `exec --detach` left (the pids containerd's shim
    /// knows the exec'd processes by).
    Ps(PsArgs),
    /// Write a default config.json (busybox-friendly: `sh`, read-only
    /// rootfs in ./rootfs) in the bundle directory; never overwrites one.
    Spec(SpecArgs),
    /// Print what this runtime supports, as JSON (runc 1.1's `features`).
    Features,
    /// Pause a running container: the sentry stops every task before its
    /// next application instruction (the program sees no signal and its
    /// parent no stop); state says `paused` until `resume`.
    Pause(IdArgs),
    /// Resume a paused container.
    Resume(IdArgs),
    /// Run another process in a running container: COMMAND (with the
    /// container's env, cwd and user unless --env/--cwd/--user change
    /// them), or the OCI process in --process FILE. Attached, exits with
    /// the process's status; --detach leaves a host process (its pid in
    /// --pid-file) that exits with it.
    Exec(ExecArgs),
    /// Print a container's statistics as JSON lines (runc's `{"type":
    /// "stats","id","data"}`): pids (current, limit), memory (usage, limit:
    /// the sandbox's own figures) and cpu (the sandbox's host processes'
    /// time), every --interval until the container stops, or once with
    /// --stats.
    Events(EventsArgs),
    /// Change a running container's limits: --pids-limit and --memory, or
    /// the linux.resources JSON in --resources FILE (`-`: standard input,
    /// as containerd's shim passes it): pids and memory limits in the
    /// sandbox and its host cgroup, cpu and blockIO weight in the host
    /// cgroup. Other flags are accepted and not applied (a warning).
    Update(UpdateArgs),
    /// Not supported: checkpoint a container.
    #[command(hide = true)]
    Checkpoint(Unsupported),
    /// Not supported: restore a container.
    #[command(hide = true)]
    Restore(Unsupported),
}

/// The verbs' names, for telling an OCI command line from `do`'s.
const VERBS: &[&str] = &[
    "create",
    "start",
    "state",
    "kill",
    "delete",
    "run",
    "list",
    "ps",
    "spec",
    "features",
    "pause",
    "resume",
    "exec",
    "events",
    "update",
    "checkpoint",
    "restore",
];

/// A container's id.
#[derive(Debug, Args)]
pub struct IdArgs {
    /// The container's id.
    pub id: String,
}

/// `create`'s flags (runc's).
#[derive(Debug, Args)]
pub struct CreateArgs {
    /// The container's id (letters, digits, `_+-.`).
    pub id: String,

    /// The bundle: a directory with config.json (root.path is relative to it).
    #[arg(long, short = 'b', value_name = "DIR", default_value = ".")]
    pub bundle: PathBuf,

    /// Write the container's pid (the sandbox's host pid) to FILE.
    #[arg(long, value_name = "FILE")]
    pub pid_file: Option<PathBuf>,

    /// With process.terminal: the Unix socket to send the terminal's master
    /// end to (SCM_RIGHTS), as runc does.
    #[arg(long, value_name = "PATH")]
    pub console_socket: Option<PathBuf>,

    /// Accepted for runc compatibility (bulwark never pivots the host's
    /// view of the rootfs).
    #[arg(long)]
    pub no_pivot: bool,

    /// Accepted for runc compatibility (the sandbox has no host keyring).
    #[arg(long)]
    pub no_new_keyring: bool,

    /// Accepted for runc compatibility; descriptors past stdio are not
    /// passed to the container yet.
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub preserve_fds: u32,

    /// Accepted for runc compatibility (runc 1.2), ignored.
    #[arg(long, value_name = "PATH", hide = true)]
    pub pidfd_socket: Option<PathBuf>,
}

/// `run`'s flags: `create`'s and a few more.
#[derive(Debug, Args)]
pub struct RunArgs {
    #[command(flatten)]
    pub create: CreateArgs,

    /// Return once the program runs, leaving the container behind.
    #[arg(long, short = 'd')]
    pub detach: bool,

    /// Keep the container's state after it exits (without --detach).
    #[arg(long)]
    pub keep: bool,

    /// Accepted for runc compatibility, ignored.
    #[arg(long)]
    pub no_subreaper: bool,
}

/// `kill`'s arguments.
#[derive(Debug, Args)]
pub struct KillArgs {
    /// The container's id.
    pub id: String,

    /// The signal: a name (TERM, SIGTERM, term) or a number.
    #[arg(default_value = "SIGTERM")]
    pub signal: String,

    /// Accepted for runc compatibility: the signal reaches the whole
    /// sandbox anyway.
    #[arg(long, short = 'a')]
    pub all: bool,
}

/// `delete`'s arguments.
#[derive(Debug, Args)]
pub struct DeleteArgs {
    /// The container's id.
    pub id: String,

    /// Kill a running container (SIGKILL) first; an unknown id is then
    /// not an error.
    #[arg(long, short = 'f')]
    pub force: bool,
}

/// How `list` and `ps` print.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Table,
    Json,
}

/// `list`'s flags.
#[derive(Debug, Args)]
pub struct ListArgs {
    /// `table` or `json`.
    #[arg(long, short = 'f', value_enum, default_value_t = Format::Table)]
    pub format: Format,

    /// Print the ids only.
    #[arg(long, short = 'q')]
    pub quiet: bool,
}

/// `events`'s arguments.
#[derive(Debug, Args)]
pub struct EventsArgs {
    /// The container's id.
    pub id: String,

    /// Print the statistics once and exit.
    #[arg(long)]
    pub stats: bool,

    /// How often to print statistics (`5s`, `500ms`, `1m`).
    #[arg(long, value_name = "DURATION", default_value = "5s", value_parser = parse_duration)]
    pub interval: std::time::Duration,
}

/// A duration as runc's flags take it: a number with `ms`, `s`, `m` or `h`.
fn parse_duration(s: &str) -> Result<std::time::Duration, String> {
    let split = s.find(|c: char| !c.is_ascii_digit() && c != '.').unwrap_or(s.len());
    let (n, unit) = s.split_at(split);
    let n: f64 = n.parse().map_err(|_| format!("invalid duration {s:?}"))?;
    let secs = match unit {
        "ms" => n / 1000.0,
        "s" | "" => n,
        "m" => n * 60.0,
        "h" => n * 3600.0,
        _ => return Err(format!("invalid duration {s:?} (units: ms, s, m, h)")),
    };
    if !(secs > 0.0 && secs < 1e9) {
        return Err(format!("invalid duration {s:?}: must be positive"));
    }
    Ok(std::time::Duration::from_secs_f64(secs))
}

/// `update`'s flags (runc's; those bulwark does not apply are hidden).
#[derive(Debug, Args)]
pub struct UpdateArgs {
    /// The container's id.
    pub id: String,

    /// A JSON file of linux.resources (`-`: standard input).
    #[arg(long, short = 'r', value_name = "FILE")]
    pub resources: Option<PathBuf>,

    /// Most memory, in bytes or with k, m, g (`-1`: no limit).
    #[arg(long, short = 'm', value_name = "BYTES", allow_hyphen_values = true)]
    pub memory: Option<String>,

    /// Most tasks (`-1` or `0`: no limit).
    #[arg(long, value_name = "N", allow_hyphen_values = true)]
    pub pids_limit: Option<i64>,

    /// Accepted for runc compatibility, not applied.
    #[arg(
        long = "memory-swap",
        aliases = ["memory-reservation", "kernel-memory", "kernel-memory-tcp", "cpu-period", "cpu-quota",
            "cpu-share", "cpu-rt-period", "cpu-rt-runtime", "cpuset-cpus", "cpuset-mems", "blkio-weight",
            "l3-cache-schema", "mem-bw-schema", "cpu-idle"],
        value_name = "VALUE",
        hide = true,
        allow_hyphen_values = true
    )]
    pub other: Vec<String>,
}

/// `ps`'s arguments.
#[derive(Debug, Args)]
pub struct PsArgs {
    /// The container's id.
    pub id: String,

    /// `table` (the host's `ps` output for the container's processes) or
    /// `json` (an array of host pids).
    #[arg(long, short = 'f', value_enum, default_value_t = Format::Table)]
    pub format: Format,

    /// Options for the host's `ps` (default `-ef`), table format only.
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub ps_args: Vec<OsString>,
}

/// `spec`'s flags.
#[derive(Debug, Args)]
pub struct SpecArgs {
    /// Where to write config.json (default: the current directory).
    #[arg(long, short = 'b', value_name = "DIR")]
    pub bundle: Option<PathBuf>,

    /// Accepted for runc compatibility, ignored.
    #[arg(long)]
    pub rootless: bool,
}

/// `exec`'s flags (runc's).
#[derive(Debug, Args)]
pub struct ExecArgs {
    /// The container's id.
    pub id: String,

    /// The command and its arguments (unless --process).
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub command: Vec<String>,

    /// An OCI process (JSON: args, env, cwd, user, terminal) to run instead.
    #[arg(long, short = 'p', value_name = "FILE")]
    pub process: Option<PathBuf>,

    /// Give the process a terminal; its master goes to --console-socket.
    /// Also given when --process's process.terminal is true (as runc:
    /// containerd's shim passes no --tty).
    #[arg(long, short = 't')]
    pub tty: bool,

    /// With --tty: the Unix socket to send the terminal's master end to.
    #[arg(long, value_name = "PATH")]
    pub console_socket: Option<PathBuf>,

    /// The working directory, inside the container.
    #[arg(long, value_name = "DIR")]
    pub cwd: Option<String>,

    /// Add K=V to the environment (repeatable).
    #[arg(long, short = 'e', value_name = "K=V")]
    pub env: Vec<String>,

    /// Run as UID[:GID].
    #[arg(long, short = 'u', value_name = "UID[:GID]")]
    pub user: Option<String>,

    /// Return once the process runs.
    #[arg(long, short = 'd')]
    pub detach: bool,

    /// Write a host pid to FILE: the waiter's with --detach (it exits with
    /// the process's status), else this command's.
    #[arg(long, value_name = "FILE")]
    pub pid_file: Option<PathBuf>,

    /// Accepted for runc compatibility, ignored.
    #[arg(long, short = 'g', value_name = "GID", hide = true)]
    pub additional_gids: Vec<String>,

    /// Accepted for runc compatibility, ignored.
    #[arg(long, short = 'c', value_name = "CAP", hide = true)]
    pub cap: Vec<String>,

    /// Accepted for runc compatibility, ignored.
    #[arg(long, hide = true)]
    pub no_new_privs: bool,

    /// Accepted for runc compatibility, ignored.
    #[arg(long, value_name = "LABEL", hide = true)]
    pub process_label: Option<String>,

    /// Accepted for runc compatibility, ignored.
    #[arg(long, value_name = "PROFILE", hide = true)]
    pub apparmor: Option<String>,

    /// Accepted for runc compatibility, ignored.
    #[arg(long, value_name = "N", hide = true)]
    pub preserve_fds: Option<u32>,

    /// Accepted for runc compatibility, ignored.
    #[arg(long, value_name = "PATH", hide = true)]
    pub cgroup: Option<String>,

    /// Accepted for runc compatibility, ignored.
    #[arg(long, hide = true)]
    pub ignore_paused: bool,
}

/// A verb not supported yet: any arguments are accepted.
#[derive(Debug, Args)]
pub struct Unsupported {
    #[arg(trailing_var_arg = true, allow_hyphen_values = true, hide = true)]
    pub args: Vec<OsString>,
}

/// Whether `args` (the whole command line, program name first) is an OCI
/// verb's: the first word that is neither a flag nor a global flag's value.
pub fn is_oci_command_line(args: &[OsString]) -> bool {
    const TAKES_VALUE: &[&str] =
        &["--root", "--log", "--log-format", "--rootless", "--criu", "--platform", "--network", "--debug-log"];
    let mut words = args.iter().skip(1).filter_map(|a| a.to_str());
    while let Some(w) = words.next() {
        if w == "--" {
            return false;
        }
        if TAKES_VALUE.contains(&w) {
            words.next();
            continue;
        }
        if w.starts_with('-') {
            continue;
        }
        return VERBS.contains(&w);
    }
    false
}

/// Report a command line clap refused (`err`, already printed) to the
/// `--log` it names, if any, as the verb would have: conmon shows the log's
/// last error.
pub fn log_usage_error(args: &[OsString], err: &str) {
    let mut g = GlobalOpts {
        root: PathBuf::from(DEFAULT_ROOT),
        log: None,
        log_format: OciLogFormat::Text,
        debug: false,
        systemd_cgroup: false,
        rootless: None,
        criu: None,
        oci_platform: None,
        oci_network: None,
        oci_strace: false,
        oci_debug_log: None,
    };
    let mut words = args.iter().skip(1).filter_map(|a| a.to_str());
    while let Some(w) = words.next() {
        let (flag, inline) = match w.split_once('=') {
            Some((f, v)) => (f, Some(v)),
            None => (w, None),
        };
        let value = |words: &mut dyn Iterator<Item = &str>| {
            inline.map(str::to_owned).or_else(|| words.next().map(str::to_owned))
        };
        match flag {
            "--log" => g.log = value(&mut words).map(PathBuf::from),
            "--log-format" => {
                let json = value(&mut words).as_deref() == Some("json");
                g.log_format = if json { OciLogFormat::Json } else { OciLogFormat::Text };
            }
            _ if !w.starts_with('-') => break,
            _ => {}
        }
    }
    if g.log.is_some() {
        // clap's message, without its usage and tips.
        let msg: Vec<&str> = err
            .lines()
            .take_while(|l| !l.starts_with("Usage:"))
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with("tip:"))
            .collect();
        log::Log::open(&g).error(msg.join(" ").trim_start_matches("error: "));
    }
}

/// Run an OCI verb; returns the process's exit status, having reported any
/// error (stderr, and --log).
pub fn run(global: &GlobalOpts, cmd: OciCommand) -> i32 {
    let log = log::Log::open(global);
    log.debug(&format!("{cmd:?}"));
    match commands::dispatch(global, &log, cmd) {
        Ok(code) => code,
        Err(err) => {
            let msg = format!("{err:#}");
            log.error(&msg);
            eprintln!("bulwark: {msg}");
            1
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(s: &str) -> Vec<OsString> {
        s.split_whitespace().map(OsString::from).collect()
    }

    #[test]
    fn a_verb_after_global_flags_is_an_oci_command_line() {
        let line = words("bulwark --root /r --log-format json --systemd-cgroup create --bundle b x");

        assert!(is_oci_command_line(&line));
    }

    #[test]
    fn a_usage_error_goes_to_the_log_named_before_the_verb() {
        let log = std::env::temp_dir().join(format!("bulwark-oci-usage-{}.log", std::process::id()));
        let line = format!("bulwark --log={} --log-format json create --bogus x", log.display());

        log_usage_error(&words(&line), "error: unexpected argument '--bogus' found\n\nUsage: ...");

        let text = std::fs::read_to_string(&log).unwrap_or_default();
        let _ = std::fs::remove_file(&log);
        let v: serde_json::Value = serde_json::from_str(text.trim()).unwrap_or_default();
        assert_eq!(v["msg"], "unexpected argument '--bogus' found");
    }

    #[test]
    fn do_and_a_verb_after_the_double_dash_are_not() {
        assert!(!is_oci_command_line(&words("bulwark do -- create")));
        assert!(!is_oci_command_line(&words("bulwark --network host bench")));
        assert!(!is_oci_command_line(&words("bulwark -- run")));
    }
}
