//! Calls on names and metadata: stat, access, readlink, cwd, mkdir, unlink,
//! rename, links, chmod/chown, utimensat, truncate, statfs, umask.

use abi::consts::*;
use abi::types::{Stat, Statfs, Statx, StatxTimestamp, Timespec};
use abi::Errno;
use sentry_macros::syscall;
use zerocopy::{AsBytes, FromBytes, FromZeroes};

use super::args::{
    file_mode, flag_str, AccessMode, AtFlags, DirFd, Fd, Mode, OutBuf, RenameFlags, StatxMask, UserCStr, UserPtr,
    UserType,
};
use super::{dir_of, file_of, resolve_at};
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

/// strace's `struct statx`: the mask, attributes, mode and size.
impl UserType for Statx {
    fn strace(&self) -> Option<String> {
        Some(format!(
            "{{stx_mask={}, stx_attributes={}, stx_mode={}, stx_size={}, ...}}",
            flag_str::<abi::flags::StatxMask>(self.stx_mask, "0"),
            if self.stx_attributes == 0 { "0".to_string() } else { format!("{:#x}", self.stx_attributes) },
            file_mode(u32::from(self.stx_mode)),
            self.stx_size
        ))
    }
}

/// `struct statfs`, shown by its type and block size.
impl UserType for Statfs {
    fn strace(&self) -> Option<String> {
        Some(format!("{{f_type={:#x}, f_bsize={}, ...}}", self.f_type, self.f_bsize))
    }
}

/// The two times of `utimensat` (access, modification).
#[derive(Clone, Copy, Debug, Default, AsBytes, FromBytes, FromZeroes)]
#[repr(C)]
pub struct Utimes(pub [Timespec; 2]);

impl UserType for Utimes {
    fn strace(&self) -> Option<String> {
        let one = |ts: &Timespec| match ts.tv_nsec {
            UTIME_NOW => "UTIME_NOW".to_string(),
            UTIME_OMIT => "UTIME_OMIT".to_string(),
            n => format!("{{tv_sec={}, tv_nsec={n}}}", ts.tv_sec),
        };
        Some(format!("[{}, {}]", one(&self.0[0]), one(&self.0[1])))
    }
}

/// The flags of `statx`: the sync type (bits 13 and 14, by name even when
/// zero) and the `AT_*` flags.
fn statx_flags_str(v: u32) -> String {
    let sync = match v & AT_STATX_SYNC_TYPE {
        0 => "AT_STATX_SYNC_AS_STAT",
        0x2000 => "AT_STATX_FORCE_SYNC",
        0x4000 => "AT_STATX_DONT_SYNC",
        _ => "0x6000",
    };
    match v & !AT_STATX_SYNC_TYPE {
        0 => sync.into(),
        rest => format!("{sync}|{}", flag_str::<abi::flags::AtFlags>(rest, "0")),
    }
}

super::args::named_arg!(/// `statx` flags: a sync type and `AT_*` flags.
    StatxFlags(u32), statx_flags_str);

fn stat_loc(t: &Task, loc: &Location, buf: UserPtr<Stat>) -> KResult<u64> {
    let a = loc.inode().attr()?;
    buf.write(t, &to_stat(&a))?;
    Ok(0)
}

/// The attributes of the file `pathname` names, following a last link.
#[syscall]
pub fn stat(t: &mut Task, pathname: UserCStr, statbuf: UserPtr<Stat>) -> KResult<u64> {
    let p = pathname.read(t)?;
    let loc = resolve_at(t, AT_FDCWD, &p, true, false)?;
    stat_loc(t, &loc, statbuf)
}

/// `stat` of a link itself.
#[syscall]
pub fn lstat(t: &mut Task, pathname: UserCStr, statbuf: UserPtr<Stat>) -> KResult<u64> {
    let p = pathname.read(t)?;
    let loc = resolve_at(t, AT_FDCWD, &p, false, false)?;
    stat_loc(t, &loc, statbuf)
}

