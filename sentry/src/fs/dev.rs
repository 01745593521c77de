//! /dev: a tmpfs holding the character devices every program expects, and
//! the drivers behind them.
//!
//! A device node of any tmpfs (or of the host root) opens through
//! [`open_char_device`], so `mknod x c 1 3` anywhere makes a working
//! `/dev/null`, as on Linux.

use std::any::Any;
use std::sync::Arc;

use abi::Errno;

use super::{major, makedev, minor, Tmpfs};
use crate::vfs::Caller;
use crate::vfs::{CreateAttr, FileOps, FileRef, KResult, NodeKind};

/// Device numbers of the devices bulwark drives.
pub const DEV_NULL: u64 = makedev(1, 3);
pub const DEV_ZERO: u64 = makedev(1, 5);
pub const DEV_FULL: u64 = makedev(1, 7);
pub const DEV_RANDOM: u64 = makedev(1, 8);
pub const DEV_URANDOM: u64 = makedev(1, 9);
pub const DEV_TTY: u64 = makedev(5, 0);
pub const DEV_PTMX: u64 = super::pty::DEV_PTMX;

/// The character devices of /dev, by name.
const DEVICES: [(&str, u64); 7] = [
    ("null", DEV_NULL),
    ("zero", DEV_ZERO),
    ("full", DEV_FULL),
    ("random", DEV_RANDOM),
    ("urandom", DEV_URANDOM),
    ("tty", DEV_TTY),
    ("ptmx", DEV_PTMX),
];

/// A new /dev (a tmpfs, owned by root, mode 0755) whose `st_dev` is `dev`.
/// `shm` and `pts` are empty directories the VFS mounts on.
pub fn new_devfs(dev: u64) -> KResult<Arc<Tmpfs>> {
    let fs = Tmpfs::new(dev, 0o755, 0, 0);
    let root = fs.root();
    let attr = |mode| CreateAttr { mode, uid: 0, gid: 0 };
    for (name, rdev) in DEVICES {
        root.create(name.as_bytes(), NodeKind::CharDevice(rdev), attr(0o666))?;
    }
    for (name, target) in [
        ("fd", "/proc/self/fd"),
        ("stdin", "/proc/self/fd/0"),
        ("stdout", "/proc/self/fd/1"),
        ("stderr", "/proc/self/fd/2"),
    ] {
        root.create(name.as_bytes(), NodeKind::Symlink(target.as_bytes().to_vec()), attr(0o777))?;
    }
    root.create(b"shm", NodeKind::Directory, attr(0o1777))?;
    root.create(b"pts", NodeKind::Directory, attr(0o755))?;
    Ok(fs)
}

/// Where the character device `rdev` is in the sandbox, as
/// `/proc/<pid>/fd` names a host descriptor of it: a device of /dev by its
/// name, a pty under `/dev/pts` by its number (see [`super::devpts`]),
/// any other as `/dev/char/MAJOR:MINOR`, as the host's devtmpfs links it.
pub fn device_path(rdev: u64) -> Vec<u8> {
    if let Some((name, _)) = DEVICES.iter().find(|(_, r)| *r == rdev) {
        return format!("/dev/{name}").into_bytes();
    }
    match super::devpts::pty_number(rdev) {
        Some(n) => format!("/dev/pts/{n}").into_bytes(),
        None => format!("/dev/char/{}:{}", major(rdev), minor(rdev)).into_bytes(),
    }
}

/// Open the character device `rdev` (`open(2)` flags in `flags`) for
/// `cx`. `ENXIO` for a device with no driver, and for `/dev/tty` while the
/// caller has no controlling terminal it can reopen (a pty of the
/// sandbox's); `/dev/ptmx` makes a new pty.
pub fn open_char_device(cx: Caller<'_>, rdev: u64, _flags: u32) -> KResult<FileRef> {
    match (major(rdev), minor(rdev)) {
        (5, 0) => super::pty::open_controlling(cx),
        (5, 2) => super::pty::open_ptmx(cx),
        (1, 3) => Ok(Arc::new(Null)),
        (1, 5) => Ok(Arc::new(Zero)),
        (1, 7) => Ok(Arc::new(Full)),
        (1, 8) | (1, 9) => Ok(Arc::new(Random)),
        _ => Err(Errno::ENXIO),
    }
}

/// `/dev/null`: reads end at once, writes vanish.
pub struct Null;

