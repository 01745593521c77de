//! stat, lstat, fstat, newfstatat, statx, readlink, readlinkat, as
//! Linux's fs/stat.c.

use abi::consts::*;
use abi::consts::{STATX_ATTR_AUTOMOUNT, STATX_ATTR_DAX, STATX_ATTR_MOUNT_ROOT};
use abi::types::{Stat, Statx, StatxTimestamp, Timespec};
use abi::Errno;
use sentry_macros::syscall;

use super::args::{file_mode, flag_str, AtFlags, DirFd, Fd, OutBuf, StatxMask, UserCStr, UserPtr, UserType};
use super::{file_of, resolve_at};
use crate::kernel::Task;
use crate::vfs::Caller;
use crate::vfs::{InodeAttr, InodeRef, KResult, Location};

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
        None => loc.inode().readlink(Caller::of(t))?,
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
