//! tmpfs: a file system kept in the sentry's memory.
//!
//! Every inode lives as long as a directory entry or an open file holds it
//! (`Arc`). Directory changes (create, unlink, link, rename) are serialized
//! by one lock per instance, like Linux's rename mutex, so two directories
//! can be locked together without an ordering rule; lookups and reads take
//! only the lock of the one directory or file they touch. Locks nest in one
//! order: a directory's entries, then a child's entries, then metadata.

use parking_lot::Mutex;
use std::any::Any;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Weak};

use abi::consts::{FALLOC_FL_KEEP_SIZE, FALLOC_FL_PUNCH_HOLE};
use abi::consts::{
    O_ACCMODE, O_RDONLY, RENAME_EXCHANGE, RENAME_NOREPLACE, S_IFBLK, S_IFCHR, S_IFDIR, S_IFIFO, S_IFLNK, S_IFMT,
    S_IFREG, S_IFSOCK, S_ISGID, TMPFS_MAGIC, XATTR_CREATE, XATTR_REPLACE, XATTR_SIZE_MAX,
};
use abi::types::Timespec;
use abi::Errno;

use super::{dtype_of_mode, now, ts_key, DirFile};
use crate::vfs::Caller;
use crate::vfs::{
    CreateAttr, DirEntry, FileOps, FileRef, FsStat, Inode, InodeAttr, InodeRef, KResult, NodeKind, SetAttr, TimeSet,
};

/// The largest file size tmpfs accepts (Linux's `MAX_LFS_FILESIZE`).
const MAX_FILE_SIZE: u64 = i64::MAX as u64;
/// The longest name a directory entry may have.
const NAME_MAX: usize = 255;
/// What Linux's tmpfs counts per directory entry in a directory's size.
const BOGO_DIRENT_SIZE: u64 = 20;
const PAGE_SIZE: u64 = 4096;

/// One tmpfs instance.
pub struct Tmpfs {
    shared: Arc<Shared>,
    root: Arc<TmpfsInode>,
}

/// What the inodes of one instance share.
struct Shared {
    dev: u64,
    next_ino: AtomicU64,
    /// Serializes changes to the directory tree.
    tree: Mutex<()>,
}

impl Shared {
    fn new_inode(self: &Arc<Self>, mode: u32, uid: u32, gid: u32, rdev: u64, body: Body) -> Arc<TmpfsInode> {
        let t = now();
        let ino = self.next_ino.fetch_add(1, Ordering::Relaxed);
        Arc::new_cyclic(|me| TmpfsInode {
            fs: Arc::clone(self),
            me: me.clone(),
            ino,
            meta: Mutex::new(Meta { mode, uid, gid, nlink: 1, rdev, atime: t, mtime: t, ctime: t }),
            body,
            opaque: AtomicBool::new(false),
            origin_ino: AtomicU64::new(0),
            seals: AtomicU32::new(F_SEAL_SEAL),
            linkable: AtomicBool::new(false),
            xattrs: Mutex::default(),
        })
    }
}

impl Tmpfs {
    /// A new, empty instance whose root directory has permission bits
    /// `root_mode` (file type bits, if given, are ignored) and owner
    /// `uid:gid`. `dev` is what `st_dev` reports (see `fs::next_dev`).
    pub fn new(dev: u64, root_mode: u32, uid: u32, gid: u32) -> Arc<Tmpfs> {
        let shared = Arc::new(Shared { dev, next_ino: AtomicU64::new(1), tree: Mutex::new(()) });
        let root = shared.new_inode(S_IFDIR | (root_mode & 0o7777), uid, gid, 0, Body::Dir(Mutex::default()));
        Arc::new(Tmpfs { shared, root })
    }

    /// The root directory.
    pub fn root(&self) -> InodeRef {
        self.root.clone()
    }

    /// The root directory, as this file system's own type.
    pub fn root_inode(&self) -> Arc<TmpfsInode> {
        Arc::clone(&self.root)
    }

    /// The device number `st_dev` reports.
    pub fn dev(&self) -> u64 {
        self.shared.dev
    }
}

/// Attributes of an inode other than its contents.
struct Meta {
    mode: u32,
    uid: u32,
    gid: u32,
    /// Links of a non-directory; for a directory, 1 while it is in the tree
    /// and 0 once removed (its reported count is computed from its entries).
    nlink: u64,
    rdev: u64,
    atime: Timespec,
    mtime: Timespec,
    ctime: Timespec,
}

