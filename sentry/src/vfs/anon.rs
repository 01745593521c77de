//! Files without a path (pipes, sockets, anonymous-inode files, memfds,
//! donated host descriptors) as `/proc/<pid>/fd/N` leads to them.
//!
//! Linux keeps such files on internal mounts (pipefs, sockfs,
//! anon_inodefs), so following the magic link of one reaches its inode and
//! opening it re-opens the file through the inode (a new description of
//! the same pipe; `ENXIO` for a socket). Here the link leads to a dentry
//! on one detached pseudo mount, named as the link reads (`pipe:[N]`);
//! its path shows as that name alone.

use super::Caller;
use parking_lot::Mutex;
use std::any::Any;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, OnceLock};

use abi::consts::S_IFDIR;
use abi::Errno;

use super::{Dentry, FileRef, Inode, InodeAttr, InodeRef, KResult, Location, Mount};

/// The inode of an anonymous-inode file that has none of its own
/// (eventfd, epoll, signalfd, timerfd, inotify, pidfd), as Linux's shared
/// anon_inode: mode bits without a file type, owned by root.
pub struct AnonInode {
    mode: u32,
    /// What opening it gives (a pidfd re-opens as itself); `ENXIO` when
    /// `None`, as Linux's anon_inode files answer.
    reopen: Option<FileRef>,
}

impl AnonInode {
    pub fn new(mode: u32, reopen: Option<FileRef>) -> Arc<AnonInode> {
        Arc::new(AnonInode { mode, reopen })
    }
}

/// The pseudo device and inode number every [`AnonInode`] shows.
fn anon_dev_ino() -> (u64, u64) {
    static ID: OnceLock<(u64, u64)> = OnceLock::new();
    *ID.get_or_init(|| (crate::fs::next_dev(), crate::fs::pipe::next_ino()))
}

impl Inode for AnonInode {
    fn attr(&self) -> KResult<InodeAttr> {
        let (dev, ino) = anon_dev_ino();
        Ok(InodeAttr { dev, ino, mode: self.mode, nlink: 1, blksize: 4096, ..Default::default() })
    }

    fn open(&self, _cx: Caller<'_>, _flags: u32) -> KResult<FileRef> {
        self.reopen.clone().ok_or(Errno::ENXIO)
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// The detached mount that holds every [`anon_location`].
fn anon_mount() -> &'static Arc<Mount> {
    static MOUNT: OnceLock<Arc<Mount>> = OnceLock::new();
    MOUNT.get_or_init(|| {
        Arc::new(Mount {
            // Mount ids of a mount tree start at 1: no child mount is ever
            // keyed under this one.
            id: 0,
            root: Dentry::root(AnonInode::new(S_IFDIR | 0o500, None)),
            parent: Mutex::new(None),
            ro: AtomicBool::new(false),
            fstype: "anon_inodefs".into(),
            source: "none".into(),
            options: String::new(),
        })
    })
}

/// Where `/proc/<pid>/fd/N` leads for a file with no path: `inode`, named
/// `name` (what the link reads).
pub fn anon_location(name: Vec<u8>, inode: InodeRef) -> Location {
    let mount = anon_mount().clone();
    let dentry = Dentry::detached(&mount.root, name, inode);
    Location { mount, dentry }
}

/// Whether `loc` is an [`anon_location`] (its path is its name alone).
pub fn is_anon(loc: &Location) -> bool {
    Arc::ptr_eq(&loc.mount, anon_mount())
}

#[cfg(test)]
mod tests {
    use super::*;
    use abi::consts::{O_RDONLY, S_IFMT};

    #[test]
    fn anon_location_is_named_as_the_link_reads() {
        let loc = anon_location(b"pipe:[7]".to_vec(), AnonInode::new(0o600, None));

        assert!(is_anon(&loc));
        assert_eq!(loc.dentry.name(), b"pipe:[7]");
    }

    #[test]
    fn opening_an_anonymous_inode_without_reopen_returns_enxio() {
        let inode = AnonInode::new(0o600, None);

        assert_eq!(inode.open(Caller::SENTRY, O_RDONLY).err(), Some(Errno::ENXIO));
        assert_eq!(inode.attr().expect("attr").mode & S_IFMT, 0);
    }
}
