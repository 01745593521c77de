//! File descriptions (offset, status flags) and the fd table.

use parking_lot::Mutex;
use std::collections::BTreeMap;
use std::sync::Arc;

use abi::consts::*;
use abi::Errno;

use super::{DirEntry, FileRef, InodeRef, KResult, Location};

/// An open file description: shared by `dup`ed descriptors and across fork.
pub struct FileDescription {
    pub file: FileRef,
    /// Where it was opened, for `/proc/<pid>/fd` and `fstat`; `None` for
    /// anonymous files (pipes, sockets).
    pub loc: Option<Location>,
    pub inode: Option<InodeRef>,
    /// `O_*` status flags and access mode as given to open.
    flags: Mutex<u32>,
    offset: Mutex<u64>,
    /// A directory's entries, read once per open (for `getdents64`).
    pub dir_entries: Mutex<Option<Vec<DirEntry>>>,
    /// A display name for anonymous files (`pipe:[N]`, `anon_inode:...`).
    pub anon_name: Option<Vec<u8>>,
    /// An OFD lock or flock was taken through this description: release
    /// them when it goes.
    has_locks: std::sync::atomic::AtomicBool,
    /// `F_SETOWN`: who gets `SIGIO` (a pid; a negated process group; with
    /// `owner_is_thread`, a thread id, from `F_SETOWN_EX` `F_OWNER_TID`).
    pub owner: std::sync::atomic::AtomicI32,
    pub owner_is_thread: std::sync::atomic::AtomicBool,
    /// `F_SETSIG`: the signal sent instead of `SIGIO` (0: `SIGIO`).
    pub io_signal: std::sync::atomic::AtomicU32,
    /// With `O_ASYNC`: the subscription to the file's readiness that sends
    /// the owner its signal.
    pub fasync: Mutex<Option<Arc<dyn crate::kernel::waiter::Subscriber>>>,
}

impl FileDescription {
    pub fn new(file: FileRef, loc: Option<Location>, inode: Option<InodeRef>, flags: u32) -> Arc<FileDescription> {
        Arc::new(FileDescription {
            file,
            loc,
            inode,
            flags: Mutex::new(flags & !(O_CREAT | O_EXCL | O_NOCTTY | O_TRUNC | O_CLOEXEC)),
            offset: Mutex::new(0),
            dir_entries: Mutex::new(None),
            anon_name: None,
            has_locks: Default::default(),
            owner: Default::default(),
            owner_is_thread: Default::default(),
            io_signal: Default::default(),
            fasync: Mutex::new(None),
        })
    }

    /// A description with no path (stdio donated by the host, pipes, sockets),
    /// shown in `/proc/<pid>/fd` as `name`.
    pub fn new_anon(file: FileRef, inode: Option<InodeRef>, flags: u32, name: Vec<u8>) -> Arc<FileDescription> {
        Arc::new(FileDescription {
            file,
            loc: None,
            inode,
            flags: Mutex::new(flags),
            offset: Mutex::new(0),
            dir_entries: Mutex::new(None),
            anon_name: Some(name),
            has_locks: Default::default(),
            owner: Default::default(),
            owner_is_thread: Default::default(),
            io_signal: Default::default(),
            fasync: Mutex::new(None),
        })
    }

    pub fn flags(&self) -> u32 {
        *self.flags.lock()
    }

    /// `F_SETFL`: only `O_APPEND`, `O_NONBLOCK`, `O_ASYNC`, `O_DIRECT`,
    /// `O_NOATIME` change.
    pub fn set_status_flags(&self, f: u32) {
        let settable = O_APPEND | O_NONBLOCK | O_ASYNC | O_DIRECT | O_NOATIME;
        let mut g = self.flags.lock();
        *g = (*g & !settable) | (f & settable);
    }

    pub fn readable(&self) -> bool {
        let f = self.flags();
        f & O_PATH == 0 && matches!(f & O_ACCMODE, O_RDONLY | O_RDWR)
    }

    pub fn writable(&self) -> bool {
        let f = self.flags();
        f & O_PATH == 0 && matches!(f & O_ACCMODE, O_WRONLY | O_RDWR)
    }

    /// This description's identity as a lock owner (`vfs::lock`).
    pub fn lock_id(&self) -> usize {
        self as *const FileDescription as usize
    }

    /// Note that a lock owned by this description exists.
    pub fn mark_locked(&self) {
        self.has_locks.store(true, std::sync::atomic::Ordering::Relaxed);
    }

    /// The offset, locked for a read/write/seek.
    pub fn offset(&self) -> parking_lot::MutexGuard<'_, u64> {
        self.offset.lock()
    }
}

impl Drop for FileDescription {
    /// The last reference to an open file went away: inotify's close event,
    /// and the OFD locks and flocks it owned go.
    fn drop(&mut self) {
        crate::fs::inotify::notify_close(self);
        if *self.has_locks.get_mut() {
            super::lock::release_description_locks(self.lock_id());
        }
    }
}

#[derive(Clone)]
struct Slot {
    file: Arc<FileDescription>,
    cloexec: bool,
}

/// A process's descriptor table.
#[derive(Clone, Default)]
pub struct FdTable {
    slots: BTreeMap<i32, Slot>,
}

/// Most descriptors a table holds (`RLIMIT_NOFILE` default).
pub const NOFILE: i32 = 1024;

impl FdTable {
    pub fn new() -> FdTable {
        FdTable::default()
    }

    pub fn get(&self, fd: i32) -> KResult<Arc<FileDescription>> {
        self.slots.get(&fd).map(|s| s.file.clone()).ok_or(Errno::EBADF)
    }

    pub fn cloexec(&self, fd: i32) -> KResult<bool> {
        self.slots.get(&fd).map(|s| s.cloexec).ok_or(Errno::EBADF)
    }

    pub fn set_cloexec(&mut self, fd: i32, on: bool) -> KResult<()> {
        self.slots.get_mut(&fd).map(|s| s.cloexec = on).ok_or(Errno::EBADF)
    }

    /// Install at the lowest free descriptor `>= min`.
    pub fn insert_from(&mut self, min: i32, file: Arc<FileDescription>, cloexec: bool, limit: i32) -> KResult<i32> {
        let mut fd = min;
        for (&k, _) in self.slots.range(min..) {
            if k != fd {
                break;
            }
            fd += 1;
        }
        if fd >= limit {
            return Err(Errno::EMFILE);
        }
        self.slots.insert(fd, Slot { file, cloexec });
        Ok(fd)
    }

    pub fn insert(&mut self, file: Arc<FileDescription>, cloexec: bool) -> KResult<i32> {
        self.insert_from(0, file, cloexec, NOFILE)
    }

    /// Install at exactly `fd`, returning what was there.
    pub fn insert_at(&mut self, fd: i32, file: Arc<FileDescription>, cloexec: bool) -> Option<Arc<FileDescription>> {
        self.slots.insert(fd, Slot { file, cloexec }).map(|s| s.file)
    }

    pub fn remove(&mut self, fd: i32) -> KResult<Arc<FileDescription>> {
        self.slots.remove(&fd).map(|s| s.file).ok_or(Errno::EBADF)
    }

    /// Close every close-on-exec descriptor.
    pub fn close_on_exec(&mut self) {
        self.slots.retain(|_, s| !s.cloexec);
    }

    /// All open descriptors, in order.
    pub fn fds(&self) -> Vec<i32> {
        self.slots.keys().copied().collect()
    }
}
