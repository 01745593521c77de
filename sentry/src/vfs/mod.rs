//! The virtual file system: mounts, dentries, path resolution, file
//! descriptions and the fd table. File systems plug in through [`Inode`]
//! and [`FileOps`].

pub mod anon;
mod caller;
mod fd;
pub mod inode;
pub mod lock;
mod path;

use parking_lot::Mutex;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

pub use caller::Caller;
pub use fd::{FdTable, FileDescription};
pub use inode::*;
pub use path::{may_access, Creds, ResolveOpts, Resolved};

mod mounts;
pub use mounts::is_mount_root;

/// A name in the dentry tree of one file system instance.
pub struct Dentry {
    pub inode: InodeRef,
    /// The name in the parent; changes when the dentry is renamed.
    name: Mutex<Vec<u8>>,
    /// `None` at the root of the file system; changes with rename.
    parent: Mutex<Option<Arc<Dentry>>>,
    children: Mutex<HashMap<Vec<u8>, Arc<Dentry>>>,
    /// Set when the name was removed (unlink, rmdir, renamed over) while
    /// the dentry lived on in an open file or a working directory: its path
    /// then reads `... (deleted)` in `/proc/<pid>/fd` as on Linux.
    unlinked: AtomicBool,
}

impl Dentry {
    /// The root dentry of a file system.
    pub fn root(inode: InodeRef) -> Arc<Dentry> {
        Arc::new(Dentry {
            inode,
            name: Mutex::new(b"/".to_vec()),
            parent: Mutex::new(None),
            children: Mutex::new(HashMap::new()),
            unlinked: AtomicBool::new(false),
        })
    }

    /// The child `name`, from the cache or the file system.
    pub fn child(self: &Arc<Dentry>, name: &[u8]) -> KResult<Arc<Dentry>> {
        let cached = self.children.lock().get(name).cloned();
        if let Some(d) = cached {
            if self.inode.still_names(name, &d.inode) {
                return Ok(d);
            }
            // The host replaced it: a fresh dentry; the old one lives on
            // for whoever holds it (an open file, a working directory).
            self.children.lock().remove(name);
        }
        let inode = self.inode.lookup(name)?;
        let d = Arc::new(Dentry {
            inode,
            name: Mutex::new(name.to_vec()),
            parent: Mutex::new(Some(self.clone())),
            children: Mutex::new(HashMap::new()),
            unlinked: AtomicBool::new(false),
        });
        self.children.lock().insert(name.to_vec(), d.clone());
        Ok(d)
    }

    /// A dentry for `inode` under `parent` that the parent does not list
    /// (an `O_TMPFILE` file): paths through it name `parent/name`.
    pub fn detached(parent: &Arc<Dentry>, name: Vec<u8>, inode: InodeRef) -> Arc<Dentry> {
        Arc::new(Dentry {
            inode,
            name: Mutex::new(name),
            parent: Mutex::new(Some(parent.clone())),
            children: Mutex::new(HashMap::new()),
            unlinked: AtomicBool::new(false),
        })
    }

    /// The current name in the parent.
    pub fn name(&self) -> Vec<u8> {
        self.name.lock().clone()
    }

    /// The current parent (`None` at a file system's root).
    pub fn parent(&self) -> Option<Arc<Dentry>> {
        self.parent.lock().clone()
    }

    /// After a successful rename of `old` in `self` to `new` in `new_dir`:
    /// move the cached dentry, so open files and working directories under
    /// it show the new path (as Linux's d_move). What was at `new` is
    /// marked deleted.
    pub fn move_child(self: &Arc<Dentry>, old: &[u8], new_dir: &Arc<Dentry>, new: &[u8]) {
        let moved = self.children.lock().remove(old);
        if let Some(gone) = new_dir.children.lock().remove(new) {
            if !moved.as_ref().is_some_and(|m| Arc::ptr_eq(m, &gone)) {
                gone.unlinked.store(true, Ordering::Relaxed);
            }
        }
        if let Some(d) = moved {
            *d.name.lock() = new.to_vec();
            *d.parent.lock() = Some(new_dir.clone());
            new_dir.children.lock().insert(new.to_vec(), d);
        }
    }

    /// Forget the cached child `name` (after unlink, rename, create).
    pub fn invalidate(&self, name: &[u8]) {
        self.children.lock().remove(name);
    }

    /// Forget the cached child `name` whose file system entry is gone
    /// (unlinked, or replaced by a rename), marking it deleted for those
    /// still holding it. Caught by tests/c/fs_open_files.c ("fd link").
    pub fn remove_child(&self, name: &[u8]) {
        if let Some(d) = self.children.lock().remove(name) {
            d.unlinked.store(true, Ordering::Relaxed);
        }
    }

    /// Whether this name was removed (see [`Dentry::remove_child`]).
    pub fn is_unlinked(&self) -> bool {
        self.unlinked.load(Ordering::Relaxed)
    }
}

/// A mounted file system (or a bind mount of part of one: `root` is then
/// a dentry inside another file system's tree).
pub struct Mount {
    pub id: u64,
    pub root: Arc<Dentry>,
    /// The mount and dentry this is mounted on; `None` for the root mount
    /// and for detached mounts. Changes with `pivot_root` and `MS_MOVE`.
    parent: Mutex<Option<(Arc<Mount>, Arc<Dentry>)>>,
    /// Read-only (`MS_RDONLY`); changes with a remount.
    ro: AtomicBool,
    /// File system type and source, for `/proc/mounts`.
    pub fstype: String,
    pub source: String,
    /// Options shown after `rw`/`ro` in `/proc/mounts` (`mode=1777`...), if any.
    pub options: String,
}

