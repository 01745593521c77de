//! `/dev/pts`: the sandbox's devpts, holding the host terminal the
//! application was given as stdio, under the number the host gave it.
//!
//! glibc's `ttyname` (and so `tty`, python's `os.ttyname`, `ps`'s TTY
//! column) reads `/proc/self/fd/N`, stats the path it names and compares
//! `st_dev`, `st_ino` and `st_rdev` with `fstat(N)`. The entry `N` here is
//! the stdio descriptor's own inode, so the two agree by construction, and
//! opening `/dev/pts/N` gives the same terminal.
//!
//! Terminals allocated inside the sandbox (`/dev/pts/ptmx`, `/dev/ptmx`)
//! are [`super::pty`]'s: their numbers skip those [`DevPts::add`] took.

use std::any::Any;
use std::collections::BTreeMap;
use std::sync::Arc;

use abi::consts::{DT_CHR, S_IFDIR};
use abi::types::Timespec;
use abi::Errno;
use parking_lot::Mutex;

use super::pty::PtyTable;
use super::{major, minor, DirFile};
use crate::vfs::Caller;
use crate::vfs::{CreateAttr, DirEntry, FileRef, FsStat, Inode, InodeAttr, InodeRef, KResult, NodeKind};

/// `statfs`'s `f_type` for devpts (`linux/magic.h`).
const DEVPTS_SUPER_MAGIC: i64 = 0x1cd1;

/// The first major number of Unix98 pty slaves (`UNIX98_PTY_SLAVE_MAJOR`),
/// and how many majors they span in the 8-bit minor numbering.
const PTY_SLAVE_MAJOR: u64 = 136;
const PTY_SLAVE_MAJORS: u64 = 8;

/// The number `/dev/pts/<number>` of the terminal whose device number is
/// `rdev`, if it is a pty slave: the minor of major 136 (Linux numbers
/// every pty under that major, minors being 20 bits wide), or in the old
/// layout of 256 per major, the minor counted from major 136.
pub fn pty_number(rdev: u64) -> Option<u32> {
    let (ma, mi) = (major(rdev), minor(rdev));
    if !(PTY_SLAVE_MAJOR..PTY_SLAVE_MAJOR + PTY_SLAVE_MAJORS).contains(&ma) {
        return None;
    }
    u32::try_from(((ma - PTY_SLAVE_MAJOR) << 8) + mi).ok()
}

/// A devpts instance: its root directory and the terminals in it (a
/// clone is the same instance).
#[derive(Clone)]
pub struct DevPts {
    root: Arc<PtsRoot>,
}

impl DevPts {
    /// An empty devpts whose `st_dev` is `dev`.
    pub fn new(dev: u64) -> DevPts {
        let t = super::now();
        let own = PtyTable::new(dev);
        DevPts { root: Arc::new(PtsRoot { dev, ctime: t, ptys: Mutex::new(BTreeMap::new()), own }) }
    }

    /// The `st_dev` of this file system: the terminals put in it must
    /// report it too.
    pub fn dev(&self) -> u64 {
        self.root.dev
    }

    /// The root directory, to mount on `/dev/pts`.
    pub fn root(&self) -> InodeRef {
        self.root.clone()
    }

    /// Make `inode` (a terminal whose `st_dev` is [`DevPts::dev`]) entry
    /// `number`; the first terminal given a number keeps it.
    pub fn add(&self, number: u32, inode: InodeRef) {
        self.root.own.reserve(number);
        self.root.ptys.lock().entry(number).or_insert(inode);
    }

    /// The ptys allocated in this devpts.
    pub fn ptys(&self) -> &Arc<PtyTable> {
        &self.root.own
    }
}

/// The root directory of a devpts.
struct PtsRoot {
    dev: u64,
    ctime: Timespec,
    /// The host terminals.
    ptys: Mutex<BTreeMap<u32, InodeRef>>,
    /// The terminals allocated here.
    own: Arc<PtyTable>,
}

/// The number a name spells as devpts names its entries (decimal, no
/// leading zeros).
fn parse_number(name: &[u8]) -> Option<u32> {
    if name.is_empty() || (name.len() > 1 && name[0] == b'0') || !name.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(name).ok()?.parse().ok()
}

impl Inode for PtsRoot {
    fn attr(&self) -> KResult<InodeAttr> {
        Ok(InodeAttr {
            dev: self.dev,
            ino: 1,
            mode: S_IFDIR | 0o755,
            nlink: 2,
            blksize: 1024,
            atime: self.ctime,
            mtime: self.ctime,
            ctime: self.ctime,
            ..Default::default()
        })
    }

    fn lookup(&self, name: &[u8]) -> KResult<InodeRef> {
        if name == b"ptmx" {
            return Ok(self.own.ptmx());
        }
        let n = parse_number(name).ok_or(Errno::ENOENT)?;
        if let Some(host) = self.ptys.lock().get(&n).cloned() {
            return Ok(host);
        }
        self.own.entry(n).ok_or(Errno::ENOENT)
    }