/// The contents of a regular file. Bytes past `data.len()` up to `size` are
/// a hole that reads as zeros (so `truncate -s 10G` costs no memory).
/// `pages` are the page indexes that were written or allocated: the rest
/// are holes for `SEEK_DATA`/`SEEK_HOLE` and `st_blocks`.
#[derive(Default)]
struct FileData {
    data: Vec<u8>,
    size: u64,
    pages: BTreeSet<u64>,
}

/// `F_SEAL_*`: no more seals, no shrinking, no growing, no writing.
pub const F_SEAL_SEAL: u32 = 1;
pub const F_SEAL_SHRINK: u32 = 2;
pub const F_SEAL_GROW: u32 = 4;
pub const F_SEAL_WRITE: u32 = 8;
pub const F_SEAL_FUTURE_WRITE: u32 = 0x10;
const ALL_SEALS: u32 = F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_FUTURE_WRITE | 0x20;

fn mark_pages(pages: &mut BTreeSet<u64>, start: u64, end: u64) {
    if end > start {
        pages.extend(start / PAGE_SIZE..end.div_ceil(PAGE_SIZE));
    }
}

enum Body {
    Regular(Mutex<FileData>),
    Dir(Mutex<BTreeMap<Vec<u8>, Arc<TmpfsInode>>>),
    Symlink(Vec<u8>),
    /// FIFOs, sockets and device nodes: the mode and `rdev` say which.
    Special,
}

/// An inode of a tmpfs instance.
pub struct TmpfsInode {
    fs: Arc<Shared>,
    me: Weak<TmpfsInode>,
    ino: u64,
    meta: Mutex<Meta>,
    body: Body,
    /// Overlay bookkeeping when this tmpfs is an overlay's upper layer: the
    /// directory hides the lower layer's entries.
    pub(crate) opaque: AtomicBool,
    /// Overlay bookkeeping: the inode number of the lower object this one
    /// was copied up from (0 when none).
    pub(crate) origin_ino: AtomicU64,
    /// `F_SEAL_*` (files start sealed against sealing; `memfd_create`
    /// with `MFD_ALLOW_SEALING` clears that).
    seals: AtomicU32,
    /// An `O_TMPFILE` file that `link` may still name.
    linkable: AtomicBool,
    /// Extended attributes by full name (listed in descending name order,
    /// as Linux's tmpfs lists them from its tree).
    xattrs: Mutex<BTreeMap<Vec<u8>, Vec<u8>>>,
}

/// The namespaces tmpfs stores (`system.*` holds POSIX ACLs, which this
/// tmpfs does not keep).
const XATTR_PREFIXES: [&[u8]; 3] = [b"user.", b"trusted.", b"security."];

fn check_xattr_namespace(name: &[u8]) -> KResult<()> {
    if XATTR_PREFIXES.iter().any(|p| name.len() > p.len() && name.starts_with(p)) {
        Ok(())
    } else {
        Err(Errno::EOPNOTSUPP)
    }
}

/// The POSIX ACL attributes: never set here, so reading one finds nothing.
fn is_posix_acl(name: &[u8]) -> bool {
    name == b"system.posix_acl_access" || name == b"system.posix_acl_default"
}

impl TmpfsInode {
    /// This inode's number.
    pub fn ino(&self) -> u64 {
        self.ino
    }

    /// Whether this is an overlay whiteout: a character device 0:0.
    pub fn is_whiteout(&self) -> bool {
        let m = self.meta.lock();
        m.mode & S_IFMT == S_IFCHR && m.rdev == 0
    }

    /// Allow `F_ADD_SEALS` (a `memfd_create` with `MFD_ALLOW_SEALING`).
    pub fn allow_sealing(&self) {
        self.seals.store(0, Ordering::Relaxed);
    }

    fn arc(&self) -> KResult<Arc<TmpfsInode>> {
        self.me.upgrade().ok_or(Errno::ENOENT)
    }

    fn dir(&self) -> KResult<&Mutex<BTreeMap<Vec<u8>, Arc<TmpfsInode>>>> {
        match &self.body {
            Body::Dir(d) => Ok(d),
            _ => Err(Errno::ENOTDIR),
        }
    }

    fn is_dir(&self) -> bool {
        matches!(self.body, Body::Dir(_))
    }

    fn is_empty_dir(&self) -> bool {
        match &self.body {
            Body::Dir(d) => d.lock().is_empty(),
            _ => false,
        }
    }

