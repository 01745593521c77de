//! splice, tee, vmsplice: moving data through pipes without a user buffer
//! (here the sentry copies, which keeps the semantics: what moved, how much,
//! and when a call blocks).

use abi::consts::*;
use abi::consts::{SPLICE_F_GIFT, SPLICE_F_MORE, SPLICE_F_MOVE, SPLICE_F_NONBLOCK};
use abi::Errno;

use sentry_macros::syscall;

use super::args::{Fd, Iovecs, SpliceFlags, UserBytes, UserPtr};
use super::copy::{read_off, wait_writable, write_off, write_out, Loff};
use super::file_of;
use crate::fs::pipe::{pipe_of, Pipe};
use crate::kernel::Task;
use crate::vfs::Caller;
use crate::vfs::{FileDescription, KResult};

/// Largest chunk moved per call (a pipe's default capacity).
const CHUNK: usize = 64 * 1024;

/// Wait until the pipe has data or no writers, then peek up to `max`.
fn peek_wait(t: &Task, pipe: &Pipe, max: usize, nonblock: bool) -> KResult<Vec<u8>> {
    if let Some(v) = pipe.peek(max) {
        return Ok(v);
    }
    if nonblock {
        return Err(Errno::EAGAIN);
    }
    t.wait_until(&[pipe.wait_queue()], None, || Ok(pipe.peek(max)))
}

fn check_flags(flags: u32) -> KResult<()> {
    if flags & !(SPLICE_F_MOVE | SPLICE_F_NONBLOCK | SPLICE_F_MORE | SPLICE_F_GIFT) != 0 {
        return Err(Errno::EINVAL);
    }
    Ok(())
}

/// Read up to `len` bytes from a non-pipe input at `off` (or its offset).
fn read_in(cx: Caller<'_>, inf: &FileDescription, off: Option<u64>, len: usize) -> KResult<Vec<u8>> {
    let mut buf = vec![0u8; len];
    let n = match off {
        Some(o) => inf.file.read(cx, &mut buf, o)?,
        None if inf.file.has_own_offset() => inf.file.read(cx, &mut buf, crate::vfs::CURRENT_POS)?,
        None if inf.file.seekable() => {
            let o = *inf.offset();
            inf.file.read(cx, &mut buf, o)?
        }
        None => inf.file.read(cx, &mut buf, 0)?,
    };
    buf.truncate(n);
    Ok(buf)
}

/// Move up to `len` bytes from `fd_in` to `fd_out`, one of which is a
/// pipe, at the offset the other's `off_*` points at (updated) or its own.
#[syscall]
pub fn splice(
    t: &mut Task,
    fd_in: Fd,
    off_in: UserPtr<Loff>,
    fd_out: Fd,
    off_out: UserPtr<Loff>,
    len: usize,
    flags: SpliceFlags,
) -> KResult<u64> {
    let inf = file_of(t, fd_in.0)?;
    let out = file_of(t, fd_out.0)?;
    let len = len.min(CHUNK);
    let flags = flags.0;
    check_flags(flags)?;
    if !inf.readable() || !out.writable() {
        return Err(Errno::EBADF);
    }
    let in_pipe = pipe_of(&*inf.file).cloned();
    let out_pipe = pipe_of(&*out.file).cloned();
    if in_pipe.is_none() && out_pipe.is_none() {
        return Err(Errno::EINVAL);
    }
    if (in_pipe.is_some() && !off_in.is_null()) || (out_pipe.is_some() && !off_out.is_null()) {
        return Err(Errno::ESPIPE);
    }
    if out_pipe.is_none() && out.flags() & O_APPEND != 0 {
        return Err(Errno::EINVAL);
    }
    if len == 0 {
        return Ok(0);
    }
    let nonblock = flags & SPLICE_F_NONBLOCK != 0;
    let in_off = read_off(t, off_in)?;
    let out_off = read_off(t, off_out)?;
    let data = match &in_pipe {
        Some(p) => peek_wait(t, p, len, nonblock || inf.flags() & O_NONBLOCK != 0)?,
        None => read_in(Caller::of(t), &inf, in_off, len)?,
    };
    if data.is_empty() {
        return Ok(0);
    }
    let n = write_out(t, &out, &data, out_off)?;
    match &in_pipe {
        Some(p) => p.consume(n),
        None => match in_off {
            Some(o) => write_off(t, off_in, o + n as u64)?,
            None if inf.file.seekable() && !inf.file.has_own_offset() => *inf.offset() += n as u64,
            None => {}
        },
    }
    if let Some(o) = out_off {
        write_off(t, off_out, o + n as u64)?;
    }
    Ok(n as u64)
}

