//! The command line: `bulwark do`, the OCI runtime's verbs (see
//! `crate::oci`), and the two hidden subcommands (`boot`, `gofer`) that
//! `do` re-executes itself as.

use std::ffi::OsString;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

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
    /// The OCI runtime's global flags, given before the verb as runc's
    /// clients pass them (`bulwark --root R --log L create ...`).
    #[command(flatten)]
    pub oci: crate::oci::GlobalOpts,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run one program in a fresh sandbox and exit with its status.
    ///
    /// The host's root (or --rootfs), /tmp included, is served read-only by
    /// the gofer under an in-memory upper layer: the program sees its own
    /// writes, the host never changes. It runs in the caller's directory, as
    /// pid 2 under a small init. Exit status is the program's; if it dies of
    /// signal N, bulwark dies of N too (shells show 128+N); 125 if the
    /// sandbox itself fails. Signals sent to bulwark, and the terminal's ^C,
    /// ^Z and window changes, reach the program.
    Do(DoOpts),
    /// Measure system-call overhead and whole workloads natively, on each
    /// platform and under other runtimes, side by side (table, JSON, SVG).
    Bench(crate::bench::BenchOpts),
    /// The OCI runtime's verbs, as runc's.
    #[command(flatten)]
    Oci(crate::oci::OciCommand),
    /// (internal) The sandbox process: namespaces, pivot_root, then the sentry.
    #[command(hide = true)]
    Boot(BootOpts),
    /// (internal) The file server for the sandbox's root filesystem.
    #[command(hide = true)]
    Gofer(GoferOpts),
    /// (internal) Wait for a process `exec --detach` started; exit with its
    /// status (the control connection is stdin).
    #[command(hide = true)]
    ExecWait,
}

/// Options of `bulwark do`. They are passed on to `bulwark boot` with
/// [`DoOpts::to_boot_args`], so every field here must round-trip.
#[derive(Debug, Clone, Args)]
pub struct DoOpts {
    /// How application code is run and its system calls trapped.
    #[arg(long, value_name = "NAME", default_value = "ptrace", value_parser = ["ptrace"])]
    pub platform: String,

    /// Host directory served as the sandbox's root filesystem (read-only;
    /// writes go to an in-memory layer on top and are lost on exit, unless
    /// --overlay none).
    #[arg(long, value_name = "DIR", default_value = "/")]
    pub rootfs: PathBuf,

    /// Mount host directory or regular file SRC at DST inside the sandbox
    /// (repeatable; a file is served alone, not its directory).
    /// Writes go to the host; with ":ro" they fail with EROFS.
    /// Each SRC is served by a gofer of its own; DST is made if missing.
    #[arg(long = "bind", value_name = "SRC:DST[:ro]", value_parser = parse_bind)]
    pub binds: Vec<BindSpec>,

    /// Mount an empty in-memory file system (mode 1777) at DST inside the
    /// sandbox (repeatable); DST is made if missing.
    #[arg(long = "tmpfs", value_name = "DST", value_parser = parse_abs)]
    pub tmpfs: Vec<String>,

    /// How the root filesystem takes writes: "memory" keeps them in an
    /// in-memory layer over the read-only rootfs (the host never changes);
    /// "none" writes through to the rootfs on the host (mount points the
    /// sandbox needs, /dev, /proc, /tmp and --bind/--tmpfs destinations,
    /// are then made in the rootfs if missing).
    #[arg(long, value_name = "MODE", value_enum, default_value = "memory")]
    pub overlay: Overlay,

    /// Make the root filesystem read-only: writes to it fail with EROFS
    /// (/tmp, /dev/shm, --tmpfs and writable --bind mounts stay writable).
    #[arg(long)]
    pub readonly: bool,

    /// Run the program as this user and group (every uid and gid, and the
    /// only supplementary group) instead of root; permission checks in the
    /// sandbox honour them.
    #[arg(long, value_name = "UID:GID", value_parser = parse_user)]
    pub user: Option<(u32, u32)>,

    /// Working directory of the program, inside the sandbox; it must
    /// exist there. Default: the caller's working directory, when the
    /// sandbox has it (with the host's root it does), else "/".
    #[arg(long, value_name = "DIR", value_parser = parse_abs)]
    pub cwd: Option<String>,

