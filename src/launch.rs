//! `bulwark do`: start the gofer and the sandbox (`bulwark boot`) as
//! re-executions of this binary, connected by a `SOCK_SEQPACKET` pair, and
//! wait for the sandbox.
//!
//! Descriptors the sandbox (`bulwark boot`) starts with:
//!
//! | fd | what                                                   |
//! |----|--------------------------------------------------------|
//! | 0-2| the CLI's stdin, stdout, stderr (donated to the app)  |
//! | 3  | the sandbox end of the root gofer's connection         |
//! | 4  | the debug log, opened for append (only with `--debug-log`) |
//! | 5+i| the sandbox end of the connection to the gofer serving the i-th `--bind` (i from 0, in command-line order) |
//!
//! Each gofer (one for the root, one per `--bind` source) starts with its
//! stdio, and its end of the connection at the number named by `--fd`. The
//! root's gofer serves read-write only with `--overlay none` (and not
//! `--readonly`); a bind's, unless the bind is `:ro`.

use std::fs::OpenOptions;
use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use anyhow::{bail, Context};
use nix::fcntl::{FcntlArg, FdFlag};
use nix::sys::signal::{SigHandler, Signal};

use crate::cli::{DoOpts, GoferOpts, Overlay};

/// Where the sandbox finds the gofer connection.
pub const BOOT_GOFER_FD: RawFd = 3;
/// Where the sandbox finds the debug log, if any.
pub const BOOT_DEBUG_LOG_FD: RawFd = 4;
/// Where the sandbox finds the gofer of the first `--bind` (the i-th at
/// `BOOT_FIRST_BIND_FD + i`).
pub const BOOT_FIRST_BIND_FD: RawFd = 5;
/// At most this many `--bind`s, so that their numbers stay below `HIGH_FD`.
pub const MAX_BINDS: usize = 64;
/// Where a detached sandbox (OCI `create`) finds its control socket: just
/// above the last bind's number.
pub const BOOT_CONTROL_FD: RawFd = BOOT_FIRST_BIND_FD + MAX_BINDS as RawFd;
/// Descriptors passed to children are first moved at or above this, so that
/// `dup2` onto 3, 4, 5... in the child never clobbers one another.
const HIGH_FD: RawFd = 100;

/// Run `bulwark do`: returns the exit status the shell should see.
pub fn run_do(opts: &DoOpts) -> anyhow::Result<i32> {
    let (rootfs, debug_log) = prepare(opts)?;
    let exe = Path::new("/proc/self/exe");
    let mut gofers = Vec::new();
    let started = start_gofers(exe, opts, &rootfs, false, &mut gofers);
    let status = started.and_then(|(sandbox_end, bind_ends)| {
        crate::forward::install().context("signal handlers")?;
        let boot = spawn_boot(exe, opts, &sandbox_end, debug_log.as_ref(), &bind_ends, None);
        drop(sandbox_end);
        drop(bind_ends);
        drop(debug_log);
        boot.and_then(|mut boot| {
            crate::forward::to(i32::try_from(boot.id()).unwrap_or(0));
            boot.wait().context("waiting for the sandbox")
        })
    });

    // Each gofer ends by itself when the sandbox's end closes; make sure.
    for mut gofer in gofers {
        let _ = gofer.kill();
        let _ = gofer.wait();
    }

    let status = status?;
    if let Some(sig) = status.signal() {
        // The program died of `sig` (boot died of it in turn): so do we.
        crate::forward::die_of(sig);
    }
    Ok(status.code().unwrap_or(125))
}

/// A sandbox that outlives the CLI (OCI `create`): neither it nor its
/// gofers die with the CLI, and it waits on `control` for `start`.
pub struct Detached {
    /// A listening Unix socket (see `sentry::control`).
    pub control: OwnedFd,
    /// The network namespace the sandbox joins first.
    pub netns: Option<PathBuf>,
}

/// What a sandbox for `opts` starts from: the canonical rootfs, and the
/// debug log opened for append (numbered at least `HIGH_FD`).
fn prepare(opts: &DoOpts) -> anyhow::Result<(PathBuf, Option<OwnedFd>)> {
    let rootfs = opts.rootfs.canonicalize().with_context(|| format!("rootfs {}", opts.rootfs.display()))?;
    if !rootfs.is_dir() {
        bail!("rootfs {} is not a directory", rootfs.display());
    }
    if opts.binds.len() > MAX_BINDS {
        bail!("at most {MAX_BINDS} --bind options");
    }
    let debug_log = match &opts.debug_log {
        Some(path) => Some(above(
            OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .with_context(|| format!("debug log {}", path.display()))?,
        )?),
        None => None,
    };
    Ok((rootfs, debug_log))
}

