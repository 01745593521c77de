//! The sentry's host layer. Host system calls go through the `nix` crate
//! (and `rustix` for the one nix lacks, `getrandom`), which check their
//! arguments' types and lifetimes; this module turns their errors into the
//! application's errno and holds the few calls no safe wrapper offers: a
//! terminal `ioctl` on a donated descriptor and the time-stamp counter.
//! The other modules with unsafe code are the MemoryFile mapping
//! (`mm::memfile`), the waiter (`kernel::waiter`) and the host signal
//! dispositions (`kernel::host_signals`).

#![allow(unsafe_code)]

use std::os::fd::{AsRawFd, BorrowedFd};

use abi::Errno;
use zerocopy::{AsBytes, FromBytes};

use crate::vfs::KResult;

/// The application's errno for a host call's error.
pub fn errno(e: nix::Error) -> Errno {
    Errno::from_i32(e as i32).unwrap_or(Errno::EIO)
}

/// Run a host call until it is not interrupted (`EINTR`).
pub fn retry<T>(mut f: impl FnMut() -> nix::Result<T>) -> KResult<T> {
    loop {
        match f() {
            Err(nix::Error::EINTR) => continue,
            r => return r.map_err(errno),
        }
    }
}

/// `ioctl(fd, req, val)` with a pointer argument of type `T`. Callers
/// pair each request with the type the kernel reads or writes for it
/// (`TCGETS` with `Termios`, `TIOCGWINSZ` with `Winsize`, ...).
pub fn ioctl_ptr<T: AsBytes + FromBytes>(fd: BorrowedFd<'_>, req: u32, val: &mut T) -> KResult<()> {
    let p: *mut T = val;
    // SAFETY: `p` points to a valid, writable `T`, the argument type the
    // kernel expects for `req` (see above), for the duration of the call;
    // `fd` is open while borrowed.
    let r = unsafe { libc::ioctl(fd.as_raw_fd(), libc::c_ulong::from(req), p) };
    if r < 0 {
        return Err(Errno::from_io(&std::io::Error::last_os_error()));
    }
    Ok(())
}

/// The time-stamp counter, read after earlier loads complete.
#[cfg(target_arch = "x86_64")]
pub fn rdtsc() -> u64 {
    // SAFETY: lfence and rdtsc have no memory effects; rdtsc is allowed in
    // user mode (the sentry never sets PR_TSC_SIGSEGV).
    unsafe {
        std::arch::x86_64::_mm_lfence();
        std::arch::x86_64::_rdtsc()
    }
}

/// Fill `buf` from the host's random source; `GRND_NONBLOCK` is not asked
/// for, so it blocks only until the host's pool is ready (at boot).
pub fn getrandom(buf: &mut [u8]) -> KResult<usize> {
    let mut done = 0;
    while done < buf.len() {
        match rustix::rand::getrandom(&mut buf[done..], rustix::rand::GetRandomFlags::empty()) {
            Ok(n) => done += n,
            Err(rustix::io::Errno::INTR) => continue,
            Err(e) if done == 0 => return Err(Errno::from_i32(e.raw_os_error()).unwrap_or(Errno::EIO)),
            Err(_) => break,
        }
    }
    Ok(done)
}

/// Monotonic host time in nanoseconds.
pub fn monotonic_ns() -> u64 {
    clock_ns(nix::time::ClockId::CLOCK_MONOTONIC)
}

/// Host clock `id` in nanoseconds (0 if the host refuses, which Linux does
/// not for the clocks the sentry reads).
pub fn clock_ns(id: nix::time::ClockId) -> u64 {
    let ts = nix::time::clock_gettime(id).unwrap_or(nix::sys::time::TimeSpec::new(0, 0));
    u64::try_from(ts.tv_sec()).unwrap_or(0) * 1_000_000_000 + u64::try_from(ts.tv_nsec()).unwrap_or(0)
}

/// The host's memory figures (`sysinfo(2)`), read by the sentry for
/// `sysinfo` and `/proc/meminfo`: total and free RAM, total swap, bytes.
pub fn memory() -> (u64, u64, u64) {
    match nix::sys::sysinfo::sysinfo() {
        Ok(s) => (s.ram_total(), s.ram_unused(), s.swap_total()),
        Err(_) => (0, 0, 0),
    }
}
