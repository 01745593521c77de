//! The sentry: bulwark's application kernel.
//!
//! It runs the application's threads on a [`platform::Platform`], carries
//! out every system call itself, keeps the application's memory in one
//! MemoryFile, and reaches host files only through the gofer.
//!
//! Unsafe code is denied here except in four modules, each saying why:
//! the host layer (`host`), the MemoryFile mapping (`mm::memfile`), the
//! waiter (`kernel::waiter`) and the host signal dispositions
//! (`kernel::host_signals`).

#![deny(unsafe_code)]

use std::fs::File;
use std::os::fd::OwnedFd;

pub mod caps;
pub mod fs;
pub mod fuzzing;
mod host;
pub mod kernel;
pub mod loader;
pub mod mm;
pub mod net;
mod seccomp;

pub mod container;
pub mod control;
mod startup;
pub mod syscalls;
pub mod vfs;

/// How the sandbox is set up for one run of `bulwark do` (or an OCI start).
pub struct Config {
    /// `ptrace` (more later).
    pub platform: String,
    /// The program and its arguments; `argv[0]` is looked up in the
    /// sandbox's `PATH` when it has no `/`.
    pub argv: Vec<Vec<u8>>,
    /// The environment, `K=V` each.
    pub envp: Vec<Vec<u8>>,
    /// The working directory inside the sandbox.
    pub cwd: Cwd,
    /// What `uname` and `/proc/sys/kernel/hostname` say.
    pub hostname: String,
    /// The kernel release `uname -r` reports (`None`: bulwark's own).
    pub release: Option<String>,
    /// Print every system call to `strace_out`.
    pub strace: bool,
    /// Where `--strace` lines go (the sandbox's own stderr by default).
    pub strace_out: Option<File>,
    /// The `SOCK_SEQPACKET` connection to the gofer serving the root.
    pub gofer: OwnedFd,
    /// Whether the root is the gofer's read-only view under an in-memory
    /// upper layer (true), or the gofer's view itself, written through to
    /// the host (false; the gofer must then serve it read-write).
    pub overlay: bool,
    /// Host directories and files mounted in the sandbox, each served by
    /// its own gofer, mounted in order after the sentry's own `/dev`, `/proc`, `/tmp`.
    pub binds: Vec<Bind>,
    /// Where to mount fresh tmpfs instances (mode 1777), after the binds.
    pub tmpfs: Vec<Vec<u8>>,
    /// The root mount is read-only (`EROFS`); other mounts are unaffected.
    pub readonly: bool,
    /// Run the program with these uid and gid (every id, and the only
    /// supplementary group) instead of root.
    pub user: Option<(u32, u32)>,
    /// Run the program as pid 2 under the sandbox's own init (pid 1: reaps
    /// orphans, ends the sandbox with the program's status), as `docker run
    /// --init`; without, the program is pid 1 with init's signal semantics.
    pub init: bool,
    /// `--network host`: Internet and netlink sockets are host sockets.
    pub host_network: bool,
    /// `--network sandbox`: the interface the user-space TCP/IP stack runs
    /// on (taken over from the host kernel by boot).
    pub nic: Option<net::Nic>,
    /// OCI `create`: a listening Unix socket on which the sandbox waits for
    /// `start` before running the program (see [`control`]), and answers
    /// the runtime's later requests.
    pub control: Option<OwnedFd>,
    /// The application's own seccomp profile, in the text form of
    /// [`syscalls::filter::AppFilter::parse`], enforced on every call.
    pub app_seccomp: Option<String>,
    /// Most tasks (threads) the sandbox may hold; `None`: no limit.
    pub pids_limit: Option<u64>,
    /// Most bytes of application memory (MemoryFile pages) the sandbox
    /// may hold; `None`: no limit.
    pub memory_limit: Option<u64>,
    /// An OCI config's limits, groups and masked and read-only paths
    /// (`container::Setup::default()` for none).
    pub container: container::Setup,
    /// Standard input, output and error of the application: host
    /// descriptors donated by the CLI.
    pub stdio: [OwnedFd; 3],
}

/// The program's working directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cwd {
    /// Asked for (`--cwd`): the sandbox fails to start without it.
    Required(Vec<u8>),
    /// The caller's: used when the sandbox has it, else `/`.
    Preferred(Vec<u8>),
}

/// A host directory, or a single host file, mounted in the sandbox.
pub struct Bind {
    /// The host path, shown as the mount's source in `/proc/mounts` (the
    /// sentry never opens it).
    pub src: Vec<u8>,
    /// The absolute path of the mount point in the sandbox (made if
    /// missing: a directory, or an empty file when the gofer serves a file).
    pub dst: Vec<u8>,
    /// Mounted read-only (the gofer should serve it read-only too).
    pub readonly: bool,
    /// The `SOCK_SEQPACKET` connection to the gofer serving `src`.
    pub gofer: OwnedFd,
}

/// What broke the sandbox itself (never an application's doing).
#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    #[error("platform: {0}")]
    Platform(#[from] platform::Error),
    #[error("gofer: {0}")]
    Gofer(String),
    #[error("cannot start {program}: {err}")]
    Exec { program: String, err: abi::Errno },
    #[error("working directory {dir}: {}", err.message())]
    Cwd { dir: String, err: abi::Errno },
    #[error("host call {call} failed: {err}")]
    Host { call: &'static str, err: std::io::Error },
    #[error("{0}")]
    Config(String),
}

pub use kernel::TaskExit;
pub use net::Nic;
pub use startup::run;
