//! name_to_handle_at, open_by_handle_at.

use abi::Errno;

use sentry_macros::syscall;

use super::args::{AtFlags, DirFd, OpenFlags, UserAddr, UserCStr};
use crate::kernel::Task;
use crate::vfs::KResult;

/// No file system here can export handles: `EOPNOTSUPP` whatever the
/// arguments.
#[syscall]
pub fn name_to_handle_at(
    _t: &mut Task,
    _dirfd: DirFd,
    _pathname: UserCStr,
    _handle: UserAddr,
    _mount_id: UserAddr,
    _flags: AtFlags,
) -> KResult<u64> {
    Err(Errno::EOPNOTSUPP)
}

/// No handle can be made (see `name_to_handle_at`), so none opens:
/// `EOPNOTSUPP`, before the descriptor is looked at.
#[syscall]
pub fn open_by_handle_at(_t: &mut Task, _mount_fd: i32, _handle: UserAddr, _flags: OpenFlags) -> KResult<u64> {
    Err(Errno::EOPNOTSUPP)
}
