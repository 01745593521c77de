//! File data calls: open, read, write, seek, dup, fcntl, ioctl, getdents.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use abi::consts::*;
use abi::types::{Dirent64Head, Iovec, Winsize};
use abi::Errno;
use zerocopy::AsBytes;

use sentry_macros::syscall;

use super::args::{
    Call, DirFd, FcntlCmd, Fd, InBuf, IoctlReq, Iovecs, Mode, Offset, OpenFlags, OpenMode, OutBuf, PipeFlags, SysArg,
    UserBytes, UserCStr, UserPtr, Whence,
};
use super::{dir_of, fd_limit, file_of};
use crate::kernel::Task;
use crate::vfs::{
    lock, may_access, CreateAttr, FileDescription, FileOps, KResult, NodeKind, ResolveOpts, SetAttr, UserMem,
    CURRENT_POS,
};

/// Largest single read or write (Linux's `MAX_RW_COUNT`).
const MAX_RW: usize = 0x7fff_f000;
/// Largest chunk the sentry buffers at once.
const CHUNK: usize = 1 << 20;

/// `UserMem` over a task, for `ioctl` handlers.
pub struct TaskMem<'a>(pub &'a Task);

impl UserMem for TaskMem<'_> {
    fn read_bytes(&self, addr: u64, buf: &mut [u8]) -> KResult<()> {
        UserBytes::new(addr).read_into(self.0, buf)
    }
    fn write_bytes(&self, addr: u64, buf: &[u8]) -> KResult<()> {
        UserBytes::new(addr).write(self.0, buf)
    }
}

/// A `UserMem` over one sentry-side value, for asking a file an ioctl
/// whose answer the sentry only needs to know succeeded.
struct ScratchMem<'a>(&'a mut abi::types::Termios);

impl UserMem for ScratchMem<'_> {
    fn read_bytes(&self, _addr: u64, buf: &mut [u8]) -> KResult<()> {
        let src = self.0.as_bytes();
        let n = buf.len().min(src.len());
        buf[..n].copy_from_slice(&src[..n]);
        Ok(())
    }
    fn write_bytes(&self, _addr: u64, _buf: &[u8]) -> KResult<()> {
        Ok(())
    }
}

/// A file opened with `O_PATH`: no I/O.
struct PathFile;

impl FileOps for PathFile {
    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
}

fn is_dir(f: &FileDescription) -> bool {
    f.inode.as_ref().and_then(|i| i.attr().ok()).is_some_and(|a| a.is_dir())
}

/// Read up to `len` bytes into application memory at `buf`, at `pos` (or
/// the file offset).
fn read_into(t: &Task, f: &FileDescription, buf: UserBytes, len: usize, pos: Option<u64>) -> KResult<usize> {
    if !f.readable() {
        return Err(Errno::EBADF);
    }
    let len = len.min(MAX_RW);
    if len == 0 {
        // The file still decides: a directory's file answers EISDIR.
        return f.file.read(&mut [], pos.unwrap_or(0)).map(|_| 0);
    }
    let mut tmp = vec![0u8; len.min(CHUNK)];
    let own = pos.is_none() && f.file.has_own_offset();
    let seekable = f.file.seekable() && !own;
    let mut off_guard = if pos.is_none() && seekable { Some(f.offset()) } else { None };
    let mut off = match (pos, &off_guard) {
        (Some(p), _) => p,
        (None, Some(g)) => **g,
        (None, None) if own => CURRENT_POS,
        (None, None) => 0,
    };
    // A donated host stream (a pipe or terminal) is read once it is
    // readable, so that signals can interrupt the wait.
    if let Some(hfd) = f.file.host_fd() {
        super::tty::job_control(t, f, SIGTTIN)?;
        if f.flags() & O_NONBLOCK == 0 {
            t.wait_host(std::os::fd::AsRawFd::as_raw_fd(&hfd), libc::POLLIN)?;
        }
    }
    let shared = if off != CURRENT_POS { shared_object(t, f) } else { None };
    let mut done = 0;
    while done < len {
        let want = (len - done).min(tmp.len());
        let n = match f.file.read(&mut tmp[..want], off) {
            Ok(n) => n,
            Err(Errno::EAGAIN) if done == 0 && f.flags() & O_NONBLOCK == 0 && f.file.wait_queue().is_some() => {
                wait_ready(t, f, (libc::POLLIN | libc::POLLHUP | libc::POLLERR) as u32)?;
                continue;
            }
            Err(e) if done == 0 => return Err(e),
            Err(_) => break,
        };
        if n == 0 {
            break;
        }
        if let Some(obj) = &shared {
            obj.overlay_read(&t.k.mf, off, &mut tmp[..n]);
        }
        if let Err(e) = buf.offset(done).and_then(|b| b.write(t, &tmp[..n])) {
            if done == 0 {
                return Err(e);
            }
            break;
        }
        done += n;
        if off != CURRENT_POS {
            off += n as u64;
        }
        // Non-seekable files (terminals, pipes) return what they have.
        if !seekable || n < want {
            break;
        }
    }
    if let Some(g) = &mut off_guard {
        **g = off;
    }
    Ok(done)
}

