//! mkdir, mknod, symlink, unlink, rmdir, rename and link, as Linux's
//! fs/namei.c.

use abi::consts::*;
use abi::Errno;

use sentry_macros::syscall;

use super::args::{file_mode, AtFlags, Call, DirFd, Mode, RenameFlags, SysArg, UserCStr};
use super::{dir_of, resolve_at};
use crate::kernel::Task;
use crate::vfs::Caller;
use crate::vfs::{may_access, CreateAttr, InodeAttr, KResult, Location, NodeKind, Resolved};

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
    // Linux's may_mknod: the type is checked before the path.
    let kind = match mode & S_IFMT {
        0 | S_IFREG => NodeKind::Regular,
        S_IFIFO => NodeKind::Fifo,
        S_IFSOCK => NodeKind::Socket,
        S_IFCHR => NodeKind::CharDevice(dev),
        S_IFBLK => NodeKind::BlockDevice(dev),
        S_IFDIR => return Err(Errno::EPERM),
        _ => return Err(Errno::EINVAL),
    };
    let creds = t.creds();
    let fs = t.fs();
    let r = parent_for_change(t, dirfd, path)?;
    check_new_name(&r, false)?;
    may_access(&r.parent.inode().attr()?, &creds, W_OK | X_OK)?;
    // vfs_mknod: a device node needs CAP_MKNOD, asked after may_create (a
    // whiteout, character device 0:0, does not).
    let device = matches!(kind, NodeKind::CharDevice(d) if d != 0) || matches!(kind, NodeKind::BlockDevice(_));
    if device && !creds.capable(CAP_MKNOD) {
        return Err(Errno::EPERM);
    }
    let ftype = if mode & S_IFMT == 0 { S_IFREG } else { mode & S_IFMT };
    let attr = CreateAttr { mode: ftype | (mode & 0o7777 & !fs.umask), uid: creds.fsuid, gid: creds.fsgid };
    r.parent.inode().create(&r.name, kind, attr)?;
    r.parent.dentry.invalidate(&r.name);
    Ok(0)
}

/// Create a regular file, FIFO, socket or (with `CAP_MKNOD`) device node at
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

/// Resolve the parent of a name to create or remove (search permission on
/// every directory of the way, its last included, as Linux's walk checks).
fn parent_for_change(t: &Task, dirfd: i32, path: &[u8]) -> KResult<Resolved> {
    let fs = t.fs();
    let start = if path.first() == Some(&b'/') { fs.root.clone() } else { dir_of(t, dirfd)? };
    t.k.vfs.resolve_parent(Caller::of(t), &fs.root, &start, path, &t.creds())
}

/// What Linux's `filename_create` checks of a name to be made, in its
/// order, before the caller's permission on the directory is asked: `.`,
/// `..` or an existing name is `EEXIST`; a trailing slash on a name that is
/// not to be a directory `ENOENT`; a read-only mount `EROFS`.
pub(super) fn check_new_name(r: &Resolved, want_dir: bool) -> KResult<()> {
    if r.name == b"." || r.name == b".." || r.parent.dentry.child(&r.name).is_ok() {
        return Err(Errno::EEXIST);
    }
    if r.trailing_slash && !want_dir {
        return Err(Errno::ENOENT);
    }
    r.parent.mount.want_write()
}

/// Write and search permission on the directory `loc`, to add or remove
/// a name in it (`may_create`, `may_delete`).
fn may_change_dir(t: &Task, loc: &Location) -> KResult<()> {
    may_access(&loc.inode().attr()?, &t.creds(), W_OK | X_OK)
}

