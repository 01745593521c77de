//! Thin wrappers over the host calls the ptrace platform makes: `ptrace`,
//! `waitpid` and friends. Each returns `Error` instead of `-1`/`errno`.

use std::cell::Cell;
use std::io;

use libc::{c_int, c_uint, c_void, pid_t};

use crate::{Error, Registers, Result};

/// How a traced stub thread stopped or ended, as `waitpid` reports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Stop {
    /// A syscall-entry stop (`SIGTRAP | 0x80`, `PTRACE_O_TRACESYSGOOD`).
    Syscall,
    /// A signal-delivery stop for this signal.
    Signal(c_int),
    /// A `PTRACE_EVENT_*` stop: `PTRACE_EVENT_EXIT`, or `PTRACE_EVENT_STOP`
    /// (the stop `PTRACE_INTERRUPT` asks for).
    Event(c_int),
    /// The stub exited with this status.
    Exited(c_int),
    /// The stub was killed by this signal.
    Killed(c_int),
}

impl Stop {
    pub(crate) fn from_status(status: c_int) -> Stop {
        if libc::WIFEXITED(status) {
            Stop::Exited(libc::WEXITSTATUS(status))
        } else if libc::WIFSIGNALED(status) {
            Stop::Killed(libc::WTERMSIG(status))
        } else if status >> 16 != 0 {
            Stop::Event(status >> 16)
        } else if libc::WSTOPSIG(status) == libc::SIGTRAP | 0x80 {
            Stop::Syscall
        } else {
            Stop::Signal(libc::WSTOPSIG(status))
        }
    }
}

/// `ptrace(req, pid, addr, data)` for requests whose result is 0 or -1.
pub(crate) fn ptrace(call: &'static str, req: c_uint, pid: pid_t, addr: usize, data: usize) -> Result<()> {
    // SAFETY: every request passed here either ignores `addr`/`data` or is
    // given (by its typed wrapper below) a pointer to a live buffer of the
    // size the kernel writes or reads for that request.
    let r = unsafe { libc::ptrace(req, pid, addr as *mut c_void, data as *mut c_void) };
    if r == -1 {
        return Err(Error::last_os(call));
    }
    Ok(())
}

/// `PTRACE_GETREGS` into `regs`.
pub(crate) fn get_regs(pid: pid_t, regs: &mut Registers) -> Result<()> {
    // `Registers` is laid out as `struct user_regs_struct` (lib.rs).
    ptrace("ptrace(PTRACE_GETREGS)", libc::PTRACE_GETREGS, pid, 0, regs as *mut Registers as usize)
}

/// `PTRACE_SETREGS` from `regs`.
pub(crate) fn set_regs(pid: pid_t, regs: &Registers) -> Result<()> {
    ptrace("ptrace(PTRACE_SETREGS)", libc::PTRACE_SETREGS, pid, 0, regs as *const Registers as usize)
}

/// `PTRACE_POKEUSER`: store `value` at offset `off` of the thread's `struct
/// user` (the registers come first, as `struct user_regs_struct`).
pub(crate) fn poke_user(pid: pid_t, off: usize, value: u64) -> Result<()> {
    // `value` is passed as the data word itself, not a pointer.
    ptrace("ptrace(PTRACE_POKEUSER)", libc::PTRACE_POKEUSER, pid, off, value as usize)
}

/// `PTRACE_GETSIGINFO` of the current signal-delivery stop.
pub(crate) fn get_siginfo(pid: pid_t) -> Result<libc::siginfo_t> {
    // SAFETY: siginfo_t is plain data; all-zero is a valid value.
    let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
    ptrace("ptrace(PTRACE_GETSIGINFO)", libc::PTRACE_GETSIGINFO, pid, 0, &mut info as *mut libc::siginfo_t as usize)?;
    Ok(info)
}

/// Resume the stopped stub with `req` (`PTRACE_SYSEMU`, `PTRACE_CONT`)
/// delivering signal `sig` (0: none; the stopping signal is suppressed).
pub(crate) fn resume(call: &'static str, req: c_uint, pid: pid_t, sig: c_int) -> Result<()> {
    // `sig` is a signal number (0..=64): never negative.
    ptrace(call, req, pid, 0, sig.unsigned_abs() as usize)
}

/// `waitpid(pid, __WALL)`, retried on `EINTR`.
pub(crate) fn wait(pid: pid_t) -> Result<Stop> {
    loop {
        if let Some(stop) = wait_flags(pid, 0)? {
            return Ok(stop);
        }
    }
}

