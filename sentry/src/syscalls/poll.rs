//! poll, ppoll, select, pselect6.

use std::sync::Arc;
use std::time::{Duration, Instant};

use abi::types::{Timespec, Timeval};
use abi::Errno;
use zerocopy::{AsBytes, FromBytes, FromZeroes};

use super::int_arg;
use crate::kernel::Task;
use crate::vfs::{lock, FileDescription, KResult};

#[derive(Clone, Copy, Default, AsBytes, FromBytes, FromZeroes)]
#[repr(C)]
struct PollFd {
    fd: i32,
    events: i16,
    revents: i16,
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
        let mut host_idx = Vec::new();
        let mut rev = vec![0i16; files.len()];
        for (i, f) in files.iter().enumerate() {
            let Some(f) = f else { continue };
            let ev = events[i] | POLLERR | POLLHUP;
            if let Some(fd) = f.file.host_fd() {
                host.push((fd, events[i]));
                host_idx.push(i);
            } else {
                rev[i] = (f.file.poll() as i16) & ev;
            }
        }
        if !host.is_empty() {
            let mut pfds: Vec<libc::pollfd> =
                host.iter().map(|&(fd, events)| libc::pollfd { fd, events, revents: 0 }).collect();
            // SAFETY: a valid pollfd array of the given length; timeout 0.
            #[allow(unsafe_code)]
            unsafe {
                libc::poll(pfds.as_mut_ptr(), pfds.len() as libc::nfds_t, 0);
            }
            for (k, p) in pfds.iter().enumerate() {
                rev[host_idx[k]] = p.revents;
            }
        }
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

fn deadline_from_ts(t: &Task, addr: u64) -> KResult<Option<Instant>> {
    if addr == 0 {
        return Ok(None);
    }
    let ts: Timespec = t.read_val(addr)?;
    if ts.tv_sec < 0 || !(0..1_000_000_000).contains(&ts.tv_nsec) {
        return Err(Errno::EINVAL);
    }
    Ok(Some(Instant::now() + Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)))
}

fn do_poll(t: &Task, addr: u64, nfds: u64, deadline: Option<Instant>) -> KResult<u64> {
    if nfds > 1 << 20 {
        return Err(Errno::EINVAL);
    }
    let mut pfds = vec![PollFd::default(); nfds as usize];
    t.read_bytes(addr, pfds.as_bytes_mut())?;
    let fds = lock(&t.fds).clone();
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

pub fn poll(t: &mut Task, a: &[u64; 6]) -> KResult<u64> {
    let ms = int_arg(a[2]);
    let deadline = if ms < 0 { None } else { Some(Instant::now() + Duration::from_millis(ms as u64)) };
    do_poll(t, a[0], a[1], deadline)
}

/// Run `f` with the signal mask at `mask_addr` (when non-null) in force,
/// as ppoll and pselect do: interrupted, the old mask comes back after the
/// handler (through the signal frame); otherwise at once.
fn with_mask(t: &mut Task, mask_addr: u64, size: u64, f: impl FnOnce(&Task) -> KResult<u64>) -> KResult<u64> {
    if mask_addr == 0 {
        return f(t);
    }
    if size != 8 {
        return Err(Errno::EINVAL);
    }
    let new: u64 = t.read_val(mask_addr)?;
    let old = t.sigmask();
    t.set_sigmask(new);
    let r = f(t);
    match r {
        Err(Errno::ERESTARTNOHAND | Errno::ERESTARTSYS | Errno::EINTR) => t.saved_mask = Some(old),
        _ => t.set_sigmask(old),
    }
    r
}

pub fn ppoll(t: &mut Task, a: &[u64; 6]) -> KResult<u64> {
    let deadline = deadline_from_ts(t, a[2])?;
    with_mask(t, a[3], a[4], |t| do_poll(t, a[0], a[1], deadline))
}

fn do_select(t: &Task, nfds: u64, sets: [u64; 3], deadline: Option<Instant>) -> KResult<u64> {
    let nfds = int_arg(nfds);
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
    let fdt = lock(&t.fds).clone();
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

pub fn select(t: &mut Task, a: &[u64; 6]) -> KResult<u64> {
    let deadline = if a[4] == 0 {
        None
    } else {
        let tv: Timeval = t.read_val(a[4])?;
        if tv.tv_sec < 0 || !(0..1_000_000).contains(&tv.tv_usec) {
            return Err(Errno::EINVAL);
        }
        Some(Instant::now() + Duration::new(tv.tv_sec as u64, (tv.tv_usec * 1000) as u32))
    };
    do_select(t, a[0], [a[1], a[2], a[3]], deadline)
}

pub fn pselect6(t: &mut Task, a: &[u64; 6]) -> KResult<u64> {
    let deadline = deadline_from_ts(t, a[4])?;
    // The sixth argument points to { const sigset_t *ss; size_t ss_len; }.
    let (mask_addr, size) = if a[5] != 0 {
        let v: [u64; 2] = t.read_val(a[5])?;
        (v[0], v[1])
    } else {
        (0, 0)
    };
    with_mask(t, mask_addr, size, |t| do_select(t, a[0], [a[1], a[2], a[3]], deadline))
}
