//! File locks: `flock(2)` and the `fcntl(2)` record-lock commands (POSIX
//! `F_GETLK F_SETLK F_SETLKW`, OFD `F_OFD_GETLK F_OFD_SETLK F_OFD_SETLKW`).
//! The tables live in `vfs::lock`.

use abi::consts::*;
use abi::consts::{F_OFD_GETLK, F_OFD_SETLK, F_OFD_SETLKW};
use abi::types::Flock;
use abi::Errno;

use sentry_macros::syscall;

use super::args::{Fd, UserPtr, UserType};
use super::file_of;
use crate::kernel::Task;
use crate::vfs::lock::{locks, InodeKey, LockKind, Owner, Pending, RecordLock};
use crate::vfs::{FileDescription, KResult};

const F_RDLCK: i16 = 0;
const F_WRLCK: i16 = 1;
const F_UNLCK: i16 = 2;

impl UserType for Flock {
    fn strace(&self) -> Option<String> {
        let l_type = match self.l_type {
            F_RDLCK => "F_RDLCK".to_string(),
            F_WRLCK => "F_WRLCK".to_string(),
            F_UNLCK => "F_UNLCK".to_string(),
            v => v.to_string(),
        };
        let whence = match u32::try_from(self.l_whence) {
            Ok(SEEK_SET) => "SEEK_SET".to_string(),
            Ok(SEEK_CUR) => "SEEK_CUR".to_string(),
            Ok(SEEK_END) => "SEEK_END".to_string(),
            _ => self.l_whence.to_string(),
        };
        Some(format!("{{l_type={l_type}, l_whence={whence}, l_start={}, l_len={}}}", self.l_start, self.l_len))
    }
}

super::args::named_arg!(/// A `flock` operation: `LOCK_SH`, `LOCK_EX` or `LOCK_UN`, with `LOCK_NB`.
FlockOp(i32), |v| {
    super::args::flag_str::<abi::flags::FlockFlags>(v as u32, "0")
});

/// Whether `cmd` is an `fcntl` record-lock command this module handles.
pub fn is_lock_cmd(cmd: u32) -> bool {
    matches!(cmd, F_GETLK | F_SETLK | F_SETLKW | F_OFD_GETLK | F_OFD_SETLK | F_OFD_SETLKW)
}

/// The lock identity of the file open at `f`.
pub fn key_of(f: &FileDescription) -> Option<InodeKey> {
    let a = f.inode.as_ref()?.attr().ok()?;
    Some((a.dev, a.ino))
}

fn kind_of(l_type: i16) -> KResult<Option<LockKind>> {
    match l_type {
        F_RDLCK => Ok(Some(LockKind::Read)),
        F_WRLCK => Ok(Some(LockKind::Write)),
        F_UNLCK => Ok(None),
        _ => Err(Errno::EINVAL),
    }
}

/// The byte range `[start, end)` a `struct flock` names (`end == u64::MAX`
/// for "to end of file").
fn range_of(f: &FileDescription, fl: &Flock) -> KResult<(u64, u64)> {
    let base: i64 = match u32::try_from(fl.l_whence).map_err(|_| Errno::EINVAL)? {
        SEEK_SET => 0,
        SEEK_CUR => i64::try_from(*f.offset()).map_err(|_| Errno::EOVERFLOW)?,
        SEEK_END => {
            let size = f.inode.as_ref().ok_or(Errno::EBADF)?.attr()?.size;
            i64::try_from(size).map_err(|_| Errno::EOVERFLOW)?
        }
        _ => return Err(Errno::EINVAL),
    };
    let start = base.checked_add(fl.l_start).ok_or(Errno::EOVERFLOW)?;
    let (start, end) = match fl.l_len {
        0 => (start, None),
        n if n > 0 => (start, Some(start.checked_add(n - 1).ok_or(Errno::EOVERFLOW)?)),
        n => (start.checked_add(n).ok_or(Errno::EINVAL)?, Some(start - 1)),
    };
    if start < 0 {
        return Err(Errno::EINVAL);
    }
    let s = start.unsigned_abs();
    // `last` is inclusive; exclusive `end` of the last byte of i64 range
    // still fits below u64::MAX.
    let e = match end {
        None => u64::MAX,
        Some(last) => last.unsigned_abs() + 1,
    };
    Ok((s, e))
}

