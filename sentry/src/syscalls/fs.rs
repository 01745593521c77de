//! Calls on names and metadata: stat, access, readlink, cwd, mkdir, unlink,
//! rename, links, chmod/chown, utimensat, truncate, statfs, umask.

use abi::consts::*;
use abi::types::{Stat, Statx, StatxTimestamp, Timespec};
use abi::Errno;

use super::{dir_of, fd_arg, file_of, int_arg, resolve_at};
use crate::kernel::Task;
use crate::vfs::{lock, may_access, CreateAttr, InodeAttr, InodeRef, KResult, Location, NodeKind, SetAttr, TimeSet};

fn to_stat(a: &InodeAttr) -> Stat {
    Stat {
        st_dev: a.dev,
        st_ino: a.ino,
        st_nlink: a.nlink,
        st_mode: a.mode,
        st_uid: a.uid,
        st_gid: a.gid,
        st_rdev: a.rdev,
        st_size: a.size as i64,
        st_blksize: a.blksize as i64,
        st_blocks: a.blocks as i64,
        st_atime: a.atime.tv_sec,
        st_atime_nsec: a.atime.tv_nsec,
        st_mtime: a.mtime.tv_sec,
        st_mtime_nsec: a.mtime.tv_nsec,
        st_ctime: a.ctime.tv_sec,
        st_ctime_nsec: a.ctime.tv_nsec,
        ..Default::default()
    }
}

fn major(d: u64) -> u32 {
    (((d >> 32) & 0xffff_f000) | ((d >> 8) & 0xfff)) as u32
}

fn minor(d: u64) -> u32 {
    (((d >> 12) & 0xffff_ff00) | (d & 0xff)) as u32
}

fn ts(t: Timespec) -> StatxTimestamp {
    StatxTimestamp { tv_sec: t.tv_sec, tv_nsec: t.tv_nsec as u32, __reserved: 0 }
}

fn stat_loc(t: &Task, loc: &Location, buf: u64) -> KResult<u64> {
    let a = loc.inode().attr()?;
    t.write_val(buf, &to_stat(&a))?;
    Ok(0)
}

pub fn stat(t: &mut Task, a: &[u64; 6]) -> KResult<u64> {
    let p = t.read_path(a[0])?;
    let loc = resolve_at(t, AT_FDCWD, &p, true, false)?;
    stat_loc(t, &loc, a[1])
}

pub fn lstat(t: &mut Task, a: &[u64; 6]) -> KResult<u64> {
    let p = t.read_path(a[0])?;
    let loc = resolve_at(t, AT_FDCWD, &p, false, false)?;
    stat_loc(t, &loc, a[1])
}

pub fn fstat(t: &mut Task, a: &[u64; 6]) -> KResult<u64> {
    let f = file_of(t, fd_arg(a[0])?)?;
    let at = crate::fs::proc::description_inode(&f).attr()?;
    t.write_val(a[1], &to_stat(&at))?;
    Ok(0)
}

/// The inode `path` names relative to `dirfd`; with `AT_EMPTY_PATH` and an
/// empty path, the inode of the file open at `dirfd` (which may have no path:
/// stdio, pipes).
fn inode_at(t: &Task, dirfd: i32, path: &[u8], flags: u32) -> KResult<(InodeRef, Option<Location>)> {
    if path.is_empty() && flags & AT_EMPTY_PATH != 0 && dirfd != AT_FDCWD {
        let f = file_of(t, dirfd)?;
        return Ok((crate::fs::proc::description_inode(&f), f.loc.clone()));
    }
    let loc = resolve_at(t, dirfd, path, flags & AT_SYMLINK_NOFOLLOW == 0, flags & AT_EMPTY_PATH != 0)?;
    Ok((loc.inode().clone(), Some(loc)))
}

pub fn newfstatat(t: &mut Task, a: &[u64; 6]) -> KResult<u64> {
    let flags = a[3] as u32;
    if flags & !(AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH | AT_NO_AUTOMOUNT) != 0 {
        return Err(Errno::EINVAL);
    }
    let p = t.read_path(a[1])?;
    let (inode, _) = inode_at(t, int_arg(a[0]), &p, flags)?;
    let at = inode.attr()?;
    t.write_val(a[2], &to_stat(&at))?;
    Ok(0)
}

