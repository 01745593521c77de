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
