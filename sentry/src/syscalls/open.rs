//! open, openat, creat, openat2 (with RESOLVE_*), close, close_range,
//! access, chdir, chmod, chown, truncate, ftruncate and fallocate, as
//! Linux's fs/open.c.

use parking_lot::Mutex;
use std::sync::Arc;

use abi::consts::*;
use abi::types::OpenHow;
use abi::Errno;
use sentry_macros::syscall;
use zerocopy::FromBytes;

use super::args::flag_str;
use super::args::{
    octal, open_flags_str, AccessMode, AtFlags, CloseRangeFlags, DirFd, Fd, Mode, OpenFlags, OpenMode, UserBytes,
    UserCStr, UserPtr, UserType,
};
use super::fd_result;
use super::{dir_of, fd_limit, file_of, resolve_at};
use crate::kernel::Task;
use crate::vfs::Caller;
use crate::vfs::{
    may_access, CreateAttr, Dentry, FileDescription, FileOps, KResult, Location, NodeKind, ResolveOpts, SetAttr,
};

/// The flags `openat2` accepts (Linux's `VALID_OPEN_FLAGS`).
const VALID_OPEN_FLAGS: u64 = (O_ACCMODE
    | O_CREAT
    | O_EXCL
    | O_NOCTTY
    | O_TRUNC
    | O_APPEND
    | O_NONBLOCK
    | O_DSYNC
    | O_ASYNC
    | O_DIRECT
    | O_LARGEFILE
    | O_DIRECTORY
    | O_NOFOLLOW
    | O_NOATIME
    | O_CLOEXEC
    | O_PATH
    | O_TMPFILE
    | O_SYNC) as u64;

/// strace's `struct open_how`: the mode only where it matters.
impl UserType for OpenHow {
    fn strace(&self) -> Option<String> {
        let creates = self.flags & u64::from(O_CREAT) != 0 || self.flags & u64::from(O_TMPFILE) == u64::from(O_TMPFILE);
        let mode = match u32::try_from(self.mode) {
            _ if !creates && self.mode == 0 => String::new(),
            Ok(m) => format!(", mode={}", octal(m)),
            Err(_) => format!(", mode=0{:o}", self.mode),
        };
        let resolve = flag_str::<abi::flags::ResolveFlags>(self.resolve, "0");
        let flags = match self.flags >> 32 {
            0 => open_flags_str(self.flags as u32),
            high => format!("{}|{:#x}", open_flags_str(self.flags as u32), high << 32),
        };
        Some(format!("{{flags={flags}{mode}, resolve={resolve}}}"))
    }
}

/// `openat` with the flags, mode and path-walk restrictions (`RESOLVE_*`)
/// in an extensible `struct open_how` of `size` bytes: bytes past the ones
/// known here must be zero (`E2BIG`), and unknown flags, a mode without
/// `O_CREAT`/`O_TMPFILE` or contradictory restrictions are `EINVAL`, all
/// before the path is read, as in Linux.
#[syscall]
pub fn openat2(t: &mut Task, dirfd: DirFd, pathname: UserCStr, how: UserPtr<OpenHow>, size: usize) -> KResult<u64> {
    let base = std::mem::size_of::<OpenHow>();
    if size < base {
        return Err(Errno::EINVAL);
    }
    if size > 4096 {
        return Err(Errno::E2BIG);
    }
    let raw = UserBytes::new(how.addr()).read(t, size)?;
    if raw[base..].iter().any(|&b| b != 0) {
        return Err(Errno::E2BIG);
    }
    let how = OpenHow::read_from_prefix(&raw[..]).ok_or(Errno::EINVAL)?;
    if how.flags & !VALID_OPEN_FLAGS != 0 {
        return Err(Errno::EINVAL);
    }
    let flags = u32::try_from(how.flags).map_err(|_| Errno::EINVAL)?;
    let creates = flags & O_CREAT != 0 || flags & O_TMPFILE == O_TMPFILE;
    if how.mode & !0o7777 != 0 || (!creates && how.mode != 0) {
        return Err(Errno::EINVAL);
    }
    let all = RESOLVE_NO_XDEV | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_SYMLINKS | RESOLVE_BENEATH | RESOLVE_IN_ROOT;
    if how.resolve & !(all | RESOLVE_CACHED) != 0
        || how.resolve & (RESOLVE_BENEATH | RESOLVE_IN_ROOT) == RESOLVE_BENEATH | RESOLVE_IN_ROOT
    {
        return Err(Errno::EINVAL);
    }
    if how.resolve & RESOLVE_CACHED != 0 {
        // The sentry cannot promise a walk from cache alone.
        return Err(Errno::EAGAIN);
    }
    let opts = ResolveOpts {
        beneath: how.resolve & RESOLVE_BENEATH != 0,
        in_root: how.resolve & RESOLVE_IN_ROOT != 0,
        no_symlinks: how.resolve & RESOLVE_NO_SYMLINKS != 0,
        no_magiclinks: how.resolve & RESOLVE_NO_MAGICLINKS != 0,
        no_xdev: how.resolve & RESOLVE_NO_XDEV != 0,
    };
    let path = pathname.read(t)?;
    let mode = u32::try_from(how.mode).map_err(|_| Errno::EINVAL)?;
    do_open_with(t, dirfd.0, &path, flags, mode, &opts).map(fd_result)
}

