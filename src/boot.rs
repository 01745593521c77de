//! `bulwark boot`: the sandbox process. It isolates itself, then forks the
//! sentry as pid 1 of a fresh pid namespace and waits for it.
//!
//! Steps, in order:
//! 1. take the inherited descriptors (see [`crate::launch`]): 0-2 stdio,
//!    3 the gofer connection, 4 the debug log (optional), 5.. one gofer
//!    connection per `--bind`; close all others;
//! 2. `unshare` new mount, ipc, uts, pid and net namespaces (plus a user
//!    namespace mapping our ids to root when we are not root; as root, no
//!    user namespace); the net namespace is dropped if unavailable;
//! 3. make every mount private, mount a small tmpfs over an existing
//!    directory (visible only in our mount namespace), `pivot_root` into it,
//!    detach the old root and remount the new one read-only: no host path is
//!    reachable from here on;
//! 4. fork: the child is pid 1 of the new pid namespace; it drops all
//!    capabilities, sets `no_new_privs` and runs the sentry; the parent waits
//!    and exits with the child's status.
//!
//! Every child here dies with its parent (`PR_SET_PDEATHSIG`), so nothing
//! outlives the CLI.

use std::ffi::CString;
use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::{FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::{OsStrExt, OsStringExt};

use anyhow::{bail, Context};

use crate::cli::{BootOpts, Overlay};
use crate::launch::{check_open, BOOT_DEBUG_LOG_FD, BOOT_FIRST_BIND_FD, MAX_BINDS};

/// Run the sandbox; returns the exit status the shell should see.
pub fn run_boot(opts: BootOpts) -> anyhow::Result<i32> {
    // PR_SET_PDEATHSIG was set before exec by the CLI.
    let (gofer, mut debug_log) = take_fds(&opts)?;
    let binds = take_bind_fds(&opts)?;
    close_others(opts.debug_log_fd.is_some(), binds.len())?;

    let namespaces = unshare_namespaces()?;
    log(&mut debug_log, &format!("namespaces: {namespaces}"));
    enter_empty_root().context("pivot_root into an empty root")?;
    crate::forward::install().context("signal handlers")?;
    // The sentry, a pid namespace's init, cannot die of a signal: it says
    // here which signal killed the program, and boot dies of it.
    let (death_r, death_w) = pipe().context("pipe")?;

    // SAFETY: boot is single-threaded (nothing here starts a thread), so the
    // child may run arbitrary code after fork.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        return Err(io::Error::last_os_error()).context("fork");
    }
    if pid == 0 {
        drop(death_r);
        let code = match sentry_main(opts, gofer, binds, debug_log) {
            Ok(sentry::TaskExit::Code(code)) => code,
            Ok(sentry::TaskExit::Signal(sig)) => {
                let _ = File::from(death_w).write_all(&[u8::try_from(sig).unwrap_or(0)]);
                128 + sig
            }
            Err(err) => {
                eprintln!("bulwark: {err:#}");
                125
            }
        };
        std::process::exit(code);
    }
    crate::forward::to(pid);
    drop(death_w);
    drop(gofer);
    drop(binds);
    drop(debug_log);
    let code = wait_for(pid)?;
    let mut sig = [0u8];
    if File::from(death_r).read(&mut sig).is_ok_and(|n| n == 1) && sig[0] > 0 {
        crate::forward::die_of(i32::from(sig[0]));
    }
    Ok(code)
}

/// A close-on-exec pipe: (read end, write end).
fn pipe() -> io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [-1; 2];
    // SAFETY: `fds` is valid for two ints of writes.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: pipe2 succeeded: both are fresh descriptors we own.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

