//! utimensat, as Linux's fs/utimes.c.

use abi::consts::*;
use abi::types::Timespec;
use abi::types::Utimes;
use abi::Errno;
use sentry_macros::syscall;

use super::args::{AtFlags, DirFd, UserCStr, UserPtr, UserType};
use super::{file_of, resolve_at};
use crate::kernel::Task;
use crate::vfs::{may_access, KResult, SetAttr, TimeSet};

impl UserType for Utimes {
    fn strace(&self) -> Option<String> {
        let one = |ts: &Timespec| match ts.tv_nsec {
            UTIME_NOW => "UTIME_NOW".to_string(),
            UTIME_OMIT => "UTIME_OMIT".to_string(),
            n => format!("{{tv_sec={}, tv_nsec={n}}}", ts.tv_sec),
        };
        Some(format!("[{}, {}]", one(&self.0[0]), one(&self.0[1])))
    }
}

/// Set a file's access and modification times (`NULL`: now); with a
/// `NULL` path, of the file open at `dirfd` (`futimens`).
#[syscall]
pub fn utimensat(
    t: &mut Task,
    dirfd: DirFd,
    pathname: UserCStr,
    times: UserPtr<Utimes>,
    flags: AtFlags,
) -> KResult<u64> {
    let flags = flags.0;
    if flags & !(AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH) != 0 {
        return Err(Errno::EINVAL);
    }
    let loc = if pathname.is_null() {
        let f = file_of(t, dirfd.0)?;
        f.loc.clone().ok_or(Errno::EBADF)?
    } else {
        let p = pathname.read(t)?;
        resolve_at(t, dirfd.0, &p, flags & AT_SYMLINK_NOFOLLOW == 0, flags & AT_EMPTY_PATH != 0)?
    };
    let times: Option<[Timespec; 2]> = times.read_opt(t)?.map(|u| u.0);
    let conv = |ts: Timespec| -> KResult<Option<TimeSet>> {
        match ts.tv_nsec {
            UTIME_OMIT => Ok(None),
            UTIME_NOW => Ok(Some(TimeSet::Now)),
            n if (0..1_000_000_000).contains(&n) => Ok(Some(TimeSet::At(ts))),
            _ => Err(Errno::EINVAL),
        }
    };
    let (at, mt) = match times {
        None => (Some(TimeSet::Now), Some(TimeSet::Now)),
        Some([x, y]) => (conv(x)?, conv(y)?),
    };
    if at.is_none() && mt.is_none() {
        return Ok(0);
    }
    loc.mount.want_write()?;
    let attr = loc.inode().attr()?;
    let creds = t.creds();
    let explicit = matches!(at, Some(TimeSet::At(_))) || matches!(mt, Some(TimeSet::At(_)));
    // The owner or CAP_FOWNER may set any times; others only the current
    // time, with write permission.
    if !creds.owner_or_capable(&attr) {
        if explicit {
            return Err(Errno::EPERM);
        }
        may_access(&attr, &creds, W_OK)?;
    }
    super::open::setattr_loc(t, &loc, SetAttr { atime: at, mtime: mt, ..Default::default() })
}
