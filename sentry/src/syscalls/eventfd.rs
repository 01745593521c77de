//! eventfd, eventfd2.

use abi::consts::EFD_SEMAPHORE;
use abi::consts::*;
use abi::Errno;

use sentry_macros::syscall;

use super::args::EventfdFlags;
use super::install_anon;
use crate::fs::eventfd::EventFd;
use crate::kernel::Task;
use crate::vfs::KResult;

/// An eventfd counter starting at `initval`.
#[syscall]
pub fn eventfd(t: &mut Task, initval: u32) -> KResult<u64> {
    install_anon(t, EventFd::new(u64::from(initval), false), 0, "[eventfd]")
}

/// `eventfd` with `EFD_SEMAPHORE`, `EFD_NONBLOCK` and `EFD_CLOEXEC`.
#[syscall]
pub fn eventfd2(t: &mut Task, initval: u32, flags: EventfdFlags) -> KResult<u64> {
    let flags = flags.0;
    if flags & !(EFD_SEMAPHORE | O_NONBLOCK | O_CLOEXEC) != 0 {
        return Err(Errno::EINVAL);
    }
    install_anon(t, EventFd::new(u64::from(initval), flags & EFD_SEMAPHORE != 0), flags, "[eventfd]")
}