    /// Add K=V to the program's environment (repeatable; a later value
    /// replaces an earlier one). The environment starts clean, with only
    /// PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin,
    /// HOME=/root, and TERM copied from the host if it is set there.
    #[arg(long = "env", short = 'e', value_name = "K=V", value_parser = parse_env)]
    pub env: Vec<String>,

    /// Host name the program sees (uname, /proc/sys/kernel/hostname).
    #[arg(long, value_name = "NAME", default_value = "bulwark")]
    pub hostname: String,

    /// Run the program as pid 2 under a small init of the sandbox's own
    /// (pid 1: reaps orphans, passes signals on, exits with the program's
    /// status, as `docker run --init`), so that it behaves as it does
    /// natively. `--init=false` makes the program itself pid 1, which Linux
    /// shields from every signal it has no handler for (SIGKILL included).
    #[arg(long, value_name = "BOOL", default_value_t = true, action = clap::ArgAction::Set)]
    pub init: bool,

    /// Kernel release the program sees (`uname -r`,
    /// /proc/sys/kernel/osrelease). Default: the host's, since programs
    /// gate features on it.
    #[arg(long, value_name = "RELEASE")]
    pub kernel_release: Option<String>,

    /// Print every system call the program makes, with decoded arguments and
    /// result, one line per call, to standard error.
    #[arg(long)]
    pub strace: bool,

    /// Append the sandbox's own log (unsupported system calls, reported once
    /// each; internal errors; start-up) to FILE on the host.
    #[arg(long, value_name = "FILE")]
    pub debug_log: Option<PathBuf>,

    /// The network the program gets. `none` (the default): a loopback of
    /// the sandbox's own, in the sentry: TCP and UDP on 127.0.0.0/8 and ::1
    /// between the sandbox's processes, nothing reaching the host. `host`:
    /// the program's Internet and netlink sockets are host sockets in the
    /// host's network (the sentry makes the calls; blocking, readiness and
    /// signals stay the sandbox's); DNS uses the host's resolv.conf.
    /// `sandbox`: a user-space TCP/IP stack in the sentry on the network
    /// namespace's interface (the first one up with an address), which it
    /// takes from the host kernel: its addresses move to the sandbox. Run
    /// it inside a network namespace made for it, e.g. `ip netns exec NAME
    /// bulwark do --network sandbox ...` with one end of a veth pair there;
    /// it refuses the host's own network namespace.
    #[arg(long, value_enum, value_name = "MODE", default_value_t = Network::None)]
    pub network: Network,

    /// How `--debug-log` writes events: `text`, one line each (time,
    /// level, module, message and fields), or `json`, one JSON object per
    /// line ({"timestamp", "level", "target", "fields": {"message", ...}})
    /// for log collectors.
    #[arg(long, value_enum, value_name = "FORMAT", default_value_t = LogFormat::Text)]
    pub debug_log_format: LogFormat,

    /// The least severe events `--debug-log` records: error, warn (an
    /// unsupported system call, a task killed for memory), info (start-up
    /// steps), debug or trace.
    #[arg(long, value_enum, value_name = "LEVEL", default_value_t = LogLevel::Info)]
    pub log_level: LogLevel,