/// `open(dir, O_TMPFILE | O_WRONLY or O_RDWR, mode)`: an unnamed regular
/// file in the file system of `dir`.
pub fn open_tmpfile(t: &Task, dirfd: i32, path: &[u8], flags: u32, mode: u32, how: &ResolveOpts) -> KResult<i32> {
    if flags & O_CREAT != 0 || flags & O_PATH != 0 || !matches!(flags & O_ACCMODE, O_WRONLY | O_RDWR) {
        return Err(Errno::EINVAL);
    }
    let mut fs = t.fs();
    let creds = t.creds();
    if how.in_root {
        fs.root = dir_of(t, dirfd)?;
    }
    let start = if path.first() == Some(&b'/') { fs.root.clone() } else { dir_of(t, dirfd)? };
    let dir = t.k.vfs.resolve_with(Caller::of(t), &fs.root, &start, path, true, &creds, how)?;
    let dattr = dir.inode().attr()?;
    if !dattr.is_dir() {
        return Err(Errno::ENOTDIR);
    }
    dir.mount.want_write()?;
    may_access(&dattr, &creds, W_OK | X_OK)?;
    let attr = CreateAttr { mode: S_IFREG | (mode & 0o7777 & !fs.umask), uid: creds.fsuid, gid: creds.fsgid };
    let inode = dir.inode().create_tmpfile(attr, flags & O_EXCL == 0)?;
    let file = inode.open(Caller::of(t), flags)?;
    let name = format!("#{}", inode.attr()?.ino).into_bytes();
    let loc = Location { mount: dir.mount.clone(), dentry: Dentry::detached(&dir.dentry, name, inode.clone()) };
    let keep = flags & !(O_TMPFILE | O_EXCL);
    let fd = FileDescription::new(file, Some(loc), Some(inode), keep);
    t.fds.lock().insert_from(0, fd, flags & O_CLOEXEC != 0, super::fd_limit(t))
}

/// Close (or, with `CLOSE_RANGE_CLOEXEC`, mark close-on-exec) every open
/// descriptor from `first` to `last`; `CLOSE_RANGE_UNSHARE` first gives the
/// task its own copy of a shared table.
#[syscall]
pub fn close_range(t: &mut Task, first: u32, last: u32, flags: CloseRangeFlags) -> KResult<u64> {
    let flags = flags.0;
    if flags & !(CLOSE_RANGE_UNSHARE | CLOSE_RANGE_CLOEXEC) != 0 || first > last {
        return Err(Errno::EINVAL);
    }
    if flags & CLOSE_RANGE_UNSHARE != 0 {
        let copy = t.fds.lock().clone();
        t.fds = Arc::new(Mutex::new(copy));
        *t.proc_.fds.lock() = t.fds.clone();
    }
    let in_range = |fd: i32| u32::try_from(fd).is_ok_and(|f| (first..=last).contains(&f));
    let mut closed = Vec::new();
    {
        let mut fds = t.fds.lock();
        for fd in fds.fds().into_iter().filter(|&fd| in_range(fd)) {
            if flags & CLOSE_RANGE_CLOEXEC != 0 {
                fds.set_cloexec(fd, true)?;
            } else if let Ok(f) = fds.remove(fd) {
                closed.push(f);
            }
        }
    }
    let pid = t.pid();
    for f in &closed {
        super::lock::on_close(pid, f);
    }
    drop(closed);
    Ok(0)
}

