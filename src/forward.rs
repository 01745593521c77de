//! Passing signals on: `bulwark do` passes what it is sent (`kill`) to the
//! sandbox process, which passes it to the sentry, which delivers it inside
//! (see `sentry::kernel::host_signals`). Signals from the host terminal
//! (`^C`, `^Z`, window changes: `si_code` `SI_KERNEL`) reach the sentry
//! directly, since it is in the terminal's foreground process group too; the
//! CLI and boot ignore those instead of dying of them.

use std::io;
use std::sync::atomic::{AtomicI32, Ordering};

use nix::sys::resource::{setrlimit, Resource};
use nix::sys::signal::{kill, sigaction, SaFlags, SigAction, SigHandler, SigSet, Signal};
use nix::unistd::Pid;
use sentry::kernel::host_signals::FORWARDED;

/// Where signals are passed on to; nothing is passed while it is 0 (a
/// forked child, before it installs its own handlers, passes nothing).
static TARGET: AtomicI32 = AtomicI32::new(0);
/// Or: a control connection to write `signal N` on (`bulwark exec`'s to
/// the sandbox, see `sentry::control`); none while negative.
static TARGET_CONN: AtomicI32 = AtomicI32::new(-1);

extern "C" fn pass_on(sig: libc::c_int, info: *mut libc::siginfo_t, _ctx: *mut libc::c_void) {
    let target = TARGET.load(Ordering::Relaxed);
    let conn = TARGET_CONN.load(Ordering::Relaxed);
    if (target <= 0 && conn < 0) || info.is_null() {
        return;
    }
    // SAFETY: the kernel hands an SA_SIGINFO handler a valid siginfo.
    let code = unsafe { (*info).si_code };
    if code > 0 {
        return;
    }
    if conn >= 0 {
        let mut line = *b"signal 00\n";
        let sig = sig.clamp(0, 99) as u8;
        line[7] = b'0' + sig / 10;
        line[8] = b'0' + sig % 10;
        // SAFETY: write(2) is async-signal-safe; `line` is a local buffer
        // of the length given. A failed write is no one's to report.
        unsafe { libc::write(conn, line.as_ptr().cast(), line.len()) };
        return;
    }
    // Both calls are async-signal-safe: a match on the number, and kill.
    if let Ok(sig) = Signal::try_from(sig) {
        let _ = kill(Pid::from_raw(target), sig);
    }
}

/// Catch every signal of [`FORWARDED`] (and keep them from killing or
/// stopping this process); they are passed on once [`to`] names a target.
pub fn install() -> io::Result<()> {
    let act =
        SigAction::new(SigHandler::SigAction(pass_on), SaFlags::SA_SIGINFO | SaFlags::SA_RESTART, SigSet::empty());
    for sig in FORWARDED {
        // SAFETY: the handler is async-signal-safe: it loads an atomic,
        // reads the siginfo the kernel passes, and calls kill.
        unsafe { sigaction(sig, &act) }?;
    }
    Ok(())
}

/// Pass signals on as `signal N` lines written to the control connection
/// `fd` from now on.
pub fn to_conn(fd: std::os::fd::RawFd) {
    TARGET_CONN.store(fd, Ordering::Relaxed);
}

/// Pass signals on to `pid` from now on.
pub fn to(pid: libc::pid_t) {
    TARGET.store(pid, Ordering::Relaxed);
}

/// Die of signal `sig`, as the program did, so that whoever waits for us
/// sees the same (a shell stops a loop whose command died of SIGINT), as
/// sudo does; without a core file. Falls back to exit status 128+`sig` if
/// the signal does not end the process.
pub fn die_of(sig: i32) -> ! {
    let _ = setrlimit(Resource::RLIMIT_CORE, 0, 0);
    // Raw libc: the program may have died of a real-time signal, which
    // nix's `Signal` and `SigSet` cannot name and rustix names only in
    // unsafe code; and nix marks resetting a disposition unsafe, while
    // rustix has no call for it.
    // SAFETY: SIG_DFL installs no handler; `set` is a local sigset_t (all
    // zeroes is a valid value), emptied before use; sigprocmask and raise
    // get plain integers and valid sigset pointers.
    unsafe {
        libc::signal(sig, libc::SIG_DFL);
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, sig);
        libc::sigprocmask(libc::SIG_UNBLOCK, &set, std::ptr::null_mut());
        libc::raise(sig);
    }
    std::process::exit(128 + sig)
}
