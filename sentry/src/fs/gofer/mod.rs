//! Host directories served by a gofer: the root, and bind mounts.
//!
//! The root belongs to the sandbox alone, so what the gofer said once stays
//! true: each inode caches its attributes, its looked-up children
//! (directories strongly, other files weakly, and misses as negative
//! entries), its directory listing and its symlink target. A path walked
//! once costs no further round trip. A regular file's contents are read
//! from the host descriptor the gofer donates (one per inode, opened
//! read-only on first open and shared by all opens) with `pread`.
//!
//! A file system made with [`GoferFsOptions::writable`] also changes the
//! host through the gofer (the write side lives in `gofer_write.rs`): names
//! by protocol messages, file data with `pwrite` on a descriptor opened
//! read-write. Without it every change is `EROFS` (the overlay's lower
//! layer). With [`GoferFsOptions::revalidate`] (bind mounts: the host may
//! change them behind the sandbox's back) attributes, listings and misses
//! are asked for again each time instead of cached.

use parking_lot::Mutex;
use std::any::Any;
use std::collections::HashMap;
use std::os::fd::{BorrowedFd, OwnedFd};
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Weak};

use abi::consts::{DT_DIR, O_ACCMODE, O_CLOEXEC, O_RDONLY, S_IFCHR, S_IFDIR, S_IFLNK, S_IFMT, S_IFREG};
use abi::types::Timespec;
use abi::Errno;
use gofer::{GoferClient, Handle};

use super::DirFile;
use crate::vfs::Caller;
use crate::vfs::{
    CreateAttr, DirEntry, FileOps, FileRef, FsStat, Inode, InodeAttr, InodeRef, KResult, NodeKind, SetAttr,
};

/// One gofer-backed file system.
pub struct GoferFs {
    root: Arc<GoferInode>,
}

/// How a [`GoferFs`] treats the host tree.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct GoferFsOptions {
    /// Changes go to the host through the gofer (else `EROFS`).
    pub writable: bool,
    /// The host may change the tree too: do not trust cached attributes,
    /// listings or misses.
    pub revalidate: bool,
}

struct Shared {
    client: Arc<GoferClient>,
    dev: u64,
    opts: GoferFsOptions,
}

impl GoferFs {
    /// Attach to the gofer's root, read-only and cached. `dev` is what
    /// `st_dev` reports for every inode (the host's device numbers stay
    /// hidden).
    pub fn new(client: Arc<GoferClient>, dev: u64) -> KResult<Arc<GoferFs>> {
        GoferFs::with_options(client, dev, GoferFsOptions::default())
    }

    /// Attach to the gofer's root with `opts`.
    pub fn with_options(client: Arc<GoferClient>, dev: u64, opts: GoferFsOptions) -> KResult<Arc<GoferFs>> {
        let (handle, attr) = client.attach()?;
        let shared = Arc::new(Shared { client, dev, opts });
        Ok(Arc::new(GoferFs { root: GoferInode::new(&shared, handle, attr) }))
    }

    /// The root directory.
    pub fn root(&self) -> InodeRef {
        self.root.clone()
    }
}

/// What a directory knows about one name.
enum Cached {
    /// The name does not exist.
    Negative,
    /// A directory, kept for path walks.
    Dir(Arc<GoferInode>),
    /// Anything else, kept while someone holds it.
    Other(Weak<GoferInode>),
}

/// An inode of the host root: a gofer handle and what the gofer told about it.
pub struct GoferInode {
    fs: Arc<Shared>,
    me: Weak<GoferInode>,
    handle: Handle,
    /// The host's device and inode numbers: what the handle stands for.
    host_id: (u64, u64),
    /// The file type bits, which never change.
    ftype: u32,
    attr: Mutex<InodeAttr>,
    /// `attr` is out of date (this file or directory was changed).
    stale: AtomicBool,
    children: Mutex<HashMap<Vec<u8>, Cached>>,
    dirents: Mutex<Option<Arc<Vec<DirEntry>>>>,
    link: Mutex<Option<Vec<u8>>>,
    host_fd: Mutex<Option<Arc<OwnedFd>>>,
    /// The descriptor opened read-write, on the first open for writing.
    host_fd_rw: Mutex<Option<Arc<OwnedFd>>>,
    xattrs: Mutex<XattrCache>,
}