/// The attributes of the file open at `fd`.
#[syscall]
pub fn fstat(t: &mut Task, fd: Fd, statbuf: UserPtr<Stat>) -> KResult<u64> {
    let f = file_of(t, fd.0)?;
    let at = crate::fs::proc::description_inode(&f).attr()?;
    statbuf.write(t, &to_stat(&at))?;
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

/// `stat` relative to a directory descriptor, or of the file open there.
#[syscall]
pub fn newfstatat(
    t: &mut Task,
    dirfd: DirFd,
    pathname: UserCStr,
    statbuf: UserPtr<Stat>,
    flags: AtFlags,
) -> KResult<u64> {
    let flags = flags.0;
    if flags & !(AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH | AT_NO_AUTOMOUNT) != 0 {
        return Err(Errno::EINVAL);
    }
    let p = pathname.read(t)?;
    let (inode, _) = inode_at(t, dirfd.0, &p, flags)?;
    let at = inode.attr()?;
    statbuf.write(t, &to_stat(&at))?;
    Ok(0)
}

/// The extended attributes `mask` asks for of the file `pathname` names.
#[syscall]
pub fn statx(
    t: &mut Task,
    dirfd: DirFd,
    pathname: UserCStr,
    flags: StatxFlags,
    mask: StatxMask,
    statxbuf: UserPtr<Statx>,
) -> KResult<u64> {
    let flags = flags.0;
    if flags & !(AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH | AT_NO_AUTOMOUNT | AT_STATX_SYNC_TYPE) != 0
        || flags & AT_STATX_SYNC_TYPE == AT_STATX_SYNC_TYPE
    {
        return Err(Errno::EINVAL);
    }
    let mask = mask.0;
    if mask & 0x8000_0000 != 0 {
        return Err(Errno::EINVAL);
    }
    let p = pathname.read(t)?;
    let (inode, loc) = inode_at(t, dirfd.0, &p, flags)?;
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
    statxbuf.write(t, &sx)?;
    Ok(0)
}

const STATX_ATTR_AUTOMOUNT: u64 = 0x1000;
const STATX_ATTR_MOUNT_ROOT: u64 = 0x2000;
const STATX_ATTR_DAX: u64 = 0x0020_0000;

/// The file system figures of the file system holding `path`.
#[syscall]
pub fn statfs(t: &mut Task, path: UserCStr, buf: UserPtr<Statfs>) -> KResult<u64> {
    let p = path.read(t)?;
    let loc = resolve_at(t, AT_FDCWD, &p, true, false)?;
    let s = loc.inode().statfs()?;
    buf.write(t, &s)?;
    Ok(0)
}

/// `statfs` of the file open at `fd`.
#[syscall]
pub fn fstatfs(t: &mut Task, fd: Fd, buf: UserPtr<Statfs>) -> KResult<u64> {
    let f = file_of(t, fd.0)?;
    let s = f.inode.clone().ok_or(Errno::EBADF)?.statfs()?;
    buf.write(t, &s)?;
    Ok(0)
}

fn do_access(t: &Task, dirfd: i32, pathname: UserCStr, mode: u32, flags: u32) -> KResult<u64> {
    if mode & !7 != 0 || flags & !(AT_EACCESS | AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH) != 0 {
        return Err(Errno::EINVAL);
    }
    let p = pathname.read(t)?;
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

/// Whether the caller's real ids may access `pathname` as `mode` says.
#[syscall]
pub fn access(t: &mut Task, pathname: UserCStr, mode: AccessMode) -> KResult<u64> {
    do_access(t, AT_FDCWD, pathname, mode.0, 0)
}

/// `access` relative to a directory descriptor.
#[syscall]
pub fn faccessat(t: &mut Task, dirfd: DirFd, pathname: UserCStr, mode: AccessMode) -> KResult<u64> {
    do_access(t, dirfd.0, pathname, mode.0, 0)
}

/// `faccessat` with `AT_EACCESS`, `AT_SYMLINK_NOFOLLOW` and `AT_EMPTY_PATH`.
#[syscall]
pub fn faccessat2(t: &mut Task, dirfd: DirFd, pathname: UserCStr, mode: AccessMode, flags: AtFlags) -> KResult<u64> {
    do_access(t, dirfd.0, pathname, mode.0, flags.0)
}

/// The size is an `int` to Linux, so only the low half counts.
fn do_readlink(t: &Task, dirfd: i32, pathname: UserCStr, buf: OutBuf, size: i32) -> KResult<u64> {
    if size <= 0 {
        return Err(Errno::EINVAL);
    }
    let p = pathname.read(t)?;
    let loc = resolve_at(t, dirfd, &p, false, true)?;
    let target = match loc.inode().magic_link() {
        Some(l) => {
            let root = t.fs().root;
            t.k.vfs.shown_path(&l, &root)
        }
        None => loc.inode().readlink()?,
    };
    let n = target.len().min(size as usize);
    buf.write(t, &target[..n])?;
    Ok(n as u64)
}

/// The target of the symbolic link `pathname`.
#[syscall]
pub fn readlink(t: &mut Task, pathname: UserCStr, buf: OutBuf, bufsiz: i32) -> KResult<u64> {
    do_readlink(t, AT_FDCWD, pathname, buf, bufsiz)
}

/// `readlink` relative to a directory descriptor.
#[syscall]
pub fn readlinkat(t: &mut Task, dirfd: DirFd, pathname: UserCStr, buf: OutBuf, bufsiz: i32) -> KResult<u64> {
    do_readlink(t, dirfd.0, pathname, buf, bufsiz)
}

/// The working directory's path, NUL-terminated; the result is its length
/// with the NUL.
#[syscall]
pub fn getcwd(t: &mut Task, buf: OutBuf, size: u64) -> KResult<u64> {
    let fs = t.fs();
    let mut p = t.k.vfs.path_of(&fs.cwd, &fs.root);
    p.push(0);
    if p.len() as u64 > size {
        return Err(Errno::ERANGE);
    }
    buf.write(t, &p)?;
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

/// Change the working directory.
#[syscall]
pub fn chdir(t: &mut Task, path: UserCStr) -> KResult<u64> {
    let p = path.read(t)?;
    let loc = resolve_at(t, AT_FDCWD, &p, true, false)?;
    set_cwd(t, loc)
}

/// Change the working directory to the directory open at `fd`.
#[syscall]
pub fn fchdir(t: &mut Task, fd: Fd) -> KResult<u64> {
    let f = file_of(t, fd.0)?;
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

/// Change a file's permissions.
#[syscall]
pub fn chmod(t: &mut Task, pathname: UserCStr, mode: Mode) -> KResult<u64> {
    let p = pathname.read(t)?;
    let loc = resolve_at(t, AT_FDCWD, &p, true, false)?;
    do_chmod(t, &loc, mode.0)
}

/// `chmod` of the file open at `fd`.
#[syscall]
pub fn fchmod(t: &mut Task, fd: Fd, mode: Mode) -> KResult<u64> {
    let f = file_of(t, fd.0)?;
    let loc = f.loc.clone().ok_or(Errno::EBADF)?;
    do_chmod(t, &loc, mode.0)
}

/// `chmod` relative to a directory descriptor.
#[syscall]
pub fn fchmodat(t: &mut Task, dirfd: DirFd, pathname: UserCStr, mode: Mode) -> KResult<u64> {
    let p = pathname.read(t)?;
    let loc = resolve_at(t, dirfd.0, &p, true, false)?;
    do_chmod(t, &loc, mode.0)
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

/// Change a file's owner and group (`-1` leaves one as it is).
#[syscall]
pub fn chown(t: &mut Task, pathname: UserCStr, owner: i32, group: i32) -> KResult<u64> {
    let p = pathname.read(t)?;
    let loc = resolve_at(t, AT_FDCWD, &p, true, false)?;
    do_chown(t, &loc, owner as u32, group as u32)
}

/// `chown` of a link itself.
#[syscall]
pub fn lchown(t: &mut Task, pathname: UserCStr, owner: i32, group: i32) -> KResult<u64> {
    let p = pathname.read(t)?;
    let loc = resolve_at(t, AT_FDCWD, &p, false, false)?;
    do_chown(t, &loc, owner as u32, group as u32)
}

/// `chown` of the file open at `fd`.
#[syscall]
pub fn fchown(t: &mut Task, fd: Fd, owner: i32, group: i32) -> KResult<u64> {
    let f = file_of(t, fd.0)?;
    let loc = f.loc.clone().ok_or(Errno::EBADF)?;
    do_chown(t, &loc, owner as u32, group as u32)
}

/// `chown` relative to a directory descriptor.
#[syscall]
pub fn fchownat(
    t: &mut Task,
    dirfd: DirFd,
    pathname: UserCStr,
    owner: i32,
    group: i32,
    flags: AtFlags,
) -> KResult<u64> {
    let flags = flags.0;
    if flags & !(AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH) != 0 {
        return Err(Errno::EINVAL);
    }
    let p = pathname.read(t)?;
    let loc = resolve_at(t, dirfd.0, &p, flags & AT_SYMLINK_NOFOLLOW == 0, flags & AT_EMPTY_PATH != 0)?;
    do_chown(t, &loc, owner as u32, group as u32)
}

/// Set a file's access and modification times (`NULL`: now); with a
/// `NULL` path, of the file open at `dirfd` (`futimens`).
#[syscall]
pub fn utimensat(
    t: &mut Task,
    dirfd: DirFd,
    pathname: UserCStr,
    times: UserPtr<Utimes>,
    flags: AtFlags,
) -> KResult<u64> {
    let flags = flags.0;
    if flags & !(AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH) != 0 {
        return Err(Errno::EINVAL);
    }
    let loc = if pathname.is_null() {
        let f = file_of(t, dirfd.0)?;
        f.loc.clone().ok_or(Errno::EBADF)?
    } else {
        let p = pathname.read(t)?;
        resolve_at(t, dirfd.0, &p, flags & AT_SYMLINK_NOFOLLOW == 0, flags & AT_EMPTY_PATH != 0)?
    };
    let times: Option<[Timespec; 2]> = times.read_opt(t)?.map(|u| u.0);
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

/// Set the size of the file `path` names.
#[syscall]
pub fn truncate(t: &mut Task, path: UserCStr, length: i64) -> KResult<u64> {
    let Ok(size) = u64::try_from(length) else { return Err(Errno::EINVAL) };
    let p = path.read(t)?;
    let loc = resolve_at(t, AT_FDCWD, &p, true, false)?;
    let at = loc.inode().attr()?;
    if at.is_dir() {
        return Err(Errno::EISDIR);
    }
    if !at.is_regular() {
        return Err(Errno::EINVAL);
    }
    may_access(&at, &t.creds(), W_OK)?;
    setattr_loc(t, &loc, SetAttr { size: Some(size), ..Default::default() })
}

/// Set the file mode creation mask; the result is the old one.
#[syscall]
pub fn umask(t: &mut Task, mask: Mode) -> KResult<u64> {
    let mut fs = lock(&t.fsc);
    let old = fs.umask;
    fs.umask = mask.0 & 0o777;
    Ok(u64::from(old))
}