/// Start the gofers and the sandbox for `opts` without waiting for them
/// (OCI `create`); the sandbox's stdio are this process's. Returns the
/// sandbox's (boot's) host pid.
pub fn spawn_detached(opts: &DoOpts, d: &Detached) -> anyhow::Result<u32> {
    let (rootfs, debug_log) = prepare(opts)?;
    // The control socket may have any number, 3 say, which boot's dup2s
    // onto 3, 4, 5... would clobber: it is moved up like the others.
    let d = &Detached { control: above(d.control.try_clone().context("control socket")?)?, netns: d.netns.clone() };
    let exe = Path::new("/proc/self/exe");
    let mut gofers = Vec::new();
    let started = start_gofers(exe, opts, &rootfs, true, &mut gofers).and_then(|(sandbox_end, bind_ends)| {
        spawn_boot(exe, opts, &sandbox_end, debug_log.as_ref(), &bind_ends, Some(d))
    });
    match started {
        // The gofers end by themselves when the sandbox's ends close.
        Ok(boot) => Ok(boot.id()),
        Err(e) => {
            for mut gofer in gofers {
                let _ = gofer.kill();
                let _ = gofer.wait();
            }
            Err(e)
        }
    }
}

/// Start the gofers of `opts`: the root's, then one per `--bind`, pushing
/// them on `gofers`; returns the sandbox's ends of their connections (the
/// root's, the binds').
fn start_gofers(
    exe: &Path,
    opts: &DoOpts,
    rootfs: &Path,
    detached: bool,
    gofers: &mut Vec<Child>,
) -> anyhow::Result<(OwnedFd, Vec<OwnedFd>)> {
    let root_rw = opts.overlay == Overlay::None && !opts.readonly;
    let sandbox_end = start_gofer(exe, rootfs, root_rw, detached, gofers)?;
    let mut bind_ends = Vec::new();
    for b in &opts.binds {
        let src = b.src.canonicalize().with_context(|| format!("bind source {}", b.src.display()))?;
        if !src.is_dir() && !src.is_file() {
            bail!("bind source {} is neither a directory nor a regular file", src.display());
        }
        bind_ends.push(start_gofer(exe, &src, !b.readonly, detached, gofers)?);
    }
    Ok((sandbox_end, bind_ends))
}

/// Start a gofer serving `root` (read-write if `rw`), pushing it on
/// `gofers`; returns the sandbox's end of its connection.
fn start_gofer(exe: &Path, root: &Path, rw: bool, detached: bool, gofers: &mut Vec<Child>) -> anyhow::Result<OwnedFd> {
    let (sandbox_end, gofer_end) = hostsys::socket::seqpacket_pair()?;
    let sandbox_end = above(sandbox_end)?;
    let gofer_end = above(gofer_end)?;
    gofers.push(spawn_gofer(exe, root, rw, detached, &gofer_end)?);
    Ok(sandbox_end)
}

fn spawn_gofer(exe: &Path, rootfs: &Path, rw: bool, detached: bool, sock: &OwnedFd) -> anyhow::Result<Child> {
    let fd = sock.as_raw_fd();
    let mut cmd = Command::new(exe);
    cmd.arg("gofer").arg("--root").arg(rootfs).arg("--fd").arg(fd.to_string());
    if rw {
        cmd.arg("--read-write");
    }
    // A process group of its own, so that the host terminal's signals (^C)
    // do not reach the gofer.
    cmd.env_clear().stdin(Stdio::null()).stdout(Stdio::null()).process_group(0);
    // SAFETY: the closure runs in the forked child of a process that may
    // have other threads, so it stays async-signal-safe: it makes three
    // system calls through wrappers that allocate nothing (hostsys's prctl,
    // nix's signal and fcntl), and its errors are `io::Error`s from an
    // errno, which do not allocate either. The signal call sets SIGTTOU to
    // be ignored, so an error message written to the terminal from the
    // gofer's background group is not stopped (`stty tostop`); it installs
    // no handler. `fd` is open in the child: the parent holds `sock` until
    // spawn returns, and the child has a copy of its descriptor table.
    unsafe {
        cmd.pre_exec(move || {
            if !detached {
                hostsys::process::die_with_parent()?;
            }
            nix::sys::signal::signal(Signal::SIGTTOU, SigHandler::SigIgn)?;
            // Let `fd` survive exec.
            nix::fcntl::fcntl(BorrowedFd::borrow_raw(fd), FcntlArg::F_SETFD(FdFlag::empty()))?;
            Ok(())
        });
    }
    cmd.spawn().context("starting the gofer")
}

