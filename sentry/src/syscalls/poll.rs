//! poll, ppoll, select, pselect6.

use abi::types::SigmaskArg;
use std::sync::Arc;
use std::time::{Duration, Instant};

use abi::flags::PollEvents;
use abi::types::{Pollfd, Timespec, Timeval};
use abi::Errno;
use nix::poll::{poll as host_poll, PollFd, PollFlags, PollTimeout};
use sentry_macros::syscall;
use zerocopy::AsBytes;

use super::args::{array_str, bits_str, flag_str, Call, SysArg, UserPtr, UserType};
use super::signal::SigSet;
use super::time::duration_of;
use crate::kernel::Task;
use crate::vfs::Caller;
use crate::vfs::{FileDescription, KResult};

/// The `pollfd` array of `poll`/`ppoll`, whose length is argument `CNT`,
/// printed as strace does: `[{fd=3, events=POLLIN}]`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PollFds<const CNT: usize>(pub u64);

impl<const CNT: usize> SysArg for PollFds<CNT> {
    fn decode(_: &Task, raw: u64) -> KResult<Self> {
        Ok(PollFds(raw))
    }
    fn strace(c: &Call<'_>, i: usize) -> String {
        let addr = c.raw[i];
        array_str(c, addr, c.raw[CNT], |p: &Pollfd| {
            format!("{{fd={}, events={}}}", p.fd, flag_str::<PollEvents>(p.events as u16, "0"))
        })
        .unwrap_or_else(|| format!("{addr:#x}"))
    }
}

fn fd_set_str(c: &Call<'_>, i: usize) -> String {
    let (addr, nfds) = (c.raw[i], (c.raw[0] as u32).min(1 << 20));
    if addr == 0 {
        return "NULL".into();
    }
    // An fd_set is whole 64-bit words, little-endian: bit n of byte n / 8.
    match c.t.read_vec(addr, (nfds as usize).div_ceil(64) * 8) {
        Ok(bytes) => bits_str(&bytes, nfds as usize),
        Err(_) => format!("{addr:#x}"),
    }
}

super::args::call_arg!(/// An `fd_set` of `select`/`pselect6` for the `nfds` in argument 0,
    /// printed as strace does: `[3 5]`, `NULL`.
    FdSet(u64), fd_set_str);

impl UserType for SigmaskArg {
    fn strace(&self) -> Option<String> {
        let ss = if self.ss == 0 { "NULL".to_string() } else { format!("{:#x}", self.ss) };
        Some(format!("{{sigmask={ss}, sigsetsize={}}}", self.ss_len))
    }
}

const POLLIN: i16 = libc::POLLIN;
const POLLOUT: i16 = libc::POLLOUT;
const POLLERR: i16 = libc::POLLERR;
const POLLHUP: i16 = libc::POLLHUP;
const POLLNVAL: i16 = libc::POLLNVAL;

/// Readiness of `files` for `events`, waiting until something is ready or
/// `deadline`. Returns the `revents` of each.
fn wait_ready(
    t: &Task,
    files: &[Option<Arc<FileDescription>>],
    events: &[i16],
    deadline: Option<Instant>,
) -> KResult<Vec<i16>> {
    loop {
        for f in files.iter().flatten() {
            if let Some(q) = f.file.wait_queue() {
                q.add(&t.waiter);
            }
        }
        let mut host: Vec<(i32, i16)> = Vec::new();
        let mut host_pfds = Vec::new();
        let mut host_idx = Vec::new();
        let mut rev = vec![0i16; files.len()];
        for (i, f) in files.iter().enumerate() {
            let Some(f) = f else { continue };
            let ev = events[i] | POLLERR | POLLHUP;
            if let Some(fd) = f.file.host_fd() {
                host.push((std::os::fd::AsRawFd::as_raw_fd(&fd), events[i]));
                host_pfds.push(PollFd::new(fd, PollFlags::from_bits_retain(events[i])));
                host_idx.push(i);
            } else {
                rev[i] = (f.file.poll(Caller::of(t)) as i16) & ev;
            }
        }
        if !host_pfds.is_empty() && host_poll(&mut host_pfds, PollTimeout::ZERO).is_ok() {
            for (k, p) in host_pfds.iter().enumerate() {
                rev[host_idx[k]] = p.revents().map_or(0, |r| r.bits());
            }
        }
        drop(host_pfds);
        if rev.iter().any(|r| *r != 0) || deadline.is_some_and(|d| Instant::now() >= d) {
            return Ok(rev);
        }
        // Interrupted by a signal: EINTR once a handler runs, else restart.
        if t.signal_pending() {
            return Err(Errno::ERESTARTNOHAND);
        }
        t.waiter.wait(&host, deadline);
    }
}