    /// Most tasks (processes and threads, counted as a pids cgroup counts
    /// them, zombies included until reaped) the sandbox may hold at once:
    /// fork and clone past it fail with EAGAIN, so a fork bomb stays
    /// inside. The default, 2048, is podman's pids limit; 0 or -1: no limit.
    #[arg(long, value_name = "N", default_value_t = DEFAULT_PIDS_LIMIT, allow_negative_numbers = true,
          value_parser = clap::value_parser!(i64).range(-1..))]
    pub pids_limit: i64,

    /// Most application memory the sandbox may hold (bytes, or with a
    /// suffix k, m or g as in `--memory 512m`; pages shared copy-on-write
    /// count once). Past it, the sandbox's own OOM killer kills the
    /// process inside holding the most memory; calls that allocate
    /// eagerly fail with ENOMEM. Default (or 0): no limit.
    #[arg(long, value_name = "BYTES", value_parser = parse_bytes)]
    pub memory: Option<u64>,

    /// Enforce this seccomp profile on the program's system calls (the
    /// sentry checks every call first; one denied is not carried out). The
    /// file holds the sentry's text form (`default errno:1`, `rule NR
    /// allow [ARG:OP:VALUE]...`); the OCI runtime writes it from
    /// config.json's linux.seccomp.
    #[arg(long, value_name = "FILE")]
    pub seccomp_profile: Option<PathBuf>,

    /// Set a resource limit of the program, as `ulimit` or `prlimit` would
    /// (repeatable): NAME is nofile, nproc, core, stack, cpu, data, fsize,
    /// as, memlock, locks, sigpending, msgqueue, nice, rtprio, rttime or rss
    /// (or RLIMIT_NOFILE style); SOFT and HARD are numbers or "unlimited";
    /// HARD defaults to SOFT.
    #[arg(long, value_name = "NAME=SOFT[:HARD]", value_parser = parse_ulimit)]
    pub ulimit: Vec<Ulimit>,

    /// The program's supplementary groups, instead of its gid alone (a
    /// comma-separated list of gids, as setgroups(2) sets them).
    #[arg(long, value_name = "GID,...", value_parser = parse_groups)]
    pub groups: Option<Groups>,

    /// The program's /proc/self/oom_score_adj (-1000..=1000): which process
    /// the sandbox's OOM killer picks first.
    #[arg(long, value_name = "N", allow_negative_numbers = true,
          value_parser = clap::value_parser!(i32).range(-1000..=1000))]
    pub oom_score_adj: Option<i32>,

    /// Hide PATH in the sandbox (repeatable): a directory gets an empty
    /// read-only tmpfs over it, a file /dev/null. A missing PATH is passed
    /// over.
    #[arg(long = "mask", value_name = "PATH", value_parser = parse_abs)]
    pub masked_paths: Vec<String>,

    /// Make PATH read-only in the sandbox (repeatable; a read-only bind
    /// mount of itself, with what is mounted under it). A missing PATH is
    /// passed over.
    #[arg(long = "readonly-path", value_name = "PATH", value_parser = parse_abs)]
    pub readonly_paths: Vec<String>,

    /// Set a sysctl of the sandbox (repeatable): kernel.hostname,
    /// kernel.domainname or net.ipv4.ip_unprivileged_port_start (the first
    /// port that takes no CAP_NET_BIND_SERVICE to bind); others are an
    /// error, the sandbox having no such setting.
    #[arg(long, value_name = "NAME=VALUE", value_parser = parse_sysctl)]
    pub sysctl: Vec<String>,

    /// Take capabilities away from the program (comma-separated,
    /// repeatable; named as docker names them: NET_RAW, CAP_NET_RAW, or
    /// ALL). They leave every set, the bounding one too, so no process
    /// inside gets them back. By default root holds every capability and
    /// other users none.
    #[arg(long, value_name = "CAP,...", value_parser = crate::caps::parse_list)]
    pub cap_drop: Vec<crate::caps::CapList>,

    /// Give capabilities (as --cap-drop names them), after --cap-drop:
    /// `--cap-drop ALL --cap-add NET_BIND_SERVICE` leaves that one alone;
    /// `--cap-add ALL` every one not dropped. A program run with --user as
    /// another user than root holds the added ones as ambient
    /// capabilities (as podman gives them), so they survive its execve.
    #[arg(long, value_name = "CAP,...", value_parser = crate::caps::parse_list)]
    pub cap_add: Vec<crate::caps::CapList>,

    /// Give the program the capability set SET (bounding, effective,
    /// inheritable, permitted or ambient) outright, as an OCI config's
    /// process.capabilities lists them (repeatable; a set not named is
    /// empty). They are the program's before its execve, which then
    /// changes them as capabilities(7) says (root: permitted and effective
    /// become the bounding and inheritable sets).
    #[arg(long, value_name = "SET=CAP,...", value_parser = crate::caps::parse_set,
          conflicts_with_all = ["cap_drop", "cap_add"])]
    pub cap_set: Vec<crate::caps::CapSet>,

    /// The program (looked up in the sandbox's PATH when it has no '/') and
    /// its arguments.
    #[arg(required = true, last = true, value_name = "PROGRAM")]
    pub argv: Vec<OsString>,
}

/// One `--ulimit NAME=SOFT[:HARD]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ulimit {
    /// `RLIMIT_*`.
    pub resource: u32,
    pub soft: u64,
    pub hard: u64,
}

/// The names `--ulimit` takes, by `RLIMIT_*` number.
const ULIMIT_NAMES: [&str; 16] = [
    "cpu",
    "fsize",
    "data",
    "stack",
    "core",
    "rss",
    "nproc",
    "nofile",
    "memlock",
    "as",
    "locks",
    "sigpending",
    "msgqueue",
    "nice",
    "rtprio",
    "rttime",
];