    /// Mark a change of this inode's attributes.
    fn touch_ctime(&self) {
        self.meta.lock().ctime = now();
    }

    /// Mark a change of this directory's or file's contents.
    fn touch_mtime(&self) {
        let t = now();
        let mut m = self.meta.lock();
        m.mtime = t;
        m.ctime = t;
    }

    fn same_fs(&self, other: &TmpfsInode) -> bool {
        Arc::ptr_eq(&self.fs, &other.fs)
    }

    /// Read the file's contents at `off` (for `TmpfsFile` and copy-up).
    fn read_data(&self, buf: &mut [u8], off: u64) -> KResult<usize> {
        let Body::Regular(f) = &self.body else {
            return Err(Errno::EINVAL);
        };
        let n = {
            let f = f.lock();
            if off >= f.size {
                return Ok(0);
            }
            let n = usize::try_from(f.size - off).map_or(buf.len(), |left| left.min(buf.len()));
            let buf = &mut buf[..n];
            let start = usize::try_from(off).unwrap_or(usize::MAX);
            let have = f.data.len().saturating_sub(start).min(n);
            if have > 0 {
                buf[..have].copy_from_slice(&f.data[start..start + have]);
            }
            buf[have..].fill(0);
            n
        };
        // relatime: update atime when it is older than the last change.
        let mut m = self.meta.lock();
        if ts_key(m.atime) <= ts_key(m.mtime) || ts_key(m.atime) <= ts_key(m.ctime) {
            m.atime = now();
        }
        Ok(n)
    }

    fn write_data(&self, buf: &[u8], off: u64) -> KResult<usize> {
        let Body::Regular(f) = &self.body else {
            return Err(Errno::EINVAL);
        };
        if buf.is_empty() {
            return Ok(0);
        }
        let end = off.checked_add(buf.len() as u64).filter(|&e| e <= MAX_FILE_SIZE).ok_or(Errno::EFBIG)?;
        let end_us = usize::try_from(end).map_err(|_| Errno::EFBIG)?;
        let start = end_us - buf.len();
        let seals = self.seals.load(Ordering::Relaxed);
        if seals & (F_SEAL_WRITE | F_SEAL_FUTURE_WRITE) != 0 {
            return Err(Errno::EPERM);
        }
        {
            let mut f = f.lock();
            if seals & F_SEAL_GROW != 0 && end > f.size {
                return Err(Errno::EPERM);
            }
            mark_pages(&mut f.pages, off, end);
            if f.data.len() < end_us {
                let grow = end_us - f.data.len();
                f.data.try_reserve(grow).map_err(|_| Errno::ENOSPC)?;
                f.data.resize(end_us, 0);
            }
            f.data[start..end_us].copy_from_slice(buf);
            f.size = f.size.max(end);
        }
        self.touch_mtime();
        Ok(buf.len())
    }

    fn truncate(&self, size: u64) -> KResult<()> {
        let f = match &self.body {
            Body::Regular(f) => f,
            Body::Dir(_) => return Err(Errno::EISDIR),
            _ => return Err(Errno::EINVAL),
        };
        if size > MAX_FILE_SIZE {
            return Err(Errno::EFBIG);
        }
        {
            let mut f = f.lock();
            let seals = self.seals.load(Ordering::Relaxed);
            if (seals & F_SEAL_SHRINK != 0 && size < f.size) || (seals & F_SEAL_GROW != 0 && size > f.size) {
                return Err(Errno::EPERM);
            }
            let first_gone = size.div_ceil(PAGE_SIZE);
            f.pages.retain(|&p| p < first_gone);
            let keep = usize::try_from(size).unwrap_or(usize::MAX);
            if keep < f.data.len() {
                f.data.truncate(keep);
                if f.data.capacity() > 2 * keep + 4096 {
                    f.data.shrink_to_fit();
                }
            }
            f.size = size;
        }
        self.touch_mtime();
        Ok(())
    }
}