/// Take or drop a whole-file advisory lock on `fd`'s file (shared,
/// exclusive, or none), waiting unless `LOCK_NB`.
#[syscall]
pub fn flock(t: &mut Task, fd: Fd, operation: FlockOp) -> KResult<u64> {
    let f = file_of(t, fd.0)?;
    let op = operation.0;
    let kind = match op & !LOCK_NB {
        LOCK_SH => Some(LockKind::Read),
        LOCK_EX => Some(LockKind::Write),
        LOCK_UN => None,
        _ => return Err(Errno::EINVAL),
    };
    if f.flags() & O_PATH != 0 {
        return Err(Errno::EBADF);
    }
    let key = key_of(&f).ok_or(Errno::EINVAL)?;
    let id = f.lock_id();
    f.mark_locked();
    let l = locks();
    if l.registry().try_flock(key, id, kind) {
        l.queue().notify_all();
        return Ok(0);
    }
    // A conversion first gives up the lock held (Linux does not convert
    // atomically), then waits like a new request.
    if l.registry().try_flock(key, id, None) {
        l.queue().notify_all();
    }
    if op & LOCK_NB != 0 {
        return Err(Errno::EWOULDBLOCK);
    }
    t.wait_until(&[l.queue()], None, || Ok(l.registry().try_flock(key, id, kind).then_some(())))?;
    Ok(0)
}

/// `fcntl(fd, cmd, lock)` for the record-lock commands.
pub fn fcntl_lock(t: &Task, fd: i32, cmd: u32, lock: UserPtr<Flock>) -> KResult<u64> {
    let f = file_of(t, fd)?;
    let mut fl = lock.read(t)?;
    let ofd = matches!(cmd, F_OFD_GETLK | F_OFD_SETLK | F_OFD_SETLKW);
    if ofd && fl.l_pid != 0 {
        return Err(Errno::EINVAL);
    }
    if f.flags() & O_PATH != 0 {
        return Err(Errno::EBADF);
    }
    let kind = kind_of(fl.l_type)?;
    let (start, end) = range_of(&f, &fl)?;
    let key = key_of(&f).ok_or(Errno::EINVAL)?;
    let pid = t.pid();
    let (owner, report_pid) = if ofd { (Owner::Description(f.lock_id()), -1) } else { (Owner::Process(pid), pid) };
    let l = locks();

    if matches!(cmd, F_GETLK | F_OFD_GETLK) {
        let Some(k) = kind else { return Err(Errno::EINVAL) };
        match l.registry().test_record(key, owner, k, start, end) {
            None => fl.l_type = F_UNLCK,
            Some(c) => fill(&mut fl, &c),
        }
        lock.write(t, &fl)?;
        return Ok(0);
    }

    match kind {
        Some(LockKind::Read) if !f.readable() => return Err(Errno::EBADF),
        Some(LockKind::Write) if !f.writable() => return Err(Errno::EBADF),
        _ => {}
    }
    if ofd {
        f.mark_locked();
    }
    let wait = matches!(cmd, F_SETLKW | F_OFD_SETLKW);
    let attempt = || -> KResult<Option<()>> {
        let mut r = l.registry();
        match r.try_set_record(key, owner, kind, start, end, report_pid) {
            Ok(()) => {
                if !ofd {
                    r.set_waiting(pid, None);
                }
                Ok(Some(()))
            }
            Err(_) if !wait => Err(Errno::EAGAIN),
            Err(_) => {
                if !ofd {
                    let req = Pending { key, kind: kind.unwrap_or(LockKind::Read), start, end };
                    if r.would_deadlock(pid, &req) {
                        r.set_waiting(pid, None);
                        return Err(Errno::EDEADLK);
                    }
                    r.set_waiting(pid, Some(req));
                }
                Ok(None)
            }
        }
    };
    let res = if wait { t.wait_until(&[l.queue()], None, attempt) } else { attempt().map(|_| ()) };
    if res.is_err() && wait && !ofd {
        l.registry().set_waiting(pid, None);
    }
    res?;
    // Unlocking, downgrading or splitting may let someone in.
    l.queue().notify_all();
    Ok(0)
}

fn fill(fl: &mut Flock, c: &RecordLock) {
    fl.l_type = if c.kind == LockKind::Write { F_WRLCK } else { F_RDLCK };
    fl.l_whence = SEEK_SET as i16;
    fl.l_start = i64::try_from(c.start).unwrap_or(i64::MAX);
    fl.l_len = if c.end == u64::MAX { 0 } else { i64::try_from(c.end - c.start).unwrap_or(0) };
    fl.l_pid = c.pid;
}

/// A descriptor of `f` was closed by process `pid`: its POSIX locks on the
/// file go (POSIX says so, however many other descriptors remain).
pub fn on_close(pid: i32, f: &FileDescription) {
    crate::vfs::lock::release_posix_locks_on(pid, || key_of(f));
}
