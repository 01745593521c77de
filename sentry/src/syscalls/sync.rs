//! sync, syncfs, fsync, fdatasync, as Linux's fs/sync.c.

use sentry_macros::syscall;

use super::args::Fd;
use super::file_of;
use crate::kernel::Task;
use crate::vfs::KResult;

/// Flush all file systems: the sentry's write through at once, so there is
/// nothing to wait for.
#[syscall]
pub fn sync(_t: &mut Task) -> KResult<u64> {
    Ok(0)
}

/// Flush the file system of `fd`: as `sync`, once the descriptor is known.
#[syscall]
pub fn syncfs(t: &mut Task, fd: Fd) -> KResult<u64> {
    file_of(t, fd.0)?;
    Ok(0)
}

/// Flush `fd`'s file to its storage (`fdatasync` too: the file systems
/// here keep no metadata apart from data).
#[syscall]
pub fn fsync(t: &mut Task, fd: Fd) -> KResult<u64> {
    file_of(t, fd.0)?.file.fsync().map(|_| 0)
}