impl TmpfsInode {
    /// `fallocate(2)` on a regular file: mode 0 extends,
    /// `KEEP_SIZE` allocates without extending, `PUNCH_HOLE|KEEP_SIZE`
    /// zeroes and frees.
    fn fallocate(&self, mode: u32, off: u64, len: u64) -> KResult<()> {
        let Body::Regular(f) = &self.body else {
            return Err(if self.is_dir() { Errno::EISDIR } else { Errno::ENODEV });
        };
        if mode & !(FALLOC_FL_KEEP_SIZE | FALLOC_FL_PUNCH_HOLE) != 0 {
            return Err(Errno::EOPNOTSUPP);
        }
        let end = off.checked_add(len).filter(|&e| e <= MAX_FILE_SIZE).ok_or(Errno::EFBIG)?;
        let seals = self.seals.load(Ordering::Relaxed);
        {
            let mut f = f.lock();
            if mode & FALLOC_FL_PUNCH_HOLE != 0 {
                if seals & (F_SEAL_WRITE | F_SEAL_FUTURE_WRITE) != 0 {
                    return Err(Errno::EPERM);
                }
                let s = usize::try_from(off).unwrap_or(usize::MAX).min(f.data.len());
                let e = usize::try_from(end).unwrap_or(usize::MAX).min(f.data.len());
                f.data[s..e].fill(0);
                // Whole pages inside the range become holes.
                let (first, last) = (off.div_ceil(PAGE_SIZE), end / PAGE_SIZE);
                f.pages.retain(|&p| p < first || p >= last);
            } else {
                if mode & FALLOC_FL_KEEP_SIZE == 0 && seals & F_SEAL_GROW != 0 && end > f.size {
                    return Err(Errno::EPERM);
                }
                // Allocated but unwritten pages stay holes for SEEK_DATA,
                // as Linux's tmpfs reports them.
                if mode & FALLOC_FL_KEEP_SIZE == 0 {
                    f.size = f.size.max(end);
                }
            }
        }
        self.touch_mtime();
        Ok(())
    }
}

fn check_name(name: &[u8]) -> KResult<()> {
    if name.len() > NAME_MAX {
        return Err(Errno::ENAMETOOLONG);
    }
    Ok(())
}

fn resolve_time(t: TimeSet, now: Timespec) -> Timespec {
    match t {
        TimeSet::Now => now,
        TimeSet::At(ts) => ts,
    }
}

fn as_tmpfs(inode: &InodeRef) -> KResult<&TmpfsInode> {
    inode.as_any().downcast_ref::<TmpfsInode>().ok_or(Errno::EXDEV)
}

impl Inode for TmpfsInode {
    fn attr(&self) -> KResult<InodeAttr> {
        let (size, blocks, dir_links) = match &self.body {
            Body::Regular(f) => {
                let f = f.lock();
                (f.size, f.pages.len() as u64 * (PAGE_SIZE / 512), 0)
            }
            Body::Dir(d) => {
                let d = d.lock();
                let subdirs = d.values().filter(|c| c.is_dir()).count() as u64;
                ((d.len() as u64 + 2) * BOGO_DIRENT_SIZE, 0, 2 + subdirs)
            }
            Body::Symlink(t) => (t.len() as u64, 0, 0),
            Body::Special => (0, 0, 0),
        };
        let m = self.meta.lock();
        let nlink = if self.is_dir() && m.nlink > 0 { dir_links } else { m.nlink };
        Ok(InodeAttr {
            dev: self.fs.dev,
            ino: self.ino,
            mode: m.mode,
            nlink,
            uid: m.uid,
            gid: m.gid,
            rdev: m.rdev,
            size,
            blksize: PAGE_SIZE,
            blocks,
            atime: m.atime,
            mtime: m.mtime,
            ctime: m.ctime,
        })
    }

    fn set_attr(&self, attr: &SetAttr) -> KResult<()> {
        if let Some(size) = attr.size {
            self.truncate(size)?;
        }
        let t = now();
        let mut m = self.meta.lock();
        if let Some(mode) = attr.mode {
            m.mode = (m.mode & S_IFMT) | (mode & 0o7777);
        }
        if let Some(uid) = attr.uid {
            m.uid = uid;
        }
        if let Some(gid) = attr.gid {
            m.gid = gid;
        }
        if let Some(a) = attr.atime {
            m.atime = resolve_time(a, t);
        }
        if let Some(mt) = attr.mtime {
            m.mtime = resolve_time(mt, t);
        }
        m.ctime = t;
        Ok(())
    }

    fn lookup(&self, name: &[u8]) -> KResult<InodeRef> {
        let d = self.dir()?.lock();
        match d.get(name) {
            Some(c) => Ok(c.clone()),
            None => Err(Errno::ENOENT),
        }
    }

