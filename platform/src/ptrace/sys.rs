//! Thin wrappers over the host calls the ptrace platform makes: `ptrace`,
//! `waitpid` and friends, on nix (rustix for `waitpid` and the pidfd
//! calls, which nix lacks or decodes lossily). Each returns `Error`
//! instead of `-1`/`errno`. Raw calls remain for the ptrace requests nix
//! has no wrapper for ([`ptrace_raw`]) and `tgkill`, which neither crate
//! offers.

use std::cell::Cell;
use std::io;

use std::os::fd::{BorrowedFd, OwnedFd};

use libc::{c_int, c_uint, c_void, pid_t};
use nix::sys::ptrace::{self, Options};
use nix::unistd::Pid;
use rustix::process::{PidfdFlags, WaitOptions};

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

/// A host error of `call`.
fn host(call: &'static str) -> impl FnOnce(nix::Error) -> Error {
    move |e| Error::Host { call, err: io::Error::from(e) }
}

fn pid(p: pid_t) -> Pid {
    Pid::from_raw(p)
}

/// `ptrace(req, pid, addr, data)` for the requests nix has no wrapper
/// for: `PTRACE_GETREGSET`/`PTRACE_SETREGSET` of the XSAVE area
/// (`NT_X86_XSTATE`), `PTRACE_GETFPREGS`/`PTRACE_SETFPREGS`, and
/// `PTRACE_GET_RSEQ_CONFIGURATION`. Their result is 0 or -1.
// Unsafe: ptrace requests nix has no wrapper for.
#[allow(unsafe_code)]
pub(crate) fn ptrace_raw(call: &'static str, req: c_uint, pid: pid_t, addr: usize, data: usize) -> Result<()> {
    // SAFETY: each caller passes, for its request, a pointer to a live
    // buffer of the size the kernel writes or reads (an iovec for the
    // regsets, a `user_fpregs_struct`-sized buffer for the FP registers,
    // a `ptrace_rseq_configuration` with its size in `addr`).
    let r = unsafe { libc::ptrace(req, pid, addr as *mut c_void, data as *mut c_void) };
    if r == -1 {
        return Err(Error::last_os(call));
    }
    Ok(())
}

/// `PTRACE_GETREGS` into `regs`.
pub(crate) fn get_regs(p: pid_t, regs: &mut Registers) -> Result<()> {
    let r = ptrace::getregs(pid(p)).map_err(host("ptrace(PTRACE_GETREGS)"))?;
    *regs = Registers::from(r);
    Ok(())
}

/// `PTRACE_SETREGS` from `regs`.
pub(crate) fn set_regs(p: pid_t, regs: &Registers) -> Result<()> {
    ptrace::setregs(pid(p), (*regs).into()).map_err(host("ptrace(PTRACE_SETREGS)"))
}

/// `PTRACE_POKEUSER`: store `value` at offset `off` of the thread's `struct
/// user` (the registers come first, as `struct user_regs_struct`).
pub(crate) fn poke_user(p: pid_t, off: usize, value: u64) -> Result<()> {
    // The word's bits, reinterpreted as the kernel's `long`.
    #[allow(clippy::cast_possible_wrap)]
    let word = value as libc::c_long;
    ptrace::write_user(pid(p), off as ptrace::AddressType, word).map_err(host("ptrace(PTRACE_POKEUSER)"))
}

/// `PTRACE_GETSIGINFO` of the current signal-delivery stop.
pub(crate) fn get_siginfo(p: pid_t) -> Result<libc::siginfo_t> {
    ptrace::getsiginfo(pid(p)).map_err(host("ptrace(PTRACE_GETSIGINFO)"))
}

/// How a stopped stub thread is resumed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Resume {
    /// `PTRACE_SYSEMU`: run to the next system call, which is not made.
    Sysemu,
    /// `PTRACE_CONT`: run on (injected calls, stops being passed over).
    Cont,
}