impl Ulimit {
    /// The resource named `name` (`nofile`, `NOFILE`, `RLIMIT_NOFILE`).
    pub fn resource(name: &str) -> Option<u32> {
        let lower = name.to_ascii_lowercase();
        let short = lower.strip_prefix("rlimit_").unwrap_or(&lower);
        ULIMIT_NAMES.iter().position(|n| *n == short).and_then(|i| u32::try_from(i).ok())
    }

    pub fn to_arg(self) -> String {
        let name = ULIMIT_NAMES.get(self.resource as usize).copied().unwrap_or("?");
        let show = |v: u64| if v == u64::MAX { "unlimited".to_owned() } else { v.to_string() };
        format!("{name}={}:{}", show(self.soft), show(self.hard))
    }
}

/// `--groups`: supplementary gids (possibly none).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Groups(pub Vec<u32>);

fn parse_groups(s: &str) -> Result<Groups, String> {
    let gids = s.split(',').filter(|g| !g.is_empty()).map(|g| g.parse::<u32>());
    gids.collect::<Result<Vec<u32>, _>>().map(Groups).map_err(|_| format!("expected numeric gids, got {s:?}"))
}

fn parse_ulimit(s: &str) -> Result<Ulimit, String> {
    let (name, values) = s.split_once('=').ok_or_else(|| format!("expected NAME=SOFT[:HARD], got {s:?}"))?;
    let resource =
        Ulimit::resource(name).ok_or_else(|| format!("unknown resource {name:?} (nofile, nproc, core, ...)"))?;
    let value = |v: &str| match v {
        "unlimited" | "-1" => Ok(u64::MAX),
        _ => v.parse::<u64>().map_err(|_| format!("expected a number or \"unlimited\", got {v:?}")),
    };
    let (soft, hard) = match values.split_once(':') {
        Some((a, b)) => (value(a)?, value(b)?),
        None => (value(values)?, value(values)?),
    };
    if soft > hard {
        return Err(format!("the soft limit of {name} is above its hard limit"));
    }
    Ok(Ulimit { resource, soft, hard })
}

/// `--pids-limit` when none is given: podman's default pids limit.
pub const DEFAULT_PIDS_LIMIT: i64 = 2048;

/// A size in bytes, with an optional binary suffix (k, m, g; either case,
/// an optional trailing "b"), as docker's `--memory` takes it.
pub fn parse_bytes(s: &str) -> Result<u64, String> {
    let t = s.trim().to_ascii_lowercase();
    let t = t.strip_suffix('b').unwrap_or(&t);
    let (digits, shift) = match t.as_bytes().last() {
        Some(b'k') => (&t[..t.len() - 1], 10),
        Some(b'm') => (&t[..t.len() - 1], 20),
        Some(b'g') => (&t[..t.len() - 1], 30),
        _ => (t, 0),
    };
    let n: u64 = digits.parse().map_err(|_| format!("expected BYTES with an optional k, m or g suffix, got {s:?}"))?;
    n.checked_mul(1 << shift).ok_or_else(|| format!("{s:?} is too large"))
}

/// `--overlay`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Overlay {
    /// Writes stay in memory; the host never changes.
    Memory,
    /// Writes reach the host rootfs.
    None,
}

/// One `--bind SRC:DST[:ro]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BindSpec {
    pub src: PathBuf,
    pub dst: String,
    pub readonly: bool,
}

impl BindSpec {
    /// Back to the command-line form.
    pub fn to_arg(&self) -> String {
        format!("{}:{}{}", self.src.display(), self.dst, if self.readonly { ":ro" } else { "" })
    }
}

fn parse_bind(s: &str) -> Result<BindSpec, String> {
    let parts: Vec<&str> = s.split(':').collect();
    let (src, dst, readonly) = match parts.as_slice() {
        [src, dst] => (src, dst, false),
        [src, dst, "ro"] => (src, dst, true),
        [src, dst, "rw"] => (src, dst, false),
        _ => return Err(format!("expected SRC:DST[:ro], got {s:?}")),
    };
    if src.is_empty() {
        return Err(format!("empty source in {s:?}"));
    }
    Ok(BindSpec { src: PathBuf::from(src), dst: parse_abs(dst)?, readonly })
}

