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

use std::io;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use nix::sys::signal::{SigSet, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};

use super::{signal, Kernel};

/// The signals passed on to the sandbox.
pub const FORWARDED: [Signal; 8] = [
    Signal::SIGHUP,
    Signal::SIGINT,
    Signal::SIGQUIT,
    Signal::SIGTERM,
    Signal::SIGUSR1,
    Signal::SIGUSR2,
    Signal::SIGWINCH,
    Signal::SIGTSTP,
];

/// Install handlers for [`FORWARDED`], block them in the calling thread
/// (and so in every thread it starts later) and return a signalfd that
/// reads them. Call before any other thread exists. The sentry's own reads
/// and writes of a host terminal in a background job get `EIO` rather than
/// stopping the sentry (SIGTTIN and SIGTTOU are ignored).
pub fn take() -> io::Result<SignalFd> {
    let mut set = SigSet::empty();
    for sig in FORWARDED.into_iter().chain([Signal::SIGCONT]) {
        set.add(sig);
        hostsys::signal::catch(sig)?;
    }
    hostsys::signal::ignore(Signal::SIGTTIN)?;
    hostsys::signal::ignore(Signal::SIGTTOU)?;
    set.thread_block().map_err(io::Error::from)?;
    SignalFd::with_flags(&set, SfdFlags::SFD_CLOEXEC).map_err(io::Error::from)
}

/// Ignore `SIGPIPE` in the sentry, whose writes to a closed pipe then
/// fail with `EPIPE`.
pub fn ignore_sigpipe() {
    // Ignoring a valid signal cannot fail.
    let _ = hostsys::signal::ignore(Signal::SIGPIPE);
}

/// Serve the signalfd from [`take`] on a thread of its own, for as long as
/// the sandbox runs.
pub fn start(k: &Arc<Kernel>, fd: SignalFd) -> io::Result<()> {
    let k = Arc::downgrade(k);
    std::thread::Builder::new().name("host-signals".into()).spawn(move || loop {
        let info = match fd.read_signal() {
            Ok(Some(info)) => info,
            Err(nix::Error::EINTR) => continue,
            Ok(None) | Err(_) => return,
        };
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