impl FileOps for Null {
    fn read(&self, _cx: Caller<'_>, _buf: &mut [u8], _off: u64) -> KResult<usize> {
        Ok(0)
    }
    fn write(&self, _cx: Caller<'_>, buf: &[u8], _off: u64) -> KResult<usize> {
        Ok(buf.len())
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// `/dev/zero`: reads zeros, writes vanish.
pub struct Zero;

impl FileOps for Zero {
    fn read(&self, _cx: Caller<'_>, buf: &mut [u8], _off: u64) -> KResult<usize> {
        buf.fill(0);
        Ok(buf.len())
    }
    fn write(&self, _cx: Caller<'_>, buf: &[u8], _off: u64) -> KResult<usize> {
        Ok(buf.len())
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// `/dev/full`: reads zeros, writes fail with `ENOSPC`.
pub struct Full;

impl FileOps for Full {
    fn read(&self, _cx: Caller<'_>, buf: &mut [u8], _off: u64) -> KResult<usize> {
        buf.fill(0);
        Ok(buf.len())
    }
    fn write(&self, _cx: Caller<'_>, _buf: &[u8], _off: u64) -> KResult<usize> {
        Err(Errno::ENOSPC)
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// `/dev/random` and `/dev/urandom`: the host's `getrandom(2)`. Writes are
/// accepted and dropped (on Linux they stir the pool).
pub struct Random;

impl FileOps for Random {
    fn read(&self, _cx: Caller<'_>, buf: &mut [u8], _off: u64) -> KResult<usize> {
        crate::host::getrandom(buf)
    }
    fn write(&self, _cx: Caller<'_>, buf: &[u8], _off: u64) -> KResult<usize> {
        Ok(buf.len())
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vfs::InodeRef;
    use abi::consts::{O_RDONLY, O_RDWR, S_IFCHR, S_IFDIR, S_IFLNK};

    fn devroot() -> InodeRef {
        new_devfs(7).expect("devfs").root()
    }

    fn open(name: &str) -> FileRef {
        devroot().lookup(name.as_bytes()).expect("lookup").open(Caller::SENTRY, O_RDWR).expect("open")
    }

    #[test]
    fn null_reads_nothing_and_swallows_writes() {
        let f = open("null");
        let mut buf = [7u8; 4];

        assert_eq!(f.read(Caller::SENTRY, &mut buf, 0), Ok(0));
        assert_eq!(f.write(Caller::SENTRY, b"abc", 0), Ok(3));
    }

    #[test]
    fn zero_reads_zeros() {
        let f = open("zero");
        let mut buf = [7u8; 4];

        let n = f.read(Caller::SENTRY, &mut buf, 0);

        assert_eq!((n, buf), (Ok(4), [0; 4]));
    }

    #[test]
    fn full_reads_zeros_and_write_returns_enospc() {
        let f = open("full");
        let mut buf = [7u8; 4];

        assert_eq!((f.read(Caller::SENTRY, &mut buf, 0), buf), (Ok(4), [0; 4]));
        assert_eq!(f.write(Caller::SENTRY, b"x", 0), Err(Errno::ENOSPC));
    }

    #[test]
    fn urandom_fills_the_whole_buffer() {
        let f = open("urandom");
        let mut a = [0u8; 64];
        let mut b = [0u8; 64];

        assert_eq!(f.read(Caller::SENTRY, &mut a, 0), Ok(64));
        assert_eq!(f.read(Caller::SENTRY, &mut b, 0), Ok(64));
        assert_ne!(a, b);
    }

    #[test]
    fn tty_open_returns_enxio() {
        let tty = devroot().lookup(b"tty").expect("lookup");

        assert_eq!(tty.open(Caller::SENTRY, O_RDWR).err(), Some(Errno::ENXIO));
    }

    #[test]
    fn devices_have_linux_numbers_and_mode_0666() {
        let root = devroot();

        let got: Vec<_> = ["null", "zero", "full", "random", "urandom", "tty", "ptmx"]
            .iter()
            .map(|n| {
                let a = root.lookup(n.as_bytes()).expect("lookup").attr().expect("attr");
                (a.mode, major(a.rdev), minor(a.rdev))
            })
            .collect();

        let c = S_IFCHR | 0o666;
        assert_eq!(got, vec![(c, 1, 3), (c, 1, 5), (c, 1, 7), (c, 1, 8), (c, 1, 9), (c, 5, 0), (c, 5, 2)]);
    }

    #[test]
    fn device_path_names_dev_devices_ptys_and_others_by_number() {
        let names: Vec<Vec<u8>> =
            [DEV_NULL, DEV_URANDOM, makedev(136, 5), makedev(4, 1)].into_iter().map(device_path).collect();

        assert_eq!(names, [&b"/dev/null"[..], b"/dev/urandom", b"/dev/pts/5", b"/dev/char/4:1"]);
    }

    #[test]
    fn fd_links_and_directories_exist() {
        let root = devroot();

        let stdout = root.lookup(b"stdout").expect("stdout");
        let shm = root.lookup(b"shm").expect("shm").attr().expect("attr");

        assert_eq!(stdout.attr().expect("attr").mode & S_IFLNK, S_IFLNK);
        assert_eq!(stdout.readlink(Caller::SENTRY).expect("readlink"), b"/proc/self/fd/1");
        assert_eq!(root.lookup(b"fd").expect("fd").readlink(Caller::SENTRY).expect("readlink"), b"/proc/self/fd");
        assert_eq!(shm.mode, S_IFDIR | 0o1777);
        assert!(root.lookup(b"pts").expect("pts").readdir().expect("readdir").is_empty());
        assert_eq!(root.lookup(b"null").expect("null").open(Caller::SENTRY, O_RDONLY).map(|_| ()), Ok(()));
    }
}