    fn readdir(&self) -> KResult<Vec<DirEntry>> {
        let d = self.dir()?.lock();
        Ok(d.iter()
            .map(|(name, c)| DirEntry { ino: c.ino, kind: dtype_of_mode(c.meta.lock().mode), name: name.clone() })
            .collect())
    }

    fn readlink(&self, _cx: Caller<'_>) -> KResult<Vec<u8>> {
        match &self.body {
            Body::Symlink(t) => Ok(t.clone()),
            _ => Err(Errno::EINVAL),
        }
    }

    fn open(&self, cx: Caller<'_>, flags: u32) -> KResult<FileRef> {
        let (mode, rdev) = {
            let m = self.meta.lock();
            (m.mode, m.rdev)
        };
        match &self.body {
            Body::Regular(_) => Ok(Arc::new(TmpfsFile { inode: self.arc()? })),
            Body::Dir(_) if flags & O_ACCMODE == O_RDONLY => Ok(Arc::new(DirFile)),
            Body::Dir(_) => Err(Errno::EISDIR),
            Body::Symlink(_) => Err(Errno::ELOOP),
            Body::Special if mode & S_IFMT == S_IFCHR => super::dev::open_char_device(cx, rdev, flags),
            Body::Special if mode & S_IFMT == S_IFIFO => super::pipe::open_fifo(self.fs.dev, self.ino, flags),
            Body::Special => Err(Errno::ENXIO),
        }
    }

    fn create(&self, name: &[u8], kind: NodeKind, attr: CreateAttr) -> KResult<InodeRef> {
        check_name(name)?;
        let dir = self.dir()?;
        let _tree = self.fs.tree.lock();
        let mut d = dir.lock();
        if d.contains_key(name) {
            return Err(Errno::EEXIST);
        }
        let (parent_mode, parent_gid, parent_nlink) = {
            let m = self.meta.lock();
            (m.mode, m.gid, m.nlink)
        };
        if parent_nlink == 0 {
            // The directory was removed: nothing may be created in it.
            return Err(Errno::ENOENT);
        }
        let perm = attr.mode & 0o7777;
        // A set-group-ID directory hands its group (and, to directories,
        // the bit itself) to what is created in it.
        let setgid_parent = parent_mode & S_ISGID != 0;
        let gid = if setgid_parent { parent_gid } else { attr.gid };
        let (mode, rdev, body) = match kind {
            NodeKind::Regular => (S_IFREG | perm, 0, Body::Regular(Mutex::default())),
            NodeKind::Directory => {
                let sgid = if setgid_parent { S_ISGID } else { 0 };
                (S_IFDIR | perm | sgid, 0, Body::Dir(Mutex::default()))
            }
            NodeKind::Symlink(target) => (S_IFLNK | 0o777, 0, Body::Symlink(target)),
            NodeKind::Fifo => (S_IFIFO | perm, 0, Body::Special),
            NodeKind::Socket => (S_IFSOCK | perm, 0, Body::Special),
            NodeKind::CharDevice(rdev) => (S_IFCHR | perm, rdev, Body::Special),
            NodeKind::BlockDevice(rdev) => (S_IFBLK | perm, rdev, Body::Special),
        };
        let child = self.fs.new_inode(mode, attr.uid, gid, rdev, body);
        d.insert(name.to_vec(), Arc::clone(&child));
        drop(d);
        self.touch_mtime();
        Ok(child)
    }

    fn create_tmpfile(&self, attr: CreateAttr, linkable: bool) -> KResult<InodeRef> {
        self.dir()?;
        let (parent_gid, parent_mode) = {
            let m = self.meta.lock();
            (m.gid, m.mode)
        };
        let gid = if parent_mode & S_ISGID != 0 { parent_gid } else { attr.gid };
        let child =
            self.fs.new_inode(S_IFREG | (attr.mode & 0o7777), attr.uid, gid, 0, Body::Regular(Mutex::default()));
        child.meta.lock().nlink = 0;
        child.linkable.store(linkable, Ordering::Relaxed);
        Ok(child)
    }