/// The sentry process: pid 1 of the sandbox.
fn sentry_main(
    opts: BootOpts,
    gofer: OwnedFd,
    binds: Vec<OwnedFd>,
    debug_log: Option<File>,
) -> anyhow::Result<sentry::TaskExit> {
    set_pdeathsig()?;
    drop_capabilities().context("dropping capabilities")?;
    // SAFETY: prctl(PR_SET_NO_NEW_PRIVS) takes plain integers.
    if unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) } < 0 {
        return Err(io::Error::last_os_error()).context("no_new_privs");
    }
    let env = opts.opts.environment(opts.host_term.clone());
    let o = opts.opts;
    let binds = o
        .binds
        .iter()
        .zip(binds)
        .map(|(b, gofer)| sentry::Bind {
            src: b.src.as_os_str().as_bytes().to_vec(),
            dst: b.dst.clone().into_bytes(),
            readonly: b.readonly,
            gofer,
        })
        .collect();
    let (pids_limit, memory_limit) = (o.pids_max(), o.memory_max());
    let cfg = sentry::Config {
        platform: o.platform,
        argv: o.argv.iter().map(|a| a.as_bytes().to_vec()).collect(),
        envp: env.into_iter().map(String::into_bytes).collect(),
        cwd: match (o.cwd, opts.caller_cwd) {
            (Some(dir), _) => sentry::Cwd::Required(dir.into_bytes()),
            (None, Some(dir)) => sentry::Cwd::Preferred(dir.into_os_string().into_vec()),
            (None, None) => sentry::Cwd::Preferred(b"/".to_vec()),
        },
        hostname: o.hostname,
        release: Some(o.kernel_release.unwrap_or_else(host_release)),
        strace: o.strace,
        strace_out: None,
        debug_log,
        gofer,
        overlay: o.overlay == Overlay::Memory,
        binds,
        tmpfs: o.tmpfs.into_iter().map(String::into_bytes).collect(),
        readonly: o.readonly,
        user: o.user,
        init: o.init,
        pids_limit,
        memory_limit,
        stdio: [dup_fd(0)?, dup_fd(1)?, dup_fd(2)?],
    };
    sentry::run(cfg).map_err(anyhow::Error::from)
}

/// The host kernel's release (`uname -r`).
fn host_release() -> String {
    // SAFETY: utsname is plain bytes, valid zeroed; uname fills it.
    let mut u: libc::utsname = unsafe { std::mem::zeroed() };
    // SAFETY: `u` is valid for writes of one utsname.
    if unsafe { libc::uname(&mut u) } != 0 {
        return String::from_utf8_lossy(sentry::syscalls::sys::RELEASE).into_owned();
    }
    let bytes: Vec<u8> = u.release.iter().take_while(|c| **c != 0).map(|c| *c as u8).collect();
    String::from_utf8_lossy(&bytes).into_owned()
}

/// Own the inherited gofer connection and debug log.
fn take_fds(opts: &BootOpts) -> anyhow::Result<(OwnedFd, Option<File>)> {
    let gofer = take_fd(opts.gofer_fd).context("gofer connection")?;
    let log = match opts.debug_log_fd {
        Some(fd) => Some(File::from(take_fd(fd).context("debug log")?)),
        None => None,
    };
    Ok((gofer, log))
}

/// Own the inherited connections to the bind mounts' gofers.
fn take_bind_fds(opts: &BootOpts) -> anyhow::Result<Vec<OwnedFd>> {
    (BOOT_FIRST_BIND_FD..)
        .take(opts.opts.binds.len().min(MAX_BINDS))
        .map(|fd| take_fd(fd).context("bind gofer connection"))
        .collect()
}