pub fn statx(t: &mut Task, a: &[u64; 6]) -> KResult<u64> {
    let flags = a[2] as u32;
    if flags & !(AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH | AT_NO_AUTOMOUNT | AT_STATX_SYNC_TYPE) != 0
        || flags & AT_STATX_SYNC_TYPE == AT_STATX_SYNC_TYPE
    {
        return Err(Errno::EINVAL);
    }
    let mask = a[3] as u32;
    if mask & 0x8000_0000 != 0 {
        return Err(Errno::EINVAL);
    }
    let p = t.read_path(a[1])?;
    let (inode, loc) = inode_at(t, int_arg(a[0]), &p, flags)?;
    let at = inode.attr()?;
    let sx = Statx {
        // Multigrain timestamps (Linux 6.13+): mtime and ctime are reported
        // only when asked for.
        stx_mask: if mask & (STATX_MTIME | STATX_CTIME) == 0 {
            (STATX_BASIC_STATS | STATX_MNT_ID) & !(STATX_MTIME | STATX_CTIME)
        } else {
            STATX_BASIC_STATS | STATX_MNT_ID
        },
        stx_blksize: at.blksize as u32,
        stx_nlink: at.nlink as u32,
        stx_uid: at.uid,
        stx_gid: at.gid,
        stx_mode: at.mode as u16,
        stx_ino: at.ino,
        stx_size: at.size,
        stx_blocks: at.blocks,
        stx_atime: ts(at.atime),
        stx_ctime: ts(at.ctime),
        stx_mtime: ts(at.mtime),
        stx_rdev_major: major(at.rdev),
        stx_rdev_minor: minor(at.rdev),
        stx_dev_major: major(at.dev),
        stx_dev_minor: minor(at.dev),
        stx_attributes: if loc.as_ref().is_some_and(|l| std::sync::Arc::ptr_eq(&l.dentry, &l.mount.root)) {
            STATX_ATTR_MOUNT_ROOT
        } else {
            0
        },
        stx_attributes_mask: STATX_ATTR_MOUNT_ROOT | STATX_ATTR_AUTOMOUNT | STATX_ATTR_DAX,
        stx_mnt_id: loc.map_or(0, |l| l.mount.id),
        ..Default::default()
    };
    t.write_val(a[4], &sx)?;
    Ok(0)
}

const STATX_ATTR_AUTOMOUNT: u64 = 0x1000;
const STATX_ATTR_MOUNT_ROOT: u64 = 0x2000;
const STATX_ATTR_DAX: u64 = 0x0020_0000;

pub fn statfs(t: &mut Task, a: &[u64; 6]) -> KResult<u64> {
    let p = t.read_path(a[0])?;
    let loc = resolve_at(t, AT_FDCWD, &p, true, false)?;
    let s = loc.inode().statfs()?;
    t.write_val(a[1], &s)?;
    Ok(0)
}

pub fn fstatfs(t: &mut Task, a: &[u64; 6]) -> KResult<u64> {
    let f = file_of(t, fd_arg(a[0])?)?;
    let s = f.inode.clone().ok_or(Errno::EBADF)?.statfs()?;
    t.write_val(a[1], &s)?;
    Ok(0)
}

fn do_access(t: &Task, dirfd: i32, path_addr: u64, mode: u32, flags: u32) -> KResult<u64> {
    if mode & !7 != 0 || flags & !(AT_EACCESS | AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH) != 0 {
        return Err(Errno::EINVAL);
    }
    let p = t.read_path(path_addr)?;
    let loc = resolve_at(t, dirfd, &p, flags & AT_SYMLINK_NOFOLLOW == 0, flags & AT_EMPTY_PATH != 0)?;
    let at = loc.inode().attr()?;
    // access(2) checks with the real ids unless AT_EACCESS.
    let mut creds = t.creds();
    if flags & AT_EACCESS == 0 {
        creds.fsuid = creds.uid;
        creds.fsgid = creds.gid;
    }
    if mode & W_OK != 0 && loc.mount.readonly() && !matches!(at.file_type(), S_IFCHR | S_IFBLK | S_IFIFO | S_IFSOCK) {
        return Err(Errno::EROFS);
    }
    may_access(&at, &creds, mode)?;
    Ok(0)
}

pub fn access(t: &mut Task, a: &[u64; 6]) -> KResult<u64> {
    do_access(t, AT_FDCWD, a[0], a[1] as u32, 0)
}

