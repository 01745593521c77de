//! The sentry's host layer. Host system calls go through the `nix` crate
//! (and `rustix` for the one nix lacks, `getrandom`), which check their
//! arguments' types and lifetimes, and through `hostsys` for what neither
//! wraps safely (terminal requests, signal dispositions, the time-stamp
//! counter); this module turns their errors into the application's errno.
//! The only sentry modules with unsafe code are the MemoryFile mapping
//! (`mm::memfile`) and the waiter (`kernel::waiter`).

use abi::Errno;

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