fn take_fd(fd: RawFd) -> anyhow::Result<OwnedFd> {
    check_open(fd).with_context(|| format!("descriptor {fd}"))?;
    // SAFETY: `fd` is open (checked) and was handed to this process for its
    // exclusive use by the CLI; each number is taken once.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// A copy of inherited `fd` for the sentry, so that boot keeps its own
/// stderr for reporting a failure after the sentry is done with the copies.
fn dup_fd(fd: RawFd) -> anyhow::Result<OwnedFd> {
    // SAFETY: F_DUPFD_CLOEXEC creates a new descriptor and touches no memory.
    let new = unsafe { libc::fcntl(fd, libc::F_DUPFD_CLOEXEC, 0) };
    if new < 0 {
        return Err(io::Error::last_os_error()).with_context(|| format!("descriptor {fd}"));
    }
    // SAFETY: `new` is a fresh descriptor we own.
    Ok(unsafe { OwnedFd::from_raw_fd(new) })
}

/// Close every descriptor other than the ones documented in `crate::launch`.
fn close_others(have_log: bool, binds: usize) -> anyhow::Result<()> {
    if !have_log {
        // SAFETY: close takes a plain integer; descriptor 4 was not taken
        // without a debug log (EBADF if it is not open is fine).
        unsafe { libc::close(BOOT_DEBUG_LOG_FD) };
    }
    let first = BOOT_FIRST_BIND_FD + i32::try_from(binds).context("too many binds")?;
    // SAFETY: close_range takes plain integers; the descriptors it closes
    // are owned by nothing in this process (only 0-4 and the binds' were
    // taken).
    let r = unsafe { libc::syscall(libc::SYS_close_range, first, u32::MAX, 0) };
    if r < 0 {
        return Err(io::Error::last_os_error()).context("close_range");
    }
    Ok(())
}

/// Create the namespaces; returns a description of what was made.
fn unshare_namespaces() -> anyhow::Result<String> {
    // SAFETY: geteuid/getegid have no preconditions.
    let (uid, gid) = unsafe { (libc::geteuid(), libc::getegid()) };
    let mut flags = libc::CLONE_NEWNS | libc::CLONE_NEWIPC | libc::CLONE_NEWUTS | libc::CLONE_NEWPID;
    let mut names = vec!["mnt", "ipc", "uts", "pid"];
    if uid != 0 {
        flags |= libc::CLONE_NEWUSER;
        names.push("user");
    }
    // SAFETY: unshare takes plain integers; boot is single-threaded, as
    // CLONE_NEWUSER requires.
    if unsafe { libc::unshare(flags | libc::CLONE_NEWNET) } == 0 {
        names.push("net");
    } else if unsafe {
        // SAFETY: as above.
        libc::unshare(flags)
    } < 0
    {
        return Err(io::Error::last_os_error()).context("unshare");
    }
    if uid != 0 {
        map_ids(uid, gid).context("writing uid/gid maps")?;
    }
    Ok(names.join(" "))
}

/// Unshare a user namespace alone and become root in it (for an
/// unprivileged gofer).
pub fn enter_user_namespace() -> anyhow::Result<()> {
    // SAFETY: geteuid/getegid have no preconditions.
    let (uid, gid) = unsafe { (libc::geteuid(), libc::getegid()) };
    // SAFETY: unshare takes plain integers; the gofer is single-threaded.
    if unsafe { libc::unshare(libc::CLONE_NEWUSER) } < 0 {
        return Err(io::Error::last_os_error()).context("unshare(CLONE_NEWUSER)");
    }
    map_ids(uid, gid).context("writing uid/gid maps")
}

/// In a new user namespace: be root inside, our own ids outside.
fn map_ids(uid: libc::uid_t, gid: libc::gid_t) -> io::Result<()> {
    std::fs::write("/proc/self/setgroups", "deny")?;
    std::fs::write("/proc/self/uid_map", format!("0 {uid} 1"))?;
    std::fs::write("/proc/self/gid_map", format!("0 {gid} 1"))?;
    Ok(())
}

/// Mount points tried, in order, for the empty root. The tmpfs is mounted in
/// our private mount namespace only; the host directory is not changed.
const ROOT_CANDIDATES: &[&str] = &["/tmp", "/mnt", "/run", "/var/tmp"];

fn enter_empty_root() -> anyhow::Result<()> {
    mount(None, "/", None, libc::MS_REC | libc::MS_PRIVATE, None).context("make / private")?;
    let dir = ROOT_CANDIDATES
        .iter()
        .find(|d| std::path::Path::new(d).is_dir())
        .context("no directory to mount the empty root on")?;
    let nodev = libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC;
    mount(Some("none"), dir, Some("tmpfs"), nodev, Some("size=16k,nr_inodes=4,mode=0555"))
        .with_context(|| format!("mount tmpfs on {dir}"))?;
    std::env::set_current_dir(dir).with_context(|| format!("chdir {dir}"))?;
    // pivot_root(".", "."): the old root ends up stacked on the new one, and
    // is then detached from the current directory.
    let dot = c".";
    // SAFETY: both arguments are valid NUL-terminated strings.
    if unsafe { libc::syscall(libc::SYS_pivot_root, dot.as_ptr(), dot.as_ptr()) } < 0 {
        return Err(io::Error::last_os_error()).context("pivot_root");
    }
    // SAFETY: `dot` is a valid NUL-terminated string.
    if unsafe { libc::umount2(dot.as_ptr(), libc::MNT_DETACH) } < 0 {
        return Err(io::Error::last_os_error()).context("detach the old root");
    }
    std::env::set_current_dir("/").context("chdir /")?;
    mount(None, "/", None, libc::MS_REMOUNT | libc::MS_RDONLY | nodev, None)
        .context("remount the empty root read-only")?;
    if std::path::Path::new("/proc").exists() || std::fs::read_dir("/")?.next().is_some() {
        bail!("the empty root is not empty");
    }
    Ok(())
}

fn mount(
    src: Option<&str>,
    target: &str,
    fstype: Option<&str>,
    flags: libc::c_ulong,
    data: Option<&str>,
) -> io::Result<()> {
    let c = |s: &str| CString::new(s).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput));
    let src = src.map(c).transpose()?;
    let target = c(target)?;
    let fstype = fstype.map(c).transpose()?;
    let data = data.map(c).transpose()?;
    let ptr = |s: &Option<CString>| s.as_ref().map_or(std::ptr::null(), |s| s.as_ptr());
    // SAFETY: every pointer is null or a valid NUL-terminated string that
    // outlives the call.
    let r = unsafe { libc::mount(ptr(&src), target.as_ptr(), ptr(&fstype), flags, ptr(&data).cast()) };
    if r < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Empty the bounding, ambient, effective, permitted and inheritable sets.