pub fn faccessat(t: &mut Task, a: &[u64; 6]) -> KResult<u64> {
    do_access(t, int_arg(a[0]), a[1], a[2] as u32, 0)
}

pub fn faccessat2(t: &mut Task, a: &[u64; 6]) -> KResult<u64> {
    do_access(t, int_arg(a[0]), a[1], a[2] as u32, a[3] as u32)
}

fn do_readlink(t: &Task, dirfd: i32, path_addr: u64, buf: u64, size: u64) -> KResult<u64> {
    if (size as i64) <= 0 {
        return Err(Errno::EINVAL);
    }
    let p = t.read_path(path_addr)?;
    let loc = resolve_at(t, dirfd, &p, false, true)?;
    let target = match loc.inode().magic_link() {
        Some(l) => {
            let root = t.fs().root;
            t.k.vfs.shown_path(&l, &root)
        }
        None => loc.inode().readlink()?,
    };
    let n = target.len().min(size as usize);
    t.write_bytes(buf, &target[..n])?;
    Ok(n as u64)
}

pub fn readlink(t: &mut Task, a: &[u64; 6]) -> KResult<u64> {
    do_readlink(t, AT_FDCWD, a[0], a[1], a[2])
}

pub fn readlinkat(t: &mut Task, a: &[u64; 6]) -> KResult<u64> {
    do_readlink(t, int_arg(a[0]), a[1], a[2], a[3])
}

pub fn getcwd(t: &mut Task, a: &[u64; 6]) -> KResult<u64> {
    let fs = t.fs();
    let mut p = t.k.vfs.path_of(&fs.cwd, &fs.root);
    p.push(0);
    if p.len() as u64 > a[1] {
        return Err(Errno::ERANGE);
    }
    t.write_bytes(a[0], &p)?;
    Ok(p.len() as u64)
}

fn set_cwd(t: &Task, loc: Location) -> KResult<u64> {
    let at = loc.inode().attr()?;
    if !at.is_dir() {
        return Err(Errno::ENOTDIR);
    }
    may_access(&at, &t.creds(), X_OK)?;
    lock(&t.fsc).cwd = loc;
    Ok(0)
}

pub fn chdir(t: &mut Task, a: &[u64; 6]) -> KResult<u64> {
    let p = t.read_path(a[0])?;
    let loc = resolve_at(t, AT_FDCWD, &p, true, false)?;
    set_cwd(t, loc)
}

pub fn fchdir(t: &mut Task, a: &[u64; 6]) -> KResult<u64> {
    let f = file_of(t, fd_arg(a[0])?)?;
    set_cwd(t, f.loc.clone().ok_or(Errno::ENOTDIR)?)
}

/// Resolve the parent of a name to create or remove, checking write and
/// search permission on it and that its mount is writable.
fn parent_for_change(t: &Task, dirfd: i32, path: &[u8]) -> KResult<crate::vfs::Resolved> {
    let fs = t.fs();
    let start = if path.first() == Some(&b'/') { fs.root.clone() } else { dir_of(t, dirfd)? };
    let r = t.k.vfs.resolve_parent(&fs.root, &start, path, &t.creds())?;
    Ok(r)
}

fn check_writable_dir(t: &Task, loc: &Location) -> KResult<()> {
    let at = loc.inode().attr()?;
    may_access(&at, &t.creds(), W_OK | X_OK)?;
    if loc.mount.readonly() {
        return Err(Errno::EROFS);
    }
    Ok(())
}