/// Copy up to `len` bytes from pipe `fd_in` to pipe `fd_out` without
/// consuming them.
#[syscall]
pub fn tee(t: &mut Task, fd_in: Fd, fd_out: Fd, len: usize, flags: SpliceFlags) -> KResult<u64> {
    let inf = file_of(t, fd_in.0)?;
    let out = file_of(t, fd_out.0)?;
    let len = len.min(CHUNK);
    let flags = flags.0;
    check_flags(flags)?;
    let (Some(ip), Some(op)) = (pipe_of(&*inf.file).cloned(), pipe_of(&*out.file).cloned()) else {
        return Err(Errno::EINVAL);
    };
    if std::sync::Arc::ptr_eq(&ip, &op) {
        return Err(Errno::EINVAL);
    }
    if !inf.readable() || !out.writable() {
        return Err(Errno::EBADF);
    }
    if len == 0 {
        return Ok(0);
    }
    let nonblock = flags & SPLICE_F_NONBLOCK != 0;
    let data = peek_wait(t, &ip, len, nonblock || inf.flags() & O_NONBLOCK != 0)?;
    if data.is_empty() {
        return Ok(0);
    }
    // tee duplicates what fits now; it waits only when nothing fits.
    let n = write_out(t, &out, &data, None)?;
    Ok(n as u64)
}

/// Move the bytes of `iov` into pipe `fd` (its write end) or out of it
/// (its read end).
#[syscall]
pub fn vmsplice(t: &mut Task, fd: Fd, iov: Iovecs<2>, nr_segs: u64, flags: SpliceFlags) -> KResult<u64> {
    let f = file_of(t, fd.0)?;
    let flags = flags.0;
    check_flags(flags)?;
    let pipe = pipe_of(&*f.file).cloned().ok_or(Errno::EBADF)?;
    let iov = iov.read(t, nr_segs, Errno::EINVAL)?;
    let nonblock = flags & SPLICE_F_NONBLOCK != 0 || f.flags() & O_NONBLOCK != 0;
    let mut total = 0u64;
    if f.writable() {
        // As Linux's vmsplice_to_pipe: wait for room once, then move what
        // fits now, up to the first unreadable byte; each piece the
        // sentry holds is at most a pipe's worth (the lengths are the
        // application's: up to MAX_RW_COUNT).
        for io in iov {
            let mut done = 0u64;
            while done < io.iov_len {
                let want = (io.iov_len - done).min(CHUNK as u64) as usize;
                let data = match UserBytes::new(io.iov_base).offset(done as usize).and_then(|b| b.read_prefix(t, want))
                {
                    Ok(d) => d,
                    Err(e) if total == 0 => return Err(e),
                    Err(_) => return Ok(total),
                };
                let n = loop {
                    match f.file.write(Caller::of(t), &data, 0) {
                        Err(Errno::EAGAIN) if !nonblock && total == 0 => wait_writable(t, &f)?,
                        Err(Errno::EPIPE) if total == 0 => {
                            t.send_sigpipe();
                            return Err(Errno::EPIPE);
                        }
                        Err(e) if total == 0 => return Err(e),
                        Err(_) => return Ok(total),
                        Ok(n) => break n,
                    }
                };
                total += n as u64;
                done += n as u64;
                if n < want {
                    return Ok(total);
                }
            }
        }
    } else if f.readable() {
        for io in iov {
            if io.iov_len == 0 {
                continue;
            }
            let data = match peek_wait(t, &pipe, io.iov_len as usize, nonblock) {
                Ok(d) => d,
                Err(e) if total == 0 => return Err(e),
                Err(_) => break,
            };
            if data.is_empty() {
                break;
            }
            UserBytes::new(io.iov_base).write(t, &data)?;
            pipe.consume(data.len());
            total += data.len() as u64;
            if (data.len() as u64) < io.iov_len {
                break;
            }
        }
    } else {
        return Err(Errno::EBADF);
    }
    Ok(total)
}