fn drop_capabilities() -> io::Result<()> {
    for cap in 0..64 {
        // SAFETY: prctl takes plain integers; EINVAL past the last cap.
        if unsafe { libc::prctl(libc::PR_CAPBSET_DROP, cap, 0, 0, 0) } < 0 {
            let err = io::Error::last_os_error();
            if err.raw_os_error() == Some(libc::EINVAL) {
                break;
            }
            return Err(err);
        }
    }
    // SAFETY: prctl takes plain integers.
    unsafe { libc::prctl(libc::PR_CAP_AMBIENT, libc::PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) };
    #[repr(C)]
    struct Header {
        version: u32,
        pid: i32,
    }
    #[repr(C)]
    #[derive(Clone, Copy)]
    struct Data {
        effective: u32,
        permitted: u32,
        inheritable: u32,
    }
    const LINUX_CAPABILITY_VERSION_3: u32 = 0x2008_0522;
    let header = Header { version: LINUX_CAPABILITY_VERSION_3, pid: 0 };
    let data = [Data { effective: 0, permitted: 0, inheritable: 0 }; 2];
    // SAFETY: header and data are laid out as the kernel's v3 structures
    // and valid for the duration of the call.
    if unsafe { libc::syscall(libc::SYS_capset, &header, data.as_ptr()) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

fn set_pdeathsig() -> anyhow::Result<()> {
    // SAFETY: prctl(PR_SET_PDEATHSIG) takes plain integers.
    if unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) } < 0 {
        return Err(io::Error::last_os_error()).context("PR_SET_PDEATHSIG");
    }
    Ok(())
}

/// Wait for `pid`; its exit code, or 128+N if signal N killed it.
fn wait_for(pid: libc::pid_t) -> anyhow::Result<i32> {
    loop {
        let mut status = 0;
        // SAFETY: `status` is valid for writes for the call.
        let r = unsafe { libc::waitpid(pid, &mut status, 0) };
        if r < 0 {
            let err = io::Error::last_os_error();
            if err.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return Err(err).context("waitpid");
        }
        if libc::WIFEXITED(status) {
            return Ok(libc::WEXITSTATUS(status));
        }
        if libc::WIFSIGNALED(status) {
            return Ok(128 + libc::WTERMSIG(status));
        }
    }
}

fn log(out: &mut Option<File>, line: &str) {
    if let Some(f) = out {
        let _ = writeln!(f, "bulwark: boot: {line}");
    }
}