fn deadline_from_ts(t: &Task, timeout: UserPtr<Timespec>) -> KResult<Option<Instant>> {
    match timeout.read_opt(t)? {
        None => Ok(None),
        Some(ts) => Ok(Some(Instant::now() + duration_of(&ts)?)),
    }
}

fn do_poll<const CNT: usize>(t: &Task, fds: PollFds<CNT>, nfds: u64, deadline: Option<Instant>) -> KResult<u64> {
    let addr = fds.0;
    if nfds > 1 << 20 {
        return Err(Errno::EINVAL);
    }
    let mut pfds = vec![Pollfd::default(); nfds as usize];
    t.read_bytes(addr, pfds.as_bytes_mut())?;
    let fds = t.fds.lock().clone();
    let files: Vec<Option<Arc<FileDescription>>> =
        pfds.iter().map(|p| if p.fd < 0 { None } else { fds.get(p.fd).ok() }).collect();
    drop(fds);
    let events: Vec<i16> = pfds.iter().map(|p| p.events).collect();
    let rev = wait_ready(t, &files, &events, deadline)?;
    let mut n = 0;
    for (i, p) in pfds.iter_mut().enumerate() {
        p.revents = if p.fd < 0 {
            0
        } else if files[i].is_none() {
            POLLNVAL
        } else {
            rev[i]
        };
        if p.revents != 0 {
            n += 1;
        }
    }
    t.write_bytes(addr, pfds.as_bytes())?;
    Ok(n)
}

/// Wait up to `timeout` milliseconds (forever when negative) for one of
/// the descriptors to be ready.
#[syscall]
pub fn poll(t: &mut Task, fds: PollFds<1>, nfds: u64, timeout: i32) -> KResult<u64> {
    let deadline = if timeout < 0 { None } else { Some(Instant::now() + Duration::from_millis(timeout as u64)) };
    do_poll(t, fds, nfds, deadline)
}

/// Run `f` with the signal mask at `mask_addr` (when non-null) in force,
/// as ppoll and pselect do: interrupted, the old mask comes back after the
/// handler (through the signal frame); otherwise at once.
fn with_mask(t: &mut Task, mask: UserPtr<SigSet>, size: u64, f: impl FnOnce(&Task) -> KResult<u64>) -> KResult<u64> {
    if mask.is_null() {
        return f(t);
    }
    if size != 8 {
        return Err(Errno::EINVAL);
    }
    let new = mask.read(t)?.0;
    let old = t.sigmask();
    t.set_sigmask(new);
    let r = f(t);
    match r {
        Err(Errno::ERESTARTNOHAND | Errno::ERESTARTSYS | Errno::EINTR) => t.saved_mask = Some(old),
        _ => t.set_sigmask(old),
    }
    r
}

/// `poll` with a `timespec` timeout and the signal mask replaced while it
/// waits.
#[syscall]
pub fn ppoll(
    t: &mut Task,
    fds: PollFds<1>,
    nfds: u64,
    tmo_p: UserPtr<Timespec>,
    sigmask: UserPtr<SigSet>,
    sigsetsize: u64,
) -> KResult<u64> {
    let deadline = deadline_from_ts(t, tmo_p)?;
    with_mask(t, sigmask, sigsetsize, |t| do_poll(t, fds, nfds, deadline))
}

