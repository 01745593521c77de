//! System calls, one file per family; `table.rs` maps numbers to handlers.

pub mod args;
pub(crate) mod args_fuzz;
mod copy;
mod creds;
mod d_path;
mod epoll;
mod eventfd;
mod fadvise;
mod fcntl;
mod fhandle;
mod file;
pub mod filter;
mod futex;
mod inotify;
mod ioctl;
mod lock;
mod memfd;
mod mm;
mod mount;
mod namei;
mod open;
pub mod pidfd;
mod pipe;
mod poll;
mod process;
mod random;
mod read_write;
mod readdir;
mod rseq;
mod signal;
mod signalfd;
mod socket;
mod splice;
mod stat;
mod statfs;
mod sync;
pub mod sys;
mod sysv;
pub mod table;
mod time;
mod timerfd;
mod timers;
mod tty;
mod utimes;
mod xattr;

use std::sync::Arc;

use abi::consts::*;
use abi::Errno;

use crate::kernel::Task;
use crate::vfs::Caller;
use crate::vfs::{FileDescription, KResult, Location};

pub use table::dispatch;

/// The open file for `fd`.
pub fn file_of(t: &Task, fd: i32) -> KResult<Arc<FileDescription>> {
    t.fds.lock().get(fd)
}

/// The starting point for a relative path: the cwd for `AT_FDCWD`, else the
/// directory open at `dirfd`.
pub fn dir_of(t: &Task, dirfd: i32) -> KResult<Location> {
    if dirfd == AT_FDCWD {
        return Ok(t.fs().cwd);
    }
    let f = file_of(t, dirfd)?;
    let loc = f.loc.clone().ok_or(Errno::ENOTDIR)?;
    if !loc.inode().attr()?.is_dir() {
        return Err(Errno::ENOTDIR);
    }
    Ok(loc)
}

/// Resolve `path` relative to `dirfd`. With `AT_EMPTY_PATH` and an empty
/// path, the file open at `dirfd` itself.
pub fn resolve_at(t: &Task, dirfd: i32, path: &[u8], follow: bool, empty_ok: bool) -> KResult<Location> {
    if path.is_empty() {
        if !empty_ok {
            return Err(Errno::ENOENT);
        }
        if dirfd == AT_FDCWD {
            return Ok(t.fs().cwd);
        }
        return file_of(t, dirfd)?.loc.clone().ok_or(Errno::EBADF);
    }
    let fs = t.fs();
    let start = if path[0] == b'/' { fs.root.clone() } else { dir_of(t, dirfd)? };
    t.k.vfs.resolve(Caller::of(t), &fs.root, &start, path, follow, &t.creds())
}

/// The descriptor limit of `t` (`RLIMIT_NOFILE`).
pub(super) fn fd_limit(t: &Task) -> i32 {
    i32::try_from(t.rlimit(RLIMIT_NOFILE).rlim_cur.min(1 << 20)).unwrap_or(1 << 20)
}

/// Install `desc` at the lowest free descriptor.
pub(super) fn install(t: &Task, desc: Arc<FileDescription>, cloexec: bool) -> KResult<i32> {
    let limit = fd_limit(t);
    t.fds.lock().insert_from(0, desc, cloexec, limit)
}

/// An anonymous-inode file (`anon_inode:[name]`) with no inode of its own.
pub(super) fn install_anon(t: &Task, file: crate::vfs::FileRef, flags: u32, name: &str) -> KResult<u64> {
    let desc =
        FileDescription::new_anon(file, None, O_RDWR | (flags & O_NONBLOCK), format!("anon_inode:{name}").into_bytes());
    install(t, desc, flags & O_CLOEXEC != 0).map(|fd| fd as u64)
}

/// A new descriptor as a call's result (descriptors are never negative).
pub(super) fn fd_result(fd: i32) -> u64 {
    u64::from(fd.unsigned_abs())
}
