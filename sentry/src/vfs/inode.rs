//! What a file system implements: inodes and open files.
//!
//! Path resolution, mounts, permission checks, the fd table and file offsets
//! live in the VFS (`vfs/`); a file system (`fs/`) only answers for its own
//! inodes, one component at a time. Every call returns `abi::Errno` on
//! failure: a file system never panics on what an application or the gofer
//! sends.

use super::Caller;
use std::any::Any;
use std::sync::Arc;

use abi::types::Timespec;
use abi::Errno;

/// Result of a VFS or file system operation: an errno for the application.
pub type KResult<T> = Result<T, Errno>;

/// A reference-counted inode.
pub type InodeRef = Arc<dyn Inode>;
/// A reference-counted open file (the file system's half of a file
/// description; the VFS keeps offset and status flags).
pub type FileRef = Arc<dyn FileOps>;

/// The attributes `stat` reports. `mode` includes the file type bits
/// (`S_IFREG` ...).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct InodeAttr {
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
    pub atime: Timespec,
    pub mtime: Timespec,
    pub ctime: Timespec,
}

impl InodeAttr {
    /// The file type bits of `mode`.
    pub fn file_type(&self) -> u32 {
        self.mode & abi::consts::S_IFMT
    }
    pub fn is_dir(&self) -> bool {
        self.file_type() == abi::consts::S_IFDIR
    }
    pub fn is_symlink(&self) -> bool {
        self.file_type() == abi::consts::S_IFLNK
    }
    pub fn is_regular(&self) -> bool {
        self.file_type() == abi::consts::S_IFREG
    }
}

/// One directory entry, as `readdir` lists it (without `.` and `..`, which
/// the VFS adds).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DirEntry {
    pub ino: u64,
    /// `DT_*`.
    pub kind: u8,
    pub name: Vec<u8>,
}

/// A time to set with `set_attr`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TimeSet {
    Now,
    At(Timespec),
}

/// The attribute changes of `chmod`, `chown`, `truncate`, `utimensat`.
/// Permission checks are the VFS's; the file system applies.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SetAttr {
    pub mode: Option<u32>,
    pub uid: Option<u32>,
    pub gid: Option<u32>,
    pub size: Option<u64>,
    pub atime: Option<TimeSet>,
    pub mtime: Option<TimeSet>,
}

/// What `create` makes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NodeKind {
    Regular,
    Directory,
    Symlink(Vec<u8>),
    Fifo,
    Socket,
    CharDevice(u64),
    BlockDevice(u64),
}

/// Who creates a node: owner and permission bits (umask already applied).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CreateAttr {
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
}

/// File system statistics, as `statfs` reports them.
pub type FsStat = abi::types::Statfs;

/// An inode of some file system. Directory operations take one name
/// component (never containing `/`, never `.` or `..`; the VFS checks).
pub trait Inode: Send + Sync + Any {
    /// Current attributes.
    fn attr(&self) -> KResult<InodeAttr>;

    /// Change attributes (size truncates or extends a regular file).
    fn set_attr(&self, _attr: &SetAttr) -> KResult<()> {
        Err(Errno::EPERM)
    }

    /// Find `name` in this directory.
    fn lookup(&self, _name: &[u8]) -> KResult<InodeRef> {
        Err(Errno::ENOTDIR)
    }

    /// Whether `name` in this directory still names `child` (cached by an
    /// earlier lookup). A file system whose files change behind the
    /// sandbox's back (a bind mount of a host directory) asks; the others
    /// keep their names in step themselves.
    fn still_names(&self, _name: &[u8], _child: &InodeRef) -> bool {
        true
    }

    /// All entries of this directory, without `.` and `..`, in a stable order.
    fn readdir(&self) -> KResult<Vec<DirEntry>> {
        Err(Errno::ENOTDIR)
    }

    /// The target of this symlink.
    fn readlink(&self, _cx: Caller<'_>) -> KResult<Vec<u8>> {
        Err(Errno::EINVAL)
    }

