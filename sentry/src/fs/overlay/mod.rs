//! overlay: a writable tmpfs upper layer over a read-only lower tree (the
//! gofer's view of the host root), so the application can change anything
//! and the host never sees it.
//!
//! As in Linux's overlayfs: an upper entry hides the lower one of the same
//! name; a *whiteout* (a character device 0:0 in the upper tmpfs) hides a
//! lower entry that was removed; an *opaque* upper directory hides the whole
//! lower directory of its name. Objects of the lower layer are copied up
//! (with their ancestors) before they change. Whiteouts never show through
//! `lookup` or `readdir`.
//!
//! Changes to the tree are serialized by one lock per overlay. Each overlay
//! directory keeps the overlay inodes it handed out (weakly), so all users
//! of one file see its copy-up; that cache is updated under the directory's
//! own lock by every change, and a lookup holds it while it consults the
//! layers, so it never caches a stale answer.

use parking_lot::Mutex;
use std::any::Any;
use std::collections::{HashMap, HashSet};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Weak};

use abi::consts::{
    OVERLAYFS_SUPER_MAGIC, O_RDONLY, O_WRONLY, RENAME_EXCHANGE, RENAME_NOREPLACE, S_IFBLK, S_IFCHR, S_IFDIR, S_IFIFO,
    S_IFLNK, S_IFMT, S_IFREG, S_IFSOCK,
};
use abi::Errno;

use super::{wants_write, DirFile, Tmpfs, TmpfsInode};
use crate::vfs::Caller;
use crate::vfs::{
    CreateAttr, DirEntry, FileRef, FsStat, Inode, InodeAttr, InodeRef, KResult, NodeKind, SetAttr, TimeSet,
};

/// Inode numbers of objects that exist only in the upper layer are the
/// upper tmpfs's, tagged so they never collide with the lower's.
const UPPER_INO_TAG: u64 = 1 << 62;
const COPY_CHUNK: usize = 1 << 16;

/// One overlay instance.
pub struct OverlayFs {
    root: Arc<OverlayInode>,
}

struct Shared {
    dev: u64,
    /// Serializes changes to the tree (create, unlink, rename, copy-up).
    ops: Mutex<()>,
    /// Keeps the upper layer's instance alive.
    _upper: Arc<Tmpfs>,
}

impl OverlayFs {
    /// An overlay of `upper` (an empty tmpfs, normally) over `lower`'s tree;
    /// `dev` is what `st_dev` reports for every inode. The upper root takes
    /// the lower root's mode, owner and times.
    pub fn new(lower: InodeRef, upper: Arc<Tmpfs>, dev: u64) -> KResult<Arc<OverlayFs>> {
        let la = lower.attr()?;
        if !la.is_dir() {
            return Err(Errno::ENOTDIR);
        }
        let up = upper.root();
        up.set_attr(&SetAttr {
            mode: Some(la.mode & 0o7777),
            uid: Some(la.uid),
            gid: Some(la.gid),
            size: None,
            atime: Some(TimeSet::At(la.atime)),
            mtime: Some(TimeSet::At(la.mtime)),
        })?;
        let shared = Arc::new(Shared { dev, ops: Mutex::new(()), _upper: upper });
        let root = OverlayInode::new(&shared, None, Vec::new(), Some(up), Some(lower), true, la.ino);
        Ok(Arc::new(OverlayFs { root }))
    }

    /// The root directory.
    pub fn root(&self) -> InodeRef {
        self.root.clone()
    }
}

struct Pos {
    parent: Option<Arc<OverlayInode>>,
    name: Vec<u8>,
}

#[derive(Clone)]
struct Layers {
    upper: Option<InodeRef>,
    /// For directories: the lower directory merged under the upper one
    /// (none when the upper is opaque). For other files: the lower file
    /// until it is copied up.
    lower: Option<InodeRef>,
}

/// An inode of an overlay: an upper object, a lower one, or (directories)
/// both merged.
pub struct OverlayInode {
    fs: Arc<Shared>,
    me: Weak<OverlayInode>,
    ino: u64,
    is_dir: bool,
    /// Where the object is, for copy-up (ancestors first).
    pos: Mutex<Pos>,
    layers: Mutex<Layers>,
    children: Mutex<HashMap<Vec<u8>, Weak<OverlayInode>>>,
}

