//! File systems: the gofer-backed host root, tmpfs, overlay, /dev,
//! /dev/pts, /proc, and host descriptors (stdio).
//!
//! Each file system answers only for its own inodes (see `vfs::inode`);
//! helpers every file system shares live here: pseudo device numbers, the
//! current time, `makedev`, lock recovery, and the open file of a directory.

use std::any::Any;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use abi::consts::{DT_BLK, DT_CHR, DT_DIR, DT_FIFO, DT_LNK, DT_REG, DT_SOCK, DT_UNKNOWN};
use abi::consts::{S_IFBLK, S_IFCHR, S_IFDIR, S_IFIFO, S_IFLNK, S_IFMT, S_IFREG, S_IFSOCK};
use abi::types::Timespec;
use abi::Errno;

use crate::vfs::Caller;
use crate::vfs::{FileOps, KResult};

pub mod dev;
pub mod devpts;
pub mod epoll;
pub mod eventfd;
pub mod fasync;
pub mod gofer;
pub mod host;
pub mod inotify;
pub mod overlay;
pub mod pipe;
pub mod proc;
pub mod pty;
pub mod sys;
pub mod timerfd;
pub mod tmpfs;

pub use dev::{device_path, new_devfs, open_char_device};
pub use devpts::DevPts;
pub use gofer::{GoferFile, GoferFs, GoferFsOptions, GoferInode};
pub use host::{HostFile, HostInode};
pub use overlay::{OverlayFs, OverlayInode};

pub use tmpfs::{Tmpfs, TmpfsInode};

/// A device number as glibc's `makedev` encodes it (what `st_rdev` and
/// `st_dev` hold).
pub const fn makedev(major: u64, minor: u64) -> u64 {
    ((major & 0xffff_f000) << 32) | ((major & 0x0000_0fff) << 8) | ((minor & 0xffff_ff00) << 12) | (minor & 0x0000_00ff)
}

/// The major number of a device number encoded by [`makedev`].
pub const fn major(dev: u64) -> u64 {
    ((dev >> 32) & 0xffff_f000) | ((dev >> 8) & 0x0000_0fff)
}

/// The minor number of a device number encoded by [`makedev`].
pub const fn minor(dev: u64) -> u64 {
    ((dev >> 12) & 0xffff_ff00) | (dev & 0x0000_00ff)
}

/// A fresh anonymous device number (major 0, as Linux gives to in-memory
/// file systems), for a new file system instance's `st_dev`.
pub fn next_dev() -> u64 {
    static NEXT_MINOR: AtomicU64 = AtomicU64::new(16);
    makedev(0, NEXT_MINOR.fetch_add(1, Ordering::Relaxed))
}

/// The current wall-clock time, as timestamps record it.
pub(crate) fn now() -> Timespec {
    match SystemTime::now().duration_since(UNIX_EPOCH) {
        Ok(d) => {
            Timespec { tv_sec: i64::try_from(d.as_secs()).unwrap_or(i64::MAX), tv_nsec: i64::from(d.subsec_nanos()) }
        }
        Err(_) => Timespec::default(),
    }
}

/// A timestamp as an ordered pair (`Timespec` has no ordering).
pub(crate) fn ts_key(t: Timespec) -> (i64, i64) {
    (t.tv_sec, t.tv_nsec)
}

/// The `DT_*` directory entry type for a `st_mode`.
pub fn dtype_of_mode(mode: u32) -> u8 {
    match mode & S_IFMT {
        S_IFREG => DT_REG,
        S_IFDIR => DT_DIR,
        S_IFLNK => DT_LNK,
        S_IFCHR => DT_CHR,
        S_IFBLK => DT_BLK,
        S_IFIFO => DT_FIFO,
        S_IFSOCK => DT_SOCK,
        _ => DT_UNKNOWN,
    }
}

/// Whether `open(2)` flags ask for writing.
pub(crate) fn wants_write(flags: u32) -> bool {
    matches!(flags & abi::consts::O_ACCMODE, abi::consts::O_WRONLY | abi::consts::O_RDWR)
}

/// The open file of a directory: the VFS lists it with `Inode::readdir`, so
/// reading and writing it are errors.
pub struct DirFile;

impl FileOps for DirFile {
    fn read(&self, _cx: Caller<'_>, _buf: &mut [u8], _off: u64) -> KResult<usize> {
        Err(Errno::EISDIR)
    }

    fn write(&self, _cx: Caller<'_>, _buf: &[u8], _off: u64) -> KResult<usize> {
        Err(Errno::EISDIR)
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn makedev_encodes_like_glibc_and_splits_back() {
        let dev = makedev(0x12345, 0x678_9abc);

        assert_eq!(makedev(1, 3), 0x103);
        assert_eq!((major(dev), minor(dev)), (0x12345, 0x678_9abc));
    }

    #[test]
    fn next_dev_returns_distinct_anonymous_devices() {
        let a = next_dev();
        let b = next_dev();

        assert_ne!(a, b);
        assert_eq!(major(a), 0);
    }
}