    /// Open this inode. `flags` are the `open(2)` flags (access mode,
    /// `O_TRUNC` already applied by the VFS through `set_attr`). Directories
    /// may be opened for reading (the VFS reads them with `readdir`).
    fn open(&self, cx: Caller<'_>, flags: u32) -> KResult<FileRef>;

    /// Create `name` in this directory; `EEXIST` if it exists.
    fn create(&self, _name: &[u8], _kind: NodeKind, _attr: CreateAttr) -> KResult<InodeRef> {
        Err(Errno::EROFS)
    }

    /// `O_TMPFILE`: a new regular file in this directory's file system that
    /// no directory names (link count 0). When `linkable`, `link` may give
    /// it a name once.
    fn create_tmpfile(&self, _attr: CreateAttr, _linkable: bool) -> KResult<InodeRef> {
        Err(Errno::EOPNOTSUPP)
    }

    /// Make `name` in this directory a hard link to `target` (same file system).
    fn link(&self, _name: &[u8], _target: &InodeRef) -> KResult<()> {
        Err(Errno::EROFS)
    }

    /// Remove `name`: a non-directory when `dir` is false (`EISDIR` for a
    /// directory), an empty directory when true (`ENOTDIR`, `ENOTEMPTY`).
    fn unlink(&self, _name: &[u8], _dir: bool) -> KResult<()> {
        Err(Errno::EROFS)
    }

    /// Move `old` in this directory to `new` in `new_dir` (same file system,
    /// `EXDEV` otherwise), replacing per rename(2). `flags` are `RENAME_*`.
    fn rename(&self, _old: &[u8], _new_dir: &InodeRef, _new: &[u8], _flags: u32) -> KResult<()> {
        Err(Errno::EROFS)
    }

    /// Statistics of the file system holding this inode.
    fn statfs(&self) -> KResult<FsStat> {
        Ok(FsStat {
            f_type: abi::consts::TMPFS_MAGIC,
            f_bsize: 4096,
            f_namelen: 255,
            f_frsize: 4096,
            ..Default::default()
        })
    }

    /// The value of extended attribute `name` (a full name with its
    /// namespace prefix: `user.foo`); `ENODATA` if it is not set. Permission
    /// and namespace checks are the VFS's.
    fn getxattr(&self, _name: &[u8]) -> KResult<Vec<u8>> {
        Err(Errno::EOPNOTSUPP)
    }

    /// Set extended attribute `name`; `flags` are `XATTR_CREATE` (`EEXIST`
    /// if set) and `XATTR_REPLACE` (`ENODATA` if not set).
    fn setxattr(&self, _name: &[u8], _value: &[u8], _flags: u32) -> KResult<()> {
        Err(Errno::EOPNOTSUPP)
    }

    /// The names of all extended attributes set, in a stable order.
    fn listxattr(&self) -> KResult<Vec<Vec<u8>>> {
        Err(Errno::EOPNOTSUPP)
    }

    /// Remove extended attribute `name`; `ENODATA` if it is not set.
    fn removexattr(&self, _name: &[u8]) -> KResult<()> {
        Err(Errno::EOPNOTSUPP)
    }

    /// For magic links (`/proc/self/exe`, `/proc/<pid>/fd/N`): the location
    /// the link stands for, used by path resolution instead of `readlink`.
    fn magic_link(&self) -> Option<crate::vfs::Location> {
        None
    }

    /// This inode as `Any`, so a file system can find its own inodes (for
    /// `link` and `rename` targets).
    fn as_any(&self) -> &dyn Any;
}

/// The file system's half of an open file. Offsets are the VFS's: `read` and
/// `write` get the position to use (ignored where `seekable` is false).
pub trait FileOps: Send + Sync + Any {
    /// Read at `off` into `buf`; 0 at end of file.
    fn read(&self, _cx: Caller<'_>, _buf: &mut [u8], _off: u64) -> KResult<usize> {
        Err(Errno::EINVAL)
    }

    /// Write `buf` at `off` (the VFS passes the end of file for `O_APPEND`).
    fn write(&self, _cx: Caller<'_>, _buf: &[u8], _off: u64) -> KResult<usize> {
        Err(Errno::EINVAL)
    }

