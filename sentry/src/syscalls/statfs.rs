//! statfs, fstatfs, as Linux's fs/statfs.c.

use abi::consts::*;
use abi::types::Statfs;
use abi::Errno;
use sentry_macros::syscall;

use super::args::{Fd, UserCStr, UserPtr, UserType};
use super::{file_of, resolve_at};
use crate::kernel::Task;
use crate::vfs::KResult;

/// `struct statfs`, shown by its type and block size.
impl UserType for Statfs {
    fn strace(&self) -> Option<String> {
        Some(format!("{{f_type={:#x}, f_bsize={}, ...}}", self.f_type, self.f_bsize))
    }
}

/// The file system figures of the file system holding `path`.
#[syscall]
pub fn statfs(t: &mut Task, path: UserCStr, buf: UserPtr<Statfs>) -> KResult<u64> {
    let p = path.read(t)?;
    let loc = resolve_at(t, AT_FDCWD, &p, true, false)?;
    let s = loc.inode().statfs()?;
    buf.write(t, &s)?;
    Ok(0)
}

/// `statfs` of the file open at `fd`.
#[syscall]
pub fn fstatfs(t: &mut Task, fd: Fd, buf: UserPtr<Statfs>) -> KResult<u64> {
    let f = file_of(t, fd.0)?;
    let s = f.inode.clone().ok_or(Errno::EBADF)?.statfs()?;
    buf.write(t, &s)?;
    Ok(0)
}
