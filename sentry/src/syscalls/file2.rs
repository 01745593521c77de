//! The remaining file calls of issue 4: `openat2`, `O_TMPFILE`,
//! `close_range`, `fchmodat2`, `copy_file_range`, `sendfile`, `fallocate`,
//! `SEEK_DATA`/`SEEK_HOLE`, `mknod`, `memfd_create` and seals, `sync`,
//! `syncfs`, and the file handle calls.

use std::sync::{Arc, Mutex, OnceLock};

use abi::consts::*;
use abi::Errno;
use zerocopy::{AsBytes, FromBytes, FromZeroes};

use super::{dir_of, fd_arg, file_of, int_arg, resolve_at};
use crate::fs::{next_dev, Tmpfs, TmpfsInode};
use crate::kernel::Task;
use crate::vfs::{
    lock, may_access, CreateAttr, Dentry, FileDescription, InodeRef, KResult, Location, NodeKind, ResolveOpts, SetAttr,
};

const RESOLVE_NO_XDEV: u64 = 0x01;
const RESOLVE_NO_MAGICLINKS: u64 = 0x02;
const RESOLVE_NO_SYMLINKS: u64 = 0x04;
const RESOLVE_BENEATH: u64 = 0x08;
const RESOLVE_IN_ROOT: u64 = 0x10;
const RESOLVE_CACHED: u64 = 0x20;

const CLOSE_RANGE_UNSHARE: u32 = 2;
const CLOSE_RANGE_CLOEXEC: u32 = 4;

/// `fadvise64` advice: `POSIX_FADV_NORMAL` (0) to `POSIX_FADV_NOREUSE` (5).
const POSIX_FADV_NOREUSE: u64 = 5;

const F_ADD_SEALS: u32 = 1033;
const F_GET_SEALS: u32 = 1034;

const MFD_CLOEXEC: u32 = 1;
const MFD_ALLOW_SEALING: u32 = 2;
const MFD_HUGETLB: u32 = 4;
const MFD_NOEXEC_SEAL: u32 = 8;
const MFD_EXEC: u32 = 0x10;
/// Longest `memfd_create` name (Linux: `NAME_MAX - strlen("memfd:")`).
const MFD_NAME_MAX: usize = 249;

const FALLOC_FL_KEEP_SIZE: u32 = 1;
const FALLOC_FL_PUNCH_HOLE: u32 = 2;

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

/// Largest chunk copied at once by `sendfile` and `copy_file_range`.
const CHUNK: usize = 1 << 16;

/// `struct open_how`.
#[derive(Clone, Copy, Debug, Default, AsBytes, FromBytes, FromZeroes)]
#[repr(C)]
struct OpenHow {
    flags: u64,
    mode: u64,
    resolve: u64,
}

fn limit(t: &Task) -> i32 {
    i32::try_from(t.rlimit(RLIMIT_NOFILE).rlim_cur.min(1 << 20)).unwrap_or(1 << 20)
}

// ---- openat2 and O_TMPFILE ----

