//! fcntl, as Linux's fs/fcntl.c.

use abi::consts::*;
use abi::consts::{F_GETLEASE, F_GETOWN, F_GETSIG};
use abi::types::FOwnerEx;
use abi::Errno;
use std::sync::atomic::Ordering;

use sentry_macros::syscall;

use super::args::{Call, FcntlCmd, Fd, OpenFlags, SysArg, UserPtr};
use super::{fd_limit, fd_result, file_of};
use crate::kernel::Task;
use crate::vfs::KResult;

/// The `fcntl` commands that take no argument (strace leaves it out).
const FCNTL_NO_ARG: [u32; 7] =
    [F_GETFD, F_GETFL, F_GETOWN, F_GETSIG, F_GETLEASE, F_GETPIPE_SZ, super::memfd::F_GET_SEALS];

/// `fcntl`'s third argument, whose meaning is the command's (argument 1):
/// printed as strace does, left out for the commands that take none.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FcntlArg(u64);

impl SysArg for FcntlArg {
    fn decode(_: &Task, raw: u64) -> KResult<Self> {
        Ok(FcntlArg(raw))
    }
    fn strace(c: &Call<'_>, i: usize) -> String {
        let (cmd, arg) = (c.raw[1] as u32, c.raw[i]);
        match cmd {
            _ if FCNTL_NO_ARG.contains(&cmd) => String::new(),
            F_SETFD if arg & u64::from(FD_CLOEXEC) != 0 => "FD_CLOEXEC".into(),
            F_SETFL => super::args::open_flags_str(arg as u32),
            _ if super::lock::is_lock_cmd(cmd) => <UserPtr<abi::types::Flock> as SysArg>::strace(c, i),
            F_DUPFD | F_DUPFD_CLOEXEC | F_SETFD | F_SETPIPE_SZ | F_SETOWN | F_SETSIG => <i32 as SysArg>::strace(c, i),
            _ => format!("{arg:#x}"),
        }
    }
}

/// Operate on descriptor `fd`: duplicate it, get or set its descriptor and
/// status flags, its record locks, seals and pipe size. `arg` is decoded
/// by command, as the C type the command takes.
#[syscall]
pub fn fcntl(t: &mut Task, fd: Fd, cmd: FcntlCmd, arg: FcntlArg) -> KResult<u64> {
    let fd = fd.0;
    // Linux takes `unsigned int cmd`: a negative one is simply unknown.
    let cmd = u32::try_from(cmd.0).unwrap_or(u32::MAX);
    match cmd {
        F_DUPFD | F_DUPFD_CLOEXEC => {
            let min = i32::decode(t, arg.0)?;
            let limit = fd_limit(t);
            if min < 0 || min >= limit {
                return Err(Errno::EINVAL);
            }
            let mut fds = t.fds.lock();
            let f = fds.get(fd)?;
            fds.insert_from(min, f, cmd == F_DUPFD_CLOEXEC, limit).map(fd_result)
        }
        F_GETFD => Ok(u64::from(t.fds.lock().cloexec(fd)?)),
        F_SETFD => t.fds.lock().set_cloexec(fd, arg.0 & u64::from(FD_CLOEXEC) != 0).map(|_| 0),
        F_GETFL => Ok(u64::from(file_of(t, fd)?.flags())),
        F_SETFL => {
            let f = file_of(t, fd)?;
            f.set_status_flags(OpenFlags::decode(t, arg.0)?.0);
            f.file.set_status_flags(f.flags())?;
            crate::fs::fasync::set(&t.k, &f, f.flags() & O_ASYNC != 0);
            Ok(0)
        }
        // Signal-driven I/O (fs/fasync.rs): who is signalled, and with what.
        F_SETOWN => {
            let f = file_of(t, fd)?;
            // The argument is an int: a pid, or a negated process group.
            f.owner.store(arg.0 as i32, Ordering::Relaxed);
            f.owner_is_thread.store(false, Ordering::Relaxed);
            Ok(0)
        }
        F_SETOWN_EX => {
            let f = file_of(t, fd)?;
            let o: FOwnerEx = t.read_val(arg.0)?;
            let owner = match o.kind {
                F_OWNER_TID | F_OWNER_PID => o.pid,
                F_OWNER_PGRP => o.pid.checked_neg().ok_or(Errno::EINVAL)?,
                _ => return Err(Errno::EINVAL),
            };
            f.owner.store(owner, Ordering::Relaxed);
            f.owner_is_thread.store(o.kind == F_OWNER_TID, Ordering::Relaxed);
            Ok(0)
        }
        F_GETOWN_EX => {
            let f = file_of(t, fd)?;
            let owner = f.owner.load(Ordering::Relaxed);
            let o = match f.owner_is_thread.load(Ordering::Relaxed) {
                true => FOwnerEx { kind: F_OWNER_TID, pid: owner },
                false if owner < 0 => FOwnerEx { kind: F_OWNER_PGRP, pid: -owner },
                false => FOwnerEx { kind: F_OWNER_PID, pid: owner },
            };
            t.write_val(arg.0, &o)?;
            Ok(0)
        }
        F_GETOWN => Ok(i64::from(file_of(t, fd)?.owner.load(Ordering::Relaxed)) as u64),
        F_SETSIG => {
            let f = file_of(t, fd)?;
            let sig = u32::try_from(arg.0).ok().filter(|&s| s <= NSIG).ok_or(Errno::EINVAL)?;
            f.io_signal.store(sig, Ordering::Relaxed);
            Ok(0)
        }
        F_GETSIG => Ok(u64::from(file_of(t, fd)?.io_signal.load(Ordering::Relaxed))),
        c if super::lock::is_lock_cmd(c) => super::lock::fcntl_lock(t, fd, c, UserPtr::new(arg.0)),
        c if super::memfd::is_seal_cmd(c) => super::memfd::fcntl_seals(t, fd, c, u32::decode(t, arg.0)?),
        // Pipes (fs/pipe.rs).
        F_GETPIPE_SZ | F_SETPIPE_SZ => crate::fs::pipe::fcntl(&*file_of(t, fd)?.file, cmd, arg.0),
        _ => {
            file_of(t, fd)?;
            Err(Errno::EINVAL)
        }
    }
}
