//! copy_file_range, sendfile, and SEEK_DATA/SEEK_HOLE, as Linux's
//! fs/read_write.c.

use std::sync::Arc;

use abi::consts::*;
use abi::Errno;
use sentry_macros::syscall;
use zerocopy::{AsBytes, FromBytes, FromZeroes};

use super::args::{Fd, UserPtr, UserType};
use super::file_of;
use crate::kernel::Task;
use crate::vfs::Caller;
use crate::vfs::{FileDescription, KResult};

/// A `loff_t` the call reads and updates (`copy_file_range`, `sendfile`,
/// `splice`), printed as strace does: `[offset]`.
#[derive(Clone, Copy, Debug, Default, AsBytes, FromBytes, FromZeroes)]
#[repr(transparent)]
pub struct Loff(pub i64);

impl UserType for Loff {
    fn strace(&self) -> Option<String> {
        Some(format!("[{}]", self.0))
    }
}

/// The offset at `p`, or `None` for `NULL`; a negative one is `EINVAL`.
pub(super) fn read_off(t: &Task, p: UserPtr<Loff>) -> KResult<Option<u64>> {
    match p.read_opt(t)? {
        Some(Loff(v)) => u64::try_from(v).map(Some).map_err(|_| Errno::EINVAL),
        None => Ok(None),
    }
}

/// Store the offset `v` (never past `i64::MAX`: the calls check the end of
/// the range first) at `p`.
pub(super) fn write_off(t: &Task, p: UserPtr<Loff>, v: u64) -> KResult<()> {
    p.write(t, &Loff(i64::try_from(v).map_err(|_| Errno::EOVERFLOW)?))
}

/// Largest chunk copied at once by `sendfile` and `copy_file_range`.
const CHUNK: usize = 1 << 16;

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

/// Block until `f` can take more data, or a signal interrupts.
pub(super) fn wait_writable(t: &Task, f: &FileDescription) -> KResult<()> {
    let Some(q) = f.file.wait_queue() else { return Ok(()) };
    let ev = (libc::POLLOUT | libc::POLLERR | libc::POLLHUP) as u32;
    t.wait_until(&[q], None, || Ok((f.file.poll(Caller::of(t)) & ev != 0).then_some(())))
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
        match out.file.write(Caller::of(t), &data[done..], off) {
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
        let n = match inf.file.read(Caller::of(t), &mut buf[..want], *in_off) {
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

/// Copy up to `len` bytes between two regular files, at the offsets
/// `off_in`/`off_out` point at (updated) or the files' own (moved). The
/// descriptors are checked first, then `flags` (which must be 0), as in
/// Linux.
#[syscall]
pub fn copy_file_range(
    t: &mut Task,
    fd_in: Fd,
    off_in: UserPtr<Loff>,
    fd_out: Fd,
    off_out: UserPtr<Loff>,
    len: usize,
    flags: u32,
) -> KResult<u64> {
    let inf = file_of(t, fd_in.0)?;
    let out = file_of(t, fd_out.0)?;
    let len = len.min(0x7fff_f000);
    if flags != 0 {
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
    let in_own = off_in.is_null() && inf.file.has_own_offset();
    let out_own = off_out.is_null() && out.file.has_own_offset();
    let mut in_off = match read_off(t, off_in)? {
        Some(p) => p,
        None if in_own => crate::vfs::CURRENT_POS,
        None => *inf.offset(),
    };
    let mut out_off = match read_off(t, off_out)? {
        Some(p) => p,
        None => *out.offset(),
    };
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
    if !off_in.is_null() {
        write_off(t, off_in, in_off)?;
    } else if !in_own {
        *inf.offset() = in_off;
    }
    if !off_out.is_null() {
        write_off(t, off_out, out_off)?;
    } else if !out_own {
        *out.offset() = out_off;
    }
    Ok(n as u64)
}

/// Copy up to `count` bytes from `in_fd` to `out_fd`, from the offset
/// `offset` points at (updated; the file's own stays) or from the file's
/// own offset (moved).
#[syscall]
pub fn sendfile(t: &mut Task, out_fd: Fd, in_fd: Fd, offset: UserPtr<Loff>, count: usize) -> KResult<u64> {
    let out = file_of(t, out_fd.0)?;
    let inf = file_of(t, in_fd.0)?;
    let count = count.min(0x7fff_f000);
    if !inf.readable() || !out.writable() {
        return Err(Errno::EBADF);
    }
    if out.flags() & O_APPEND != 0 {
        return Err(Errno::EINVAL);
    }
    if inf.inode.as_ref().and_then(|i| i.attr().ok()).is_some_and(|at| at.is_dir()) {
        return Err(Errno::EISDIR);
    }
    if let Some(mut off) = read_off(t, offset)? {
        let n = copy_between(t, &inf, &mut off, &out, None, count)?;
        write_off(t, offset, off)?;
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