    fn link(&self, name: &[u8], target: &InodeRef) -> KResult<()> {
        check_name(name)?;
        let target = as_tmpfs(target)?;
        if !self.same_fs(target) {
            return Err(Errno::EXDEV);
        }
        if target.is_dir() {
            return Err(Errno::EPERM);
        }
        let dir = self.dir()?;
        let _tree = self.fs.tree.lock();
        let mut d = dir.lock();
        if d.contains_key(name) {
            return Err(Errno::EEXIST);
        }
        if self.meta.lock().nlink == 0 {
            return Err(Errno::ENOENT);
        }
        {
            let mut m = target.meta.lock();
            if m.nlink == 0 && !target.linkable.swap(false, Ordering::Relaxed) {
                return Err(Errno::ENOENT);
            }
            m.nlink += 1;
            m.ctime = now();
        }
        d.insert(name.to_vec(), target.arc()?);
        drop(d);
        self.touch_mtime();
        Ok(())
    }

    fn unlink(&self, name: &[u8], dir: bool) -> KResult<()> {
        let entries = self.dir()?;
        let _tree = self.fs.tree.lock();
        let mut d = entries.lock();
        let child = d.get(name).ok_or(Errno::ENOENT)?;
        match (dir, child.is_dir()) {
            (false, true) => return Err(Errno::EISDIR),
            (true, false) => return Err(Errno::ENOTDIR),
            (true, true) if !child.is_empty_dir() => return Err(Errno::ENOTEMPTY),
            _ => {}
        }
        let child = d.remove(name).ok_or(Errno::ENOENT)?;
        drop(d);
        {
            let mut m = child.meta.lock();
            m.nlink = if dir { 0 } else { m.nlink.saturating_sub(1) };
            m.ctime = now();
        }
        self.touch_mtime();
        Ok(())
    }

    fn rename(&self, old: &[u8], new_dir: &InodeRef, new: &[u8], flags: u32) -> KResult<()> {
        if flags & !(RENAME_NOREPLACE | RENAME_EXCHANGE) != 0
            || flags & (RENAME_NOREPLACE | RENAME_EXCHANGE) == (RENAME_NOREPLACE | RENAME_EXCHANGE)
        {
            return Err(Errno::EINVAL);
        }
        check_name(new)?;
        let nd = as_tmpfs(new_dir)?;
        if !self.same_fs(nd) {
            return Err(Errno::EXDEV);
        }
        let src_entries = self.dir()?;
        let dst_entries = nd.dir()?;
        let _tree = self.fs.tree.lock();
        let same_dir = std::ptr::eq(self, nd);
        let mut sd = src_entries.lock();
        let mut dd = if same_dir { None } else { Some(dst_entries.lock()) };

        let src = sd.get(old).cloned().ok_or(Errno::ENOENT)?;
        if std::ptr::eq(Arc::as_ptr(&src), nd) {
            // Into itself; the VFS rejects deeper cycles.
            return Err(Errno::EINVAL);
        }
        let dst = match &dd {
            Some(dd) => dd.get(new).cloned(),
            None => sd.get(new).cloned(),
        };

        if flags & RENAME_EXCHANGE != 0 {
            let dst = dst.ok_or(Errno::ENOENT)?;
            if Arc::ptr_eq(&src, &dst) {
                return Ok(());
            }
            match &mut dd {
                Some(dd) => {
                    sd.insert(old.to_vec(), Arc::clone(&dst));
                    dd.insert(new.to_vec(), Arc::clone(&src));
                }
                None => {
                    sd.insert(old.to_vec(), Arc::clone(&dst));
                    sd.insert(new.to_vec(), Arc::clone(&src));
                }
            }
            drop(dd);
            drop(sd);
            src.touch_ctime();
            dst.touch_ctime();
            self.touch_mtime();
            nd.touch_mtime();
            return Ok(());
        }

        if let Some(dst) = &dst {
            if Arc::ptr_eq(&src, dst) {
                // Two links to one inode: rename(2) does nothing.
                return Ok(());
            }
            if flags & RENAME_NOREPLACE != 0 {
                return Err(Errno::EEXIST);
            }
            match (src.is_dir(), dst.is_dir()) {
                (true, false) => return Err(Errno::ENOTDIR),
                (false, true) => return Err(Errno::EISDIR),
                (true, true) if !dst.is_empty_dir() => return Err(Errno::ENOTEMPTY),
                _ => {}
            }
        }

        sd.remove(old);
        match &mut dd {
            Some(dd) => dd.insert(new.to_vec(), Arc::clone(&src)),
            None => sd.insert(new.to_vec(), Arc::clone(&src)),
        };
        drop(dd);
        drop(sd);
        if let Some(dst) = dst {
            let mut m = dst.meta.lock();
            m.nlink = if dst.is_dir() { 0 } else { m.nlink.saturating_sub(1) };
            m.ctime = now();
        }
        src.touch_ctime();
        self.touch_mtime();
        if !same_dir {
            nd.touch_mtime();
        }
        Ok(())
    }

