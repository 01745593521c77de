//! The client half, used by the sentry. (API fixed; bodies filled in by the
//! protocol implementation.)

use std::os::fd::OwnedFd;

use abi::Errno;

/// A file the gofer holds open for the sentry (an index into its table).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Handle(pub u64);

/// A timestamp.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Time {
    pub sec: i64,
    pub nsec: i64,
}

/// File attributes as the host reports them (`fstat`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Attr {
    pub dev: u64,
    pub ino: u64,
    pub mode: u32,
    pub nlink: u64,
    pub uid: u32,
    pub gid: u32,
    pub rdev: u64,
    pub size: u64,
    pub blksize: u64,
    pub blocks: u64,
    pub atime: Time,
    pub mtime: Time,
    pub ctime: Time,
}

/// A directory entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DirEnt {
    pub ino: u64,
    /// `DT_*`.
    pub kind: u8,
    pub name: Vec<u8>,
}

/// A connection to the gofer. Safe to share between sentry threads: each
/// request and its reply are one exchange under a lock.
pub struct GoferClient {
    _sock: OwnedFd,
}

impl GoferClient {
    /// Wrap a connected `SOCK_SEQPACKET` socket.
    pub fn new(sock: OwnedFd) -> GoferClient {
        GoferClient { _sock: sock }
    }

    /// The root of the served tree.
    pub fn attach(&self) -> Result<(Handle, Attr), Errno> {
        Err(Errno::EIO)
    }

    /// Walk one component `name` from directory `dir` (never follows a
    /// symlink; `name` has no `/` and is not `.` or `..`).
    pub fn walk(&self, _dir: Handle, _name: &[u8]) -> Result<(Handle, Attr), Errno> {
        Err(Errno::EIO)
    }

    /// Current attributes of `h`.
    pub fn getattr(&self, _h: Handle) -> Result<Attr, Errno> {
        Err(Errno::EIO)
    }

    /// Open `h` with `open(2)` flags (`O_RDONLY`, `O_RDWR` ...; never
    /// `O_CREAT`) and receive the host descriptor.
    pub fn open(&self, _h: Handle, _flags: u32) -> Result<OwnedFd, Errno> {
        Err(Errno::EIO)
    }

    /// All entries of directory `h`, without `.` and `..`.
    pub fn readdir(&self, _h: Handle) -> Result<Vec<DirEnt>, Errno> {
        Err(Errno::EIO)
    }

    /// The target of symlink `h`.
    pub fn readlink(&self, _h: Handle) -> Result<Vec<u8>, Errno> {
        Err(Errno::EIO)
    }

    /// `fstatfs` of the file system holding `h`.
    pub fn statfs(&self, _h: Handle) -> Result<abi::types::Statfs, Errno> {
        Err(Errno::EIO)
    }

    /// Forget `h`.
    pub fn close(&self, _h: Handle) {}
}
