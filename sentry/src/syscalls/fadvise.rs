//! fadvise64.

use abi::consts::POSIX_FADV_NOREUSE;
use abi::consts::*;
use abi::Errno;

use sentry_macros::syscall;

use super::args::{Fadvice, Fd};
use super::file_of;
use crate::kernel::Task;
use crate::vfs::KResult;

/// `fadvise64(fd, offset, len, advice)`. Advice is a hint about caching;
/// the sentry's files live in memory or are read through the gofer on
/// demand, so valid advice has no effect, as on Linux for files without a
/// backing device. The checks are those of Linux's `generic_fadvise`.
/// (Was ENOSYS; `cp` calls it on every file: tests/c/fs_open_files.c.)
#[syscall]
pub fn fadvise64(t: &mut Task, fd: Fd, _offset: i64, len: i64, advice: Fadvice) -> KResult<u64> {
    let f = file_of(t, fd.0)?;
    if f.flags() & O_PATH != 0 {
        return Err(Errno::EBADF);
    }
    if let Some(inode) = &f.inode {
        if inode.attr()?.file_type() == S_IFIFO {
            return Err(Errno::ESPIPE);
        }
    }
    if len < 0 || !(0..=POSIX_FADV_NOREUSE).contains(&advice.0) {
        return Err(Errno::EINVAL);
    }
    Ok(0)
}