fn do_mknode(t: &Task, dirfd: i32, path: &[u8], kind: NodeKind, mode: u32) -> KResult<u64> {
    let r = parent_for_change(t, dirfd, path)?;
    if r.name == b"." || r.name == b".." {
        return Err(Errno::EEXIST);
    }
    if r.trailing_slash && kind != NodeKind::Directory {
        return Err(Errno::ENOENT);
    }
    if r.parent.dentry.child(&r.name).is_ok() {
        return Err(Errno::EEXIST);
    }
    check_writable_dir(t, &r.parent)?;
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

pub fn mkdir(t: &mut Task, a: &[u64; 6]) -> KResult<u64> {
    let p = t.read_path(a[0])?;
    do_mknode(t, AT_FDCWD, &p, NodeKind::Directory, a[1] as u32)
}

pub fn mkdirat(t: &mut Task, a: &[u64; 6]) -> KResult<u64> {
    let p = t.read_path(a[1])?;
    do_mknode(t, int_arg(a[0]), &p, NodeKind::Directory, a[2] as u32)
}

pub fn symlink(t: &mut Task, a: &[u64; 6]) -> KResult<u64> {
    let target = t.read_path(a[0])?;
    let p = t.read_path(a[1])?;
    if target.is_empty() {
        return Err(Errno::ENOENT);
    }
    do_mknode(t, AT_FDCWD, &p, NodeKind::Symlink(target), 0o777)
}

pub fn symlinkat(t: &mut Task, a: &[u64; 6]) -> KResult<u64> {
    let target = t.read_path(a[0])?;
    let p = t.read_path(a[2])?;
    if target.is_empty() {
        return Err(Errno::ENOENT);
    }
    do_mknode(t, int_arg(a[1]), &p, NodeKind::Symlink(target), 0o777)
}

/// The sticky-bit rule: in a sticky directory only the owner of the file or
/// of the directory (or root) may remove or rename it.
fn check_sticky(t: &Task, dir: &Location, victim: &InodeAttr) -> KResult<()> {
    let dattr = dir.inode().attr()?;
    let creds = t.creds();
    if dattr.mode & S_ISVTX != 0 && creds.fsuid != 0 && creds.fsuid != victim.uid && creds.fsuid != dattr.uid {
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
    let victim = r.parent.dentry.child(&r.name)?;
    let vattr = victim.inode.attr()?;
    if !dir && r.trailing_slash {
        return Err(if vattr.is_dir() { Errno::EISDIR } else { Errno::ENOTDIR });
    }
    check_writable_dir(t, &r.parent)?;
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

pub fn unlink(t: &mut Task, a: &[u64; 6]) -> KResult<u64> {
    let p = t.read_path(a[0])?;
    do_unlink(t, AT_FDCWD, &p, false)
}

pub fn rmdir(t: &mut Task, a: &[u64; 6]) -> KResult<u64> {
    let p = t.read_path(a[0])?;
    do_unlink(t, AT_FDCWD, &p, true)
}

pub fn unlinkat(t: &mut Task, a: &[u64; 6]) -> KResult<u64> {
    let flags = a[2] as u32;
    if flags & !AT_REMOVEDIR != 0 {
        return Err(Errno::EINVAL);
    }
    let p = t.read_path(a[1])?;
    do_unlink(t, int_arg(a[0]), &p, flags & AT_REMOVEDIR != 0)
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
    for n in [&ro.name, &rn.name] {
        if n.as_slice() == b"." || n.as_slice() == b".." {
            return Err(Errno::EBUSY);
        }
    }
    if !std::sync::Arc::ptr_eq(&ro.parent.mount, &rn.parent.mount) {
        return Err(Errno::EXDEV);
    }
    let src = ro.parent.dentry.child(&ro.name)?;
    let sattr = src.inode.attr()?;
    if (ro.trailing_slash || rn.trailing_slash) && !sattr.is_dir() {
        return Err(Errno::ENOTDIR);
    }
    check_writable_dir(t, &ro.parent)?;
    check_writable_dir(t, &rn.parent)?;
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

pub fn rename(t: &mut Task, a: &[u64; 6]) -> KResult<u64> {
    let (o, n) = (t.read_path(a[0])?, t.read_path(a[1])?);
    do_rename(t, AT_FDCWD, &o, AT_FDCWD, &n, 0)
}

pub fn renameat(t: &mut Task, a: &[u64; 6]) -> KResult<u64> {
    let (o, n) = (t.read_path(a[1])?, t.read_path(a[3])?);
    do_rename(t, int_arg(a[0]), &o, int_arg(a[2]), &n, 0)
}

pub fn renameat2(t: &mut Task, a: &[u64; 6]) -> KResult<u64> {
    let (o, n) = (t.read_path(a[1])?, t.read_path(a[3])?);
    do_rename(t, int_arg(a[0]), &o, int_arg(a[2]), &n, a[4] as u32)
}

fn do_link(t: &Task, olddirfd: i32, old: &[u8], newdirfd: i32, new: &[u8], flags: u32) -> KResult<u64> {
    if flags & !(AT_SYMLINK_FOLLOW | AT_EMPTY_PATH) != 0 {
        return Err(Errno::EINVAL);
    }
    let src = resolve_at(t, olddirfd, old, flags & AT_SYMLINK_FOLLOW != 0, flags & AT_EMPTY_PATH != 0)?;
    if src.inode().attr()?.is_dir() {
        return Err(Errno::EPERM);
    }
    let r = parent_for_change(t, newdirfd, new)?;
    if r.name == b"." || r.name == b".." || r.parent.dentry.child(&r.name).is_ok() {
        return Err(Errno::EEXIST);
    }
    if !std::sync::Arc::ptr_eq(&src.mount, &r.parent.mount) {
        return Err(Errno::EXDEV);
    }
    check_writable_dir(t, &r.parent)?;
    r.parent.inode().link(&r.name, src.inode())?;
    crate::fs::inotify::notify_link(&r.parent, &r.name, src.inode());
    r.parent.dentry.invalidate(&r.name);
    Ok(0)
}

pub fn link(t: &mut Task, a: &[u64; 6]) -> KResult<u64> {
    let (o, n) = (t.read_path(a[0])?, t.read_path(a[1])?);
    do_link(t, AT_FDCWD, &o, AT_FDCWD, &n, 0)
}

pub fn linkat(t: &mut Task, a: &[u64; 6]) -> KResult<u64> {
    let (o, n) = (t.read_path(a[1])?, t.read_path(a[3])?);
    do_link(t, int_arg(a[0]), &o, int_arg(a[2]), &n, a[4] as u32)
}

fn setattr_loc(_t: &Task, loc: &Location, sa: SetAttr) -> KResult<u64> {
    if loc.mount.readonly() {
        return Err(Errno::EROFS);
    }
    loc.inode().set_attr(&sa)?;
    crate::fs::inotify::notify_setattr(loc, &sa);
    Ok(0)
}

pub(super) fn do_chmod(t: &Task, loc: &Location, mode: u32) -> KResult<u64> {
    let at = loc.inode().attr()?;
    let creds = t.creds();
    if creds.fsuid != 0 && creds.fsuid != at.uid {
        return Err(Errno::EPERM);
    }
    let mut m = mode & 0o7777;
    if creds.fsuid != 0 && m & S_ISGID != 0 && creds.fsgid != at.gid && !creds.groups.contains(&at.gid) {
        m &= !S_ISGID;
    }
    setattr_loc(t, loc, SetAttr { mode: Some(m), ..Default::default() })
}

pub fn chmod(t: &mut Task, a: &[u64; 6]) -> KResult<u64> {
    let p = t.read_path(a[0])?;
    let loc = resolve_at(t, AT_FDCWD, &p, true, false)?;
    do_chmod(t, &loc, a[1] as u32)
}

pub fn fchmod(t: &mut Task, a: &[u64; 6]) -> KResult<u64> {
    let f = file_of(t, fd_arg(a[0])?)?;
    let loc = f.loc.clone().ok_or(Errno::EBADF)?;
    do_chmod(t, &loc, a[1] as u32)
}

pub fn fchmodat(t: &mut Task, a: &[u64; 6]) -> KResult<u64> {
    let p = t.read_path(a[1])?;
    let loc = resolve_at(t, int_arg(a[0]), &p, true, false)?;
    do_chmod(t, &loc, a[2] as u32)
}

fn do_chown(t: &Task, loc: &Location, uid: u32, gid: u32) -> KResult<u64> {
    let at = loc.inode().attr()?;
    let creds = t.creds();
    let uid = (uid != u32::MAX).then_some(uid);
    let gid = (gid != u32::MAX).then_some(gid);
    if creds.fsuid != 0 {
        if uid.is_some_and(|u| u != at.uid) {
            return Err(Errno::EPERM);
        }
        if let Some(g) = gid {
            if creds.fsuid != at.uid || (g != creds.fsgid && !creds.groups.contains(&g)) {
                return Err(Errno::EPERM);
            }
        }
    }
    let mut sa = SetAttr { uid, gid, ..Default::default() };
    // Changing the owner of a non-directory clears set-id bits.
    if (uid.is_some() || gid.is_some()) && !at.is_dir() && at.mode & (S_ISUID | S_ISGID) != 0 {
        sa.mode = Some(at.mode & 0o7777 & !(S_ISUID | S_ISGID));
    }
    setattr_loc(t, loc, sa)
}

pub fn chown(t: &mut Task, a: &[u64; 6]) -> KResult<u64> {
    let p = t.read_path(a[0])?;
    let loc = resolve_at(t, AT_FDCWD, &p, true, false)?;
    do_chown(t, &loc, a[1] as u32, a[2] as u32)
}

pub fn lchown(t: &mut Task, a: &[u64; 6]) -> KResult<u64> {
    let p = t.read_path(a[0])?;
    let loc = resolve_at(t, AT_FDCWD, &p, false, false)?;
    do_chown(t, &loc, a[1] as u32, a[2] as u32)
}

pub fn fchown(t: &mut Task, a: &[u64; 6]) -> KResult<u64> {
    let f = file_of(t, fd_arg(a[0])?)?;
    let loc = f.loc.clone().ok_or(Errno::EBADF)?;
    do_chown(t, &loc, a[1] as u32, a[2] as u32)
}

pub fn fchownat(t: &mut Task, a: &[u64; 6]) -> KResult<u64> {
    let flags = a[4] as u32;
    if flags & !(AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH) != 0 {
        return Err(Errno::EINVAL);
    }
    let p = t.read_path(a[1])?;
    let loc = resolve_at(t, int_arg(a[0]), &p, flags & AT_SYMLINK_NOFOLLOW == 0, flags & AT_EMPTY_PATH != 0)?;
    do_chown(t, &loc, a[2] as u32, a[3] as u32)
}

pub fn utimensat(t: &mut Task, a: &[u64; 6]) -> KResult<u64> {
    let flags = a[3] as u32;
    if flags & !(AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH) != 0 {
        return Err(Errno::EINVAL);
    }
    let loc = if a[1] == 0 {
        // futimens: the fd itself.
        let f = file_of(t, fd_arg(a[0])?)?;
        f.loc.clone().ok_or(Errno::EBADF)?
    } else {
        let p = t.read_path(a[1])?;
        resolve_at(t, int_arg(a[0]), &p, flags & AT_SYMLINK_NOFOLLOW == 0, flags & AT_EMPTY_PATH != 0)?
    };
    let times: Option<[Timespec; 2]> = if a[2] == 0 {
        None
    } else {
        let mut v = [Timespec::default(); 2];
        t.read_bytes(a[2], zerocopy::AsBytes::as_bytes_mut(&mut v[..]))?;
        Some(v)
    };
    let conv = |ts: Timespec| -> KResult<Option<TimeSet>> {
        match ts.tv_nsec {
            UTIME_OMIT => Ok(None),
            UTIME_NOW => Ok(Some(TimeSet::Now)),
            n if (0..1_000_000_000).contains(&n) => Ok(Some(TimeSet::At(ts))),
            _ => Err(Errno::EINVAL),
        }
    };
    let (at, mt) = match times {
        None => (Some(TimeSet::Now), Some(TimeSet::Now)),
        Some([x, y]) => (conv(x)?, conv(y)?),
    };
    if at.is_none() && mt.is_none() {
        return Ok(0);
    }
    let attr = loc.inode().attr()?;
    let creds = t.creds();
    let explicit = matches!(at, Some(TimeSet::At(_))) || matches!(mt, Some(TimeSet::At(_)));
    if creds.fsuid != 0 && creds.fsuid != attr.uid {
        if explicit {
            return Err(Errno::EPERM);
        }
        may_access(&attr, &creds, W_OK)?;
    }
    setattr_loc(t, &loc, SetAttr { atime: at, mtime: mt, ..Default::default() })
}

pub fn truncate(t: &mut Task, a: &[u64; 6]) -> KResult<u64> {
    if (a[1] as i64) < 0 {
        return Err(Errno::EINVAL);
    }
    let p = t.read_path(a[0])?;
    let loc = resolve_at(t, AT_FDCWD, &p, true, false)?;
    let at = loc.inode().attr()?;
    if at.is_dir() {
        return Err(Errno::EISDIR);
    }
    if !at.is_regular() {
        return Err(Errno::EINVAL);
    }
    may_access(&at, &t.creds(), W_OK)?;
    setattr_loc(t, &loc, SetAttr { size: Some(a[1]), ..Default::default() })
}

pub fn umask(t: &mut Task, a: &[u64; 6]) -> KResult<u64> {
    let mut fs = lock(&t.fsc);
    let old = fs.umask;
    fs.umask = a[0] as u32 & 0o777;
    Ok(u64::from(old))
}