/// Resume the stopped stub thread, delivering no signal (the stopping
/// signal is suppressed).
pub(crate) fn resume(p: pid_t, how: Resume) -> Result<()> {
    match how {
        Resume::Sysemu => ptrace::sysemu(pid(p), None).map_err(host("ptrace(PTRACE_SYSEMU)")),
        Resume::Cont => ptrace::cont(pid(p), None).map_err(host("ptrace(PTRACE_CONT)")),
    }
}

/// `PTRACE_SETOPTIONS`.
pub(crate) fn set_options(p: pid_t, options: c_int) -> Result<()> {
    ptrace::setoptions(pid(p), Options::from_bits_retain(options)).map_err(host("ptrace(PTRACE_SETOPTIONS)"))
}

/// `PTRACE_SEIZE` with `options`.
pub(crate) fn seize(p: pid_t, options: c_int) -> Result<()> {
    ptrace::seize(pid(p), Options::from_bits_retain(options)).map_err(host("ptrace(PTRACE_SEIZE)"))
}

/// `PTRACE_INTERRUPT`: stop a seized thread (`PTRACE_EVENT_STOP`).
pub(crate) fn interrupt(p: pid_t) -> Result<()> {
    ptrace::interrupt(pid(p)).map_err(host("ptrace(PTRACE_INTERRUPT)"))
}

/// `PTRACE_DETACH`, delivering no signal.
pub(crate) fn detach(p: pid_t) -> Result<()> {
    ptrace::detach(pid(p), None).map_err(host("ptrace(PTRACE_DETACH)"))
}

/// `PTRACE_GETEVENTMSG`: the event stop's message (for
/// `PTRACE_EVENT_EXIT`, the wait status the thread is exiting with).
pub(crate) fn event_msg(p: pid_t) -> Result<libc::c_long> {
    ptrace::getevent(pid(p)).map_err(host("ptrace(PTRACE_GETEVENTMSG)"))
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
/// nothing is ready, or the call was interrupted. rustix, not nix: nix
/// decodes the status into its `Signal`, which cannot name real-time
/// signals, while rustix hands back the raw status.
pub(crate) fn wait_flags(p: pid_t, flags: c_int) -> Result<Option<Stop>> {
    let opts = WaitOptions::from_bits_retain((libc::__WALL | flags).cast_unsigned());
    let target = rustix::process::Pid::from_raw(p);
    match rustix::process::waitpid(target, opts) {
        Ok(Some((_, status))) => Ok(Some(Stop::from_status(status.as_raw()))),
        Ok(None) | Err(rustix::io::Errno::INTR) => Ok(None),
        Err(e) => Err(Error::Host { call: "waitpid", err: io::Error::from(e) }),
    }
}

/// `pidfd_open(pid, 0)`.
pub(crate) fn pidfd_open(p: pid_t) -> Result<OwnedFd> {
    let target = rustix::process::Pid::from_raw(p)
        .ok_or_else(|| Error::Host { call: "pidfd_open", err: io::Error::from_raw_os_error(libc::EINVAL) })?;
    rustix::process::pidfd_open(target, PidfdFlags::empty())
        .map_err(|e| Error::Host { call: "pidfd_open", err: io::Error::from(e) })
}

/// `pidfd_send_signal(pidfd, SIGKILL)`: race-free against pid reuse. A
/// failure means the process is already gone.
pub(crate) fn pidfd_kill(pidfd: BorrowedFd<'_>) {
    let _ = rustix::process::pidfd_send_signal(pidfd, rustix::process::Signal::KILL);
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
    ptrace_raw(call, req, pid, nt, &mut iov as *mut libc::iovec as usize)?;
    Ok(iov.iov_len)
}

/// `tgkill(pid, tid, sig)`.
// Unsafe: tgkill, which neither nix nor rustix offers.
#[allow(unsafe_code)]
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
            t.set(nix::unistd::gettid().as_raw());
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