/// `fchmodat` with flags (`AT_SYMLINK_NOFOLLOW`, `AT_EMPTY_PATH`); a
/// symlink's mode stays fixed, as in Linux.
#[syscall]
pub fn fchmodat2(t: &mut Task, dirfd: DirFd, pathname: UserCStr, mode: Mode, flags: AtFlags) -> KResult<u64> {
    let flags = flags.0;
    if flags & !(AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH) != 0 {
        return Err(Errno::EINVAL);
    }
    let p = pathname.read(t)?;
    let loc = resolve_at(t, dirfd.0, &p, flags & AT_SYMLINK_NOFOLLOW == 0, flags & AT_EMPTY_PATH != 0)?;
    loc.mount.want_write()?;
    if loc.inode().attr()?.is_symlink() {
        // Linux keeps a symlink's mode fixed.
        return Err(Errno::EOPNOTSUPP);
    }
    do_chmod(t, &loc, mode.0)
}

super::args::named_arg!(/// `fallocate` mode bits (`FALLOC_FL_*`).
FallocMode(u32), |v| {
    flag_str::<abi::flags::FallocFlags>(v, "0")
});

/// Reserve `len` bytes of `fd`'s regular file from `offset`: growing it
/// (unless `FALLOC_FL_KEEP_SIZE`), or what the file itself supports (hole
/// punching). The offset and length are checked after the descriptor, as
/// in Linux.
#[syscall]
pub fn fallocate(t: &mut Task, fd: Fd, mode: FallocMode, offset: i64, len: i64) -> KResult<u64> {
    let f = file_of(t, fd.0)?;
    let (mode, off) = (mode.0, offset);
    if off < 0 || len <= 0 {
        return Err(Errno::EINVAL);
    }
    if !f.writable() {
        return Err(Errno::EBADF);
    }
    let inode = f.inode.clone().ok_or(Errno::ENODEV)?;
    let at = inode.attr()?;
    if at.is_dir() {
        return Err(Errno::EISDIR);
    }
    if at.file_type() == S_IFIFO {
        return Err(Errno::ESPIPE);
    }
    if !at.is_regular() {
        return Err(Errno::ENODEV);
    }
    let (off, len) = (off.unsigned_abs(), len.unsigned_abs());
    let end = off.checked_add(len).filter(|&e| e <= i64::MAX as u64).ok_or(Errno::EFBIG)?;
    if mode & FALLOC_FL_PUNCH_HOLE != 0 && mode & FALLOC_FL_KEEP_SIZE == 0 {
        return Err(Errno::EOPNOTSUPP);
    }
    if let Some(r) = f.file.fallocate(mode, off, len) {
        return r.map(|_| 0);
    }
    match mode {
        0 if end > at.size => inode.set_attr(&SetAttr { size: Some(end), ..Default::default() }).map(|_| 0),
        0 | FALLOC_FL_KEEP_SIZE => Ok(0),
        _ => Err(Errno::EOPNOTSUPP),
    }
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
        // As access_override_creds: a real uid other than 0 checks with no
        // capability, root with all it is permitted.
        creds.caps.effective = if creds.uid == 0 { creds.caps.permitted } else { 0 };
    }
    may_access(&at, &creds, mode)?;
    // Linux asks the permission first and then, as SuS wants a read-only
    // file system reported too, the mount (for files other than devices,
    // FIFOs and sockets).
    if mode & W_OK != 0 && !matches!(at.file_type(), S_IFCHR | S_IFBLK | S_IFIFO | S_IFSOCK) {
        loc.mount.want_write()?;
    }
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