pub fn openat2(t: &mut Task, a: &[u64; 6]) -> KResult<u64> {
    let size = a[3];
    let base = std::mem::size_of::<OpenHow>() as u64;
    if size < base {
        return Err(Errno::EINVAL);
    }
    if size > 4096 {
        return Err(Errno::E2BIG);
    }
    let raw = t.read_vec(a[2], usize::try_from(size).map_err(|_| Errno::E2BIG)?)?;
    if raw[std::mem::size_of::<OpenHow>()..].iter().any(|&b| b != 0) {
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
    let path = t.read_path(a[1])?;
    let mode = u32::try_from(how.mode).map_err(|_| Errno::EINVAL)?;
    super::file::do_open_with(t, int_arg(a[0]), &path, flags, mode, &opts).map(|fd| fd as u64)
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
    let dir = t.k.vfs.resolve_with(&fs.root, &start, path, true, &creds, how)?;
    let dattr = dir.inode().attr()?;
    if !dattr.is_dir() {
        return Err(Errno::ENOTDIR);
    }
    may_access(&dattr, &creds, W_OK | X_OK)?;
    if dir.mount.readonly() {
        return Err(Errno::EROFS);
    }
    let attr = CreateAttr { mode: S_IFREG | (mode & 0o7777 & !fs.umask), uid: creds.fsuid, gid: creds.fsgid };
    let inode = dir.inode().create_tmpfile(attr, flags & O_EXCL == 0)?;
    let file = inode.open(flags)?;
    let name = format!("#{}", inode.attr()?.ino).into_bytes();
    let loc = Location { mount: dir.mount.clone(), dentry: Dentry::detached(&dir.dentry, name, inode.clone()) };
    let keep = flags & !(O_TMPFILE | O_EXCL);
    let fd = FileDescription::new(file, Some(loc), Some(inode), keep);
    lock(&t.fds).insert_from(0, fd, flags & O_CLOEXEC != 0, limit(t))
}

// ---- descriptors ----

pub fn close_range(t: &mut Task, a: &[u64; 6]) -> KResult<u64> {
    let (first, last) = (a[0] as u32, a[1] as u32);
    let flags = a[2] as u32;
    if flags & !(CLOSE_RANGE_UNSHARE | CLOSE_RANGE_CLOEXEC) != 0 || first > last {
        return Err(Errno::EINVAL);
    }
    if flags & CLOSE_RANGE_UNSHARE != 0 {
        let copy = lock(&t.fds).clone();
        t.fds = Arc::new(Mutex::new(copy));
        *lock(&t.proc_.fds) = t.fds.clone();
    }
    let in_range = |fd: i32| u32::try_from(fd).is_ok_and(|f| (first..=last).contains(&f));
    let mut closed = Vec::new();
    {
        let mut fds = lock(&t.fds);
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

pub fn sync(_t: &mut Task, _a: &[u64; 6]) -> KResult<u64> {
    Ok(0)
}

pub fn syncfs(t: &mut Task, a: &[u64; 6]) -> KResult<u64> {
    file_of(t, fd_arg(a[0])?)?;
    Ok(0)
}

/// `name_to_handle_at` and `open_by_handle_at`: no file system here can
/// export handles.
pub fn no_handles(_t: &mut Task, _a: &[u64; 6]) -> KResult<u64> {
    Err(Errno::EOPNOTSUPP)
}

// ---- metadata ----

pub fn fchmodat2(t: &mut Task, a: &[u64; 6]) -> KResult<u64> {
    let flags = a[3] as u32;
    if flags & !(AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH) != 0 {
        return Err(Errno::EINVAL);
    }
    let p = t.read_path(a[1])?;
    let loc = resolve_at(t, int_arg(a[0]), &p, flags & AT_SYMLINK_NOFOLLOW == 0, flags & AT_EMPTY_PATH != 0)?;
    if loc.inode().attr()?.is_symlink() {
        // Linux keeps a symlink's mode fixed.
        return Err(Errno::EOPNOTSUPP);
    }
    super::fs::do_chmod(t, &loc, a[2] as u32)
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

pub fn mknod(t: &mut Task, a: &[u64; 6]) -> KResult<u64> {
    let p = t.read_path(a[0])?;
    do_mknod(t, AT_FDCWD, &p, a[1] as u32, u64::from(a[2] as u32))
}

pub fn mknodat(t: &mut Task, a: &[u64; 6]) -> KResult<u64> {
    let p = t.read_path(a[1])?;
    do_mknod(t, int_arg(a[0]), &p, a[2] as u32, u64::from(a[3] as u32))
}

// ---- memfd and seals ----

/// The tmpfs instance memfd inodes come from (none of them is linked).
fn memfd_fs() -> &'static Arc<Tmpfs> {
    static FS: OnceLock<Arc<Tmpfs>> = OnceLock::new();
    FS.get_or_init(|| Tmpfs::new(next_dev(), S_IFDIR | 0o1777, 0, 0))
}

pub fn memfd_create(t: &mut Task, a: &[u64; 6]) -> KResult<u64> {
    let flags = a[1] as u32;
    if flags & !(MFD_CLOEXEC | MFD_ALLOW_SEALING | MFD_HUGETLB | MFD_NOEXEC_SEAL | MFD_EXEC) != 0
        || flags & (MFD_NOEXEC_SEAL | MFD_EXEC) == MFD_NOEXEC_SEAL | MFD_EXEC
        || flags & MFD_HUGETLB != 0
    {
        return Err(Errno::EINVAL);
    }
    let name = lock(&t.mm).read_cstring(a[0], MFD_NAME_MAX + 1).map_err(|e| match e {
        Errno::ENAMETOOLONG => Errno::EINVAL,
        e => e,
    })?;
    if name.len() > MFD_NAME_MAX {
        return Err(Errno::EINVAL);
    }
    let creds = t.creds();
    let perm = if flags & MFD_NOEXEC_SEAL != 0 { 0o666 } else { 0o777 };
    let root = memfd_fs().root();
    let inode: InodeRef =
        root.create_tmpfile(CreateAttr { mode: S_IFREG | perm, uid: creds.fsuid, gid: creds.fsgid }, false)?;
    if flags & (MFD_ALLOW_SEALING | MFD_NOEXEC_SEAL) != 0 {
        if let Some(ti) = inode.as_any().downcast_ref::<TmpfsInode>() {
            ti.allow_sealing();
        }
    }
    let file = inode.open(O_RDWR)?;
    let mut shown = b"/memfd:".to_vec();
    shown.extend_from_slice(&name);
    shown.extend_from_slice(b" (deleted)");
    let fd = FileDescription::new_anon(file, Some(inode), O_RDWR | O_LARGEFILE, shown);
    lock(&t.fds).insert_from(0, fd, flags & MFD_CLOEXEC != 0, limit(t)).map(|n| n as u64)
}

/// Whether `cmd` is `F_ADD_SEALS` or `F_GET_SEALS`.
pub fn is_seal_cmd(cmd: u32) -> bool {
    matches!(cmd, F_ADD_SEALS | F_GET_SEALS)
}

/// `fcntl(fd, F_ADD_SEALS | F_GET_SEALS, arg)`.
pub fn fcntl_seals(t: &Task, fd: i32, cmd: u32, arg: u64) -> KResult<u64> {
    let f = file_of(t, fd)?;
    let seals = f.file.seals().ok_or(Errno::EINVAL)?;
    if cmd == F_GET_SEALS {
        return Ok(u64::from(seals));
    }
    if !f.writable() {
        return Err(Errno::EPERM);
    }
    f.file.add_seals(arg as u32).map(|_| 0)
}

// ---- data ----

/// `lseek` with `SEEK_DATA` or `SEEK_HOLE`, honouring the holes a file
/// system tracks (`FileOps::data_ranges`); elsewhere all of a file is data.
pub fn seek_data_hole(f: &FileDescription, off: i64, whence: u32) -> KResult<i64> {
    let size = f.inode.as_ref().map(|i| i.attr()).transpose()?.map_or(0, |a| a.size);
    let off = u64::try_from(off).map_err(|_| Errno::ENXIO)?;
    if off >= size {
        return Err(Errno::ENXIO);
    }
    let ranges = f.file.data_ranges().unwrap_or_else(|| vec![(0, size)]);
    let found = if whence == SEEK_DATA {
        ranges.iter().find(|r| r.1 > off).map(|r| r.0.max(off)).ok_or(Errno::ENXIO)?
    } else {
        match ranges.iter().find(|r| r.0 <= off && off < r.1) {
            Some(r) => r.1.min(size),
            None => off,
        }
    };
    i64::try_from(found).map_err(|_| Errno::EOVERFLOW)
}

/// `fadvise64(fd, offset, len, advice)`. Advice is a hint about caching;
/// the sentry's files live in memory or are read through the gofer on
/// demand, so valid advice has no effect, as on Linux for files without a
/// backing device. The checks are those of Linux's `generic_fadvise`.
/// (Was ENOSYS; `cp` calls it on every file: tests/c/fs_open_files.c.)
pub fn fadvise64(t: &mut Task, a: &[u64; 6]) -> KResult<u64> {
    let f = file_of(t, fd_arg(a[0])?)?;
    if f.flags() & O_PATH != 0 {
        return Err(Errno::EBADF);
    }
    if let Some(inode) = &f.inode {
        if inode.attr()?.file_type() == S_IFIFO {
            return Err(Errno::ESPIPE);
        }
    }
    let len = a[2] as i64;
    if len < 0 || a[3] > POSIX_FADV_NOREUSE {
        return Err(Errno::EINVAL);
    }
    Ok(0)
}

pub fn fallocate(t: &mut Task, a: &[u64; 6]) -> KResult<u64> {
    let f = file_of(t, fd_arg(a[0])?)?;
    let mode = a[1] as u32;
    let (off, len) = (a[2] as i64, a[3] as i64);
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

/// Block until `f` can take more data, or a signal interrupts.
fn wait_writable(t: &Task, f: &FileDescription) -> KResult<()> {
    let Some(q) = f.file.wait_queue() else { return Ok(()) };
    let ev = (libc::POLLOUT | libc::POLLERR | libc::POLLHUP) as u32;
    t.wait_until(&[q], None, || Ok((f.file.poll() & ev != 0).then_some(())))
}

/// Write all of `data` to `out` at `pos`, or at its file offset (the end
/// for `O_APPEND`) when `pos` is `None`, through its `FileOps` (pipes and
/// sockets block as `write` does). Returns how much was written.
pub(super) fn write_out(t: &Task, out: &FileDescription, data: &[u8], pos: Option<u64>) -> KResult<usize> {
    let own = out.file.has_own_offset();
    let seekable = out.file.seekable() && !own;
    let mut guard = if pos.is_none() && seekable { Some(out.offset()) } else { None };
    let mut off = match (pos, &guard) {
        (Some(p), _) => p,
        (None, Some(g)) => **g,
        (None, None) if own => crate::vfs::CURRENT_POS,
        (None, None) => 0,
    };
    if pos.is_none() && seekable && out.flags() & O_APPEND != 0 {
        if let Some(i) = &out.inode {
            off = i.attr()?.size;
        }
    }
    let mut done = 0;
    while done < data.len() {
        match out.file.write(&data[done..], off) {
            Ok(0) => break,
            Ok(n) => {
                done += n;
                if off != crate::vfs::CURRENT_POS {
                    off += n as u64;
                }
            }
            Err(Errno::EAGAIN) if out.flags() & O_NONBLOCK == 0 && out.file.wait_queue().is_some() => {
                match wait_writable(t, out) {
                    Ok(()) => continue,
                    Err(e) if done == 0 => return Err(e),
                    Err(_) => break,
                }
            }
            Err(e) if done == 0 => {
                if e == Errno::EPIPE {
                    t.send_sigpipe();
                }
                return Err(e);
            }
            Err(_) => break,
        }
    }
    if let Some(g) = &mut guard {
        **g = off;
    }
    Ok(done)
}

/// Copy up to `count` bytes from `inf` at `*in_off` to `out` (at `out_pos`
/// or its offset), advancing `*in_off` and `out_pos` by what was copied.
fn copy_between(
    t: &Task,
    inf: &FileDescription,
    in_off: &mut u64,
    out: &FileDescription,
    mut out_pos: Option<&mut u64>,
    count: usize,
) -> KResult<usize> {
    let mut buf = vec![0u8; count.min(CHUNK)];
    let mut done = 0;
    while done < count {
        let want = (count - done).min(buf.len());
        let n = match inf.file.read(&mut buf[..want], *in_off) {
            Ok(n) => n,
            Err(e) if done == 0 => return Err(e),
            Err(_) => break,
        };
        if n == 0 {
            break;
        }
        let w = match write_out(t, out, &buf[..n], out_pos.as_deref().copied()) {
            Ok(w) => w,
            Err(e) if done == 0 => return Err(e),
            Err(_) => break,
        };
        if *in_off != crate::vfs::CURRENT_POS {
            *in_off += w as u64;
        }
        if let Some(p) = out_pos.as_deref_mut() {
            *p += w as u64;
        }
        done += w;
        if w < n {
            break;
        }
    }
    Ok(done)
}

fn regular(f: &FileDescription) -> KResult<()> {
    let at = f.inode.as_ref().ok_or(Errno::EINVAL)?.attr()?;
    if at.is_dir() {
        return Err(Errno::EISDIR);
    }
    if !at.is_regular() {
        return Err(Errno::EINVAL);
    }
    Ok(())
}

fn read_off(t: &Task, addr: u64) -> KResult<u64> {
    let v: i64 = t.read_val(addr)?;
    u64::try_from(v).map_err(|_| Errno::EINVAL)
}

pub fn copy_file_range(t: &mut Task, a: &[u64; 6]) -> KResult<u64> {
    let inf = file_of(t, fd_arg(a[0])?)?;
    let out = file_of(t, fd_arg(a[2])?)?;
    let len = usize::try_from(a[4]).unwrap_or(usize::MAX).min(0x7fff_f000);
    if a[5] != 0 {
        return Err(Errno::EINVAL);
    }
    if !inf.readable() || !out.writable() || out.flags() & O_APPEND != 0 {
        return Err(Errno::EBADF);
    }
    regular(&inf)?;
    regular(&out)?;
    // A file that keeps its own offset (a donated host file, whose offset
    // the host and every sharer of the description move) is read or
    // written at that offset, never at the description's.
    let in_own = a[1] == 0 && inf.file.has_own_offset();
    let out_own = a[3] == 0 && out.file.has_own_offset();
    let mut in_off = match a[1] {
        0 if in_own => crate::vfs::CURRENT_POS,
        0 => *inf.offset(),
        p => read_off(t, p)?,
    };
    let mut out_off = if a[3] != 0 { read_off(t, a[3])? } else { *out.offset() };
    let same = inf.inode.as_ref().zip(out.inode.as_ref()).is_some_and(|(x, y)| Arc::ptr_eq(x, y));
    if same
        && !in_own
        && !out_own
        && in_off < out_off.saturating_add(len as u64)
        && out_off < in_off.saturating_add(len as u64)
    {
        return Err(Errno::EINVAL);
    }
    if !in_own {
        in_off.checked_add(len as u64).filter(|&e| e <= i64::MAX as u64).ok_or(Errno::EOVERFLOW)?;
    }
    out_off.checked_add(len as u64).filter(|&e| e <= i64::MAX as u64).ok_or(Errno::EFBIG)?;
    let n = if out_own {
        copy_between(t, &inf, &mut in_off, &out, None, len)?
    } else {
        copy_between(t, &inf, &mut in_off, &out, Some(&mut out_off), len)?
    };
    if a[1] != 0 {
        t.write_val(a[1], &(in_off as i64))?;
    } else if !in_own {
        *inf.offset() = in_off;
    }
    if a[3] != 0 {
        t.write_val(a[3], &(out_off as i64))?;
    } else if !out_own {
        *out.offset() = out_off;
    }
    Ok(n as u64)
}

pub fn sendfile(t: &mut Task, a: &[u64; 6]) -> KResult<u64> {
    let out = file_of(t, fd_arg(a[0])?)?;
    let inf = file_of(t, fd_arg(a[1])?)?;
    let count = usize::try_from(a[3]).unwrap_or(usize::MAX).min(0x7fff_f000);
    if !inf.readable() || !out.writable() {
        return Err(Errno::EBADF);
    }
    if out.flags() & O_APPEND != 0 {
        return Err(Errno::EINVAL);
    }
    if inf.inode.as_ref().and_then(|i| i.attr().ok()).is_some_and(|at| at.is_dir()) {
        return Err(Errno::EISDIR);
    }
    if a[2] != 0 {
        let mut off = read_off(t, a[2])?;
        let n = copy_between(t, &inf, &mut off, &out, None, count)?;
        t.write_val(a[2], &(off as i64))?;
        return Ok(n as u64);
    }
    if !inf.file.seekable() || inf.file.has_own_offset() {
        let mut off = if inf.file.has_own_offset() { crate::vfs::CURRENT_POS } else { 0 };
        return copy_between(t, &inf, &mut off, &out, None, count).map(|n| n as u64);
    }
    let mut off = *inf.offset();
    let n = copy_between(t, &inf, &mut off, &out, None, count)?;
    *inf.offset() = off;
    Ok(n as u64)
}
