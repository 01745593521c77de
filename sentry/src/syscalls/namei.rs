//! mknod, mknodat.

use abi::consts::*;
use abi::Errno;

use super::{dir_of, int_arg};
use crate::kernel::Task;
use crate::vfs::{may_access, CreateAttr, KResult, NodeKind};

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

pub fn mknod(t: &mut Task, a: &[u64; 6]) -> KResult<u64> {
    let p = t.read_path(a[0])?;
    do_mknod(t, AT_FDCWD, &p, a[1] as u32, u64::from(a[2] as u32))
}

pub fn mknodat(t: &mut Task, a: &[u64; 6]) -> KResult<u64> {
    let p = t.read_path(a[1])?;
    do_mknod(t, int_arg(a[0]), &p, a[2] as u32, u64::from(a[3] as u32))
}