fn do_mknode(t: &Task, dirfd: i32, path: &[u8], kind: NodeKind, mode: u32) -> KResult<u64> {
    let r = parent_for_change(t, dirfd, path)?;
    check_new_name(&r, kind == NodeKind::Directory)?;
    may_change_dir(t, &r.parent)?;
    let creds = t.creds();
    let umask = t.fs().umask;
    let ftype = match kind {
        NodeKind::Directory => S_IFDIR,
        NodeKind::Symlink(_) => S_IFLNK,
        _ => S_IFREG,
    };
    let perm = if ftype == S_IFLNK { 0o777 } else { mode & 0o7777 & !umask };
    r.parent.inode().create(&r.name, kind, CreateAttr { mode: ftype | perm, uid: creds.fsuid, gid: creds.fsgid })?;
    r.parent.dentry.invalidate(&r.name);
    crate::fs::inotify::notify_create(&r.parent, &r.name, ftype == S_IFDIR);
    Ok(0)
}

/// Make a directory.
#[syscall]
pub fn mkdir(t: &mut Task, pathname: UserCStr, mode: Mode) -> KResult<u64> {
    let p = pathname.read(t)?;
    do_mknode(t, AT_FDCWD, &p, NodeKind::Directory, mode.0)
}

/// `mkdir` relative to a directory descriptor.
#[syscall]
pub fn mkdirat(t: &mut Task, dirfd: DirFd, pathname: UserCStr, mode: Mode) -> KResult<u64> {
    let p = pathname.read(t)?;
    do_mknode(t, dirfd.0, &p, NodeKind::Directory, mode.0)
}

/// Make a symbolic link `linkpath` to `target`.
#[syscall]
pub fn symlink(t: &mut Task, target: UserCStr, linkpath: UserCStr) -> KResult<u64> {
    let target = target.read(t)?;
    let p = linkpath.read(t)?;
    if target.is_empty() {
        return Err(Errno::ENOENT);
    }
    do_mknode(t, AT_FDCWD, &p, NodeKind::Symlink(target), 0o777)
}

/// `symlink` relative to a directory descriptor.
#[syscall]
pub fn symlinkat(t: &mut Task, target: UserCStr, newdirfd: DirFd, linkpath: UserCStr) -> KResult<u64> {
    let target = target.read(t)?;
    let p = linkpath.read(t)?;
    if target.is_empty() {
        return Err(Errno::ENOENT);
    }
    do_mknode(t, newdirfd.0, &p, NodeKind::Symlink(target), 0o777)
}

/// The sticky-bit rule: in a sticky directory only the owner of the file or
/// of the directory (or a holder of `CAP_FOWNER`) may remove or rename it.
fn check_sticky(t: &Task, dir: &Location, victim: &InodeAttr) -> KResult<()> {
    let dattr = dir.inode().attr()?;
    let creds = t.creds();
    if dattr.mode & S_ISVTX != 0 && creds.fsuid != victim.uid && creds.fsuid != dattr.uid && !creds.capable(CAP_FOWNER)
    {
        return Err(Errno::EPERM);
    }
    Ok(())
}

fn do_unlink(t: &Task, dirfd: i32, path: &[u8], dir: bool) -> KResult<u64> {
    let r = parent_for_change(t, dirfd, path)?;
    if dir {
        if r.name == b"." {
            return Err(Errno::EINVAL);
        }
        if r.name == b".." {
            return Err(Errno::ENOTEMPTY);
        }
    } else if r.name == b"." || r.name == b".." {
        return Err(Errno::EISDIR);
    }
    // Before the name is looked up: EROFS even for a name that is not there.
    r.parent.mount.want_write()?;
    let victim = r.parent.dentry.child(&r.name)?;
    let vattr = victim.inode.attr()?;
    if !dir && r.trailing_slash {
        return Err(if vattr.is_dir() { Errno::EISDIR } else { Errno::ENOTDIR });
    }
    may_change_dir(t, &r.parent)?;
    check_sticky(t, &r.parent, &vattr)?;
    // A mount point cannot be removed.
    let vloc = Location { mount: r.parent.mount.clone(), dentry: victim.clone() };
    if !std::sync::Arc::ptr_eq(&t.k.vfs.cross_down(vloc).dentry, &victim) {
        return Err(Errno::EBUSY);
    }
    r.parent.inode().unlink(&r.name, dir)?;
    crate::fs::inotify::notify_unlink(&r.parent, &r.name, &vattr);
    r.parent.dentry.remove_child(&r.name);
    Ok(0)
}

