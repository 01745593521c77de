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
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::Path;
use std::process::{Child, Command, Stdio};

use anyhow::{bail, Context};

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
/// Descriptors passed to children are first moved at or above this, so that
/// `dup2` onto 3, 4, 5... in the child never clobbers one another.
const HIGH_FD: RawFd = 100;

/// Run `bulwark do`: returns the exit status the shell should see.
pub fn run_do(opts: &DoOpts) -> anyhow::Result<i32> {
    let rootfs = opts.rootfs.canonicalize().with_context(|| format!("rootfs {}", opts.rootfs.display()))?;
    if !rootfs.is_dir() {
        bail!("rootfs {} is not a directory", rootfs.display());
    }
    let debug_log = match &opts.debug_log {
        Some(path) => Some(
            OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .with_context(|| format!("debug log {}", path.display()))?,
        ),
        None => None,
    };
    if opts.binds.len() > MAX_BINDS {
        bail!("at most {MAX_BINDS} --bind options");
    }
    let debug_log = debug_log.map(|f| above(f.as_raw_fd())).transpose()?;
    let exe = Path::new("/proc/self/exe");
    let mut gofers = Vec::new();
    let root_rw = opts.overlay == Overlay::None && !opts.readonly;
    let started = start_gofer(exe, &rootfs, root_rw, &mut gofers);
    let mut bind_ends = Vec::new();
    let started = started.and_then(|sandbox_end| {
        for b in &opts.binds {
            let src = b.src.canonicalize().with_context(|| format!("bind source {}", b.src.display()))?;
            if !src.is_dir() {
                bail!("bind source {} is not a directory (binding a single file is not supported)", src.display());
            }
            bind_ends.push(start_gofer(exe, &src, !b.readonly, &mut gofers)?);
        }
        Ok(sandbox_end)
    });
    let status = started.and_then(|sandbox_end| {
        crate::forward::install().context("signal handlers")?;
        let boot = spawn_boot(exe, opts, &sandbox_end, debug_log.as_ref(), &bind_ends);
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

/// Start a gofer serving `root` (read-write if `rw`), pushing it on
/// `gofers`; returns the sandbox's end of its connection.
fn start_gofer(exe: &Path, root: &Path, rw: bool, gofers: &mut Vec<Child>) -> anyhow::Result<OwnedFd> {
    let (sandbox_end, gofer_end) = seqpacket_pair()?;
    let sandbox_end = above(sandbox_end.as_raw_fd())?;
    let gofer_end = above(gofer_end.as_raw_fd())?;
    gofers.push(spawn_gofer(exe, root, rw, &gofer_end)?);
    Ok(sandbox_end)
}

fn spawn_gofer(exe: &Path, rootfs: &Path, rw: bool, sock: &OwnedFd) -> anyhow::Result<Child> {
    let fd = sock.as_raw_fd();
    let mut cmd = Command::new(exe);
    cmd.arg("gofer").arg("--root").arg(rootfs).arg("--fd").arg(fd.to_string());
    if rw {
        cmd.arg("--read-write");
    }
    cmd.env_clear().stdin(Stdio::null()).stdout(Stdio::null());
    // SAFETY: the closure makes only async-signal-safe system calls (prctl,
    // setpgid, fcntl) and allocates nothing.
    unsafe {
        cmd.pre_exec(move || {
            die_with_parent()?;
            own_process_group()?;
            clear_cloexec(fd)
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
) -> anyhow::Result<Child> {
    let sock_fd = sock.as_raw_fd();
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
    cmd.args(opts.to_boot_args()).env_clear();
    // SAFETY: the closure makes only async-signal-safe system calls (prctl,
    // dup2) and allocates nothing (`bind_fds` is moved in, built before
    // fork). Every source is >= HIGH_FD and every target below it, so no
    // dup2 overwrites another's source.
    unsafe {
        cmd.pre_exec(move || {
            die_with_parent()?;
            dup_onto(sock_fd, BOOT_GOFER_FD)?;
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
    check_open(opts.fd).context("gofer connection")?;
    // SAFETY: `opts.fd` is open (checked above) and owned by nobody else in
    // this process.
    let sock = unsafe { OwnedFd::from_raw_fd(opts.fd) };
    close_all_but(opts.fd).context("closing inherited descriptors")?;
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
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
    let mut ranges = vec![(keep + 1, u32::MAX)];
    if keep > 3 {
        ranges.push((3, keep - 1));
    }
    for (first, last) in ranges {
        // SAFETY: close_range takes plain integers; nothing in this process
        // owns the descriptors it closes.
        if unsafe { libc::syscall(libc::SYS_close_range, first, last, 0) } < 0 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(())
}

/// Fail with `EBADF` unless `fd` is an open descriptor.
pub fn check_open(fd: RawFd) -> io::Result<()> {
    // SAFETY: F_GETFD only inspects the descriptor table.
    if unsafe { libc::fcntl(fd, libc::F_GETFD) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

fn seqpacket_pair() -> io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [-1; 2];
    // SAFETY: `fds` is valid for two ints of writes.
    let r = unsafe { libc::socketpair(libc::AF_UNIX, libc::SOCK_SEQPACKET | libc::SOCK_CLOEXEC, 0, fds.as_mut_ptr()) };
    if r < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: socketpair succeeded, so both are fresh descriptors we own.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

/// A close-on-exec duplicate of `fd` numbered at least `HIGH_FD` (the
/// original is closed by its owner's drop).
fn above(fd: RawFd) -> io::Result<OwnedFd> {
    // SAFETY: F_DUPFD_CLOEXEC creates a new descriptor and touches no memory.
    let new = unsafe { libc::fcntl(fd, libc::F_DUPFD_CLOEXEC, HIGH_FD) };
    if new < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `new` is a fresh descriptor we own.
    Ok(unsafe { OwnedFd::from_raw_fd(new) })
}

/// Be killed when the parent (the CLI) goes away. Async-signal-safe.
fn die_with_parent() -> io::Result<()> {
    // SAFETY: prctl(PR_SET_PDEATHSIG) takes plain integers.
    if unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// A process group of our own, so that the host terminal's signals (^C)
/// do not reach us; an error message written to the terminal from this
/// background group is not stopped by SIGTTOU (`stty tostop`).
/// Async-signal-safe.
fn own_process_group() -> io::Result<()> {
    // SAFETY: setpgid and signal take plain integers.
    if unsafe { libc::setpgid(0, 0) } < 0 || unsafe { libc::signal(libc::SIGTTOU, libc::SIG_IGN) } == libc::SIG_ERR {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Let `fd` survive exec. Async-signal-safe.
fn clear_cloexec(fd: RawFd) -> io::Result<()> {
    // SAFETY: F_SETFD takes plain integers.
    if unsafe { libc::fcntl(fd, libc::F_SETFD, 0) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// `dup2(from, to)`; the copy survives exec. Async-signal-safe.
fn dup_onto(from: RawFd, to: RawFd) -> io::Result<()> {
    // SAFETY: dup2 takes plain integers.
    if unsafe { libc::dup2(from, to) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}
