//! Changes to the mount tree: new mounts, bind mounts (recursive or not),
//! moves, unmounts, `pivot_root`. The system calls (`syscalls/mount.rs`)
//! check permissions and resolve paths; these only rearrange the tree.

use parking_lot::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use abi::Errno;

use super::{key, Dentry, KResult, Location, Mount, Vfs};

/// Whether `d` is `top` or below it in one file system's dentry tree.
fn dentry_under(d: &Arc<Dentry>, top: &Arc<Dentry>) -> bool {
    let mut cur = Some(d.clone());
    while let Some(c) = cur {
        if Arc::ptr_eq(&c, top) {
            return true;
        }
        cur = c.parent();
    }
    false
}

/// Whether location `loc` is the root of its mount.
pub fn is_mount_root(loc: &Location) -> bool {
    Arc::ptr_eq(&loc.dentry, &loc.mount.root)
}

impl Vfs {
    /// Mount the tree under `root` (a file system's root dentry, or any
    /// dentry for a bind mount) on `at`, on top of whatever is there.
    pub fn mount_dentry(
        &self,
        at: &Location,
        root: Arc<Dentry>,
        fstype: &str,
        source: &str,
        options: &str,
        readonly: bool,
    ) -> Arc<Mount> {
        let m = Arc::new(Mount {
            id: self.next_id.fetch_add(1, Ordering::Relaxed),
            root,
            parent: Mutex::new(Some((at.mount.clone(), at.dentry.clone()))),
            ro: AtomicBool::new(readonly),
            fstype: fstype.into(),
            source: source.into(),
            options: options.into(),
        });
        self.mounts.lock().insert(key(&at.mount, &at.dentry), m.clone());
        self.all.lock().push(m.clone());
        m
    }

    /// Mounts directly on `m` (on any of its dentries), in mount order,
    /// from the snapshot `all`.
    fn children_in(all: &[Arc<Mount>], m: &Arc<Mount>) -> Vec<Arc<Mount>> {
        all.iter().filter(|c| c.parent().is_some_and(|(pm, _)| Arc::ptr_eq(&pm, m))).cloned().collect()
    }

    /// Bind mount the tree at `src` on `at` (`MS_BIND`); with `recursive`
    /// (`MS_REC`) the mounts below `src` are copied too. The new mount is
    /// read-only if the source mount is.
    pub fn bind(&self, src: &Location, at: &Location, recursive: bool) -> Arc<Mount> {
        let snapshot = self.mounts();
        let m = &src.mount;
        let new = self.mount_dentry(at, src.dentry.clone(), &m.fstype, &m.source, &m.options, m.readonly());
        if recursive {
            self.copy_children(&snapshot, &src.mount, &src.dentry, &new);
        }
        new
    }

    fn copy_children(&self, snapshot: &[Arc<Mount>], from: &Arc<Mount>, under: &Arc<Dentry>, to: &Arc<Mount>) {
        for c in Self::children_in(snapshot, from) {
            let Some((_, pd)) = c.parent() else { continue };
            if !dentry_under(&pd, under) {
                continue;
            }
            let at = Location { mount: to.clone(), dentry: pd };
            let copy = self.mount_dentry(&at, c.root.clone(), &c.fstype, &c.source, &c.options, c.readonly());
            self.copy_children(snapshot, &c, &c.root, &copy);
        }
    }

    /// Take `m` off its mount point (it and what is below it stay usable by
    /// whoever holds them, as after a lazy unmount).
    fn detach(&self, m: &Arc<Mount>) {
        if let Some((pm, pd)) = m.parent.lock().take() {
            let mut map = self.mounts.lock();
            if map.get(&key(&pm, &pd)).is_some_and(|x| Arc::ptr_eq(x, m)) {
                map.remove(&key(&pm, &pd));
            }
        }
    }

    /// Put detached mount `m` on `at`.
    fn attach(&self, m: &Arc<Mount>, at: &Location) {
        *m.parent.lock() = Some((at.mount.clone(), at.dentry.clone()));
        self.mounts.lock().insert(key(&at.mount, &at.dentry), m.clone());
    }

    /// Unmount the mount whose root is `loc` (`umount2`): `EINVAL` if `loc`
    /// is not a mount's root or is the root of the tree; `EBUSY` if other
    /// mounts sit on it, unless `lazy` (`MNT_DETACH`), which takes them
    /// away too.
    pub fn umount(&self, loc: &Location, lazy: bool) -> KResult<()> {
        let m = &loc.mount;
        if !is_mount_root(loc) || m.parent().is_none() {
            return Err(Errno::EINVAL);
        }
        let all = self.mounts();
        let mut doomed = vec![m.clone()];
        let mut i = 0;
        while i < doomed.len() {
            let kids = Self::children_in(&all, &doomed[i]);
            if !kids.is_empty() && !lazy {
                return Err(Errno::EBUSY);
            }
            doomed.extend(kids);
            i += 1;
        }
        self.detach(m);
        // Mounts below stay attached to `m` (reachable only through
        // locations already inside it), but leave the table.
        self.all.lock().retain(|x| !doomed.iter().any(|d| Arc::ptr_eq(d, x)));
        Ok(())
    }