impl Mount {
    /// The mount and dentry this is mounted on (`None` at the root).
    pub fn parent(&self) -> Option<(Arc<Mount>, Arc<Dentry>)> {
        self.parent.lock().clone()
    }

    /// Whether changes through this mount fail with `EROFS`.
    pub fn readonly(&self) -> bool {
        self.ro.load(Ordering::Relaxed)
    }

    /// `EROFS` if the mount is read-only: Linux's `mnt_want_write`, which
    /// a change to a name or to an inode's attributes makes before any
    /// permission check (so on a read-only mount the answer is `EROFS`
    /// whoever asks, and for removals and renames even when the name does
    /// not exist).
    pub fn want_write(&self) -> KResult<()> {
        if self.readonly() {
            return Err(abi::Errno::EROFS);
        }
        Ok(())
    }

    /// Make this mount read-only or read-write (a remount).
    pub fn set_readonly(&self, ro: bool) {
        self.ro.store(ro, Ordering::Relaxed);
    }
}

/// A place in the mount tree: a dentry within a mount.
#[derive(Clone)]
pub struct Location {
    pub mount: Arc<Mount>,
    pub dentry: Arc<Dentry>,
}

impl Location {
    pub fn inode(&self) -> &InodeRef {
        &self.dentry.inode
    }
}

/// The mount tree.
pub struct Vfs {
    /// The root of the mount namespace (changes with `pivot_root`).
    root: Mutex<Location>,
    /// Child mounts by (parent mount id, mountpoint dentry address).
    mounts: Mutex<HashMap<(u64, usize), Arc<Mount>>>,
    all: Mutex<Vec<Arc<Mount>>>,
    next_id: AtomicU64,
}

fn key(mount: &Mount, d: &Arc<Dentry>) -> (u64, usize) {
    (mount.id, Arc::as_ptr(d) as usize)
}

impl Vfs {
    /// A mount tree whose root is `root` of type `fstype`.
    pub fn new(root: InodeRef, fstype: &str, source: &str) -> Arc<Vfs> {
        let m = Arc::new(Mount {
            id: 1,
            root: Dentry::root(root),
            parent: Mutex::new(None),
            ro: AtomicBool::new(false),
            fstype: fstype.into(),
            source: source.into(),
            options: String::new(),
        });
        Arc::new(Vfs {
            root: Mutex::new(Location { mount: m.clone(), dentry: m.root.clone() }),
            mounts: Mutex::new(HashMap::new()),
            all: Mutex::new(vec![m]),
            next_id: AtomicU64::new(2),
        })
    }

    /// The root of the mount tree.
    pub fn root(&self) -> Location {
        self.root.lock().clone()
    }

    /// Mount `fs_root` on `at`: a directory, or, for a file system whose
    /// root is a single file (a bind mount of a host file), a non-directory.
    pub fn mount(&self, at: &Location, fs_root: InodeRef, fstype: &str, source: &str, readonly: bool) -> Arc<Mount> {
        self.mount_dentry(at, Dentry::root(fs_root), fstype, source, "", readonly)
    }

    /// Every mount, in mount order.
    pub fn mounts(&self) -> Vec<Arc<Mount>> {
        self.all.lock().clone()
    }

    /// If a file system is mounted on `loc`, the root of the topmost one.
    pub fn cross_down(&self, mut loc: Location) -> Location {
        let mounts = self.mounts.lock();
        while let Some(m) = mounts.get(&key(&loc.mount, &loc.dentry)) {
            loc = Location { mount: m.clone(), dentry: m.root.clone() };
        }
        loc
    }

    /// The absolute path of `loc` as seen from `root` (a location outside
    /// `root` is shown by its path from the top of its mount tree).
    pub fn path_of(&self, loc: &Location, root: &Location) -> Vec<u8> {
        self.path_from(loc, root).0
    }

    /// The path of `loc` as `/proc/<pid>/fd`, `cwd` and `maps` show it:
    /// with ` (deleted)` appended once its name was removed, as on Linux.
    pub fn shown_path(&self, loc: &Location, root: &Location) -> Vec<u8> {
        let mut path = self.path_of(loc, root);
        if loc.dentry.is_unlinked() {
            path.extend_from_slice(b" (deleted)");
        }
        path
    }

    /// The path of `loc` from `root`, and whether `loc` is under `root`.
    pub fn path_from(&self, loc: &Location, root: &Location) -> (Vec<u8>, bool) {
        if anon::is_anon(loc) {
            return (loc.dentry.name(), false);
        }
        let mut parts: Vec<Vec<u8>> = Vec::new();
        let mut cur = loc.clone();
        let under = loop {
            if Arc::ptr_eq(&cur.dentry, &root.dentry) && Arc::ptr_eq(&cur.mount, &root.mount) {
                break true;
            }
            // The root of a mount (for a bind mount, a dentry with a parent
            // in the source's tree) continues at the mount point.
            let parent = if Arc::ptr_eq(&cur.dentry, &cur.mount.root) { None } else { cur.dentry.parent() };
            match parent {
                Some(p) => {
                    parts.push(cur.dentry.name());
                    cur = Location { mount: cur.mount.clone(), dentry: p };
                }
                None => match cur.mount.parent() {
                    Some((pm, pd)) => cur = Location { mount: pm, dentry: pd },
                    None => break false,
                },
            }
        };
        if parts.is_empty() {
            return (b"/".to_vec(), under);
        }
        let mut out = Vec::new();
        for p in parts.iter().rev() {
            out.push(b'/');
            out.extend_from_slice(p);
        }
        (out, under)
    }
}