fn as_tmpfs(i: &InodeRef) -> Option<&TmpfsInode> {
    i.as_any().downcast_ref::<TmpfsInode>()
}

fn is_whiteout(i: &InodeRef) -> bool {
    as_tmpfs(i).is_some_and(TmpfsInode::is_whiteout)
}

fn is_opaque(i: &InodeRef) -> bool {
    as_tmpfs(i).is_some_and(|t| t.opaque.load(Ordering::Relaxed))
}

fn set_opaque(i: &InodeRef) {
    if let Some(t) = as_tmpfs(i) {
        t.opaque.store(true, Ordering::Relaxed);
    }
}

fn lookup_opt(dir: &InodeRef, name: &[u8]) -> KResult<Option<InodeRef>> {
    match dir.lookup(name) {
        Ok(c) => Ok(Some(c)),
        Err(Errno::ENOENT) => Ok(None),
        Err(e) => Err(e),
    }
}

/// The inode number an upper object shows: its copy-up origin's, or its own
/// tagged.
fn upper_ino(u: &InodeRef) -> KResult<u64> {
    if let Some(t) = as_tmpfs(u) {
        let origin = t.origin_ino.load(Ordering::Relaxed);
        if origin != 0 {
            return Ok(origin);
        }
    }
    Ok(u.attr()?.ino | UPPER_INO_TAG)
}

/// Remove the whiteout `name` from upper directory `dir`, if there is one.
fn remove_whiteout(dir: &InodeRef, name: &[u8]) -> KResult<bool> {
    match lookup_opt(dir, name)? {
        Some(c) if is_whiteout(&c) => dir.unlink(name, false).map(|()| true),
        _ => Ok(false),
    }
}

fn make_whiteout(dir: &InodeRef, name: &[u8]) -> KResult<()> {
    dir.create(name, NodeKind::CharDevice(0), CreateAttr { mode: 0, uid: 0, gid: 0 }).map(|_| ())
}

/// Empty an upper directory whose merged view is empty (it holds only
/// whiteouts), so it can be removed or replaced.
fn clear_whiteouts(dir: &InodeRef) -> KResult<()> {
    for e in dir.readdir()? {
        dir.unlink(&e.name, false)?;
    }
    Ok(())
}

fn node_kind(attr: &InodeAttr, lower: &InodeRef) -> KResult<NodeKind> {
    Ok(match attr.mode & S_IFMT {
        S_IFREG => NodeKind::Regular,
        S_IFDIR => NodeKind::Directory,
        S_IFLNK => NodeKind::Symlink(lower.readlink(Caller::SENTRY)?),
        S_IFIFO => NodeKind::Fifo,
        S_IFSOCK => NodeKind::Socket,
        S_IFCHR => NodeKind::CharDevice(attr.rdev),
        S_IFBLK => NodeKind::BlockDevice(attr.rdev),
        _ => return Err(Errno::EIO),
    })
}

fn copy_data(from: &InodeRef, to: &InodeRef) -> KResult<()> {
    let src = from.open(Caller::SENTRY, O_RDONLY)?;
    let dst = to.open(Caller::SENTRY, O_WRONLY)?;
    let mut buf = vec![0u8; COPY_CHUNK];
    let mut off = 0u64;
    loop {
        let n = src.read(Caller::SENTRY, &mut buf, off)?;
        if n == 0 {
            return Ok(());
        }
        let mut done = 0;
        while done < n {
            let w = dst.write(Caller::SENTRY, &buf[done..n], off + done as u64)?;
            if w == 0 {
                return Err(Errno::EIO);
            }
            done += w;
        }
        off += n as u64;
    }
}

