//! eventfd, eventfd2.

use abi::consts::*;
use abi::Errno;

use super::install_anon;
use crate::fs::eventfd::EventFd;
use crate::kernel::Task;
use crate::vfs::KResult;

const EFD_SEMAPHORE: u32 = 1;

pub fn eventfd(t: &mut Task, a: &[u64; 6]) -> KResult<u64> {
    install_anon(t, EventFd::new(u64::from(a[0] as u32), false), 0, "[eventfd]")
}

pub fn eventfd2(t: &mut Task, a: &[u64; 6]) -> KResult<u64> {
    let flags = a[1] as u32;
    if flags & !(EFD_SEMAPHORE | O_NONBLOCK | O_CLOEXEC) != 0 {
        return Err(Errno::EINVAL);
    }
    install_anon(t, EventFd::new(u64::from(a[0] as u32), flags & EFD_SEMAPHORE != 0), flags, "[eventfd]")
}
