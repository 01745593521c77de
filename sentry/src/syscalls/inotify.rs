//! `inotify_init`, `inotify_init1`, `inotify_add_watch`, `inotify_rm_watch`.
//! The instance and its events are `fs::inotify`'s.

use abi::consts::*;
use abi::Errno;

use sentry_macros::syscall;

use super::args::{Fd, InotifyFlags, InotifyMask, UserCStr};
use super::{file_of, resolve_at};
use crate::fs::inotify::Inotify;
use crate::kernel::Task;
use crate::vfs::{may_access, FileDescription, KResult};

fn do_inotify_init1(t: &Task, flags: u32) -> KResult<u64> {
    if flags & !(O_NONBLOCK | O_CLOEXEC) != 0 {
        return Err(Errno::EINVAL);
    }
    let desc = FileDescription::new_anon(
        Inotify::new(),
        None,
        O_RDONLY | (flags & O_NONBLOCK),
        b"anon_inode:inotify".to_vec(),
    );
    let limit = t.rlimit(RLIMIT_NOFILE).rlim_cur.min(1 << 20) as i32;
    t.fds.lock().insert_from(0, desc, flags & O_CLOEXEC != 0, limit).map(|n| n as u64)
}

/// A new inotify instance.
#[syscall]
pub fn inotify_init(t: &mut Task) -> KResult<u64> {
    do_inotify_init1(t, 0)
}

/// A new inotify instance, with `IN_NONBLOCK` and `IN_CLOEXEC`.
#[syscall]
pub fn inotify_init1(t: &mut Task, flags: InotifyFlags) -> KResult<u64> {
    do_inotify_init1(t, flags.0)
}

fn instance(t: &Task, fd: Fd) -> KResult<std::sync::Arc<FileDescription>> {
    let f = file_of(t, fd.0)?;
    if f.file.as_any().downcast_ref::<Inotify>().is_none() {
        return Err(Errno::EINVAL);
    }
    Ok(f)
}

/// Watch the file `pathname` names for the events in `mask`.
#[syscall]
pub fn inotify_add_watch(t: &mut Task, fd: Fd, pathname: UserCStr, mask: InotifyMask) -> KResult<u64> {
    let mask = mask.0;
    if mask & IN_ALL_EVENTS == 0 || mask & (IN_MASK_ADD | IN_MASK_CREATE) == IN_MASK_ADD | IN_MASK_CREATE {
        return Err(Errno::EINVAL);
    }
    let f = instance(t, fd)?;
    let path = pathname.read(t)?;
    let loc = resolve_at(t, AT_FDCWD, &path, mask & IN_DONT_FOLLOW == 0, false)?;
    let attr = loc.inode().attr()?;
    may_access(&attr, &t.creds(), R_OK)?;
    if mask & IN_ONLYDIR != 0 && !attr.is_dir() {
        return Err(Errno::ENOTDIR);
    }
    let inst = f.file.as_any().downcast_ref::<Inotify>().ok_or(Errno::EINVAL)?;
    inst.add_watch((attr.dev, attr.ino), mask).map(|wd| wd as u64)
}

/// Remove watch `wd`.
#[syscall]
pub fn inotify_rm_watch(t: &mut Task, fd: Fd, wd: i32) -> KResult<u64> {
    let f = instance(t, fd)?;
    let inst = f.file.as_any().downcast_ref::<Inotify>().ok_or(Errno::EINVAL)?;
    inst.rm_watch(wd).map(|()| 0)
}
