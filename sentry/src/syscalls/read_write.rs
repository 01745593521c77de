//! read, write, pread64, pwrite64, readv, writev, preadv, pwritev, lseek,
//! as Linux's fs/read_write.c.

use std::sync::Arc;

use abi::consts::*;
use abi::types::Iovec;
use abi::Errno;

use sentry_macros::syscall;

use super::args::{access_ok, Fd, InBuf, Iovecs, Offset, OutBuf, UserBytes, Whence, MAX_RW_COUNT};
use super::file_of;
use crate::kernel::Task;
use crate::vfs::Caller;
use crate::vfs::{FileDescription, KResult, CURRENT_POS};

/// Largest chunk the sentry buffers at once.
const CHUNK: usize = 1 << 20;

fn is_dir(f: &FileDescription) -> bool {
    f.inode.as_ref().and_then(|i| i.attr().ok()).is_some_and(|a| a.is_dir())
}

/// Read up to `len` bytes into application memory at `buf`, at `pos` (or
/// the file offset).
fn read_into(t: &Task, f: &FileDescription, buf: UserBytes, len: usize, pos: Option<u64>) -> KResult<usize> {
    if !f.readable() {
        return Err(Errno::EBADF);
    }
    // vfs_read: the whole requested range must be user addresses, before
    // the length is cut at MAX_RW_COUNT.
    if !access_ok(buf.addr(), len as u64) {
        return Err(Errno::EFAULT);
    }
    let len = len.min(MAX_RW_COUNT);
    if len == 0 {
        // The file still decides: a directory's file answers EISDIR.
        return f.file.read(Caller::of(t), &mut [], pos.unwrap_or(0)).map(|_| 0);
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
    super::tty::job_control(t, f, SIGTTIN)?;
    // A donated host stream (a pipe or terminal) is read once it is
    // readable, so that signals can interrupt the wait.
    if let Some(hfd) = f.file.host_fd() {
        if f.flags() & O_NONBLOCK == 0 {
            t.wait_host(std::os::fd::AsRawFd::as_raw_fd(&hfd), libc::POLLIN)?;
        }
    }
    let shared = if off != CURRENT_POS { shared_object(t, f) } else { None };
    let mut done = 0;
    while done < len {
        let want = (len - done).min(tmp.len());
        let n = match f.file.read(Caller::of(t), &mut tmp[..want], off) {
            Ok(n) => n,
            Err(Errno::EAGAIN) if done == 0 && f.flags() & O_NONBLOCK == 0 && f.file.wait_queue().is_some() => {
                wait_ready(t, f, (libc::POLLIN | libc::POLLHUP | libc::POLLERR) as u32)?;
                continue;
            }
            // A host socket (`--network host`) read by another first.
            Err(Errno::EAGAIN) if done == 0 && f.flags() & O_NONBLOCK == 0 && f.file.host_fd().is_some() => {
                wait_host_ready(t, f, libc::POLLIN)?;
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
        // Up to the first unwritable byte, as copy_to_user stops there.
        let n = match buf.offset(done).and_then(|b| b.write_prefix(t, &tmp[..n])) {
            Ok(w) if w < n => {
                done += w;
                if off != CURRENT_POS {
                    off += w as u64;
                }
                break;
            }
            Ok(w) => w,
            Err(e) if done == 0 => return Err(e),
            Err(_) => break,
        };
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
    if !access_ok(buf.addr(), len as u64) {
        return Err(Errno::EFAULT);
    }
    let len = len.min(MAX_RW_COUNT);
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
        let data = match buf.offset(done).and_then(|b| b.read_prefix(t, want)) {
            Ok(d) => d,
            Err(e) if done == 0 => return Err(e),
            Err(_) => break,
        };
        let n = match f.file.write(Caller::of(t), &data, off).inspect(|&n| {
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
            Err(Errno::EAGAIN) if f.flags() & O_NONBLOCK == 0 && f.file.host_fd().is_some() => {
                match wait_host_ready(t, f, libc::POLLOUT) {
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

/// Block until `f`'s host descriptor is ready for `events`, or a signal
/// interrupts.
fn wait_host_ready(t: &Task, f: &FileDescription, events: i16) -> KResult<()> {
    match f.file.host_fd() {
        Some(fd) => t.wait_host(std::os::fd::AsRawFd::as_raw_fd(&fd), events),
        None => Ok(()),
    }
}

/// Block until `f` is ready for one of `events` (its wait queue announces
/// changes), or a signal interrupts.
fn wait_ready(t: &Task, f: &FileDescription, events: u32) -> KResult<()> {
    let Some(q) = f.file.wait_queue() else { return Ok(()) };
    t.wait_until(&[q], None, || Ok((f.file.poll(Caller::of(t)) & events != 0).then_some(())))
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
        *f.dir_entries.lock() = None;
    }
    *g = new;
    Ok(new)
}
