//! `bulwark boot`: the sandbox process. It isolates itself, then forks the
//! sentry as pid 1 of a fresh pid namespace and waits for it.
//!
//! Steps, in order:
//! 1. take the inherited descriptors (see [`crate::launch`]): 0-2 stdio,
//!    3 the gofer connection, 4 the debug log (optional), 5.. one gofer
//!    connection per `--bind`; close all others;
//! 2. with `--network sandbox`, take over the network namespace's
//!    interface (see [`crate::nic`]) while boot still has its capabilities;
//! 3. `unshare` new mount, ipc, uts, pid and net namespaces (plus a user
//!    namespace mapping our ids to root when we are not root; as root, no
//!    user namespace); the net namespace is dropped if unavailable, and not
//!    made with `--network host` or `sandbox`, whose sockets and interface
//!    are in the namespace boot started in;
//! 4. make every mount private, mount a small tmpfs over an existing
//!    directory (visible only in our mount namespace), `pivot_root` into it,
//!    detach the old root and remount the new one read-only: no host path is
//!    reachable from here on;
//! 5. fork: the child is pid 1 of the new pid namespace; it drops all
//!    capabilities, sets `no_new_privs` and runs the sentry; the parent waits
//!    and exits with the child's status.
//!
//! Every child here dies with its parent (`PR_SET_PDEATHSIG`), so nothing
//! outlives the CLI.

use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::{AsFd, OwnedFd, RawFd};
use std::os::unix::ffi::{OsStrExt, OsStringExt};

use anyhow::{bail, Context};
use hostsys::process::CapabilitySet;
use nix::fcntl::OFlag;
use nix::mount::MsFlags;
use nix::sched::CloneFlags;
use nix::sys::{prctl, utsname};
use nix::unistd::{ForkResult, Gid, Pid, Uid};

use crate::cli::{BootOpts, Network, Overlay};
use crate::launch::{BOOT_CONTROL_FD, BOOT_DEBUG_LOG_FD, BOOT_FIRST_BIND_FD, MAX_BINDS};

