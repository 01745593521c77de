//! The write side of [`GoferFs`](super::GoferFs): changes to the host tree
//! through the gofer's protocol messages, file data through `pwrite` on a
//! donated read-write descriptor, and keeping the inode caches true after
//! each change.
//!
//! Cache rules: a change to a directory forgets its listing, marks its
//! attributes stale (mtime, nlink) and updates the changed name (a new
//! inode, a negative entry, or nothing so the next lookup walks again); a
//! change to a file (data, attributes, link count) marks its attributes
//! stale, except a write, which updates size and times in place.
//! Permission checks are the VFS's; the gofer acts with its own rights.

use std::any::Any;

use std::sync::atomic::Ordering;
use std::sync::Arc;

use abi::consts::{AT_REMOVEDIR, O_CLOEXEC, O_RDWR, RENAME_NOREPLACE};
use abi::Errno;
use gofer::client::{SetAttr as GSetAttr, SetTime, Time};

use super::{Cached, GoferFile, GoferInode};
use crate::vfs::{CreateAttr, FileRef, InodeAttr, InodeRef, KResult, NodeKind, SetAttr, TimeSet};

fn gtime(t: TimeSet) -> SetTime {
    match t {
        TimeSet::Now => SetTime::Now,
        TimeSet::At(ts) => SetTime::At(Time { sec: ts.tv_sec, nsec: ts.tv_nsec }),
    }
}

impl GoferInode {
    /// Attributes, from the cache unless stale or the tree revalidates.
    pub(super) fn current_attr(&self) -> KResult<InodeAttr> {
        if self.fs.opts.revalidate || self.stale.load(Ordering::Acquire) {
            self.stale.store(false, Ordering::Release);
            match self.fs.client.getattr(self.handle) {
                Ok(a) => *self.attr.lock() = self.fs.inode_attr(a),
                Err(e) => {
                    self.stale.store(true, Ordering::Release);
                    return Err(e);
                }
            }
        }
        Ok(*self.attr.lock())
    }

    fn mark_stale(&self) {
        self.stale.store(true, Ordering::Release);
    }

    fn check_writable(&self) -> KResult<()> {
        if self.fs.opts.writable {
            Ok(())
        } else {
            Err(Errno::EROFS)
        }
    }

    /// This directory changed: forget the listing and the attributes.
    fn dir_changed(&self) {
        *self.dirents.lock() = None;
        self.mark_stale();
    }

    /// Mark the cached inode of `name`, if any, stale (its link count or
    /// ctime changed).
    fn child_changed(&self, name: &[u8]) {
        let child = match self.children.lock().get(name) {
            Some(Cached::Dir(d)) => Some(d.clone()),
            Some(Cached::Other(w)) => w.upgrade(),
            _ => None,
        };
        if let Some(c) = child {
            c.mark_stale();
        }
    }

