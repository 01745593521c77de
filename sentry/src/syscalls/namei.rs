//! mknod, mknodat.

use abi::consts::*;
use abi::Errno;

use sentry_macros::syscall;

use super::args::{file_mode, Call, DirFd, SysArg, UserCStr};
use super::dir_of;
use crate::kernel::Task;
use crate::vfs::{may_access, CreateAttr, KResult, NodeKind};

super::args::named_arg!(/// A node's type and permissions (`mknod`'s mode), printed as strace
    /// does: `S_IFIFO|0644`.
    NodeMode(u32), file_mode);

/// The device number of a node whose mode is argument `MODE`: printed as
/// strace does, `makedev(0x1, 0x3)`, and only for device nodes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Dev<const MODE: usize>(pub u32);

impl<const MODE: usize> SysArg for Dev<MODE> {
    fn decode(t: &Task, raw: u64) -> KResult<Self> {
        u32::decode(t, raw).map(Dev)
    }
    fn strace(c: &Call<'_>, i: usize) -> String {
        if !matches!(c.raw[MODE] as u32 & S_IFMT, S_IFCHR | S_IFBLK) {
            return String::new();
        }
        makedev(c.raw[i] as u32)
    }
}

/// A 32-bit device number as strace shows it: `makedev(major, minor)`,
/// the major in bits 8-19, the minor in bits 0-7 and 20-31.
fn makedev(dev: u32) -> String {
    format!("makedev({:#x}, {:#x})", (dev >> 8) & 0xfff, (dev & 0xff) | ((dev >> 12) & 0xfff00))
}

fn do_mknod(t: &Task, dirfd: i32, path: &[u8], mode: u32, dev: u64) -> KResult<u64> {
    let creds = t.creds();
    let kind = match mode & S_IFMT {
        0 | S_IFREG => NodeKind::Regular,
        S_IFIFO => NodeKind::Fifo,
        S_IFSOCK => NodeKind::Socket,
        S_IFCHR | S_IFBLK if creds.fsuid != 0 => return Err(Errno::EPERM),
        S_IFCHR => NodeKind::CharDevice(dev),
        S_IFBLK => NodeKind::BlockDevice(dev),
        S_IFDIR => return Err(Errno::EPERM),
        _ => return Err(Errno::EINVAL),
    };
    let fs = t.fs();
    let start = if path.first() == Some(&b'/') { fs.root.clone() } else { dir_of(t, dirfd)? };
    let r = t.k.vfs.resolve_parent(&fs.root, &start, path, &creds)?;
    if r.name == b"." || r.name == b".." || r.parent.dentry.child(&r.name).is_ok() {
        return Err(Errno::EEXIST);
    }
    if r.trailing_slash {
        return Err(Errno::ENOENT);
    }
    may_access(&r.parent.inode().attr()?, &creds, W_OK | X_OK)?;
    if r.parent.mount.readonly() {
        return Err(Errno::EROFS);
    }
    let ftype = if mode & S_IFMT == 0 { S_IFREG } else { mode & S_IFMT };
    let attr = CreateAttr { mode: ftype | (mode & 0o7777 & !fs.umask), uid: creds.fsuid, gid: creds.fsgid };
    r.parent.inode().create(&r.name, kind, attr)?;
    r.parent.dentry.invalidate(&r.name);
    Ok(0)
}

/// Create a regular file, FIFO, socket or (for root) device node at
/// `pathname`.
#[syscall]
pub fn mknod(t: &mut Task, pathname: UserCStr, mode: NodeMode, dev: Dev<1>) -> KResult<u64> {
    let p = pathname.read(t)?;
    do_mknod(t, AT_FDCWD, &p, mode.0, u64::from(dev.0))
}

/// `mknod` relative to `dirfd`.
#[syscall]
pub fn mknodat(t: &mut Task, dirfd: DirFd, pathname: UserCStr, mode: NodeMode, dev: Dev<2>) -> KResult<u64> {
    let p = pathname.read(t)?;
    do_mknod(t, dirfd.0, &p, mode.0, u64::from(dev.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn makedev_splits_major_and_minor_as_glibc_packs_them() {
        assert_eq!(makedev(0x103), "makedev(0x1, 0x3)");
        assert_eq!(makedev(0x41_2356), "makedev(0x123, 0x456)");
    }
}