/// What the gofer said about a file's extended attributes (answers kept,
/// errors such as `ENODATA` included: `ls -l` asks for every file; not
/// consulted on revalidating trees, whose host files may change).
#[derive(Default)]
struct XattrCache {
    names: Option<Result<Vec<Vec<u8>>, Errno>>,
    values: HashMap<Vec<u8>, Result<Vec<u8>, Errno>>,
}

/// Whether an answer describes the file (rather than a failure to ask),
/// so it may be cached.
fn cacheable<T>(r: &KResult<T>) -> bool {
    matches!(r, Ok(_) | Err(Errno::ENODATA | Errno::EOPNOTSUPP))
}

fn ts(t: gofer::client::Time) -> Timespec {
    Timespec { tv_sec: t.sec, tv_nsec: t.nsec }
}

impl Shared {
    fn inode_attr(&self, a: gofer::Attr) -> InodeAttr {
        InodeAttr {
            dev: self.dev,
            ino: a.ino,
            mode: a.mode,
            nlink: a.nlink,
            uid: a.uid,
            gid: a.gid,
            rdev: a.rdev,
            size: a.size,
            blksize: a.blksize,
            blocks: a.blocks,
            atime: ts(a.atime),
            mtime: ts(a.mtime),
            ctime: ts(a.ctime),
        }
    }
}

impl GoferInode {
    fn new(fs: &Arc<Shared>, handle: Handle, a: gofer::Attr) -> Arc<GoferInode> {
        let host_id = (a.dev, a.ino);
        let attr = fs.inode_attr(a);
        Arc::new_cyclic(|me| GoferInode {
            fs: Arc::clone(fs),
            me: me.clone(),
            handle,
            host_id,
            ftype: attr.mode & S_IFMT,
            attr: Mutex::new(attr),
            stale: AtomicBool::new(false),
            children: Mutex::default(),
            dirents: Mutex::default(),
            link: Mutex::default(),
            host_fd: Mutex::default(),
            host_fd_rw: Mutex::default(),
            xattrs: Mutex::default(),
        })
    }

    fn is_dir(&self) -> bool {
        self.ftype == S_IFDIR
    }

    /// The host descriptor of this regular file, opened read-only on first
    /// use (also what `mmap` of the file maps).
    pub fn host_fd(&self) -> KResult<Arc<OwnedFd>> {
        let mut slot = self.host_fd.lock();
        if let Some(fd) = &*slot {
            return Ok(Arc::clone(fd));
        }
        let fd = Arc::new(self.fs.client.open(self.handle, O_RDONLY | O_CLOEXEC)?);
        *slot = Some(Arc::clone(&fd));
        Ok(fd)
    }

    fn listing(&self) -> KResult<Arc<Vec<DirEntry>>> {
        let mut slot = self.dirents.lock();
        if let Some(d) = slot.as_ref().filter(|_| !self.fs.opts.revalidate) {
            return Ok(Arc::clone(d));
        }
        let list: Vec<DirEntry> = self
            .fs
            .client
            .readdir(self.handle)?
            .into_iter()
            .map(|e| DirEntry { ino: e.ino, kind: e.kind, name: e.name })
            .collect();
        let list = Arc::new(list);
        *slot = Some(Arc::clone(&list));
        Ok(list)
    }
}

impl GoferInode {
    /// Look up subdirectory `list[at]` of this listed directory, walking in
    /// the same round trip the subdirectories after it not looked up yet
    /// and reading their listings: a traversal (`find`, `du`, `ls -R`)
    /// that lists a directory goes on to walk and list its subdirectories,
    /// which then cost no round trip each.
    fn walk_subdirs(&self, children: &mut HashMap<Vec<u8>, Cached>, list: &[DirEntry], at: usize) -> KResult<InodeRef> {
        let first = list[at].name.as_slice();
        let mut names: Vec<&[u8]> = vec![first];
        let rest = list[at + 1..].iter().chain(&list[..at]);
        names.extend(
            rest.filter(|e| e.kind == DT_DIR && !children.contains_key(&e.name))
                .map(|e| e.name.as_slice())
                .take(PREFETCH_DIRS - 1),
        );
        let walked = self.fs.client.walk_dirs(self.handle, &names)?;
        let mut found = Err(Errno::EIO);
        for (i, (name, d)) in names.iter().zip(walked).enumerate() {
            let r = match d.walked {
                Ok((h, a)) => {
                    let child = GoferInode::new(&self.fs, h, a);
                    if let Some(entries) = d.listing.filter(|_| child.is_dir()) {
                        let entries = entries.into_iter().map(|e| DirEntry { ino: e.ino, kind: e.kind, name: e.name });
                        *child.dirents.lock() = Some(Arc::new(entries.collect()));
                    }
                    let entry =
                        if child.is_dir() { Cached::Dir(child.clone()) } else { Cached::Other(Arc::downgrade(&child)) };
                    children.insert(name.to_vec(), entry);
                    Ok(child as InodeRef)
                }
                Err(e) => {
                    let e = Errno::from_i32(e).unwrap_or(Errno::EIO);
                    if e == Errno::ENOENT {
                        children.insert(name.to_vec(), Cached::Negative);
                    }
                    Err(e)
                }
            };
            if i == 0 {
                found = r;
            }
        }
        found
    }
}