    fn readdir(&self) -> KResult<Vec<DirEntry>> {
        let ptys = self.ptys.lock();
        let mut out = Vec::with_capacity(ptys.len() + 1);
        out.push(DirEntry { ino: 2, kind: DT_CHR, name: b"ptmx".to_vec() });
        for (n, inode) in ptys.iter() {
            out.push(DirEntry { ino: inode.attr()?.ino, kind: DT_CHR, name: n.to_string().into_bytes() });
        }
        out.extend(self.own.entries());
        out.sort_by_key(|e| parse_number(&e.name).map_or(-1, i64::from));
        Ok(out)
    }

    fn open(&self, _cx: Caller<'_>, _flags: u32) -> KResult<FileRef> {
        Ok(Arc::new(DirFile))
    }

    // devpts has no mknod, link, unlink or rename: the VFS's answer for a
    // directory without them is EPERM.
    fn create(&self, _name: &[u8], _kind: NodeKind, _attr: CreateAttr) -> KResult<InodeRef> {
        Err(Errno::EPERM)
    }

    fn link(&self, _name: &[u8], _target: &InodeRef) -> KResult<()> {
        Err(Errno::EPERM)
    }

    fn unlink(&self, _name: &[u8], _dir: bool) -> KResult<()> {
        Err(Errno::EPERM)
    }

    fn rename(&self, _old: &[u8], _new_dir: &InodeRef, _new: &[u8], _flags: u32) -> KResult<()> {
        Err(Errno::EPERM)
    }

    fn statfs(&self) -> KResult<FsStat> {
        Ok(FsStat { f_type: DEVPTS_SUPER_MAGIC, f_bsize: 4096, f_namelen: 255, f_frsize: 4096, ..Default::default() })
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fs::makedev;
    use abi::consts::{O_RDWR, S_IFCHR};

    /// A terminal-like inode: a character device `rdev` on `dev`.
    struct Tty {
        dev: u64,
        rdev: u64,
    }

    impl Inode for Tty {
        fn attr(&self) -> KResult<InodeAttr> {
            Ok(InodeAttr { dev: self.dev, ino: 7, mode: S_IFCHR | 0o620, rdev: self.rdev, ..Default::default() })
        }
        fn open(&self, _cx: Caller<'_>, _flags: u32) -> KResult<FileRef> {
            Ok(Arc::new(DirFile))
        }
        fn as_any(&self) -> &dyn Any {
            self
        }
    }

    #[test]
    fn pty_number_is_the_minor_of_major_136_and_none_for_other_devices() {
        assert_eq!(pty_number(makedev(136, 0)), Some(0));
        assert_eq!(pty_number(makedev(136, 4)), Some(4));
        assert_eq!(pty_number(makedev(136, 300)), Some(300));
        assert_eq!(pty_number(makedev(137, 2)), Some(258));
        assert_eq!(pty_number(makedev(4, 1)), None);
        assert_eq!(pty_number(makedev(5, 0)), None);
        assert_eq!(pty_number(makedev(1, 3)), None);
    }

    #[test]
    fn added_terminal_is_found_by_its_number_and_listed() {
        let pts = DevPts::new(42);
        let tty: InodeRef = Arc::new(Tty { dev: pts.dev(), rdev: makedev(136, 3) });

        pts.add(3, tty.clone());

        let root = pts.root();
        let found = root.lookup(b"3").expect("lookup 3");
        assert!(Arc::ptr_eq(&found, &tty));
        assert_eq!(found.attr().expect("attr").dev, root.attr().expect("root attr").dev);
        assert_eq!(
            root.readdir(),
            Ok(vec![
                DirEntry { ino: 2, kind: DT_CHR, name: b"ptmx".to_vec() },
                DirEntry { ino: 7, kind: DT_CHR, name: b"3".to_vec() }
            ])
        );
        assert!(found.open(Caller::SENTRY, O_RDWR).is_ok());
    }

    #[test]
    fn other_names_are_enoent_and_the_first_terminal_keeps_its_number() {
        let pts = DevPts::new(42);
        let first: InodeRef = Arc::new(Tty { dev: 42, rdev: makedev(136, 0) });
        let second: InodeRef = Arc::new(Tty { dev: 42, rdev: makedev(136, 0) });
        pts.add(0, first.clone());

        pts.add(0, second);

        let root = pts.root();
        assert!(Arc::ptr_eq(&root.lookup(b"0").expect("lookup 0"), &first));
        for name in [&b"00"[..], b"1", b"", b"-0", b"99999999999"] {
            assert_eq!(root.lookup(name).err(), Some(Errno::ENOENT), "{name:?}");
        }
    }

    #[test]
    fn root_is_a_root_owned_0755_directory_that_refuses_new_names() {
        let root = DevPts::new(42).root();
        let a = root.attr().expect("attr");
        let attr = CreateAttr { mode: 0o644, uid: 0, gid: 0 };

        assert_eq!((a.mode, a.uid, a.gid, a.ino, a.dev), (S_IFDIR | 0o755, 0, 0, 1, 42));
        assert_eq!(root.create(b"5", NodeKind::Regular, attr).err(), Some(Errno::EPERM));
        assert_eq!(root.unlink(b"5", false), Err(Errno::EPERM));
        assert_eq!(root.statfs().map(|s| s.f_type), Ok(DEVPTS_SUPER_MAGIC));
    }
}