fn parse_abs(s: &str) -> Result<String, String> {
    if s.starts_with('/') {
        Ok(s.to_owned())
    } else {
        Err(format!("expected an absolute path inside the sandbox, got {s:?}"))
    }
}

fn parse_user(s: &str) -> Result<(u32, u32), String> {
    let (u, g) = s.split_once(':').ok_or_else(|| format!("expected UID:GID, got {s:?}"))?;
    let num = |v: &str| v.parse::<u32>().map_err(|_| format!("expected numeric UID:GID, got {s:?}"));
    Ok((num(u)?, num(g)?))
}

fn parse_sysctl(s: &str) -> Result<String, String> {
    match s.split_once('=') {
        Some((k, _)) if sentry::container::SYSCTLS.contains(&k) => Ok(s.to_owned()),
        Some((k, _)) => {
            Err(format!("the sandbox has no sysctl {k:?} (it has {})", sentry::container::SYSCTLS.join(", ")))
        }
        None => Err(format!("expected NAME=VALUE, got {s:?}")),
    }
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

    /// The task limit (`--pids-limit`), `None` for none.
    pub fn pids_max(&self) -> Option<u64> {
        u64::try_from(self.pids_limit).ok().filter(|&n| n > 0)
    }

    /// The memory limit (`--memory`), `None` for none.
    pub fn memory_max(&self) -> Option<u64> {
        self.memory.filter(|&m| m > 0)
    }

    /// The arguments that make `bulwark boot` see the same options. The
    /// rootfs (the gofer's business) and the debug log (passed as an open
    /// descriptor) are left out; binds are passed (the sandbox finds their
    /// gofer connections at fixed descriptors, see `crate::launch`).
    pub fn to_boot_args(&self) -> Vec<OsString> {
        let mut args: Vec<OsString> =
            vec!["--platform".into(), self.platform.clone().into(), "--hostname".into(), self.hostname.clone().into()];
        if let Some(cwd) = &self.cwd {
            args.push("--cwd".into());
            args.push(cwd.into());
        }
        for kv in &self.env {
            args.push("--env".into());
            args.push(kv.into());
        }
        for b in &self.binds {
            args.push("--bind".into());
            args.push(b.to_arg().into());
        }
        for t in &self.tmpfs {
            args.push("--tmpfs".into());
            args.push(t.into());
        }
        if self.overlay == Overlay::None {
            args.push("--overlay".into());
            args.push("none".into());
        }
        if self.readonly {
            args.push("--readonly".into());
        }
        if let Some((u, g)) = self.user {
            args.push("--user".into());
            args.push(format!("{u}:{g}").into());
        }
        if let Some(r) = &self.kernel_release {
            args.push("--kernel-release".into());
            args.push(r.into());
        }
        if !self.init {
            args.push("--init=false".into());
        }
        if self.strace {
            args.push("--strace".into());
        }
        match self.network {
            Network::None => {}
            Network::Host => args.extend(["--network".into(), "host".into()]),
            Network::Sandbox => args.extend(["--network".into(), "sandbox".into()]),
        }
        args.push("--debug-log-format".into());
        args.push(self.debug_log_format.as_arg().into());
        args.push("--log-level".into());
        args.push(self.log_level.as_arg().into());
        args.push("--pids-limit".into());
        args.push(self.pids_limit.to_string().into());
        if let Some(m) = self.memory {
            args.push("--memory".into());
            args.push(m.to_string().into());
        }
        if let Some(p) = &self.seccomp_profile {
            args.push("--seccomp-profile".into());
            args.push(p.into());
        }
        for u in &self.ulimit {
            args.push("--ulimit".into());
            args.push(u.to_arg().into());
        }
        if let Some(g) = &self.groups {
            let list: Vec<String> = g.0.iter().map(u32::to_string).collect();
            // `--groups=` with nothing after it: no supplementary groups.
            args.push(format!("--groups={}", list.join(",")).into());
        }
        if let Some(adj) = self.oom_score_adj {
            args.push(format!("--oom-score-adj={adj}").into());
        }
        for p in &self.masked_paths {
            args.push("--mask".into());
            args.push(p.into());
        }
        for p in &self.readonly_paths {
            args.push("--readonly-path".into());
            args.push(p.into());
        }
        for kv in &self.sysctl {
            args.push("--sysctl".into());
            args.push(kv.into());
        }
        // `--cap-drop=` with nothing after it is a valid empty list.
        for l in &self.cap_drop {
            args.push(format!("--cap-drop={}", l.to_arg()).into());
        }
        for l in &self.cap_add {
            args.push(format!("--cap-add={}", l.to_arg()).into());
        }
        for s in &self.cap_set {
            args.push(format!("--cap-set={}", s.to_arg()).into());
        }
        args.push("--".into());
        args.extend(self.argv.iter().cloned());
        args
    }
}

