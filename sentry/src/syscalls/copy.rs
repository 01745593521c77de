//! copy_file_range, sendfile, and SEEK_DATA/SEEK_HOLE, as Linux's
//! fs/read_write.c.

use std::sync::Arc;

use abi::consts::*;
use abi::Errno;

use super::{fd_arg, file_of};
use crate::kernel::Task;
use crate::vfs::{FileDescription, KResult};

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