    fn getxattr(&self, name: &[u8]) -> KResult<Vec<u8>> {
        if is_posix_acl(name) {
            return Err(Errno::ENODATA);
        }
        check_xattr_namespace(name)?;
        self.xattrs.lock().get(name).cloned().ok_or(Errno::ENODATA)
    }

    fn setxattr(&self, name: &[u8], value: &[u8], flags: u32) -> KResult<()> {
        check_xattr_namespace(name)?;
        if flags & !(XATTR_CREATE | XATTR_REPLACE) != 0 {
            return Err(Errno::EINVAL);
        }
        if value.len() > XATTR_SIZE_MAX {
            return Err(Errno::E2BIG);
        }
        {
            let mut x = self.xattrs.lock();
            match (x.contains_key(name), flags) {
                (true, XATTR_CREATE) => return Err(Errno::EEXIST),
                (false, XATTR_REPLACE) => return Err(Errno::ENODATA),
                _ => {}
            }
            x.insert(name.to_vec(), value.to_vec());
        }
        self.touch_ctime();
        Ok(())
    }

    fn listxattr(&self) -> KResult<Vec<Vec<u8>>> {
        Ok(self.xattrs.lock().keys().rev().cloned().collect())
    }

    fn removexattr(&self, name: &[u8]) -> KResult<()> {
        check_xattr_namespace(name)?;
        self.xattrs.lock().remove(name).ok_or(Errno::ENODATA)?;
        self.touch_ctime();
        Ok(())
    }

    fn statfs(&self) -> KResult<FsStat> {
        let files = self.fs.next_ino.load(Ordering::Relaxed);
        Ok(FsStat {
            f_type: TMPFS_MAGIC,
            f_bsize: PAGE_SIZE as i64,
            f_blocks: 1 << 22,
            f_bfree: 1 << 22,
            f_bavail: 1 << 22,
            f_files: 1 << 20,
            f_ffree: (1u64 << 20).saturating_sub(files),
            f_namelen: NAME_MAX as i64,
            f_frsize: PAGE_SIZE as i64,
            ..Default::default()
        })
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// An open regular file of a tmpfs (it keeps the inode alive after unlink).
pub struct TmpfsFile {
    inode: Arc<TmpfsInode>,
}

impl TmpfsFile {
    /// The inode this file reads and writes.
    pub fn inode(&self) -> &Arc<TmpfsInode> {
        &self.inode
    }
}

impl FileOps for TmpfsFile {
    fn read(&self, _cx: Caller<'_>, buf: &mut [u8], off: u64) -> KResult<usize> {
        self.inode.read_data(buf, off)
    }

    fn write(&self, _cx: Caller<'_>, buf: &[u8], off: u64) -> KResult<usize> {
        self.inode.write_data(buf, off)
    }

    fn readable_bytes(&self) -> Option<u64> {
        self.inode.attr().ok().map(|a| a.size)
    }

    fn data_ranges(&self) -> Option<Vec<(u64, u64)>> {
        let Body::Regular(f) = &self.inode.body else { return None };
        let f = f.lock();
        let mut out: Vec<(u64, u64)> = Vec::new();
        for &p in &f.pages {
            let (s, e) = (p * PAGE_SIZE, ((p + 1) * PAGE_SIZE).min(f.size));
            if s >= f.size {
                break;
            }
            match out.last_mut() {
                Some(last) if last.1 == s => last.1 = e,
                _ => out.push((s, e)),
            }
        }
        Some(out)
    }

    fn fallocate(&self, mode: u32, off: u64, len: u64) -> Option<KResult<()>> {
        Some(self.inode.fallocate(mode, off, len))
    }

    fn seals(&self) -> Option<u32> {
        Some(self.inode.seals.load(Ordering::Relaxed))
    }

    fn add_seals(&self, seals: u32) -> KResult<()> {
        if seals & !ALL_SEALS != 0 {
            return Err(Errno::EINVAL);
        }
        let cur = self.inode.seals.load(Ordering::Relaxed);
        if cur & F_SEAL_SEAL != 0 {
            return Err(Errno::EPERM);
        }
        self.inode.seals.fetch_or(seals, Ordering::Relaxed);
        Ok(())
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

#[cfg(test)]
mod tests;