fn spawn_boot(
    exe: &Path,
    opts: &DoOpts,
    sock: &OwnedFd,
    debug_log: Option<&OwnedFd>,
    binds: &[OwnedFd],
    detached: Option<&Detached>,
) -> anyhow::Result<Child> {
    let sock_fd = sock.as_raw_fd();
    let control_fd = detached.map(|d| d.control.as_raw_fd());
    let log_fd = debug_log.map(AsRawFd::as_raw_fd);
    let bind_fds: Vec<RawFd> = binds.iter().map(AsRawFd::as_raw_fd).collect();
    let mut cmd = Command::new(exe);
    cmd.arg("boot").arg("--gofer-fd").arg(BOOT_GOFER_FD.to_string());
    if log_fd.is_some() {
        cmd.arg("--debug-log-fd").arg(BOOT_DEBUG_LOG_FD.to_string());
    }
    if let Ok(term) = std::env::var("TERM") {
        cmd.arg("--host-term").arg(term);
    }
    // The caller's directory is the program's by default (as `runsc do`),
    // with the host's root only: another rootfs has other paths.
    if opts.cwd.is_none() && opts.rootfs.canonicalize().is_ok_and(|r| r == Path::new("/")) {
        if let Ok(dir) = std::env::current_dir() {
            cmd.arg("--caller-cwd").arg(dir);
        }
    }
    if let Some(d) = detached {
        cmd.arg("--control-fd").arg(BOOT_CONTROL_FD.to_string());
        if let Some(ns) = &d.netns {
            cmd.arg("--netns").arg(ns);
        }
    }
    cmd.args(opts.to_boot_args()).env_clear();
    // Debug builds only: the sentry's seccomp hooks (sentry/src/seccomp.rs).
    if cfg!(debug_assertions) {
        for name in ["BULWARK_DEBUG_FORBIDDEN_SYSCALL", "BULWARK_DEBUG_SECCOMP_LOG"] {
            if let Some(v) = std::env::var_os(name) {
                cmd.env(name, v);
            }
        }
    }
    // SAFETY: the closure runs in the forked child of a process that may
    // have other threads, so it stays async-signal-safe: it makes only
    // prctl (hostsys, no allocation) and dup2 calls, and allocates nothing
    // (`bind_fds` is moved in, built before fork; an `io::Error` from an
    // errno does not allocate). dup2 is raw libc: nix's and rustix's take
    // the target as an `OwnedFd`, and the targets are the fixed numbers 3,
    // 4, 5... What the child has there is close-on-exec and replaced
    // unread: the parent's own descriptors, and std's socket for reporting
    // a failed exec, whose report would then be lost. Every source is open
    // (the parent holds them until spawn returns) and >= HIGH_FD, every
    // target below it, so no dup2 overwrites another's source. The copies
    // survive exec: dup2 does not copy close-on-exec.
    unsafe {
        cmd.pre_exec(move || {
            let dup_onto = |from: RawFd, to: RawFd| {
                if libc::dup2(from, to) < 0 {
                    return Err(io::Error::last_os_error());
                }
                Ok(())
            };
            if control_fd.is_none() {
                hostsys::process::die_with_parent()?;
            }
            dup_onto(sock_fd, BOOT_GOFER_FD)?;
            if let Some(fd) = control_fd {
                dup_onto(fd, BOOT_CONTROL_FD)?;
            }
            if let Some(fd) = log_fd {
                dup_onto(fd, BOOT_DEBUG_LOG_FD)?;
            }
            for (target, fd) in (BOOT_FIRST_BIND_FD..).zip(bind_fds.iter()) {
                dup_onto(*fd, target)?;
            }
            Ok(())
        });
    }
    cmd.spawn().context("starting the sandbox")
}

/// `bulwark gofer`: serve the root until the sandbox hangs up.
pub fn run_gofer(opts: &GoferOpts) -> anyhow::Result<()> {
    // SAFETY: the CLI handed `opts.fd` to this process for its exclusive
    // use; it is taken once, before the gofer opens anything.
    let sock = unsafe { crate::fds::take_inherited(opts.fd) }.context("gofer connection")?;
    close_all_but(opts.fd).context("closing inherited descriptors")?;
    if !nix::unistd::geteuid().is_root() {
        // The jail needs CAP_SYS_ADMIN: take it in a user namespace of our own.
        crate::boot::enter_user_namespace().context("gofer user namespace")?;
    }
    gofer_server(&opts.root, sock, opts.read_write).context("gofer")
}

/// Which gofer serves the root.
fn gofer_server(root: &Path, sock: OwnedFd, rw: bool) -> io::Result<()> {
    gofer::server::run_with(root, sock, gofer::server::Options { read_only: !rw })
}

/// Close every descriptor from 3 up, except `keep`.
fn close_all_but(keep: RawFd) -> io::Result<()> {
    let keep = u32::try_from(keep).map_err(|_| io::Error::from_raw_os_error(libc::EBADF))?;
    // SAFETY: nothing in this process owns the descriptors closed: only
    // stdio and `keep` were taken.
    unsafe {
        crate::fds::close_range(keep + 1, u32::MAX)?;
        if keep > 3 {
            crate::fds::close_range(3, keep - 1)?;
        }
    }
    Ok(())
}

/// A close-on-exec duplicate of `fd` numbered at least `HIGH_FD`; `fd`
/// itself is closed. rustix, as nix's fcntl returns the new descriptor as
/// a bare number, which only unsafe code could own.
fn above(fd: impl Into<OwnedFd>) -> io::Result<OwnedFd> {
    rustix::io::fcntl_dupfd_cloexec(fd.into(), HIGH_FD).map_err(io::Error::from)
}
