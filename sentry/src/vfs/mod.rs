//! The virtual file system: mounts, dentries, path resolution, file
//! descriptions and the fd table. File systems plug in through [`Inode`]
//! and [`FileOps`].

mod fd;
pub mod inode;
pub mod lock;
mod path;

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

pub use fd::{FdTable, FileDescription};
pub use inode::*;
pub use path::{may_access, Creds, ResolveOpts, Resolved};

/// Lock a mutex, recovering from poisoning (a panicked holder left plain
/// data behind; the sentry keeps going).
pub fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// A name in the dentry tree of one file system instance.
pub struct Dentry {
    pub inode: InodeRef,
    pub name: Vec<u8>,
    /// `None` at the root of the file system.
    pub parent: Option<Arc<Dentry>>,
    children: Mutex<HashMap<Vec<u8>, Arc<Dentry>>>,
}

impl Dentry {
    /// The root dentry of a file system.
    pub fn root(inode: InodeRef) -> Arc<Dentry> {
        Arc::new(Dentry { inode, name: b"/".to_vec(), parent: None, children: Mutex::new(HashMap::new()) })
    }

    /// The child `name`, from the cache or the file system.
    pub fn child(self: &Arc<Dentry>, name: &[u8]) -> KResult<Arc<Dentry>> {
        if let Some(d) = lock(&self.children).get(name) {
            return Ok(d.clone());
        }
        let inode = self.inode.lookup(name)?;
        let d = Arc::new(Dentry {
            inode,
            name: name.to_vec(),
            parent: Some(self.clone()),
            children: Mutex::new(HashMap::new()),
        });
        lock(&self.children).insert(name.to_vec(), d.clone());
        Ok(d)
    }

    /// A dentry for `inode` under `parent` that the parent does not list
    /// (an `O_TMPFILE` file): paths through it name `parent/name`.
    pub fn detached(parent: &Arc<Dentry>, name: Vec<u8>, inode: InodeRef) -> Arc<Dentry> {
        Arc::new(Dentry { inode, name, parent: Some(parent.clone()), children: Mutex::new(HashMap::new()) })
    }

    /// Forget the cached child `name` (after unlink, rename, create).
    pub fn invalidate(&self, name: &[u8]) {
        lock(&self.children).remove(name);
    }
}

/// A mounted file system.
pub struct Mount {
    pub id: u64,
    pub root: Arc<Dentry>,
    /// The mount and dentry this is mounted on; `None` for the root mount.
    pub parent: Option<(Arc<Mount>, Arc<Dentry>)>,
    pub readonly: bool,
    /// File system type and source, for `/proc/mounts`.
    pub fstype: String,
    pub source: String,
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
    root: Location,
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
            parent: None,
            readonly: false,
            fstype: fstype.into(),
            source: source.into(),
        });
        Arc::new(Vfs {
            root: Location { mount: m.clone(), dentry: m.root.clone() },
            mounts: Mutex::new(HashMap::new()),
            all: Mutex::new(vec![m]),
            next_id: AtomicU64::new(2),
        })
    }

    /// The root of the mount tree.
    pub fn root(&self) -> Location {
        self.root.clone()
    }

    /// Mount `fs_root` on the directory at `at`.
    pub fn mount(&self, at: &Location, fs_root: InodeRef, fstype: &str, source: &str, readonly: bool) -> Arc<Mount> {
        let m = Arc::new(Mount {
            id: self.next_id.fetch_add(1, Ordering::Relaxed),
            root: Dentry::root(fs_root),
            parent: Some((at.mount.clone(), at.dentry.clone())),
            readonly,
            fstype: fstype.into(),
            source: source.into(),
        });
        lock(&self.mounts).insert(key(&at.mount, &at.dentry), m.clone());
        lock(&self.all).push(m.clone());
        m
    }

    /// Every mount, in mount order.
    pub fn mounts(&self) -> Vec<Arc<Mount>> {
        lock(&self.all).clone()
    }

    /// If a file system is mounted on `loc`, the root of the topmost one.
    pub fn cross_down(&self, mut loc: Location) -> Location {
        let mounts = lock(&self.mounts);
        while let Some(m) = mounts.get(&key(&loc.mount, &loc.dentry)) {
            loc = Location { mount: m.clone(), dentry: m.root.clone() };
        }
        loc
    }

    /// The absolute path of `loc` as seen from `root`.
    pub fn path_of(&self, loc: &Location, root: &Location) -> Vec<u8> {
        let mut parts: Vec<Vec<u8>> = Vec::new();
        let mut cur = loc.clone();
        loop {
            if Arc::ptr_eq(&cur.dentry, &root.dentry) && Arc::ptr_eq(&cur.mount, &root.mount) {
                break;
            }
            match &cur.dentry.parent {
                Some(p) => {
                    parts.push(cur.dentry.name.clone());
                    cur = Location { mount: cur.mount.clone(), dentry: p.clone() };
                }
                None => match &cur.mount.parent {
                    Some((pm, pd)) => cur = Location { mount: pm.clone(), dentry: pd.clone() },
                    None => break,
                },
            }
        }
        if parts.is_empty() {
            return b"/".to_vec();
        }
        let mut out = Vec::new();
        for p in parts.iter().rev() {
            out.push(b'/');
            out.extend_from_slice(p);
        }
        out
    }
}
