//! `inotify_init`, `inotify_init1`, `inotify_add_watch`, `inotify_rm_watch`.
//! The instance and its events are `fs::inotify`'s.

use abi::consts::*;
use abi::Errno;

use super::{fd_arg, file_of, int_arg, resolve_at};
use crate::fs::inotify::Inotify;
use crate::kernel::Task;
use crate::vfs::{lock, may_access, FileDescription, KResult};

pub fn inotify_init1(t: &mut Task, a: &[u64; 6]) -> KResult<u64> {
    let flags = int_arg(a[0]) as u32;
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
    lock(&t.fds).insert_from(0, desc, flags & O_CLOEXEC != 0, limit).map(|n| n as u64)
}

pub fn inotify_init(t: &mut Task, _a: &[u64; 6]) -> KResult<u64> {
    inotify_init1(t, &[0; 6])
}

fn instance(t: &Task, fd: u64) -> KResult<std::sync::Arc<FileDescription>> {
    let f = file_of(t, fd_arg(fd)?)?;
    if f.file.as_any().downcast_ref::<Inotify>().is_none() {
        return Err(Errno::EINVAL);
    }
    Ok(f)
}

pub fn inotify_add_watch(t: &mut Task, a: &[u64; 6]) -> KResult<u64> {
    let mask = a[2] as u32;
    if mask & IN_ALL_EVENTS == 0 || mask & (IN_MASK_ADD | IN_MASK_CREATE) == IN_MASK_ADD | IN_MASK_CREATE {
        return Err(Errno::EINVAL);
    }
    let f = instance(t, a[0])?;
    let path = t.read_path(a[1])?;
    let loc = resolve_at(t, AT_FDCWD, &path, mask & IN_DONT_FOLLOW == 0, false)?;
    let attr = loc.inode().attr()?;
    may_access(&attr, &t.creds(), R_OK)?;
    if mask & IN_ONLYDIR != 0 && !attr.is_dir() {
        return Err(Errno::ENOTDIR);
    }
    let inst = f.file.as_any().downcast_ref::<Inotify>().ok_or(Errno::EINVAL)?;
    inst.add_watch((attr.dev, attr.ino), mask).map(|wd| wd as u64)
}

pub fn inotify_rm_watch(t: &mut Task, a: &[u64; 6]) -> KResult<u64> {
    let f = instance(t, a[0])?;
    let inst = f.file.as_any().downcast_ref::<Inotify>().ok_or(Errno::EINVAL)?;
    inst.rm_watch(int_arg(a[1])).map(|()| 0)
}
