//! dup, dup2, dup3, as Linux's fs/file.c.

use abi::consts::*;
use abi::Errno;

use sentry_macros::syscall;

use super::args::{Fd, PipeFlags};
use super::{fd_result, file_of};
use crate::kernel::Task;
use crate::vfs::KResult;

/// A copy of `oldfd` at the lowest free descriptor, without `FD_CLOEXEC`.
#[syscall]
pub fn dup(t: &mut Task, oldfd: Fd) -> KResult<u64> {
    let mut fds = t.fds.lock();
    let f = fds.get(oldfd.0)?;
    fds.insert(f, false).map(fd_result)
}

fn dup_to(t: &Task, old: i32, new: i32, cloexec: bool) -> KResult<u64> {
    if !(0..1 << 20).contains(&new) {
        return Err(Errno::EBADF);
    }
    let mut fds = t.fds.lock();
    let f = fds.get(old)?;
    let prev = fds.insert_at(new, f, cloexec);
    drop(fds);
    drop(prev);
    Ok(fd_result(new))
}

/// A copy of `oldfd` at `newfd`, closing what was there; `oldfd` itself
/// when the two are equal (and valid).
#[syscall]
pub fn dup2(t: &mut Task, oldfd: Fd, newfd: Fd) -> KResult<u64> {
    if oldfd == newfd {
        file_of(t, oldfd.0)?;
        return Ok(fd_result(newfd.0));
    }
    dup_to(t, oldfd.0, newfd.0, false)
}

/// `dup2` with `O_CLOEXEC`; equal descriptors are `EINVAL`.
#[syscall]
pub fn dup3(t: &mut Task, oldfd: Fd, newfd: Fd, flags: PipeFlags) -> KResult<u64> {
    if flags.0 & !O_CLOEXEC != 0 || oldfd == newfd {
        return Err(Errno::EINVAL);
    }
    dup_to(t, oldfd.0, newfd.0, flags.0 & O_CLOEXEC != 0)
}