/// Write `len` bytes from application memory at `buf`.
fn write_from(t: &Task, f: &FileDescription, buf: UserBytes, len: usize, pos: Option<u64>) -> KResult<usize> {
    if !f.writable() {
        return Err(Errno::EBADF);
    }
    let len = len.min(MAX_RW);
    if len == 0 {
        return Ok(0);
    }
    super::tty::write_check(t, f)?;
    let own = pos.is_none() && f.file.has_own_offset();
    let seekable = f.file.seekable() && !own;
    let mut off_guard = if pos.is_none() && seekable { Some(f.offset()) } else { None };
    // O_APPEND writes at the end even for pwrite/pwritev: Linux ignores
    // their offset on such files (pwrite(2), BUGS); the file offset is left
    // alone then. Caught by tests/c/fs_open_files.c ("pwrite on O_APPEND").
    let append = f.flags() & O_APPEND != 0 && !own;
    let mut off = match (pos, &off_guard) {
        (Some(p), _) => p,
        (None, Some(g)) => **g,
        (None, None) if own => CURRENT_POS,
        (None, None) => 0,
    };
    if append {
        if let Some(i) = &f.inode {
            off = i.attr()?.size;
        }
    }
    let shared = if off != CURRENT_POS { shared_object(t, f) } else { None };
    let mut done = 0;
    while done < len {
        let want = (len - done).min(CHUNK);
        let data = match buf.offset(done).and_then(|b| b.read(t, want)) {
            Ok(d) => d,
            Err(e) if done == 0 => return Err(e),
            Err(_) => break,
        };
        let n = match f.file.write(&data, off).inspect(|&n| {
            if let Some(obj) = &shared {
                obj.apply_write(&t.k.mf, off, &data[..n]);
            }
        }) {
            Ok(n) => n,
            Err(Errno::EAGAIN) if f.flags() & O_NONBLOCK == 0 && f.file.wait_queue().is_some() => {
                match wait_ready(t, f, (libc::POLLOUT | libc::POLLERR | libc::POLLHUP) as u32) {
                    Ok(()) => continue,
                    Err(e) if done == 0 => return Err(e),
                    Err(_) => break,
                }
            }
            Err(Errno::EAGAIN) if done > 0 => break,
            Err(e) if done == 0 => {
                if e == Errno::EPIPE {
                    t.send_sigpipe();
                }
                return Err(e);
            }
            Err(_) => break,
        };
        done += n;
        if off != CURRENT_POS {
            off += n as u64;
        }
        // A blocking write to a pipe or socket goes on until all is written.
        let streams = f.flags() & O_NONBLOCK == 0 && f.file.is_stream();
        if n < want && !streams {
            break;
        }
    }
    if let Some(g) = &mut off_guard {
        **g = off;
    }
    crate::fs::inotify::notify_write(f, done);
    Ok(done)
}