    /// Another inode of the same file system.
    fn same_fs<'a>(&self, other: &'a InodeRef) -> KResult<&'a GoferInode> {
        let any: &dyn Any = other.as_any();
        match any.downcast_ref::<GoferInode>() {
            Some(g) if Arc::ptr_eq(&g.fs, &self.fs) => Ok(g),
            _ => Err(Errno::EXDEV),
        }
    }

    /// Remember a new child `name` (made by this sandbox).
    fn adopt(&self, name: &[u8], child: &Arc<GoferInode>) {
        let entry = if child.is_dir() { Cached::Dir(child.clone()) } else { Cached::Other(Arc::downgrade(child)) };
        self.children.lock().insert(name.to_vec(), entry);
        self.dir_changed();
    }

    /// Give a new node the creator's owner, where that differs from the
    /// gofer's (best effort: a gofer without the right keeps its own).
    fn chown_new(&self, child: &GoferInode, want: CreateAttr, have: &gofer::Attr) {
        if want.uid != have.uid || want.gid != have.gid {
            let sa = GSetAttr { uid: Some(want.uid), gid: Some(want.gid), ..Default::default() };
            if self.fs.client.setattr(child.handle, &sa).is_ok() {
                child.mark_stale();
            }
        }
    }

    pub(super) fn write_set_attr(&self, attr: &SetAttr) -> KResult<()> {
        self.check_writable()?;
        let sa = GSetAttr {
            mode: attr.mode.map(|m| m & 0o7777),
            uid: attr.uid,
            gid: attr.gid,
            size: attr.size,
            atime: attr.atime.map(gtime),
            mtime: attr.mtime.map(gtime),
        };
        let r = self.fs.client.setattr(self.handle, &sa);
        self.mark_stale();
        r
    }

    pub(super) fn write_create(&self, name: &[u8], kind: NodeKind, attr: CreateAttr) -> KResult<InodeRef> {
        self.check_writable()?;
        if !self.is_dir() {
            return Err(Errno::ENOTDIR);
        }
        let perm = attr.mode & 0o7777;
        let (child, have) = match kind {
            NodeKind::Regular => {
                let (h, a, fd) = self.fs.client.create(self.handle, name, perm, O_RDWR | O_CLOEXEC)?;
                let c = GoferInode::new(&self.fs, h, a);
                *c.host_fd_rw.lock() = Some(Arc::new(fd));
                (c, a)
            }
            NodeKind::Directory => {
                let (h, a) = self.fs.client.mkdir(self.handle, name, perm)?;
                (GoferInode::new(&self.fs, h, a), a)
            }
            NodeKind::Symlink(target) => {
                let (h, a) = self.fs.client.symlink(self.handle, name, &target)?;
                (GoferInode::new(&self.fs, h, a), a)
            }
            // The protocol has no mknod.
            NodeKind::Fifo | NodeKind::Socket | NodeKind::CharDevice(_) | NodeKind::BlockDevice(_) => {
                return Err(Errno::EPERM)
            }
        };
        self.chown_new(&child, attr, &have);
        self.adopt(name, &child);
        Ok(child)
    }

    pub(super) fn write_link(&self, name: &[u8], target: &InodeRef) -> KResult<()> {
        self.check_writable()?;
        let t = self.same_fs(target)?;
        let (h, a) = self.fs.client.link(self.handle, name, t.handle)?;
        t.mark_stale();
        // The new handle names the same file: the next lookup walks again.
        drop(GoferInode::new(&self.fs, h, a));
        self.children.lock().remove(name);
        self.dir_changed();
        Ok(())
    }

    pub(super) fn write_unlink(&self, name: &[u8], dir: bool) -> KResult<()> {
        self.check_writable()?;
        self.fs.client.unlink(self.handle, name, if dir { AT_REMOVEDIR } else { 0 })?;
        self.child_changed(name);
        self.children.lock().insert(name.to_vec(), Cached::Negative);
        self.dir_changed();
        Ok(())
    }

    pub(super) fn write_rename(&self, old: &[u8], new_dir: &InodeRef, new: &[u8], flags: u32) -> KResult<()> {
        self.check_writable()?;
        let nd = self.same_fs(new_dir)?;
        match flags {
            0 => {}
            RENAME_NOREPLACE => match self.fs.client.walk(nd.handle, new) {
                Ok((h, _)) => {
                    self.fs.client.close(h);
                    return Err(Errno::EEXIST);
                }
                Err(Errno::ENOENT) => {}
                Err(e) => return Err(e),
            },
            _ => return Err(Errno::EINVAL),
        }
        self.fs.client.rename(self.handle, old, nd.handle, new)?;
        self.child_changed(old);
        nd.child_changed(new);
        self.children.lock().insert(old.to_vec(), Cached::Negative);
        nd.children.lock().remove(new);
        self.dir_changed();
        nd.dir_changed();
        Ok(())
    }

    /// The read-write host descriptor of this regular file, opened on first
    /// use.
    fn host_fd_rw(&self) -> KResult<Arc<std::os::fd::OwnedFd>> {
        let mut slot = self.host_fd_rw.lock();
        if let Some(fd) = &*slot {
            return Ok(Arc::clone(fd));
        }
        let fd = Arc::new(self.fs.client.open(self.handle, O_RDWR | O_CLOEXEC)?);
        *slot = Some(Arc::clone(&fd));
        Ok(fd)
    }

    /// Open this regular file for writing (and reading).
    pub(super) fn open_for_write(&self) -> KResult<FileRef> {
        self.check_writable()?;
        let inode = self.me.upgrade().ok_or(Errno::ENOENT)?;
        Ok(Arc::new(GoferFile { fd: self.host_fd_rw()?, inode }))
    }
}

impl GoferFile {
    /// `pwrite` on the read-write descriptor; size and times are updated in
    /// the cache without a round trip.
    pub(super) fn write_at(&self, buf: &[u8], off: u64) -> KResult<usize> {
        // A file opened read-only holds the read-only descriptor: the host
        // answers EBADF.
        let at = libc::off_t::try_from(off).map_err(|_| Errno::EINVAL)?;
        let n = crate::host::retry(|| nix::sys::uio::pwrite(&*self.fd, buf, at))?;
        let now = super::super::now();
        let mut a = self.inode.attr.lock();
        a.size = a.size.max(off.saturating_add(n as u64));
        a.blocks = a.size.div_ceil(512);
        a.mtime = now;
        a.ctime = now;
        Ok(n)
    }

    /// `fsync` of the host descriptor.
    pub(super) fn sync(&self) -> KResult<()> {
        nix::unistd::fsync(&*self.fd).map_err(crate::host::errno)
    }
}