fn do_select(t: &Task, nfds: i32, sets: [FdSet; 3], deadline: Option<Instant>) -> KResult<u64> {
    let sets = sets.map(|s| s.0);
    if !(0..=1 << 20).contains(&nfds) {
        return Err(Errno::EINVAL);
    }
    let words = (nfds as usize).div_ceil(64);
    let mut bits: [Vec<u64>; 3] = [vec![0; words], vec![0; words], vec![0; words]];
    for k in 0..3 {
        if sets[k] != 0 {
            t.read_bytes(sets[k], bits[k].as_bytes_mut())?;
        }
    }
    let fdt = t.fds.lock().clone();
    let mut files = Vec::new();
    let mut events = Vec::new();
    let mut which = Vec::new();
    for fd in 0..nfds {
        let (w, b) = ((fd / 64) as usize, fd % 64);
        let r = bits[0][w] >> b & 1 != 0;
        let wr = bits[1][w] >> b & 1 != 0;
        let ex = bits[2][w] >> b & 1 != 0;
        if !(r || wr || ex) {
            continue;
        }
        let f = fdt.get(fd).map_err(|_| Errno::EBADF)?;
        let mut ev = 0;
        if r {
            ev |= POLLIN;
        }
        if wr {
            ev |= POLLOUT;
        }
        if ex {
            ev |= libc::POLLPRI;
        }
        files.push(Some(f));
        events.push(ev);
        which.push((fd, r, wr, ex));
    }
    drop(fdt);
    let rev = wait_ready(t, &files, &events, deadline)?;
    let mut out: [Vec<u64>; 3] = [vec![0; words], vec![0; words], vec![0; words]];
    let mut n = 0;
    for (i, &(fd, r, wr, ex)) in which.iter().enumerate() {
        let (w, b) = ((fd / 64) as usize, fd % 64);
        let re = rev[i];
        if r && re & (POLLIN | POLLHUP | POLLERR) != 0 {
            out[0][w] |= 1 << b;
            n += 1;
        }
        if wr && re & (POLLOUT | POLLERR) != 0 {
            out[1][w] |= 1 << b;
            n += 1;
        }
        if ex && re & libc::POLLPRI != 0 {
            out[2][w] |= 1 << b;
            n += 1;
        }
    }
    for k in 0..3 {
        if sets[k] != 0 {
            t.write_bytes(sets[k], out[k].as_bytes())?;
        }
    }
    Ok(n)
}

/// Wait up to `timeout` for a descriptor of the three sets to be ready for
/// reading, writing, or with an exceptional condition.
#[syscall]
pub fn select(
    t: &mut Task,
    nfds: i32,
    readfds: FdSet,
    writefds: FdSet,
    exceptfds: FdSet,
    timeout: UserPtr<Timeval>,
) -> KResult<u64> {
    let deadline = match timeout.read_opt(t)? {
        None => None,
        Some(tv) => {
            if tv.tv_sec < 0 || !(0..1_000_000).contains(&tv.tv_usec) {
                return Err(Errno::EINVAL);
            }
            Some(Instant::now() + Duration::new(tv.tv_sec as u64, (tv.tv_usec * 1000) as u32))
        }
    };
    do_select(t, nfds, [readfds, writefds, exceptfds], deadline)
}

/// `select` with a `timespec` timeout and the signal mask replaced while
/// it waits.
#[syscall]
pub fn pselect6(
    t: &mut Task,
    nfds: i32,
    readfds: FdSet,
    writefds: FdSet,
    exceptfds: FdSet,
    timeout: UserPtr<Timespec>,
    sigmask: UserPtr<SigmaskArg>,
) -> KResult<u64> {
    let deadline = deadline_from_ts(t, timeout)?;
    let m = sigmask.read_opt(t)?.unwrap_or_default();
    with_mask(t, UserPtr::new(m.ss), m.ss_len, |t| do_select(t, nfds, [readfds, writefds, exceptfds], deadline))
}