/// Run the sandbox; returns the exit status the shell should see.
pub fn run_boot(opts: BootOpts) -> anyhow::Result<i32> {
    // PR_SET_PDEATHSIG was set before exec by the CLI.
    let (gofer, debug_log) = take_fds(&opts)?;
    if let Some(file) = debug_log {
        crate::debug_log::init(file, opts.opts.debug_log_format, opts.opts.log_level);
    }
    let binds = take_bind_fds(&opts)?;
    let mut control = match opts.control_fd {
        Some(fd) if fd == BOOT_CONTROL_FD => Some(take_fd(fd).context("control socket")?),
        Some(fd) => bail!("the control socket must be descriptor {BOOT_CONTROL_FD}, not {fd}"),
        None => None,
    };
    close_others(opts.debug_log_fd.is_some(), binds.len(), control.is_some())?;
    if let Some(path) = &opts.netns {
        // An OCI container's network namespace: the sandbox's sockets and
        // interface are there.
        let ns = File::open(path).with_context(|| format!("network namespace {}", path.display()))?;
        nix::sched::setns(ns, CloneFlags::CLONE_NEWNET)
            .map_err(io::Error::from)
            .with_context(|| format!("joining the network namespace {}", path.display()))?;
    }

    // The packet socket is opened after close_others, so it stays.
    let nic = match opts.opts.network {
        Network::Sandbox => Some(crate::nic::take_over().context("--network sandbox")?),
        Network::None | Network::Host => None,
    };
    let namespaces = unshare_namespaces(matches!(opts.opts.network, Network::Host | Network::Sandbox))?;
    tracing::info!(%namespaces, "unshared namespaces");
    // Host files are out of reach after pivot_root: read the profile now.
    let app_seccomp = match &opts.opts.seccomp_profile {
        Some(p) => Some(std::fs::read_to_string(p).with_context(|| format!("seccomp profile {}", p.display()))?),
        None => None,
    };
    enter_empty_root().context("pivot_root into an empty root")?;
    crate::forward::install().context("signal handlers")?;
    // The sentry, a pid namespace's init, cannot die of a signal: it says
    // here which signal killed the program, and boot dies of it.
    let (death_r, death_w) = pipe().context("pipe")?;

    // SAFETY: boot is single-threaded (nothing here starts a thread), so the
    // child may run arbitrary code after fork.
    let pid = match unsafe { nix::unistd::fork() }.map_err(io::Error::from).context("fork")? {
        ForkResult::Parent { child } => child,
        ForkResult::Child => {
            drop(death_r);
            let code = match sentry_main(opts, Prepared { gofer, binds, nic, control: control.take(), app_seccomp }) {
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
    };
    crate::forward::to(pid.as_raw());
    drop(death_w);
    drop(gofer);
    drop(binds);
    drop(nic);
    // From here boot only waits for the sentry and passes signals on to it
    // (its own child, the same user): it needs no capability.
    hostsys::process::drop_capabilities(CapabilitySet::empty()).context("dropping capabilities")?;
    prctl::set_no_new_privs().map_err(io::Error::from).context("no_new_privs")?;
    let code = wait_for(pid)?;
    let mut sig = [0u8];
    if File::from(death_r).read(&mut sig).is_ok_and(|n| n == 1) && sig[0] > 0 {
        crate::forward::die_of(i32::from(sig[0]));
    }
    Ok(code)
}

/// A close-on-exec pipe: (read end, write end).
fn pipe() -> io::Result<(OwnedFd, OwnedFd)> {
    nix::unistd::pipe2(OFlag::O_CLOEXEC).map_err(io::Error::from)
}

/// The sentry process: pid 1 of the sandbox.
/// What boot readied for the sentry before giving up the host's view.
struct Prepared {
    gofer: OwnedFd,
    binds: Vec<OwnedFd>,
    nic: Option<sentry::Nic>,
    control: Option<OwnedFd>,
    app_seccomp: Option<String>,
}

fn sentry_main(opts: BootOpts, p: Prepared) -> anyhow::Result<sentry::TaskExit> {
    let Prepared { gofer, binds, nic, control, app_seccomp } = p;
    hostsys::process::die_with_parent().context("PR_SET_PDEATHSIG")?;
    // With `--network host` the sentry binds the program's host sockets,
    // so it keeps the one capability a root program's low ports need (the
    // sentry checks the program's own credentials first). With `--network
    // sandbox` it keeps none: its packet socket is already open.
    let keep =
        if opts.opts.network == Network::Host { CapabilitySet::NET_BIND_SERVICE } else { CapabilitySet::empty() };
    hostsys::process::drop_capabilities(keep).context("dropping capabilities")?;
    prctl::set_no_new_privs().map_err(io::Error::from).context("no_new_privs")?;
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
        gofer,
        overlay: o.overlay == Overlay::Memory,
        binds,
        tmpfs: o.tmpfs.into_iter().map(String::into_bytes).collect(),
        readonly: o.readonly,
        user: o.user,
        init: o.init,
        host_network: o.network == Network::Host,
        nic,
        control,
        app_seccomp,
        pids_limit,
        memory_limit,
        container: sentry::container::Setup {
            rlimits: o.ulimit.iter().map(|u| (u.resource, u.soft, u.hard)).collect(),
            groups: o.groups.map(|g| g.0),
            oom_score_adj: o.oom_score_adj,
            masked_paths: o.masked_paths.into_iter().map(String::into_bytes).collect(),
            readonly_paths: o.readonly_paths.into_iter().map(String::into_bytes).collect(),
            capabilities: crate::caps::sets(&o.cap_add, &o.cap_drop, &o.cap_set, o.user.map_or(0, |(u, _)| u)),
            sysctls: o
                .sysctl
                .iter()
                .filter_map(|kv| kv.split_once('=').map(|(k, v)| (k.to_owned(), v.to_owned())))
                .collect(),
        },
        stdio: [dup_fd(io::stdin(), 0)?, dup_fd(io::stdout(), 1)?, dup_fd(io::stderr(), 2)?],
    };
    sentry::run(cfg).map_err(anyhow::Error::from)
}

/// The host kernel's release (`uname -r`).
fn host_release() -> String {
    match utsname::uname() {
        Ok(u) => u.release().to_string_lossy().into_owned(),
        Err(_) => String::from_utf8_lossy(sentry::syscalls::sys::RELEASE).into_owned(),
    }
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
    // SAFETY: the CLI handed `fd` to this process for its exclusive use
    // (the table in `crate::launch`); each number is taken once, before
    // boot opens anything.
    unsafe { crate::fds::take_inherited(fd) }.with_context(|| format!("descriptor {fd}"))
}

/// A copy of inherited descriptor `fd` (number `n`) for the sentry, so that
/// boot keeps its own stderr for reporting a failure after the sentry is
/// done with the copies.
fn dup_fd(fd: impl AsFd, n: RawFd) -> anyhow::Result<OwnedFd> {
    fd.as_fd().try_clone_to_owned().with_context(|| format!("descriptor {n}"))
}

/// Close every descriptor other than the ones documented in `crate::launch`.
fn close_others(have_log: bool, binds: usize, have_control: bool) -> anyhow::Result<()> {
    let first = BOOT_FIRST_BIND_FD + i32::try_from(binds).context("too many binds")?;
    let first = u32::try_from(first).context("too many binds")?;
    let log = u32::try_from(BOOT_DEBUG_LOG_FD).context("debug log descriptor")?;
    let control = u32::try_from(BOOT_CONTROL_FD).context("control descriptor")?;
    // SAFETY: nothing in this process owns the descriptors closed: only
    // 0-3, 4 with a debug log, the binds' below `first` and the control
    // socket (above every bind's) were taken.
    unsafe {
        if !have_log {
            // Descriptor 4 was not taken without a debug log; not open is fine.
            let _ = crate::fds::close_range(log, log);
        }
        if have_control {
            if first < control {
                crate::fds::close_range(first, control - 1).context("close_range")?;
            }
            crate::fds::close_range(control + 1, u32::MAX).context("close_range")
        } else {
            crate::fds::close_range(first, u32::MAX).context("close_range")
        }
    }
}

/// Create the namespaces (all but the network namespace with
/// `keep_netns`); returns a description of what was made.
fn unshare_namespaces(keep_netns: bool) -> anyhow::Result<String> {
    let (uid, gid) = (nix::unistd::geteuid(), nix::unistd::getegid());
    let mut flags =
        CloneFlags::CLONE_NEWNS | CloneFlags::CLONE_NEWIPC | CloneFlags::CLONE_NEWUTS | CloneFlags::CLONE_NEWPID;
    let mut names = vec!["mnt", "ipc", "uts", "pid"];
    if !uid.is_root() {
        flags |= CloneFlags::CLONE_NEWUSER;
        names.push("user");
    }
    // Boot is single-threaded, as CLONE_NEWUSER requires. With
    // `--network host` the sentry's host sockets are in the namespace boot
    // started in, and with `--network sandbox` its interface is.
    if !keep_netns && nix::sched::unshare(flags | CloneFlags::CLONE_NEWNET).is_ok() {
        names.push("net");
    } else {
        nix::sched::unshare(flags).map_err(io::Error::from).context("unshare")?;
    }
    if !uid.is_root() {
        map_ids(uid, gid).context("writing uid/gid maps")?;
    }
    Ok(names.join(" "))
}

/// Unshare a user namespace alone and become root in it (for an
/// unprivileged gofer).
pub fn enter_user_namespace() -> anyhow::Result<()> {
    let (uid, gid) = (nix::unistd::geteuid(), nix::unistd::getegid());
    // The gofer is single-threaded, as CLONE_NEWUSER requires.
    nix::sched::unshare(CloneFlags::CLONE_NEWUSER).map_err(io::Error::from).context("unshare(CLONE_NEWUSER)")?;
    map_ids(uid, gid).context("writing uid/gid maps")
}

/// In a new user namespace: be root inside, our own ids outside.
fn map_ids(uid: Uid, gid: Gid) -> io::Result<()> {
    std::fs::write("/proc/self/setgroups", "deny")?;
    std::fs::write("/proc/self/uid_map", format!("0 {uid} 1"))?;
    std::fs::write("/proc/self/gid_map", format!("0 {gid} 1"))?;
    Ok(())
}

/// Mount points tried, in order, for the empty root. The tmpfs is mounted in
/// our private mount namespace only; the host directory is not changed.
const ROOT_CANDIDATES: &[&str] = &["/tmp", "/mnt", "/run", "/var/tmp"];

fn enter_empty_root() -> anyhow::Result<()> {
    hostsys::mount::make_private().map_err(io::Error::from).context("make / private")?;
    let dir = ROOT_CANDIDATES
        .iter()
        .find(|d| std::path::Path::new(d).is_dir())
        .context("no directory to mount the empty root on")?;
    let nodev = MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC;
    mount(Some("none"), dir, Some("tmpfs"), nodev, Some("size=16k,nr_inodes=4,mode=0555"))
        .with_context(|| format!("mount tmpfs on {dir}"))?;
    std::env::set_current_dir(dir).with_context(|| format!("chdir {dir}"))?;
    hostsys::mount::pivot_to_cwd().map_err(|(what, e)| anyhow::Error::from(io::Error::from(e)).context(what))?;
    mount(None, "/", None, MsFlags::MS_REMOUNT | MsFlags::MS_RDONLY | nodev, None)
        .context("remount the empty root read-only")?;
    if std::path::Path::new("/proc").exists() || std::fs::read_dir("/")?.next().is_some() {
        bail!("the empty root is not empty");
    }
    Ok(())
}

fn mount(src: Option<&str>, target: &str, fstype: Option<&str>, flags: MsFlags, data: Option<&str>) -> io::Result<()> {
    nix::mount::mount(src, target, fstype, flags, data).map_err(io::Error::from)
}

/// Wait for `pid`; its exit code, or 128+N if signal N killed it.
///
/// rustix's waitpid, as nix's decodes the status into its `Signal`, which
/// has no real-time signals: a child killed by one would be reaped and its
/// status lost to an EINVAL.
fn wait_for(pid: Pid) -> anyhow::Result<i32> {
    let pid = rustix::process::Pid::from_raw(pid.as_raw()).context("waitpid: no child")?;
    loop {
        let status = match rustix::process::waitpid(Some(pid), rustix::process::WaitOptions::empty()) {
            Ok(Some((_, status))) => status,
            Ok(None) | Err(rustix::io::Errno::INTR) => continue,
            Err(err) => return Err(io::Error::from(err)).context("waitpid"),
        };
        if let Some(code) = status.exit_status() {
            return Ok(code);
        }
        if let Some(sig) = status.terminating_signal() {
            // The program's own signals reach boot through the death pipe
            // (the sentry exits): the sentry itself dying of SIGSYS is its
            // seccomp filter's verdict on one of its host calls.
            if sig == libc::SIGSYS {
                bail!(
                    "the sentry was killed by its seccomp filter (SIGSYS): it made a host system call outside \
                     its allow-list (sentry/src/seccomp.rs); the kernel's audit log (dmesg, type=1326) names it"
                );
            }
            return Ok(128 + sig);
        }
    }
}