/// Remove a name.
#[syscall]
pub fn unlink(t: &mut Task, pathname: UserCStr) -> KResult<u64> {
    let p = pathname.read(t)?;
    do_unlink(t, AT_FDCWD, &p, false)
}

/// Remove an empty directory.
#[syscall]
pub fn rmdir(t: &mut Task, pathname: UserCStr) -> KResult<u64> {
    let p = pathname.read(t)?;
    do_unlink(t, AT_FDCWD, &p, true)
}

/// `unlink`, or `rmdir` with `AT_REMOVEDIR`, relative to a directory
/// descriptor.
#[syscall]
pub fn unlinkat(t: &mut Task, dirfd: DirFd, pathname: UserCStr, flags: AtFlags) -> KResult<u64> {
    let flags = flags.0;
    if flags & !AT_REMOVEDIR != 0 {
        return Err(Errno::EINVAL);
    }
    let p = pathname.read(t)?;
    do_unlink(t, dirfd.0, &p, flags & AT_REMOVEDIR != 0)
}

fn is_ancestor(anc: &Location, loc: &Location) -> bool {
    if !std::sync::Arc::ptr_eq(&anc.mount, &loc.mount) {
        return false;
    }
    let mut cur = Some(loc.dentry.clone());
    while let Some(d) = cur {
        if std::sync::Arc::ptr_eq(&d, &anc.dentry) {
            return true;
        }
        cur = d.parent();
    }
    false
}

fn do_rename(t: &Task, olddirfd: i32, old: &[u8], newdirfd: i32, new: &[u8], flags: u32) -> KResult<u64> {
    if flags & !(RENAME_NOREPLACE | RENAME_EXCHANGE | RENAME_WHITEOUT) != 0
        || (flags & RENAME_EXCHANGE != 0 && flags & (RENAME_NOREPLACE | RENAME_WHITEOUT) != 0)
    {
        return Err(Errno::EINVAL);
    }
    if flags & RENAME_WHITEOUT != 0 {
        return Err(Errno::EINVAL);
    }
    let ro = parent_for_change(t, olddirfd, old)?;
    let rn = parent_for_change(t, newdirfd, new)?;
    // Linux's order: the mounts, the names, the mount's writability, and
    // only then the lookups and permissions.
    if !std::sync::Arc::ptr_eq(&ro.parent.mount, &rn.parent.mount) {
        return Err(Errno::EXDEV);
    }
    let dots = |n: &[u8]| n == b"." || n == b"..";
    if dots(&ro.name) {
        return Err(Errno::EBUSY);
    }
    if dots(&rn.name) {
        return Err(if flags & RENAME_NOREPLACE != 0 { Errno::EEXIST } else { Errno::EBUSY });
    }
    ro.parent.mount.want_write()?;
    let src = ro.parent.dentry.child(&ro.name)?;
    let sattr = src.inode.attr()?;
    if (ro.trailing_slash || rn.trailing_slash) && !sattr.is_dir() {
        return Err(Errno::ENOTDIR);
    }
    may_change_dir(t, &ro.parent)?;
    may_change_dir(t, &rn.parent)?;
    check_sticky(t, &ro.parent, &sattr)?;
    let src_loc = Location { mount: ro.parent.mount.clone(), dentry: src.clone() };
    if sattr.is_dir() && is_ancestor(&src_loc, &rn.parent) {
        return Err(Errno::EINVAL);
    }
    if let Ok(dst) = rn.parent.dentry.child(&rn.name) {
        if std::sync::Arc::ptr_eq(&dst.inode, &src.inode)
            || dst.inode.attr()?.ino == sattr.ino && dst.inode.attr()?.dev == sattr.dev
        {
            return Ok(0);
        }
        check_sticky(t, &rn.parent, &dst.inode.attr()?)?;
        let dst_loc = Location { mount: rn.parent.mount.clone(), dentry: dst };
        if flags & RENAME_EXCHANGE != 0 && is_ancestor(&dst_loc, &ro.parent) {
            return Err(Errno::EINVAL);
        }
    } else if flags & RENAME_EXCHANGE != 0 {
        return Err(Errno::ENOENT);
    }
    ro.parent.inode().rename(&ro.name, rn.parent.inode(), &rn.name, flags)?;
    crate::fs::inotify::notify_rename(&ro.parent, &ro.name, &rn.parent, &rn.name, &sattr);
    if flags & RENAME_EXCHANGE != 0 {
        ro.parent.dentry.invalidate(&ro.name);
        rn.parent.dentry.invalidate(&rn.name);
    } else {
        // The moved dentry keeps serving open files and working
        // directories under its new path; a file renamed over is gone from
        // the tree like an unlinked one.
        ro.parent.dentry.move_child(&ro.name, &rn.parent.dentry, &rn.name);
    }
    Ok(0)
}