/// How many subdirectories one `walk_subdirs` round trip asks for.
const PREFETCH_DIRS: usize = 64;

impl Drop for GoferInode {
    fn drop(&mut self) {
        self.fs.client.close(self.handle);
    }
}

impl Inode for GoferInode {
    fn attr(&self) -> KResult<InodeAttr> {
        self.current_attr()
    }

    fn set_attr(&self, attr: &SetAttr) -> KResult<()> {
        self.write_set_attr(attr)
    }

    fn still_names(&self, name: &[u8], child: &InodeRef) -> bool {
        if !self.fs.opts.revalidate {
            return true;
        }
        let Some(c) = child.as_any().downcast_ref::<GoferInode>() else { return true };
        let same = match self.fs.client.walk(self.handle, name) {
            Ok((h, a)) => {
                self.fs.client.close(h);
                (a.dev, a.ino) == c.host_id && a.mode & S_IFMT == c.ftype
            }
            Err(_) => false,
        };
        if !same {
            self.children.lock().remove(name);
            *self.dirents.lock() = None;
        }
        same
    }

    fn lookup(&self, name: &[u8]) -> KResult<InodeRef> {
        if !self.is_dir() {
            return Err(Errno::ENOTDIR);
        }
        let mut children = self.children.lock();
        match children.get(name) {
            Some(Cached::Negative) if !self.fs.opts.revalidate => return Err(Errno::ENOENT),
            // (A tree that revalidates asks `still_names` first.)
            Some(Cached::Dir(d)) => return Ok(d.clone()),
            Some(Cached::Other(w)) => {
                if let Some(c) = w.upgrade() {
                    return Ok(c);
                }
            }
            _ => {}
        }
        // A listing already read answers misses without a round trip, and
        // tells which names are subdirectories.
        let listing = if self.fs.opts.revalidate { None } else { self.dirents.lock().clone() };
        if let Some(list) = listing {
            match list.iter().position(|e| e.name == name) {
                None => {
                    children.insert(name.to_vec(), Cached::Negative);
                    return Err(Errno::ENOENT);
                }
                Some(at) if list[at].kind == DT_DIR => return self.walk_subdirs(&mut children, &list, at),
                Some(_) => {}
            }
        }
        match self.fs.client.walk(self.handle, name) {
            Ok((h, a)) => {
                let child = GoferInode::new(&self.fs, h, a);
                let entry =
                    if child.is_dir() { Cached::Dir(child.clone()) } else { Cached::Other(Arc::downgrade(&child)) };
                children.insert(name.to_vec(), entry);
                Ok(child)
            }
            Err(Errno::ENOENT) => {
                children.insert(name.to_vec(), Cached::Negative);
                Err(Errno::ENOENT)
            }
            Err(e) => Err(e),
        }
    }

    fn readdir(&self) -> KResult<Vec<DirEntry>> {
        if !self.is_dir() {
            return Err(Errno::ENOTDIR);
        }
        Ok(self.listing()?.as_ref().clone())
    }

    fn readlink(&self, _cx: Caller<'_>) -> KResult<Vec<u8>> {
        if self.ftype != S_IFLNK {
            return Err(Errno::EINVAL);
        }
        let mut slot = self.link.lock();
        if let Some(t) = &*slot {
            return Ok(t.clone());
        }
        let t = self.fs.client.readlink(self.handle)?;
        *slot = Some(t.clone());
        Ok(t)
    }