/// The `MAP_SHARED` pages of `f`'s file, if it is mapped shared anywhere.
fn shared_object(t: &Task, f: &FileDescription) -> Option<Arc<crate::mm::SharedObject>> {
    if !t.k.any_shared() {
        return None;
    }
    let a = f.inode.as_ref()?.attr().ok()?;
    t.k.shared_object((a.dev, a.ino))
}

/// Block until `f` is ready for one of `events` (its wait queue announces
/// changes), or a signal interrupts.
fn wait_ready(t: &Task, f: &FileDescription, events: u32) -> KResult<()> {
    let Some(q) = f.file.wait_queue() else { return Ok(()) };
    t.wait_until(&[q], None, || Ok((f.file.poll() & events != 0).then_some(())))
}

#[syscall]
pub fn read(t: &mut Task, fd: Fd, buf: OutBuf, count: usize) -> KResult<u64> {
    let f = file_of(t, fd.0)?;
    read_into(t, &f, buf.bytes(), count, None).map(|n| n as u64)
}

#[syscall]
pub fn write(t: &mut Task, fd: Fd, buf: InBuf<2>, count: usize) -> KResult<u64> {
    let f = file_of(t, fd.0)?;
    write_from(t, &f, buf.bytes(), count, None).map(|n| n as u64)
}

fn check_positional(f: &FileDescription) -> KResult<()> {
    if !f.file.seekable() {
        return Err(Errno::ESPIPE);
    }
    Ok(())
}

#[syscall]
pub fn pread64(t: &mut Task, fd: Fd, buf: OutBuf, count: usize, pos: Offset) -> KResult<u64> {
    let f = file_of(t, fd.0)?;
    check_positional(&f)?;
    read_into(t, &f, buf.bytes(), count, Some(pos.0)).map(|n| n as u64)
}

#[syscall]
pub fn pwrite64(t: &mut Task, fd: Fd, buf: InBuf<2>, count: usize, pos: Offset) -> KResult<u64> {
    let f = file_of(t, fd.0)?;
    check_positional(&f)?;
    write_from(t, &f, buf.bytes(), count, Some(pos.0)).map(|n| n as u64)
}

/// Read an iovec array for the calls not yet declared with [`Iovecs`].
pub(super) fn read_iovecs(t: &Task, addr: u64, cnt: u64, too_many: Errno) -> KResult<Vec<Iovec>> {
    Iovecs::<0>::new(addr).read(t, cnt, too_many)
}

fn rw_vec(t: &Task, fd: Fd, iov: Iovecs<2>, cnt: u64, write: bool, pos: Option<Offset>) -> KResult<u64> {
    let f = file_of(t, fd.0)?;
    if pos.is_some() {
        check_positional(&f)?;
    }
    let pos = pos.map(|p| p.0);
    let iov = iov.read(t, cnt, Errno::EINVAL)?;
    let mut total = 0u64;
    for io in iov {
        if io.iov_len == 0 {
            continue;
        }
        let p = pos.map(|p| p + total);
        let base = UserBytes::new(io.iov_base);
        let r = if write {
            write_from(t, &f, base, io.iov_len as usize, p)
        } else {
            read_into(t, &f, base, io.iov_len as usize, p)
        };
        match r {
            Ok(n) => {
                total += n as u64;
                if (n as u64) < io.iov_len {
                    break;
                }
            }
            Err(e) if total == 0 => return Err(e),
            Err(_) => break,
        }
    }
    Ok(total)
}

#[syscall]
pub fn readv(t: &mut Task, fd: Fd, iov: Iovecs<2>, iovcnt: u64) -> KResult<u64> {
    rw_vec(t, fd, iov, iovcnt, false, None)
}

#[syscall]
pub fn writev(t: &mut Task, fd: Fd, iov: Iovecs<2>, iovcnt: u64) -> KResult<u64> {
    rw_vec(t, fd, iov, iovcnt, true, None)
}