/// Rename a file.
#[syscall]
pub fn rename(t: &mut Task, oldpath: UserCStr, newpath: UserCStr) -> KResult<u64> {
    let (o, n) = (oldpath.read(t)?, newpath.read(t)?);
    do_rename(t, AT_FDCWD, &o, AT_FDCWD, &n, 0)
}

/// `rename` relative to directory descriptors.
#[syscall]
pub fn renameat(t: &mut Task, olddirfd: DirFd, oldpath: UserCStr, newdirfd: DirFd, newpath: UserCStr) -> KResult<u64> {
    let (o, n) = (oldpath.read(t)?, newpath.read(t)?);
    do_rename(t, olddirfd.0, &o, newdirfd.0, &n, 0)
}

/// `renameat` with `RENAME_NOREPLACE`, `RENAME_EXCHANGE`, `RENAME_WHITEOUT`.
#[syscall]
pub fn renameat2(
    t: &mut Task,
    olddirfd: DirFd,
    oldpath: UserCStr,
    newdirfd: DirFd,
    newpath: UserCStr,
    flags: RenameFlags,
) -> KResult<u64> {
    let (o, n) = (oldpath.read(t)?, newpath.read(t)?);
    do_rename(t, olddirfd.0, &o, newdirfd.0, &n, flags.0)
}

fn do_link(t: &Task, olddirfd: i32, old: &[u8], newdirfd: i32, new: &[u8], flags: u32) -> KResult<u64> {
    if flags & !(AT_SYMLINK_FOLLOW | AT_EMPTY_PATH) != 0 {
        return Err(Errno::EINVAL);
    }
    let src = resolve_at(t, olddirfd, old, flags & AT_SYMLINK_FOLLOW != 0, flags & AT_EMPTY_PATH != 0)?;
    let r = parent_for_change(t, newdirfd, new)?;
    check_new_name(&r, false)?;
    if !std::sync::Arc::ptr_eq(&src.mount, &r.parent.mount) {
        return Err(Errno::EXDEV);
    }
    may_change_dir(t, &r.parent)?;
    // vfs_link: a directory cannot be linked, which it asks after may_create.
    if src.inode().attr()?.is_dir() {
        return Err(Errno::EPERM);
    }
    r.parent.inode().link(&r.name, src.inode())?;
    crate::fs::inotify::notify_link(&r.parent, &r.name, src.inode());
    r.parent.dentry.invalidate(&r.name);
    Ok(0)
}

/// Make a new name `newpath` for the file `oldpath`.
#[syscall]
pub fn link(t: &mut Task, oldpath: UserCStr, newpath: UserCStr) -> KResult<u64> {
    let (o, n) = (oldpath.read(t)?, newpath.read(t)?);
    do_link(t, AT_FDCWD, &o, AT_FDCWD, &n, 0)
}

/// `link` relative to directory descriptors.
#[syscall]
pub fn linkat(
    t: &mut Task,
    olddirfd: DirFd,
    oldpath: UserCStr,
    newdirfd: DirFd,
    newpath: UserCStr,
    flags: AtFlags,
) -> KResult<u64> {
    let (o, n) = (oldpath.read(t)?, newpath.read(t)?);
    do_link(t, olddirfd.0, &o, newdirfd.0, &n, flags.0)
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