    fn open(&self, cx: Caller<'_>, flags: u32) -> KResult<FileRef> {
        let writes = flags & O_ACCMODE != O_RDONLY;
        match self.ftype {
            S_IFDIR if writes => Err(Errno::EISDIR),
            S_IFDIR => Ok(Arc::new(DirFile)),
            S_IFREG if writes => self.open_for_write(),
            _ if writes => Err(Errno::EROFS),
            S_IFREG => {
                let inode = self.me.upgrade().ok_or(Errno::ENOENT)?;
                Ok(Arc::new(GoferFile { fd: self.host_fd()?, inode }))
            }
            S_IFLNK => Err(Errno::ELOOP),
            S_IFCHR => super::dev::open_char_device(cx, self.attr.lock().rdev, flags),
            _ => Err(Errno::ENXIO),
        }
    }

    fn create(&self, name: &[u8], kind: NodeKind, attr: CreateAttr) -> KResult<InodeRef> {
        self.write_create(name, kind, attr)
    }

    fn link(&self, name: &[u8], target: &InodeRef) -> KResult<()> {
        self.write_link(name, target)
    }

    fn unlink(&self, name: &[u8], dir: bool) -> KResult<()> {
        self.write_unlink(name, dir)
    }

    fn rename(&self, old: &[u8], new_dir: &InodeRef, new: &[u8], flags: u32) -> KResult<()> {
        self.write_rename(old, new_dir, new, flags)
    }

    fn statfs(&self) -> KResult<FsStat> {
        self.fs.client.statfs(self.handle)
    }

    fn getxattr(&self, name: &[u8]) -> KResult<Vec<u8>> {
        let mut cache = self.xattrs.lock();
        if let Some(r) = cache.values.get(name).filter(|_| !self.fs.opts.revalidate) {
            return r.clone();
        }
        let r = self.fs.client.getxattr(self.handle, name);
        if cacheable(&r) {
            cache.values.insert(name.to_vec(), r.clone());
        }
        r
    }

    fn setxattr(&self, name: &[u8], value: &[u8], flags: u32) -> KResult<()> {
        let mut cache = self.xattrs.lock();
        self.fs.client.setxattr(self.handle, name, value, flags)?;
        cache.names = None;
        cache.values.insert(name.to_vec(), Ok(value.to_vec()));
        Ok(())
    }

    fn listxattr(&self) -> KResult<Vec<Vec<u8>>> {
        let mut cache = self.xattrs.lock();
        if let Some(r) = cache.names.as_ref().filter(|_| !self.fs.opts.revalidate) {
            return r.clone();
        }
        let r = self.fs.client.listxattr(self.handle);
        if cacheable(&r) {
            cache.names = Some(r.clone());
        }
        r
    }

    fn removexattr(&self, name: &[u8]) -> KResult<()> {
        let mut cache = self.xattrs.lock();
        self.fs.client.removexattr(self.handle, name)?;
        cache.names = None;
        cache.values.insert(name.to_vec(), Err(Errno::ENODATA));
        Ok(())
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// An open regular file of the host root: `pread` on the donated descriptor.
pub struct GoferFile {
    fd: Arc<OwnedFd>,
    inode: Arc<GoferInode>,
}

impl GoferFile {
    /// The host descriptor (read-only), e.g. for `mmap`.
    pub fn host_fd(&self) -> BorrowedFd<'_> {
        use std::os::fd::AsFd;
        self.fd.as_fd()
    }
}

/// `pread` on a host descriptor, retrying on `EINTR`.
pub(crate) fn pread_host(fd: BorrowedFd<'_>, buf: &mut [u8], off: u64) -> KResult<usize> {
    let off = libc::off_t::try_from(off).map_err(|_| Errno::EINVAL)?;
    crate::host::retry(|| nix::sys::uio::pread(fd, buf, off))
}

impl FileOps for GoferFile {
    fn read(&self, _cx: Caller<'_>, buf: &mut [u8], off: u64) -> KResult<usize> {
        pread_host(self.host_fd(), buf, off)
    }

    fn write(&self, _cx: Caller<'_>, buf: &[u8], off: u64) -> KResult<usize> {
        self.write_at(buf, off)
    }

    fn fsync(&self) -> KResult<()> {
        self.sync()
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

mod write;

#[cfg(test)]
mod tests;