/// `waitpid(pid, __WALL | flags)`: `None` when `WNOHANG` is in `flags` and
/// nothing is ready, or the call was interrupted.
pub(crate) fn wait_flags(pid: pid_t, flags: c_int) -> Result<Option<Stop>> {
    let mut status: c_int = 0;
    // SAFETY: `status` is a live c_int the kernel writes.
    let r = unsafe { libc::waitpid(pid, &mut status, libc::__WALL | flags) };
    if r == pid {
        return Ok(Some(Stop::from_status(status)));
    }
    let err = io::Error::last_os_error();
    if r == 0 || (r == -1 && err.raw_os_error() == Some(libc::EINTR)) {
        return Ok(None);
    }
    Err(Error::Host { call: "waitpid", err })
}

/// `pidfd_open(pid, 0)`.
pub(crate) fn pidfd_open(pid: pid_t) -> Result<c_int> {
    // SAFETY: integer arguments only.
    let r = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    if r < 0 {
        return Err(Error::last_os("pidfd_open"));
    }
    c_int::try_from(r).map_err(|_| Error::Host { call: "pidfd_open", err: io::Error::from_raw_os_error(libc::EBADF) })
}

/// `pidfd_send_signal(pidfd, sig)`: race-free against pid reuse.
pub(crate) fn pidfd_kill(pidfd: c_int, sig: c_int) {
    // SAFETY: integer arguments and a null siginfo. A failure means the
    // process is already gone.
    unsafe { libc::syscall(libc::SYS_pidfd_send_signal, pidfd, sig, std::ptr::null::<libc::siginfo_t>(), 0) };
}

/// Pin thread `tid` (0: the calling thread) to `cpu`.
pub(crate) fn pin(tid: pid_t, cpu: usize) -> Result<()> {
    hostsys::cpu::pin(Some(tid), cpu).map_err(|err| Error::Host { call: "sched_setaffinity", err })
}

pub(crate) use hostsys::cpu::current as current_cpu;

/// `PTRACE_GETREGSET`/`PTRACE_SETREGSET` of note type `nt` through `buf`;
/// returns the length the kernel transferred.
pub(crate) fn regset(
    call: &'static str,
    req: c_uint,
    pid: pid_t,
    nt: usize,
    buf: *mut u8,
    len: usize,
) -> Result<usize> {
    let mut iov = libc::iovec { iov_base: buf.cast(), iov_len: len };
    ptrace(call, req, pid, nt, &mut iov as *mut libc::iovec as usize)?;
    Ok(iov.iov_len)
}

/// `tgkill(pid, tid, sig)`.
pub(crate) fn tgkill(pid: pid_t, tid: pid_t, sig: c_int) -> Result<()> {
    // SAFETY: tgkill takes integers only.
    let r = unsafe { libc::syscall(libc::SYS_tgkill, pid, tid, sig) };
    if r == -1 {
        return Err(Error::last_os("tgkill"));
    }
    Ok(())
}

thread_local! {
    static TID: Cell<pid_t> = const { Cell::new(0) };
}

/// The calling thread's host thread id (cached per thread).
pub(crate) fn gettid() -> pid_t {
    TID.with(|t| {
        if t.get() == 0 {
            // SAFETY: gettid has no preconditions.
            t.set(unsafe { libc::gettid() });
        }
        t.get()
    })
}

/// A system call's raw return value as a `Result`: values in
/// `[-4095, -1]` are `-errno`.
pub(crate) fn syscall_result(call: &'static str, rax: u64) -> Result<u64> {
    // Reinterpreting the register's bits as signed is the kernel's convention.
    #[allow(clippy::cast_possible_wrap)]
    let v = rax as i64;
    if (-4095..0).contains(&v) {
        // In [-4095, -1]: the negation fits an i32.
        #[allow(clippy::cast_possible_truncation)]
        let errno = (-v) as i32;
        return Err(Error::Host { call, err: io::Error::from_raw_os_error(errno) });
    }
    Ok(rax)
}

/// The name of signal `sig`, for messages.
pub(crate) fn signal_name(sig: c_int) -> &'static str {
    match sig {
        libc::SIGHUP => "SIGHUP",
        libc::SIGINT => "SIGINT",
        libc::SIGQUIT => "SIGQUIT",
        libc::SIGILL => "SIGILL",
        libc::SIGTRAP => "SIGTRAP",
        libc::SIGABRT => "SIGABRT",
        libc::SIGBUS => "SIGBUS",
        libc::SIGFPE => "SIGFPE",
        libc::SIGKILL => "SIGKILL",
        libc::SIGSEGV => "SIGSEGV",
        libc::SIGPIPE => "SIGPIPE",
        libc::SIGTERM => "SIGTERM",
        libc::SIGSTOP => "SIGSTOP",
        libc::SIGSYS => "SIGSYS",
        libc::SIGURG => "SIGURG",
        _ => "signal",
    }
}