    /// Whether the file has a position (false for terminals, pipes, sockets).
    fn seekable(&self) -> bool {
        true
    }

    /// A byte stream (pipe, stream socket): a blocking `write` goes on until
    /// everything is written, across waits.
    fn is_stream(&self) -> bool {
        false
    }

    /// Whether the position lives in the file itself rather than in the
    /// VFS's file description (a donated host descriptor shares its offset
    /// with the host). Such files get [`CURRENT_POS`] as the offset of
    /// non-positional reads and writes, and `lseek` calls [`FileOps::seek`].
    fn has_own_offset(&self) -> bool {
        false
    }

    /// `lseek` for files with their own offset.
    fn seek(&self, _off: i64, _whence: u32) -> KResult<u64> {
        Err(Errno::ESPIPE)
    }

    /// Device-specific `ioctl` (requests the VFS does not handle itself).
    /// `arg` is the raw argument; the handler copies through `mem`.
    fn ioctl(&self, _req: u32, _arg: u64, _mem: &dyn UserMem) -> KResult<u64> {
        Err(Errno::ENOTTY)
    }

    /// Flush to stable storage.
    fn fsync(&self) -> KResult<()> {
        Ok(())
    }

    /// Current readiness as `POLL*` bits (regular files are always ready).
    fn poll(&self, _cx: Caller<'_>) -> u32 {
        (libc::POLLIN | libc::POLLOUT | libc::POLLRDNORM | libc::POLLWRNORM) as u32
    }

    /// Where readiness changes are announced, for files whose readiness
    /// changes inside the sentry (pipes, sockets, eventfds).
    fn wait_queue(&self) -> Option<&crate::kernel::waiter::WaitQueue> {
        None
    }

    /// `F_SETFL` changed the description's status flags to `flags`: a file
    /// whose open file description lives on the host (a donated descriptor,
    /// shared with processes outside) makes the host's match.
    fn set_status_flags(&self, _flags: u32) -> KResult<()> {
        Ok(())
    }

    /// A terminal (the host's, donated as stdio): job control applies.
    fn is_terminal(&self) -> bool {
        false
    }

    /// A terminal's local modes (`c_lflag`), `None` if not a terminal.
    fn terminal_lflag(&self) -> Option<u32> {
        None
    }

    /// A donated host descriptor whose readiness the host knows (stdio).
    fn host_fd(&self) -> Option<std::os::fd::BorrowedFd<'_>> {
        None
    }

    /// Bytes available to read without blocking (`FIONREAD`), if known.
    fn readable_bytes(&self) -> Option<u64> {
        None
    }

    /// The extents `[start, end)` that hold data, in order, for `SEEK_DATA`
    /// and `SEEK_HOLE`; `None` when the file system does not track holes
    /// (the whole file is then data).
    fn data_ranges(&self) -> Option<Vec<(u64, u64)>> {
        None
    }

    /// `fallocate(2)`: `mode` is the `FALLOC_FL_*` bits. `None` when the
    /// file system has no support (the VFS then extends with `set_attr`
    /// for mode 0 and `KEEP_SIZE`).
    fn fallocate(&self, _mode: u32, _off: u64, _len: u64) -> Option<KResult<()>> {
        None
    }

    /// File seals (`F_GET_SEALS`); `None` where sealing is not supported.
    fn seals(&self) -> Option<u32> {
        None
    }

    /// Add file seals (`F_ADD_SEALS`).
    fn add_seals(&self, _seals: u32) -> KResult<()> {
        Err(Errno::EINVAL)
    }

    /// This file as `Any`.
    fn as_any(&self) -> &dyn Any;
}

/// The offset a file with its own position gets for a plain `read`/`write`.
pub const CURRENT_POS: u64 = u64::MAX;

/// Access to the calling task's memory for `ioctl` handlers.
pub trait UserMem {
    /// Copy `buf.len()` bytes from application address `addr`.
    fn read_bytes(&self, addr: u64, buf: &mut [u8]) -> KResult<()>;
    /// Copy `buf` to application address `addr`.
    fn write_bytes(&self, addr: u64, buf: &[u8]) -> KResult<()>;
}
