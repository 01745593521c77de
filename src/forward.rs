//! Passing signals on: `bulwark do` passes what it is sent (`kill`) to the
//! sandbox process, which passes it to the sentry, which delivers it inside
//! (see `sentry::kernel::host_signals`). Signals from the host terminal
//! (`^C`, `^Z`, window changes: `si_code` `SI_KERNEL`) reach the sentry
//! directly, since it is in the terminal's foreground process group too; the
//! CLI and boot ignore those instead of dying of them.

use std::io;
use std::sync::atomic::{AtomicI32, Ordering};

use sentry::kernel::host_signals::FORWARDED;

/// Where signals are passed on to; nothing is passed while it is 0 (a
/// forked child, before it installs its own handlers, passes nothing).
static TARGET: AtomicI32 = AtomicI32::new(0);

extern "C" fn pass_on(sig: libc::c_int, info: *mut libc::siginfo_t, _ctx: *mut libc::c_void) {
    let target = TARGET.load(Ordering::Relaxed);
    if target <= 0 || info.is_null() {
        return;
    }
    // SAFETY: the kernel hands an SA_SIGINFO handler a valid siginfo.
    let code = unsafe { (*info).si_code };
    if code > 0 {
        return;
    }
    // SAFETY: kill is async-signal-safe and takes plain integers.
    unsafe { libc::kill(target, sig) };
}

/// Catch every signal of [`FORWARDED`] (and keep them from killing or
/// stopping this process); they are passed on once [`to`] names a target.
pub fn install() -> io::Result<()> {
    for sig in FORWARDED {
        // SAFETY: a zeroed sigaction is valid; the handler is an extern "C"
        // fn of the SA_SIGINFO signature that only loads an atomic and calls
        // kill (async-signal-safe).
        unsafe {
            let mut act: libc::sigaction = std::mem::zeroed();
            act.sa_sigaction = pass_on as extern "C" fn(libc::c_int, *mut libc::siginfo_t, *mut libc::c_void) as usize;
            act.sa_flags = libc::SA_SIGINFO | libc::SA_RESTART;
            libc::sigemptyset(&mut act.sa_mask);
            if libc::sigaction(sig, &act, std::ptr::null_mut()) != 0 {
                return Err(io::Error::last_os_error());
            }
        }
    }
    Ok(())
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
    // SAFETY: setrlimit gets a valid rlimit; signal, sigprocmask and raise
    // take plain integers or valid sigset pointers.
    unsafe {
        let none = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
        libc::setrlimit(libc::RLIMIT_CORE, &none);
        libc::signal(sig, libc::SIG_DFL);
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, sig);
        libc::sigprocmask(libc::SIG_UNBLOCK, &set, std::ptr::null_mut());
        libc::raise(sig);
    }
    std::process::exit(128 + sig)
}