fn set_cwd(t: &Task, loc: Location) -> KResult<u64> {
    let at = loc.inode().attr()?;
    if !at.is_dir() {
        return Err(Errno::ENOTDIR);
    }
    may_access(&at, &t.creds(), X_OK)?;
    t.fsc.lock().cwd = loc;
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

/// Apply `sa` to `loc`'s inode. Callers ask the mount's writability
/// ([`crate::vfs::Mount::want_write`]) before their permission checks, as
/// Linux does; it is asked again here so that no change reaches a
/// read-only mount.
pub(super) fn setattr_loc(_t: &Task, loc: &Location, sa: SetAttr) -> KResult<u64> {
    loc.mount.want_write()?;
    loc.inode().set_attr(&sa)?;
    crate::fs::inotify::notify_setattr(loc, &sa);
    Ok(0)
}

pub(super) fn do_chmod(t: &Task, loc: &Location, mode: u32) -> KResult<u64> {
    loc.mount.want_write()?;
    let at = loc.inode().attr()?;
    let creds = t.creds();
    if !creds.owner_or_capable(&at) {
        return Err(Errno::EPERM);
    }
    let mut m = mode & 0o7777;
    if m & S_ISGID != 0 && !creds.in_group(at.gid) && !creds.capable(CAP_FSETID) {
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
    loc.mount.want_write()?;
    let at = loc.inode().attr()?;
    let creds = t.creds();
    let uid = (uid != u32::MAX).then_some(uid);
    let gid = (gid != u32::MAX).then_some(gid);
    // chown_ok and chgrp_ok: the owner may give the file to itself and to
    // a group it is in; CAP_CHOWN anything.
    let owner = creds.fsuid == at.uid;
    if !creds.capable(CAP_CHOWN) {
        if uid.is_some_and(|u| !owner || u != at.uid) {
            return Err(Errno::EPERM);
        }
        if gid.is_some_and(|g| !owner || (g != at.gid && !creds.in_group(g))) {
            return Err(Errno::EPERM);
        }
    }
    let mut sa = SetAttr { uid, gid, ..Default::default() };
    // A chown of a non-directory, even to -1 -1, clears set-user-id, and
    // set-group-id when group-executable or (setattr_should_drop_sgid) the
    // caller is neither in its group nor holds CAP_FSETID.
    if !at.is_dir() {
        let drop_sgid = at.mode & 0o010 != 0 || !(creds.in_group(at.gid) || creds.capable(CAP_FSETID));
        let kill = S_ISUID | if drop_sgid { S_ISGID } else { 0 };
        if at.mode & kill != 0 {
            sa.mode = Some(at.mode & 0o7777 & !kill);
        }
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
    // Current kernels ask the permission before the mount's writability
    // (vfs_truncate; older kernels asked the mount first).
    may_access(&at, &t.creds(), W_OK)?;
    setattr_loc(t, &loc, SetAttr { size: Some(size), ..Default::default() })
}

/// A file opened with `O_PATH`: no I/O.
struct PathFile;

impl FileOps for PathFile {
    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
}

/// The heart of `open`/`openat`/`creat`.
pub fn do_open(t: &Task, dirfd: i32, path: &[u8], flags: u32, mode: u32) -> KResult<i32> {
    do_open_with(t, dirfd, path, flags, mode, &ResolveOpts::default())
}

/// [`do_open`] with `openat2` resolution restrictions.
pub fn do_open_with(t: &Task, dirfd: i32, path: &[u8], flags: u32, mode: u32, how: &ResolveOpts) -> KResult<i32> {
    if flags & O_TMPFILE == O_TMPFILE {
        return super::open::open_tmpfile(t, dirfd, path, flags, mode, how);
    }
    let mut fs = t.fs();
    let creds = t.creds();
    if how.in_root {
        fs.root = dir_of(t, dirfd)?;
    }
    let start = if path.first() == Some(&b'/') { fs.root.clone() } else { dir_of(t, dirfd)? };
    let acc = flags & O_ACCMODE;
    if acc == O_ACCMODE && flags & O_PATH == 0 {
        return Err(Errno::EINVAL);
    }
    let flags = if flags & O_PATH != 0 { flags & (O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC) } else { flags };
    let mut created = false;
    let loc = if flags & O_CREAT != 0 && flags & O_PATH == 0 {
        let r = t.k.vfs.resolve_parent_with(Caller::of(t), &fs.root, &start, path, &creds, how)?;
        if r.name == b"." || r.name == b".." || r.trailing_slash {
            return Err(Errno::EISDIR);
        }
        match r.parent.dentry.child(&r.name) {
            Ok(_) => {
                if flags & O_EXCL != 0 {
                    return Err(Errno::EEXIST);
                }
                let follow = flags & O_NOFOLLOW == 0;
                let l = t.k.vfs.resolve_with(Caller::of(t), &fs.root, &r.parent, &r.name, follow, &creds, how)?;
                if l.inode().attr()?.is_symlink() {
                    return Err(Errno::ELOOP);
                }
                l
            }
            Err(Errno::ENOENT) => {
                // lookup_open: on a read-only mount the creation fails
                // with EROFS before may_o_create asks for permission.
                r.parent.mount.want_write()?;
                let pattr = r.parent.inode().attr()?;
                may_access(&pattr, &creds, W_OK | X_OK)?;
                let cattr =
                    CreateAttr { mode: S_IFREG | (mode & 0o7777 & !fs.umask), uid: creds.fsuid, gid: creds.fsgid };
                r.parent.inode().create(&r.name, NodeKind::Regular, cattr)?;
                r.parent.dentry.invalidate(&r.name);
                created = true;
                let d = r.parent.dentry.child(&r.name)?;
                crate::vfs::Location { mount: r.parent.mount.clone(), dentry: d }
            }
            Err(e) => return Err(e),
        }
    } else {
        let follow = flags & O_NOFOLLOW == 0;
        let l = t.k.vfs.resolve_with(Caller::of(t), &fs.root, &start, path, follow, &creds, how)?;
        if !follow && flags & O_PATH == 0 && l.inode().attr()?.is_symlink() {
            return Err(Errno::ELOOP);
        }
        l
    };
    let attr = loc.inode().attr()?;
    if flags & O_DIRECTORY != 0 && !attr.is_dir() {
        return Err(Errno::ENOTDIR);
    }
    let file: Arc<dyn FileOps> = if flags & O_PATH != 0 {
        Arc::new(PathFile)
    } else {
        let wants_write = matches!(acc, O_WRONLY | O_RDWR) || flags & O_TRUNC != 0;
        if attr.is_dir() && wants_write {
            return Err(Errno::EISDIR);
        }
        // do_open: truncating an existing regular file takes the mount for
        // writing before may_open checks permission.
        if !created && flags & O_TRUNC != 0 && attr.is_regular() {
            loc.mount.want_write()?;
        }
        if !created {
            let mut mask = 0;
            if matches!(acc, O_RDONLY | O_RDWR) {
                mask |= R_OK;
            }
            if wants_write {
                mask |= W_OK;
            }
            may_access(&attr, &creds, mask)?;
        }
        if flags & O_NOATIME != 0 && !creds.owner_or_capable(&attr) {
            return Err(Errno::EPERM);
        }
        if wants_write && (attr.is_regular() || attr.is_dir()) {
            loc.mount.want_write()?;
        }
        if flags & O_TRUNC != 0 && attr.is_regular() && attr.size != 0 {
            loc.inode().set_attr(&SetAttr { size: Some(0), ..Default::default() })?;
        }
        loc.inode().open(Caller::of(t), flags)?
    };
    crate::fs::inotify::notify_open(&loc, flags, created);
    let inode = loc.inode().clone();
    let fd = FileDescription::new(file, Some(loc), Some(inode), flags);
    t.fds.lock().insert_from(0, fd, flags & O_CLOEXEC != 0, fd_limit(t))
}

/// Open `pathname` relative to the working directory.
#[syscall]
pub fn open(t: &mut Task, pathname: UserCStr, flags: OpenFlags, mode: OpenMode<1>) -> KResult<u64> {
    let path = pathname.read(t)?;
    do_open(t, AT_FDCWD, &path, flags.0, mode.0).map(fd_result)
}

/// Open `pathname` relative to `dirfd`.
#[syscall]
pub fn openat(t: &mut Task, dirfd: DirFd, pathname: UserCStr, flags: OpenFlags, mode: OpenMode<2>) -> KResult<u64> {
    let path = pathname.read(t)?;
    do_open(t, dirfd.0, &path, flags.0, mode.0).map(fd_result)
}

/// `open(pathname, O_CREAT | O_WRONLY | O_TRUNC, mode)`.
#[syscall]
pub fn creat(t: &mut Task, pathname: UserCStr, mode: Mode) -> KResult<u64> {
    let path = pathname.read(t)?;
    do_open(t, AT_FDCWD, &path, O_CREAT | O_WRONLY | O_TRUNC, mode.0).map(fd_result)
}

/// Close `fd`; the process's POSIX locks on the file go with it.
#[syscall]
pub fn close(t: &mut Task, fd: Fd) -> KResult<u64> {
    let f = t.fds.lock().remove(fd.0)?;
    super::lock::on_close(t.pid(), &f);
    drop(f);
    Ok(0)
}

/// Set the size of the regular file open for writing at `fd`. A negative
/// length is `EINVAL` once the descriptor is known to be open. (Linux's
/// `do_sys_ftruncate` checks the length first; the order here is the one
/// this call always had.)
#[syscall]
pub fn ftruncate(t: &mut Task, fd: Fd, length: i64) -> KResult<u64> {
    let f = file_of(t, fd.0)?;
    let length = u64::try_from(length).map_err(|_| Errno::EINVAL)?;
    if !f.writable() {
        return Err(Errno::EINVAL);
    }
    let inode = f.inode.clone().ok_or(Errno::EINVAL)?;
    if !inode.attr()?.is_regular() {
        return Err(Errno::EINVAL);
    }
    inode.set_attr(&SetAttr { size: Some(length), ..Default::default() })?;
    crate::fs::inotify::notify_file(&f, IN_MODIFY);
    Ok(0)
}
