//! Signals the host sends the sandbox, turned into the sandbox's own.
//!
//! Two kinds reach the sentry process:
//! - the host terminal's (`^C`, `^\`, `^Z`, a window size change, a hang-up),
//!   which the host kernel sends to its foreground process group (the CLI,
//!   boot and the sentry; gofers and stubs have groups of their own) with
//!   `si_code` `SI_KERNEL`. They go to the sandbox terminal's foreground
//!   process group, as the terminal would send them natively.
//! - `kill` of `bulwark do` (or of boot), passed on by each as `SI_USER`:
//!   they go to the program (pid 2 under the sandbox's init, else pid 1),
//!   as `docker run --init` passes them to its child.
//!
//! When the program itself stops (`^Z` on a program that is not a shell),
//! the host job stops too, as natively: the sentry stops its host process
//! group (the CLI and boot; the sentry, a pid namespace's init, ignores its
//! own SIGSTOP), so the caller's shell gets its terminal back, and the
//! SIGCONT of the shell's `fg` continues the program's process group.
//!
//! The sentry blocks them in every thread and reads them from a signalfd in
//! a thread of its own. A handler (which never runs) is installed for each:
//! the sentry is the init of a host pid namespace, and Linux drops signals
//! to such an init that have no handler.

#![allow(unsafe_code)]

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::sync::atomic::Ordering;
use std::sync::Arc;

use super::{signal, Kernel};

/// The signals passed on to the sandbox.
pub const FORWARDED: [i32; 8] = [
    libc::SIGHUP,
    libc::SIGINT,
    libc::SIGQUIT,
    libc::SIGTERM,
    libc::SIGUSR1,
    libc::SIGUSR2,
    libc::SIGWINCH,
    libc::SIGTSTP,
];

extern "C" fn never_runs(_sig: libc::c_int) {}

/// Install handlers for [`FORWARDED`], block them in the calling thread
/// (and so in every thread it starts later) and return a signalfd that
/// reads them. Call before any other thread exists. The sentry's own reads
/// and writes of a host terminal in a background job get `EIO` rather than
/// stopping the sentry (SIGTTIN and SIGTTOU are ignored).
pub fn take() -> io::Result<OwnedFd> {
    // SAFETY: `set` is a valid sigset_t for each call; sigaction gets a
    // zeroed, then filled, struct whose handler is a valid extern "C" fn;
    // signal(SIG_IGN) takes plain integers.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        for sig in FORWARDED.into_iter().chain([libc::SIGCONT]) {
            libc::sigaddset(&mut set, sig);
            let mut act: libc::sigaction = std::mem::zeroed();
            act.sa_sigaction = never_runs as extern "C" fn(libc::c_int) as usize;
            libc::sigemptyset(&mut act.sa_mask);
            if libc::sigaction(sig, &act, std::ptr::null_mut()) != 0 {
                return Err(io::Error::last_os_error());
            }
        }
        libc::signal(libc::SIGTTIN, libc::SIG_IGN);
        libc::signal(libc::SIGTTOU, libc::SIG_IGN);
        if libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut()) != 0 {
            return Err(io::Error::last_os_error());
        }
        let fd = libc::signalfd(-1, &set, libc::SFD_CLOEXEC);
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(OwnedFd::from_raw_fd(fd))
    }
}

/// Ignore `SIGPIPE` in the sentry, whose writes to a closed pipe then
/// fail with `EPIPE`.
pub fn ignore_sigpipe() {
    // SAFETY: SIG_IGN is not a handler: no code runs on the signal.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_IGN);
    }
}

/// Serve the signalfd from [`take`] on a thread of its own, for as long as
/// the sandbox runs.
pub fn start(k: &Arc<Kernel>, fd: OwnedFd) -> io::Result<()> {
    let k = Arc::downgrade(k);
    std::thread::Builder::new().name("host-signals".into()).spawn(move || loop {
        let mut info: libc::signalfd_siginfo =
            // SAFETY: signalfd_siginfo is plain integers; all zeroes is valid.
            unsafe { std::mem::zeroed() };
        let size = std::mem::size_of::<libc::signalfd_siginfo>();
        // SAFETY: `info` is valid for `size` bytes of writes; the fd is open.
        let n = unsafe { libc::read(fd.as_raw_fd(), (&mut info as *mut libc::signalfd_siginfo).cast(), size) };
        if n < 0 && io::Error::last_os_error().kind() == io::ErrorKind::Interrupted {
            continue;
        }
        if usize::try_from(n).ok() != Some(size) {
            return;
        }
        let Some(k) = k.upgrade() else { return };
        if k.shutdown.load(Ordering::Relaxed) {
            return;
        }
        deliver(&k, info.ssi_signo, info.ssi_code);
    })?;
    Ok(())
}

/// Send host signal `sig` (with host `si_code` `code`) on inside.
pub fn deliver(k: &Kernel, sig: u32, code: i32) {
    if sig == libc::SIGCONT as u32 {
        // The host job was continued (`fg`, `bg`): so is the program's group.
        if let Some(main) = k.process(k.main_pid.load(Ordering::Relaxed)) {
            k.signal_group(main.pgid.load(Ordering::Relaxed), signal::info(sig, signal::SI_USER));
        }
        return;
    }
    if code == signal::SI_KERNEL {
        k.signal_group(k.tty_pgrp.load(Ordering::Relaxed), signal::info(sig, signal::SI_KERNEL));
        return;
    }
    if let Some(p) = k.process(k.main_pid.load(Ordering::Relaxed)) {
        k.signal_process(&p, signal::info(sig, signal::SI_USER));
    }
}

/// The program has stopped: stop the host job it runs in, when that job is
/// the foreground job of the terminal the sandbox was given as stdin (never
/// a process group that is not a terminal's job, such as a test runner's).
pub fn program_stopped(k: &Kernel) {
    let Some(tty) = k.host_tty.get() else { return };
    let foreground = nix::unistd::tcgetpgrp(tty).is_ok_and(|g| g == nix::unistd::getpgrp());
    if foreground {
        let _ = nix::sys::signal::killpg(nix::unistd::getpgrp(), nix::sys::signal::Signal::SIGSTOP);
    }
}