    /// Move the mount whose root is `src` to `at` (`MS_MOVE`).
    pub fn move_mount(&self, src: &Location, at: &Location) -> KResult<()> {
        if !is_mount_root(src) || src.mount.parent().is_none() {
            return Err(Errno::EINVAL);
        }
        // Not into itself.
        if self.path_from(at, src).1 {
            return Err(Errno::ELOOP);
        }
        self.detach(&src.mount);
        self.attach(&src.mount, at);
        Ok(())
    }

    /// `pivot_root(new_root, put_old)` for a process whose root is
    /// `cur_root`: the mount at `new_root` becomes the root of the tree and
    /// the old root's mount is put on `put_old` (at or under `new_root`;
    /// the same place for `pivot_root(".", ".")`, where it then sits on top
    /// until unmounted). The caller moves processes' roots and working
    /// directories that were at `cur_root`.
    pub fn pivot_root(&self, new_root: &Location, put_old: &Location, cur_root: &Location) -> KResult<()> {
        if !is_mount_root(new_root) || !is_mount_root(cur_root) {
            return Err(Errno::EINVAL);
        }
        if Arc::ptr_eq(&new_root.mount, &cur_root.mount) {
            return Err(Errno::EBUSY);
        }
        // new_root is mounted below the current root; put_old is at or
        // below new_root.
        if new_root.mount.parent().is_none() || !self.path_from(new_root, cur_root).1 {
            return Err(Errno::EINVAL);
        }
        if !self.path_from(put_old, new_root).1 {
            return Err(Errno::EINVAL);
        }
        let old = cur_root.mount.clone();
        self.detach(&new_root.mount);
        self.detach(&old);
        self.attach(&old, put_old);
        let mut root = self.root.lock();
        if Arc::ptr_eq(&root.mount, &old) {
            *root = new_root.clone();
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fs::Tmpfs;
    use crate::vfs::Caller;
    use crate::vfs::{CreateAttr, Creds, NodeKind};
    use abi::consts::S_IFDIR;

    fn tree() -> Arc<Vfs> {
        let vfs = Vfs::new(Tmpfs::new(1, S_IFDIR | 0o755, 0, 0).root(), "tmpfs", "root");
        for d in [&b"a"[..], b"b", b"new"] {
            vfs.root()
                .inode()
                .create(d, NodeKind::Directory, CreateAttr { mode: S_IFDIR | 0o755, uid: 0, gid: 0 })
                .unwrap();
        }
        vfs
    }

    fn at(vfs: &Vfs, root: &Location, p: &[u8]) -> KResult<Location> {
        vfs.resolve(Caller::SENTRY, root, root, p, true, &Creds::root())
    }

    #[test]
    fn bind_mount_shows_the_source_and_dotdot_leaves_through_the_mount_point() {
        let vfs = tree();
        let r = vfs.root();
        let a = at(&vfs, &r, b"/a").unwrap();
        a.inode().create(b"f", NodeKind::Regular, CreateAttr { mode: 0o644, uid: 0, gid: 0 }).unwrap();

        vfs.bind(&a, &at(&vfs, &r, b"/b").unwrap(), false);

        assert!(at(&vfs, &r, b"/b/f").is_ok());
        let up = at(&vfs, &r, b"/b/..").unwrap();
        assert!(Arc::ptr_eq(&up.dentry, &r.dentry));
        assert_eq!(vfs.path_of(&at(&vfs, &r, b"/b/f").unwrap(), &r), b"/b/f");
    }

    #[test]
    fn umount_of_a_directory_that_is_not_a_mount_returns_einval() {
        let vfs = tree();
        let r = vfs.root();

        assert_eq!(vfs.umount(&at(&vfs, &r, b"/a").unwrap(), false), Err(Errno::EINVAL));
    }

    #[test]
    fn umount_with_a_mount_below_is_ebusy_unless_detached() {
        let vfs = tree();
        let r = vfs.root();
        let m =
            vfs.mount(&at(&vfs, &r, b"/a").unwrap(), Tmpfs::new(2, S_IFDIR | 0o755, 0, 0).root(), "tmpfs", "x", false);
        let mroot = Location { mount: m.clone(), dentry: m.root.clone() };
        mroot.inode().create(b"in", NodeKind::Directory, CreateAttr { mode: S_IFDIR | 0o755, uid: 0, gid: 0 }).unwrap();
        vfs.mount(&at(&vfs, &r, b"/a/in").unwrap(), Tmpfs::new(3, S_IFDIR | 0o755, 0, 0).root(), "tmpfs", "y", false);

        assert_eq!(vfs.umount(&mroot, false), Err(Errno::EBUSY));
        assert_eq!(vfs.umount(&mroot, true), Ok(()));
        assert_eq!(vfs.mounts().len(), 1);
        assert_eq!(at(&vfs, &r, b"/a/in").err(), Some(Errno::ENOENT));
    }

    #[test]
    fn pivot_root_dot_dot_then_detach_leaves_the_new_root_alone() {
        let vfs = tree();
        let r = vfs.root();
        let new = at(&vfs, &r, b"/new").unwrap();
        vfs.bind(&new, &new, false);
        let new = at(&vfs, &r, b"/new").unwrap();

        vfs.pivot_root(&new, &new, &r).unwrap();
        let top = vfs.cross_down(new.clone());
        vfs.umount(&top, true).unwrap();

        let root = vfs.root();
        assert!(Arc::ptr_eq(&root.mount, &new.mount));
        assert_eq!(vfs.mounts().len(), 1);
        assert_eq!(at(&vfs, &root, b"/a").err(), Some(Errno::ENOENT));
    }
}
