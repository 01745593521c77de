//! CPU placement. A ptrace round trip between threads on one CPU is several
//! times cheaper than across CPUs on the machines bulwark runs on, so the
//! sentry pins each task thread, its stub thread and the gofer to one CPU.

use std::io;

use nix::sched::{sched_getcpu, sched_setaffinity, CpuSet};
use nix::unistd::Pid;

/// The CPU the calling thread runs on, if the host says.
pub fn current() -> Option<usize> {
    sched_getcpu().ok()
}

/// Run thread `tid` (`None`: the calling thread) on `cpu` only.
pub fn pin(tid: Option<i32>, cpu: usize) -> io::Result<()> {
    let mut set = CpuSet::new();
    set.set(cpu).map_err(io::Error::from)?;
    sched_setaffinity(Pid::from_raw(tid.unwrap_or(0)), &set).map_err(io::Error::from)
}

/// The time-stamp counter, read after earlier loads complete (as the vDSO
/// reads it).
#[cfg(target_arch = "x86_64")]
#[allow(unsafe_code)]
pub fn rdtsc() -> u64 {
    // SAFETY: lfence and rdtsc have no memory effects; rdtsc is allowed in
    // user mode (bulwark never sets PR_TSC_SIGSEGV); SSE2, which lfence
    // needs, is part of x86-64.
    unsafe {
        std::arch::x86_64::_mm_lfence();
        std::arch::x86_64::_rdtsc()
    }
}