#[syscall]
pub fn preadv(t: &mut Task, fd: Fd, iov: Iovecs<2>, iovcnt: u64, pos: Offset) -> KResult<u64> {
    rw_vec(t, fd, iov, iovcnt, false, Some(pos))
}

#[syscall]
pub fn pwritev(t: &mut Task, fd: Fd, iov: Iovecs<2>, iovcnt: u64, pos: Offset) -> KResult<u64> {
    rw_vec(t, fd, iov, iovcnt, true, Some(pos))
}

/// Move the file offset of `fd`. Linux takes `unsigned int whence`, so a
/// negative one is as unknown as a large one (`EINVAL`); as before, a file
/// that cannot seek answers `ESPIPE` before the whence is looked at.
#[syscall]
pub fn lseek(t: &mut Task, fd: Fd, offset: i64, whence: Whence) -> KResult<u64> {
    let f = file_of(t, fd.0)?;
    let whence = u32::try_from(whence.0).unwrap_or(u32::MAX);
    if f.file.has_own_offset() {
        return f.file.seek(offset, whence);
    }
    if !f.file.seekable() {
        return Err(Errno::ESPIPE);
    }
    let mut g = f.offset();
    let size = || -> KResult<i64> { Ok(f.inode.as_ref().map(|i| i.attr()).transpose()?.map_or(0, |a| a.size as i64)) };
    let new = match whence {
        SEEK_SET => offset,
        SEEK_CUR => (*g as i64).checked_add(offset).ok_or(Errno::EOVERFLOW)?,
        SEEK_END => size()?.checked_add(offset).ok_or(Errno::EOVERFLOW)?,
        SEEK_DATA | SEEK_HOLE => super::copy::seek_data_hole(&f, offset, whence)?,
        _ => return Err(Errno::EINVAL),
    };
    let new = u64::try_from(new).map_err(|_| Errno::EINVAL)?;
    if is_dir(&f) && new == 0 {
        *crate::vfs::lock(&f.dir_entries) = None;
    }
    *g = new;
    Ok(new)
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
        let r = t.k.vfs.resolve_parent_with(&fs.root, &start, path, &creds, how)?;
        if r.name == b"." || r.name == b".." || r.trailing_slash {
            return Err(Errno::EISDIR);
        }
        match r.parent.dentry.child(&r.name) {
            Ok(_) => {
                if flags & O_EXCL != 0 {
                    return Err(Errno::EEXIST);
                }
                let follow = flags & O_NOFOLLOW == 0;
                let l = t.k.vfs.resolve_with(&fs.root, &r.parent, &r.name, follow, &creds, how)?;
                if l.inode().attr()?.is_symlink() {
                    return Err(Errno::ELOOP);
                }
                l
            }
            Err(Errno::ENOENT) => {
                let pattr = r.parent.inode().attr()?;
                may_access(&pattr, &creds, W_OK | X_OK)?;
                if r.parent.mount.readonly() {
                    return Err(Errno::EROFS);
                }
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
        let l = t.k.vfs.resolve_with(&fs.root, &start, path, follow, &creds, how)?;
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
        if flags & O_NOATIME != 0 && creds.fsuid != 0 && creds.fsuid != attr.uid {
            return Err(Errno::EPERM);
        }
        if wants_write && loc.mount.readonly() && (attr.is_regular() || attr.is_dir()) {
            return Err(Errno::EROFS);
        }
        if flags & O_TRUNC != 0 && attr.is_regular() && attr.size != 0 {
            loc.inode().set_attr(&SetAttr { size: Some(0), ..Default::default() })?;
        }
        loc.inode().open(flags)?
    };
    crate::fs::inotify::notify_open(&loc, flags, created);
    let inode = loc.inode().clone();
    let fd = FileDescription::new(file, Some(loc), Some(inode), flags);
    lock(&t.fds).insert_from(0, fd, flags & O_CLOEXEC != 0, fd_limit(t))
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

/// `v` as strace prints flags: the names of its bits joined by `|`, what
/// no name covers in hex, `0` for none.
pub(super) fn flag_names(v: u64, names: &[(u64, &str)]) -> String {
    let mut parts: Vec<String> = names.iter().filter(|(bit, _)| v & bit != 0).map(|(_, n)| n.to_string()).collect();
    let rest = names.iter().fold(v, |r, (bit, _)| r & !bit);
    if rest != 0 {
        parts.push(format!("{rest:#x}"));
    }
    if parts.is_empty() {
        return "0".into();
    }
    parts.join("|")
}

/// A new descriptor as a call's result (descriptors are never negative).
pub(super) fn fd_result(fd: i32) -> u64 {
    u64::from(fd.unsigned_abs())
}

/// Close `fd`; the process's POSIX locks on the file go with it.
#[syscall]
pub fn close(t: &mut Task, fd: Fd) -> KResult<u64> {
    let f = lock(&t.fds).remove(fd.0)?;
    super::lock::on_close(t.pid(), &f);
    drop(f);
    Ok(0)
}

/// A copy of `oldfd` at the lowest free descriptor, without `FD_CLOEXEC`.
#[syscall]
pub fn dup(t: &mut Task, oldfd: Fd) -> KResult<u64> {
    let mut fds = lock(&t.fds);
    let f = fds.get(oldfd.0)?;
    fds.insert(f, false).map(fd_result)
}

fn dup_to(t: &Task, old: i32, new: i32, cloexec: bool) -> KResult<u64> {
    if !(0..1 << 20).contains(&new) {
        return Err(Errno::EBADF);
    }
    let mut fds = lock(&t.fds);
    let f = fds.get(old)?;
    let prev = fds.insert_at(new, f, cloexec);
    drop(fds);
    drop(prev);
    Ok(fd_result(new))
}

/// A copy of `oldfd` at `newfd`, closing what was there; `oldfd` itself
/// when the two are equal (and valid).
#[syscall]
pub fn dup2(t: &mut Task, oldfd: Fd, newfd: Fd) -> KResult<u64> {
    if oldfd == newfd {
        file_of(t, oldfd.0)?;
        return Ok(fd_result(newfd.0));
    }
    dup_to(t, oldfd.0, newfd.0, false)
}

/// `dup2` with `O_CLOEXEC`; equal descriptors are `EINVAL`.
#[syscall]
pub fn dup3(t: &mut Task, oldfd: Fd, newfd: Fd, flags: PipeFlags) -> KResult<u64> {
    if flags.0 & !O_CLOEXEC != 0 || oldfd == newfd {
        return Err(Errno::EINVAL);
    }
    dup_to(t, oldfd.0, newfd.0, flags.0 & O_CLOEXEC != 0)
}

const F_GETOWN: u32 = 9;
const F_GETSIG: u32 = 11;
const F_GETLEASE: u32 = 1025;

/// The `fcntl` commands that take no argument (strace leaves it out).
const FCNTL_NO_ARG: [u32; 7] =
    [F_GETFD, F_GETFL, F_GETOWN, F_GETSIG, F_GETLEASE, F_GETPIPE_SZ, super::memfd::F_GET_SEALS];

/// `fcntl`'s third argument, whose meaning is the command's (argument 1):
/// printed as strace does, left out for the commands that take none.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FcntlArg(u64);

impl SysArg for FcntlArg {
    fn decode(_: &Task, raw: u64) -> KResult<Self> {
        Ok(FcntlArg(raw))
    }
    fn strace(c: &Call<'_>, i: usize) -> String {
        let (cmd, arg) = (c.raw[1] as u32, c.raw[i]);
        match cmd {
            _ if FCNTL_NO_ARG.contains(&cmd) => String::new(),
            F_SETFD if arg & u64::from(FD_CLOEXEC) != 0 => "FD_CLOEXEC".into(),
            F_SETFL => super::args::open_flags_str(arg as u32),
            _ if super::lock::is_lock_cmd(cmd) => <UserPtr<super::lock::Flock> as SysArg>::strace(c, i),
            F_DUPFD | F_DUPFD_CLOEXEC | F_SETFD | F_SETPIPE_SZ => <i32 as SysArg>::strace(c, i),
            _ => format!("{arg:#x}"),
        }
    }
}

/// Operate on descriptor `fd`: duplicate it, get or set its descriptor and
/// status flags, its record locks, seals and pipe size. `arg` is decoded
/// by command, as the C type the command takes.
#[syscall]
pub fn fcntl(t: &mut Task, fd: Fd, cmd: FcntlCmd, arg: FcntlArg) -> KResult<u64> {
    let fd = fd.0;
    // Linux takes `unsigned int cmd`: a negative one is simply unknown.
    let cmd = u32::try_from(cmd.0).unwrap_or(u32::MAX);
    match cmd {
        F_DUPFD | F_DUPFD_CLOEXEC => {
            let min = i32::decode(t, arg.0)?;
            let limit = fd_limit(t);
            if min < 0 || min >= limit {
                return Err(Errno::EINVAL);
            }
            let mut fds = lock(&t.fds);
            let f = fds.get(fd)?;
            fds.insert_from(min, f, cmd == F_DUPFD_CLOEXEC, limit).map(fd_result)
        }
        F_GETFD => Ok(u64::from(lock(&t.fds).cloexec(fd)?)),
        F_SETFD => lock(&t.fds).set_cloexec(fd, arg.0 & u64::from(FD_CLOEXEC) != 0).map(|_| 0),
        F_GETFL => Ok(u64::from(file_of(t, fd)?.flags())),
        F_SETFL => {
            let f = file_of(t, fd)?;
            f.set_status_flags(OpenFlags::decode(t, arg.0)?.0);
            f.file.set_status_flags(f.flags())?;
            Ok(0)
        }
        c if super::lock::is_lock_cmd(c) => super::lock::fcntl_lock(t, fd, c, UserPtr::new(arg.0)),
        c if super::memfd::is_seal_cmd(c) => super::memfd::fcntl_seals(t, fd, c, u32::decode(t, arg.0)?),
        // Pipes (fs/pipe.rs).
        F_GETPIPE_SZ | F_SETPIPE_SZ => crate::fs::pipe::fcntl(&*file_of(t, fd)?.file, cmd, arg.0),
        _ => {
            file_of(t, fd)?;
            Err(Errno::EINVAL)
        }
    }
}

/// `ioctl`'s third argument, whose meaning is the request's (argument 1):
/// the `int` the request points at shown as strace does (`[1]`), a window
/// size decoded, left out for the requests that take none.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IoctlArg(u64);

impl SysArg for IoctlArg {
    fn decode(_: &Task, raw: u64) -> KResult<Self> {
        Ok(IoctlArg(raw))
    }
    fn strace(c: &Call<'_>, i: usize) -> String {
        let arg = c.raw[i];
        let failed = matches!(c.result, Some(Err(_)));
        match c.raw[1] as u32 {
            FIOCLEX | FIONCLEX => String::new(),
            TIOCGWINSZ | TIOCSWINSZ => <UserPtr<Winsize> as SysArg>::strace(c, i),
            FIONBIO | FIONREAD | TIOCGPGRP | TIOCSPGRP | TIOCGSID if !failed => {
                match UserPtr::<i32>::new(arg).read(c.t) {
                    Ok(v) => format!("[{v}]"),
                    Err(_) => format!("{arg:#x}"),
                }
            }
            _ => format!("{arg:#x}"),
        }
    }
}

/// Device-specific requests on `fd`: the descriptor flags and non-blocking
/// mode here, the terminal's process group and session from the sandbox's
/// own job control, readable bytes of files that know them; the rest go to
/// the file, which decodes `arg` itself.
#[syscall]
pub fn ioctl(t: &mut Task, fd: Fd, request: IoctlReq, arg: IoctlArg) -> KResult<u64> {
    let (fd, req) = (fd.0, request.0);
    let f = file_of(t, fd)?;
    // Changing a terminal's settings from the background raises SIGTTOU.
    if matches!(req, TCSETS | TCSETSW | TCSETSF | TIOCSWINSZ | TIOCSPGRP) {
        super::tty::job_control(t, &f, SIGTTOU)?;
    }
    let int_ptr = UserPtr::<i32>::new(arg.0);
    match req {
        FIOCLEX => lock(&t.fds).set_cloexec(fd, true).map(|_| 0),
        FIONCLEX => lock(&t.fds).set_cloexec(fd, false).map(|_| 0),
        FIONBIO => {
            let on = int_ptr.read(t)?;
            let fl = f.flags();
            f.set_status_flags(if on != 0 { fl | O_NONBLOCK } else { fl & !O_NONBLOCK });
            f.file.set_status_flags(f.flags())?;
            Ok(0)
        }

        // The terminal's foreground process group and session are the
        // sandbox's own (the host's numbers mean nothing inside); the
        // terminal itself answers whether it is one (TCGETS).
        TIOCGPGRP | TIOCSPGRP | TIOCGSID => {
            let mut probe = abi::types::Termios::default();
            let scratch = ScratchMem(&mut probe);
            f.file.ioctl(TCGETS, 0, &scratch)?;
            match req {
                TIOCGPGRP => int_ptr.write(t, &t.k.tty_pgrp.load(Ordering::Relaxed))?,
                TIOCGSID => int_ptr.write(t, &t.k.tty_sid.load(Ordering::Relaxed))?,
                _ => {
                    let g = int_ptr.read(t)?;
                    if g < 0 {
                        return Err(Errno::EINVAL);
                    }
                    let exists = t.k.all_processes().iter().any(|p| p.pgid.load(Ordering::Relaxed) == g);
                    if !exists {
                        return Err(Errno::ESRCH);
                    }
                    t.k.tty_pgrp.store(g, Ordering::Relaxed);
                }
            }
            Ok(0)
        }
        FIONREAD => {
            let n = match f.file.readable_bytes() {
                Some(n) => n,
                None => {
                    let is_reg = f.inode.as_ref().and_then(|i| i.attr().ok()).is_some_and(|a| a.is_regular());
                    if is_reg {
                        let size = f.inode.as_ref().and_then(|i| i.attr().ok()).map_or(0, |a| a.size);
                        size.saturating_sub(*f.offset())
                    } else {
                        return f.file.ioctl(req, arg.0, &TaskMem(t));
                    }
                }
            };
            int_ptr.write(t, &i32::try_from(n).unwrap_or(i32::MAX))?;
            Ok(0)
        }
        _ => f.file.ioctl(req, arg.0, &TaskMem(t)),
    }
}

fn dtype_of_mode(mode: u32) -> u8 {
    match mode & S_IFMT {
        S_IFDIR => DT_DIR,
        S_IFREG => DT_REG,
        S_IFLNK => DT_LNK,
        S_IFCHR => DT_CHR,
        S_IFBLK => DT_BLK,
        S_IFIFO => DT_FIFO,
        S_IFSOCK => DT_SOCK,
        _ => DT_UNKNOWN,
    }
}

/// The buffer `getdents64` fills, printed as strace does: its address and
/// how many records the call stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Dirents(u64);

impl Dirents {
    pub fn bytes(self) -> UserBytes {
        UserBytes::new(self.0)
    }
}

impl SysArg for Dirents {
    fn decode(_: &Task, raw: u64) -> KResult<Self> {
        Ok(Dirents(raw))
    }
    fn strace(c: &Call<'_>, i: usize) -> String {
        let addr = c.raw[i];
        let Some(Ok(len)) = c.result else { return format!("{addr:#x}") };
        let Ok(buf) = usize::try_from(len).map_err(|_| Errno::EFAULT).and_then(|n| UserBytes::new(addr).read(c.t, n))
        else {
            return format!("{addr:#x}");
        };
        format!("{addr:#x} /* {} entries */", count_dirents(&buf))
    }
}

/// How many `linux_dirent64` records `buf` holds.
fn count_dirents(buf: &[u8]) -> usize {
    let mut n = 0;
    let mut at = 0;
    // `d_reclen` is the little-endian u16 after `d_ino` and `d_off`.
    while let Some(&[lo, hi]) = buf.get(at + 16..at + 18) {
        let reclen = usize::from(u16::from_le_bytes([lo, hi]));
        if reclen == 0 {
            break;
        }
        n += 1;
        at += reclen;
    }
    n
}

/// Read directory entries of `fd` into `dirp` as `struct linux_dirent64`
/// records, as many whole ones as fit in `count` bytes.
#[syscall]
pub fn getdents64(t: &mut Task, fd: Fd, dirp: Dirents, count: u32) -> KResult<u64> {
    let f = file_of(t, fd.0)?;
    let inode = f.inode.clone().ok_or(Errno::ENOTDIR)?;
    let attr = inode.attr()?;
    if !attr.is_dir() {
        return Err(Errno::ENOTDIR);
    }
    if f.flags() & O_PATH != 0 {
        return Err(Errno::EBADF);
    }
    let count = usize::try_from(count).map_err(|_| Errno::EINVAL)?;
    let mut entries = lock(&f.dir_entries);
    if entries.is_none() {
        let mut v = vec![
            crate::vfs::DirEntry { ino: attr.ino, kind: DT_DIR, name: b".".to_vec() },
            crate::vfs::DirEntry { ino: parent_ino(&f).unwrap_or(attr.ino), kind: DT_DIR, name: b"..".to_vec() },
        ];
        v.extend(inode.readdir()?);
        *entries = Some(v);
    }
    let list = entries.as_ref().map_or(&[][..], |v| &v[..]);
    let mut off = f.offset();
    let mut out = Vec::new();
    let mut idx = *off as usize;
    while idx < list.len() {
        let e = &list[idx];
        let reclen = (19 + e.name.len() + 1 + 7) & !7;
        if out.len() + reclen > count {
            break;
        }
        let head = Dirent64Head {
            d_ino: e.ino,
            d_off: (idx + 1) as i64,
            d_reclen: reclen as u16,
            d_type: if e.kind == DT_UNKNOWN { dtype_of_mode(0) } else { e.kind },
        };
        let start = out.len();
        out.extend_from_slice(head.as_bytes());
        out.extend_from_slice(&e.name);
        out.resize(start + reclen, 0);
        idx += 1;
    }
    if out.is_empty() && idx < list.len() {
        return Err(Errno::EINVAL);
    }
    dirp.bytes().write(t, &out)?;
    *off = idx as u64;
    Ok(out.len() as u64)
}

fn parent_ino(f: &FileDescription) -> Option<u64> {
    let loc = f.loc.as_ref()?;
    let p = &loc.dentry.parent()?;
    p.inode.attr().ok().map(|a| a.ino)
}

/// Flush `fd`'s file to its storage (`fdatasync` too: the file systems
/// here keep no metadata apart from data).
#[syscall]
pub fn fsync(t: &mut Task, fd: Fd) -> KResult<u64> {
    file_of(t, fd.0)?.file.fsync().map(|_| 0)
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

#[cfg(test)]
mod tests {
    use super::*;

    const NAMES: [(u64, &str); 2] = [(1, "A"), (4, "C")];

    #[test]
    fn flag_names_joins_the_named_bits_and_shows_the_rest_in_hex() {
        assert_eq!(flag_names(5 | 0x10, &NAMES), "A|C|0x10");
    }

    #[test]
    fn flag_names_of_no_bits_is_zero() {
        assert_eq!(flag_names(0, &NAMES), "0");
    }

    #[test]
    fn count_dirents_follows_the_record_lengths() {
        let mut buf = vec![0u8; 24 + 32];
        buf[16..18].copy_from_slice(&24u16.to_le_bytes());
        buf[24 + 16..24 + 18].copy_from_slice(&32u16.to_le_bytes());
        assert_eq!(count_dirents(&buf), 2);
    }

    #[test]
    fn count_dirents_stops_at_a_zero_record_length() {
        assert_eq!(count_dirents(&[0u8; 64]), 0);
    }
}