/// Copy the extended attributes of `from` to `to` (at copy-up). Names the
/// upper layer does not store (`system.*` ACLs) are skipped, as Linux's
/// overlayfs skips what the upper file system does not support.
fn copy_xattrs(from: &InodeRef, to: &InodeRef) -> KResult<()> {
    let names = match from.listxattr() {
        Ok(n) => n,
        Err(Errno::EOPNOTSUPP) => return Ok(()),
        Err(e) => return Err(e),
    };
    for name in names {
        let value = match from.getxattr(&name) {
            Ok(v) => v,
            Err(Errno::ENODATA | Errno::EOPNOTSUPP) => continue,
            Err(e) => return Err(e),
        };
        match to.setxattr(&name, &value, 0) {
            Ok(()) | Err(Errno::EOPNOTSUPP) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

impl OverlayInode {
    fn new(
        fs: &Arc<Shared>,
        parent: Option<Arc<OverlayInode>>,
        name: Vec<u8>,
        upper: Option<InodeRef>,
        lower: Option<InodeRef>,
        is_dir: bool,
        ino: u64,
    ) -> Arc<OverlayInode> {
        Arc::new_cyclic(|me| OverlayInode {
            fs: Arc::clone(fs),
            me: me.clone(),
            ino,
            is_dir,
            pos: Mutex::new(Pos { parent, name }),
            layers: Mutex::new(Layers { upper, lower }),
            children: Mutex::default(),
        })
    }

    fn arc(&self) -> KResult<Arc<OverlayInode>> {
        self.me.upgrade().ok_or(Errno::ENOENT)
    }

    fn layers(&self) -> Layers {
        self.layers.lock().clone()
    }

    /// The layer `attr`, `readlink` and `open` use.
    fn top(&self) -> KResult<InodeRef> {
        let l = self.layers.lock();
        l.upper.clone().or_else(|| l.lower.clone()).ok_or(Errno::EIO)
    }

    fn lookup_ovl(&self, name: &[u8]) -> KResult<Arc<OverlayInode>> {
        if !self.is_dir {
            return Err(Errno::ENOTDIR);
        }
        let mut children = self.children.lock();
        if let Some(c) = children.get(name).and_then(Weak::upgrade) {
            return Ok(c);
        }
        let Layers { upper, lower } = self.layers();
        let mut found_upper = None;
        if let Some(u) = &upper {
            if let Some(c) = lookup_opt(u, name)? {
                if is_whiteout(&c) {
                    return Err(Errno::ENOENT);
                }
                found_upper = Some(c);
            }
        }
        let upper_attr = found_upper.as_ref().map(|u| u.attr()).transpose()?;
        let wants_lower = match (&found_upper, &upper_attr) {
            (Some(u), Some(a)) => a.is_dir() && !is_opaque(u),
            _ => true,
        };
        let mut found_lower = None;
        let mut lower_attr = None;
        if let (true, Some(l)) = (wants_lower, &lower) {
            if let Some(c) = lookup_opt(l, name)? {
                let a = c.attr()?;
                // Only a directory merges with an upper one.
                if upper_attr.is_none() || a.is_dir() {
                    lower_attr = Some(a);
                    found_lower = Some(c);
                }
            }
        }
        let (is_dir, ino) = match (&found_upper, &upper_attr, &lower_attr) {
            (_, _, Some(la)) => (la.is_dir(), la.ino),
            (Some(u), Some(ua), None) => (ua.is_dir(), upper_ino(u)?),
            _ => return Err(Errno::ENOENT),
        };
        let node = OverlayInode::new(&self.fs, Some(self.arc()?), name.to_vec(), found_upper, found_lower, is_dir, ino);
        insert_child(&mut children, name, &node);
        Ok(node)
    }

    /// Whether the lower layer has `name` in this directory (so removing or
    /// moving the upper entry must leave a whiteout).
    fn lower_has(&self, name: &[u8]) -> KResult<bool> {
        match self.layers().lower {
            Some(l) if self.is_dir => Ok(lookup_opt(&l, name)?.is_some()),
            _ => Ok(false),
        }
    }

    /// Copy this object up (ancestors first) and return its upper object.
    /// The caller holds the overlay's `ops` lock. `with_data` false skips
    /// the contents of a regular file (it is about to be truncated).
    fn copy_up(&self, with_data: bool) -> KResult<InodeRef> {
        let lower = {
            let l = self.layers.lock();
            if let Some(u) = &l.upper {
                return Ok(u.clone());
            }
            l.lower.clone().ok_or(Errno::EIO)?
        };
        let (parent, name) = {
            let p = self.pos.lock();
            (p.parent.clone().ok_or(Errno::EIO)?, p.name.clone())
        };
        let parent_upper = parent.copy_up(true)?;
        let la = lower.attr()?;
        let kind = node_kind(&la, &lower)?;
        remove_whiteout(&parent_upper, &name)?;
        let upper =
            parent_upper.create(&name, kind, CreateAttr { mode: la.mode & 0o7777, uid: la.uid, gid: la.gid })?;
        let finish = || -> KResult<()> {
            if with_data && la.is_regular() {
                copy_data(&lower, &upper)?;
            }
            copy_xattrs(&lower, &upper)?;
            upper.set_attr(&SetAttr {
                mode: Some(la.mode & 0o7777),
                uid: Some(la.uid),
                gid: Some(la.gid),
                size: None,
                atime: Some(TimeSet::At(la.atime)),
                mtime: Some(TimeSet::At(la.mtime)),
            })
        };
        if let Err(e) = finish() {
            let _ = parent_upper.unlink(&name, la.is_dir());
            return Err(e);
        }
        if let Some(t) = as_tmpfs(&upper) {
            t.origin_ino.store(self.ino, Ordering::Relaxed);
        }
        let mut l = self.layers.lock();
        l.upper = Some(upper.clone());
        if !self.is_dir {
            l.lower = None;
        }
        Ok(upper)
    }

    fn set_pos(&self, parent: Arc<OverlayInode>, name: &[u8]) {
        let mut p = self.pos.lock();
        p.parent = Some(parent);
        p.name = name.to_vec();
    }

    fn has_lower(&self) -> bool {
        self.layers.lock().lower.is_some()
    }

    fn is_empty_merged(&self) -> KResult<bool> {
        Ok(self.readdir()?.is_empty())
    }
}

fn insert_child(children: &mut HashMap<Vec<u8>, Weak<OverlayInode>>, name: &[u8], node: &Arc<OverlayInode>) {
    if children.len() >= 64 && children.len().is_power_of_two() {
        children.retain(|_, w| w.strong_count() > 0);
    }
    children.insert(name.to_vec(), Arc::downgrade(node));
}

fn as_overlay(i: &InodeRef) -> KResult<&OverlayInode> {
    i.as_any().downcast_ref::<OverlayInode>().ok_or(Errno::EXDEV)
}

impl Inode for OverlayInode {
    fn attr(&self) -> KResult<InodeAttr> {
        let mut a = self.top()?.attr()?;
        a.dev = self.fs.dev;
        a.ino = self.ino;
        Ok(a)
    }

    fn set_attr(&self, attr: &SetAttr) -> KResult<()> {
        let _ops = self.fs.ops.lock();
        let with_data = attr.size != Some(0);
        self.copy_up(with_data)?.set_attr(attr)
    }

    fn lookup(&self, name: &[u8]) -> KResult<InodeRef> {
        Ok(self.lookup_ovl(name)?)
    }

    fn readdir(&self) -> KResult<Vec<DirEntry>> {
        if !self.is_dir {
            return Err(Errno::ENOTDIR);
        }
        let Layers { upper, lower } = self.layers();
        let mut out = Vec::new();
        let mut seen = HashSet::new();
        if let Some(u) = &upper {
            for e in u.readdir()? {
                let child = u.lookup(&e.name)?;
                seen.insert(e.name.clone());
                if is_whiteout(&child) {
                    continue;
                }
                out.push(DirEntry { ino: upper_ino(&child)?, ..e });
            }
        }
        if let Some(l) = &lower {
            out.extend(l.readdir()?.into_iter().filter(|e| !seen.contains(&e.name)));
        }
        Ok(out)
    }

    fn readlink(&self, cx: Caller<'_>) -> KResult<Vec<u8>> {
        self.top()?.readlink(cx)
    }

    fn open(&self, cx: Caller<'_>, flags: u32) -> KResult<FileRef> {
        if self.is_dir {
            return if wants_write(flags) { Err(Errno::EISDIR) } else { Ok(Arc::new(DirFile)) };
        }
        let top = self.top()?;
        if wants_write(flags) && self.layers.lock().upper.is_none() && top.attr()?.is_regular() {
            let _ops = self.fs.ops.lock();
            return self.copy_up(true)?.open(cx, flags);
        }
        top.open(cx, flags)
    }

    fn create(&self, name: &[u8], kind: NodeKind, attr: CreateAttr) -> KResult<InodeRef> {
        if !self.is_dir {
            return Err(Errno::ENOTDIR);
        }
        let _ops = self.fs.ops.lock();
        match self.lookup_ovl(name) {
            Ok(_) => return Err(Errno::EEXIST),
            Err(Errno::ENOENT) => {}
            Err(e) => return Err(e),
        }
        let up = self.copy_up(true)?;
        let is_dir = kind == NodeKind::Directory;
        let mut children = self.children.lock();
        let had_whiteout = remove_whiteout(&up, name)?;
        let new = up.create(name, kind, attr)?;
        if is_dir && had_whiteout {
            set_opaque(&new);
        }
        let ino = upper_ino(&new)?;
        let node = OverlayInode::new(&self.fs, Some(self.arc()?), name.to_vec(), Some(new), None, is_dir, ino);
        insert_child(&mut children, name, &node);
        Ok(node)
    }

    fn create_tmpfile(&self, attr: CreateAttr, linkable: bool) -> KResult<InodeRef> {
        if !self.is_dir {
            return Err(Errno::ENOTDIR);
        }
        let _ops = self.fs.ops.lock();
        let new = self.copy_up(true)?.create_tmpfile(attr, linkable)?;
        let ino = upper_ino(&new)?;
        Ok(OverlayInode::new(&self.fs, Some(self.arc()?), Vec::new(), Some(new), None, false, ino))
    }

    fn link(&self, name: &[u8], target: &InodeRef) -> KResult<()> {
        let target = as_overlay(target)?;
        if !Arc::ptr_eq(&self.fs, &target.fs) {
            return Err(Errno::EXDEV);
        }
        if target.is_dir {
            return Err(Errno::EPERM);
        }
        if !self.is_dir {
            return Err(Errno::ENOTDIR);
        }
        let _ops = self.fs.ops.lock();
        match self.lookup_ovl(name) {
            Ok(_) => return Err(Errno::EEXIST),
            Err(Errno::ENOENT) => {}
            Err(e) => return Err(e),
        }
        let tu = target.copy_up(true)?;
        let up = self.copy_up(true)?;
        let _children = self.children.lock();
        remove_whiteout(&up, name)?;
        up.link(name, &tu)
    }

    fn unlink(&self, name: &[u8], dir: bool) -> KResult<()> {
        let _ops = self.fs.ops.lock();
        let child = self.lookup_ovl(name)?;
        match (dir, child.is_dir) {
            (false, true) => return Err(Errno::EISDIR),
            (true, false) => return Err(Errno::ENOTDIR),
            (true, true) if !child.is_empty_merged()? => return Err(Errno::ENOTEMPTY),
            _ => {}
        }
        let lower_has = self.lower_has(name)?;
        let up = self.copy_up(true)?;
        let child_upper = child.layers.lock().upper.clone();
        let mut children = self.children.lock();
        if let Some(cu) = child_upper {
            if dir {
                clear_whiteouts(&cu)?;
            }
            up.unlink(name, dir)?;
        }
        if lower_has {
            make_whiteout(&up, name)?;
        }
        children.remove(name);
        Ok(())
    }

    fn rename(&self, old: &[u8], new_dir: &InodeRef, new: &[u8], flags: u32) -> KResult<()> {
        if flags & !(RENAME_NOREPLACE | RENAME_EXCHANGE) != 0
            || flags & (RENAME_NOREPLACE | RENAME_EXCHANGE) == (RENAME_NOREPLACE | RENAME_EXCHANGE)
        {
            return Err(Errno::EINVAL);
        }
        let nd = as_overlay(new_dir)?;
        if !Arc::ptr_eq(&self.fs, &nd.fs) {
            return Err(Errno::EXDEV);
        }
        if !nd.is_dir {
            return Err(Errno::ENOTDIR);
        }
        let _ops = self.fs.ops.lock();
        let src = self.lookup_ovl(old)?;
        // Moving a directory of the lower layer would need redirects, which
        // this overlay (like Linux's without redirect_dir) does not keep.
        if src.is_dir && src.has_lower() {
            return Err(Errno::EXDEV);
        }
        let dst = match nd.lookup_ovl(new) {
            Ok(d) => Some(d),
            Err(Errno::ENOENT) => None,
            Err(e) => return Err(e),
        };
        if let Some(d) = &dst {
            if Arc::ptr_eq(&src, d) {
                return Ok(());
            }
        }
        let exchange = flags & RENAME_EXCHANGE != 0;
        if exchange {
            match &dst {
                None => return Err(Errno::ENOENT),
                Some(d) if d.is_dir && d.has_lower() => return Err(Errno::EXDEV),
                Some(_) => {}
            }
        } else if let Some(d) = &dst {
            if flags & RENAME_NOREPLACE != 0 {
                return Err(Errno::EEXIST);
            }
            match (src.is_dir, d.is_dir) {
                (true, false) => return Err(Errno::ENOTDIR),
                (false, true) => return Err(Errno::EISDIR),
                (true, true) if !d.is_empty_merged()? => return Err(Errno::ENOTEMPTY),
                _ => {}
            }
        }

        let old_in_lower = self.lower_has(old)?;
        let su = src.copy_up(true)?;
        let dst_upper = match (&dst, exchange) {
            (Some(d), true) => Some(d.copy_up(true)?),
            (Some(d), false) => d.layers.lock().upper.clone(),
            (None, _) => None,
        };
        let ou = self.copy_up(true)?;
        let nu = nd.copy_up(true)?;
        let same_dir = std::ptr::eq(self, nd);
        let mut old_children = self.children.lock();
        let mut new_children = if same_dir { None } else { Some(nd.children.lock()) };

        if exchange {
            ou.rename(old, &nu, new, RENAME_EXCHANGE)?;
        } else {
            if let (Some(du), Some(d)) = (&dst_upper, &dst) {
                if d.is_dir {
                    clear_whiteouts(du)?;
                }
            }
            remove_whiteout(&nu, new)?;
            ou.rename(old, &nu, new, 0)?;
            if old_in_lower {
                make_whiteout(&ou, old)?;
            }
        }
        if src.is_dir {
            set_opaque(&su);
        }
        if let (true, Some(du)) = (exchange, &dst_upper) {
            if dst.as_ref().is_some_and(|d| d.is_dir) {
                set_opaque(du);
            }
        }

        old_children.remove(old);
        let nc = new_children.as_deref_mut().unwrap_or(&mut old_children);
        nc.remove(new);
        insert_child(nc, new, &src);
        if let (true, Some(d)) = (exchange, &dst) {
            insert_child(&mut old_children, old, d);
        }
        drop(new_children);
        drop(old_children);
        src.set_pos(nd.arc()?, new);
        if let (true, Some(d)) = (exchange, dst) {
            d.set_pos(self.arc()?, old);
        }
        Ok(())
    }

    fn getxattr(&self, name: &[u8]) -> KResult<Vec<u8>> {
        self.top()?.getxattr(name)
    }

    fn setxattr(&self, name: &[u8], value: &[u8], flags: u32) -> KResult<()> {
        let _ops = self.fs.ops.lock();
        self.copy_up(true)?.setxattr(name, value, flags)
    }

    fn listxattr(&self) -> KResult<Vec<Vec<u8>>> {
        self.top()?.listxattr()
    }

    fn removexattr(&self, name: &[u8]) -> KResult<()> {
        let _ops = self.fs.ops.lock();
        // Removing what the lower file lacks must not copy it up.
        if self.layers.lock().upper.is_none() {
            self.top()?.getxattr(name)?;
        }
        self.copy_up(true)?.removexattr(name)
    }

    fn statfs(&self) -> KResult<FsStat> {
        let mut st = self.top()?.statfs()?;
        st.f_type = OVERLAYFS_SUPER_MAGIC;
        Ok(st)
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

#[cfg(test)]
mod tests;