/// The sandbox's network.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Network {
    None,
    Host,
    Sandbox,
}

/// The debug log's format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

impl LogFormat {
    fn as_arg(self) -> &'static str {
        match self {
            LogFormat::Text => "text",
            LogFormat::Json => "json",
        }
    }
}

/// The debug log's least severe level.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogLevel {
    Error,
    Warn,
    Info,
    Debug,
    Trace,
}

impl LogLevel {
    fn as_arg(self) -> &'static str {
        match self {
            LogLevel::Error => "error",
            LogLevel::Warn => "warn",
            LogLevel::Info => "info",
            LogLevel::Debug => "debug",
            LogLevel::Trace => "trace",
        }
    }

    /// The `tracing` level.
    pub fn level(self) -> tracing::Level {
        match self {
            LogLevel::Error => tracing::Level::ERROR,
            LogLevel::Warn => tracing::Level::WARN,
            LogLevel::Info => tracing::Level::INFO,
            LogLevel::Debug => tracing::Level::DEBUG,
            LogLevel::Trace => tracing::Level::TRACE,
        }
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

    /// The CLI's working directory: the program's, when there is no
    /// `--cwd` and the sandbox has that directory.
    #[arg(long, value_name = "DIR")]
    pub caller_cwd: Option<PathBuf>,

    /// Descriptor of the OCI control socket (inherited, listening): the
    /// sandbox waits there for `start` before running the program.
    #[arg(long, value_name = "N")]
    pub control_fd: Option<i32>,

    /// Join this network namespace first (an OCI container's).
    #[arg(long, value_name = "PATH")]
    pub netns: Option<PathBuf>,

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

    /// Serve the directory read-write (default: read-only).
    #[arg(long)]
    pub read_write: bool,
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
            (o.rootfs.as_path(), o.cwd.as_deref(), o.hostname.as_str(), o.strace),
            (std::path::Path::new("/"), None, "bulwark", false)
        );
    }

    #[test]
    fn env_later_value_replaces_default_in_place() {
        let o = parse(&["bulwark", "do", "--env", "HOME=/h", "--env", "A=1", "--", "x"]);

        let env = o.environment(Some("xterm".into()));

        assert_eq!(env, [&format!("PATH={DEFAULT_PATH}"), "HOME=/h", "TERM=xterm", "A=1"]);
    }

    #[test]
    fn mount_options_parse_and_round_trip_through_the_boot_parser() {
        let o = parse(&[
            "bulwark",
            "do",
            "--bind",
            "/a:/mnt/a",
            "--bind",
            "/b:/b:ro",
            "--tmpfs",
            "/scratch",
            "--overlay",
            "none",
            "--readonly",
            "--user",
            "1000:100",
            "--",
            "x",
        ]);
        let mut argv: Vec<OsString> = vec!["bulwark".into(), "boot".into(), "--gofer-fd".into(), "3".into()];
        argv.extend(o.to_boot_args());

        let Command::Boot(b) = Cli::try_parse_from(argv).expect("valid boot line").command else {
            panic!("expected boot");
        };

        let want = vec![
            BindSpec { src: "/a".into(), dst: "/mnt/a".into(), readonly: false },
            BindSpec { src: "/b".into(), dst: "/b".into(), readonly: true },
        ];
        assert_eq!(b.opts.binds, want);
        assert_eq!(
            (b.opts.tmpfs, b.opts.overlay, b.opts.readonly, b.opts.user),
            (vec!["/scratch".to_owned()], Overlay::None, true, Some((1000, 100)))
        );
    }

    #[test]
    fn limits_default_to_podman_pids_limit_and_no_memory_limit() {
        let o = parse(&["bulwark", "do", "--", "x"]);

        assert_eq!((o.pids_max(), o.memory_max()), (Some(2048), None));
    }

    #[test]
    fn pids_limit_zero_or_minus_one_means_no_limit() {
        let zero = parse(&["bulwark", "do", "--pids-limit", "0", "--", "x"]);
        let minus_one = parse(&["bulwark", "do", "--pids-limit", "-1", "--", "x"]);

        assert_eq!((zero.pids_max(), minus_one.pids_max()), (None, None));
    }

    #[test]
    fn pids_limit_below_minus_one_is_rejected() {
        let r = Cli::try_parse_from(["bulwark", "do", "--pids-limit", "-2", "--", "x"]);

        assert!(r.is_err());
    }

    #[test]
    fn memory_takes_docker_style_suffixes() {
        let sizes = ["4096", "64k", "512m", "2G", "1gb", "0"].map(parse_bytes);

        assert_eq!(sizes, [Ok(4096), Ok(64 << 10), Ok(512 << 20), Ok(2 << 30), Ok(1 << 30), Ok(0)]);
    }

    #[test]
    fn memory_without_a_number_or_too_large_is_rejected() {
        let bad = ["m", "12x", "-5m", "99999999999999g"].map(|s| parse_bytes(s).is_err());

        assert_eq!(bad, [true; 4]);
    }

    #[test]
    fn capability_options_round_trip_through_the_boot_parser() {
        let o =
            parse(&["bulwark", "do", "--cap-drop", "ALL", "--cap-add", "NET_RAW,cap_chown", "--cap-drop=", "--", "x"]);
        let set = parse(&["bulwark", "do", "--cap-set", "bounding=KILL", "--cap-set", "ambient=", "--", "x"]);
        let boot = |o: &DoOpts| {
            let mut argv: Vec<OsString> = vec!["bulwark".into(), "boot".into(), "--gofer-fd".into(), "3".into()];
            argv.extend(o.to_boot_args());
            match Cli::try_parse_from(argv).expect("valid boot line").command {
                Command::Boot(b) => b.opts,
                other => panic!("expected boot, got {other:?}"),
            }
        };

        let (b, s) = (boot(&o), boot(&set));

        assert_eq!((b.cap_drop, b.cap_add), (o.cap_drop, o.cap_add));
        assert_eq!(s.cap_set, set.cap_set);
        assert!(Cli::try_parse_from(["bulwark", "do", "--cap-set", "bounding=KILL", "--cap-add", "KILL", "--", "x"])
            .is_err());
    }

    #[test]
    fn limits_round_trip_through_the_boot_parser() {
        let o = parse(&["bulwark", "do", "--pids-limit", "-1", "--memory", "64m", "--", "x"]);
        let mut argv: Vec<OsString> = vec!["bulwark".into(), "boot".into(), "--gofer-fd".into(), "3".into()];
        argv.extend(o.to_boot_args());

        let Command::Boot(b) = Cli::try_parse_from(argv).expect("valid boot line").command else {
            panic!("expected boot");
        };

        assert_eq!((b.opts.pids_max(), b.opts.memory_max()), (None, Some(64 << 20)));
    }

    #[test]
    fn bind_with_relative_destination_or_bad_mode_is_rejected() {
        assert!(Cli::try_parse_from(["bulwark", "do", "--bind", "/a:rel", "--", "x"]).is_err());
        assert!(Cli::try_parse_from(["bulwark", "do", "--bind", "/a:/b:rx", "--", "x"]).is_err());
        assert!(Cli::try_parse_from(["bulwark", "do", "--user", "me", "--", "x"]).is_err());
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
            "--pids-limit",
            "100",
            "--memory",
            "1g",
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
                Some("/tmp".into()),
                vec!["A=1".to_owned()],
                "h".into(),
                true,
                vec!["prog".into(), "--flag".into(), "arg".into()]
            )
        );
        assert_eq!((b.opts.pids_limit, b.opts.memory), (100, Some(1 << 30)));
    }

    #[test]
    fn every_network_mode_reaches_boot() {
        let modes = ["none", "host", "sandbox"];

        let seen = modes.map(|mode| {
            let o = parse(&["bulwark", "do", "--network", mode, "--", "prog"]);
            let mut argv: Vec<OsString> = vec!["bulwark".into(), "boot".into(), "--gofer-fd".into(), "3".into()];
            argv.extend(o.to_boot_args());
            let Command::Boot(b) = Cli::try_parse_from(argv).expect("valid boot line").command else {
                panic!("expected boot");
            };
            b.opts.network
        });

        assert_eq!(seen, [Network::None, Network::Host, Network::Sandbox]);
    }
}
