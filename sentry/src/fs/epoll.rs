//! epoll: a set of watched file descriptions and their readiness.
//!
//! Each watch subscribes to its file's wait queue. A notification whose
//! `POLL*` bits meet the watch's interest marks the watch pending and wakes
//! the epoll's own queue, so `epoll_wait`, `poll` on the epoll descriptor
//! and enclosing epolls all wake. Level-triggered watches are reported
//! whenever their file is ready; edge-triggered ones only when pending (a
//! notification came since the last report); one-shot ones are disabled
//! after one report until `EPOLL_CTL_MOD`.
//!
//! Watches hold their file weakly: closing the last descriptor of a file
//! removes its watches, as on Linux.

use parking_lot::Mutex;
use std::any::Any;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Weak};

use abi::Errno;

use crate::kernel::waiter::{Subscriber, WaitQueue};
use crate::vfs::Caller;
use crate::vfs::{FileDescription, FileOps, KResult};

use abi::consts::{
    EPOLLERR, EPOLLET, EPOLLEXCLUSIVE, EPOLLHUP, EPOLLIN, EPOLLONESHOT, EPOLLOUT, EPOLLRDHUP, EPOLLWAKEUP,
    EPOLL_CTL_ADD, EPOLL_CTL_DEL, EPOLL_CTL_MOD,
};
/// The flag bits of `epoll_event.events` (not readiness).
const FLAGS: u32 = EPOLLEXCLUSIVE | EPOLLWAKEUP | EPOLLONESHOT | EPOLLET;

/// How deep epolls may nest (Linux's `EP_MAX_NESTS`).
const MAX_NESTS: usize = 4;

/// One watched file in one epoll.
struct Watch {
    fd: i32,
    file: Weak<FileDescription>,
    /// Identity of the file description (with `fd`, the watch's key).
    key: usize,
    events: AtomicU32,
    data: AtomicU64,
    /// Notified since last reported (edge-triggered).
    pending: AtomicBool,
    /// A one-shot watch that has reported.
    disabled: AtomicBool,
    epoll_queue: Weak<WaitQueue>,
}

impl Watch {
    fn interest(&self) -> u32 {
        (self.events.load(Ordering::Acquire) & !FLAGS) | EPOLLERR | EPOLLHUP
    }
}

impl Subscriber for Watch {
    fn notify(&self, events: u32) {
        if events & self.interest() == 0 {
            return;
        }
        self.pending.store(true, Ordering::Release);
        if self.disabled.load(Ordering::Acquire) {
            return;
        }
        if let Some(q) = self.epoll_queue.upgrade() {
            q.notify_events(EPOLLIN);
        }
    }
}

/// An epoll instance (the `FileOps` of an epoll descriptor).
pub struct Epoll {
    queue: Arc<WaitQueue>,
    watches: Mutex<Vec<Arc<Watch>>>,
    /// Where the next scan starts, so a small `maxevents` does not starve
    /// later watches.
    rotate: AtomicUsize,
}

fn key_of(f: &Arc<FileDescription>) -> usize {
    Arc::as_ptr(f) as usize
}

/// Current readiness of `f` (asking the host for donated host descriptors).
pub fn readiness(f: &FileDescription, cx: Caller<'_>) -> u32 {
    if let Some(fd) = f.file.host_fd() {
        use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
        let mut p =
            [PollFd::new(fd, PollFlags::POLLIN | PollFlags::POLLOUT | PollFlags::from_bits_retain(libc::POLLRDHUP))];
        return match poll(&mut p, PollTimeout::ZERO) {
            Ok(n) if n > 0 => u32::from(p[0].revents().map_or(0, |r| r.bits() as u16)),
            _ => 0,
        };
    }
    f.file.poll(cx)
}

impl Epoll {
    pub fn new() -> Arc<Epoll> {
        Arc::new(Epoll {
            queue: Arc::new(WaitQueue::default()),
            watches: Mutex::new(Vec::new()),
            rotate: AtomicUsize::new(0),
        })
    }

    /// The queue announcing that this epoll may have become ready.
    pub fn queue(&self) -> &WaitQueue {
        &self.queue
    }

    /// `epoll_ctl(op, fd, event)` on the description `file` open at `fd`.
    pub fn ctl(
        &self,
        cx: Caller<'_>,
        op: i32,
        fd: i32,
        file: &Arc<FileDescription>,
        events: u32,
        data: u64,
    ) -> KResult<()> {
        if std::ptr::addr_eq(Arc::as_ptr(&file.file), self as *const Epoll) {
            return Err(Errno::EINVAL);
        }
        if file.file.wait_queue().is_none() && file.file.host_fd().is_none() {
            return Err(Errno::EPERM);
        }
        let key = key_of(file);
        let mut ws = self.watches.lock();
        ws.retain(|w| w.file.strong_count() > 0);
        let pos = ws.iter().position(|w| w.fd == fd && w.key == key);
        match op {
            EPOLL_CTL_ADD => {
                if pos.is_some() {
                    return Err(Errno::EEXIST);
                }
                if events & EPOLLEXCLUSIVE != 0
                    && events & !(EPOLLIN | EPOLLOUT | EPOLLERR | EPOLLHUP | EPOLLWAKEUP | EPOLLET | EPOLLEXCLUSIVE)
                        != 0
                {
                    return Err(Errno::EINVAL);
                }
                if let Some(inner) = file.file.as_any().downcast_ref::<Epoll>() {
                    if inner.reaches(self, 0) {
                        return Err(Errno::ELOOP);
                    }
                }
                let w = Arc::new(Watch {
                    fd,
                    file: Arc::downgrade(file),
                    key,
                    events: AtomicU32::new(events),
                    data: AtomicU64::new(data),
                    pending: AtomicBool::new(true),
                    disabled: AtomicBool::new(false),
                    epoll_queue: Arc::downgrade(&self.queue),
                });
                if let Some(q) = file.file.wait_queue() {
                    let sub: Arc<dyn Subscriber> = w.clone();
                    q.subscribe(&sub);
                }
                ws.push(w);
            }
            EPOLL_CTL_MOD => {
                let w = &ws[pos.ok_or(Errno::ENOENT)?];
                if events & EPOLLEXCLUSIVE != 0 || w.events.load(Ordering::Acquire) & EPOLLEXCLUSIVE != 0 {
                    return Err(Errno::EINVAL);
                }
                w.events.store(events, Ordering::Release);
                w.data.store(data, Ordering::Release);
                w.pending.store(true, Ordering::Release);
                w.disabled.store(false, Ordering::Release);
            }
            EPOLL_CTL_DEL => {
                let w = ws.remove(pos.ok_or(Errno::ENOENT)?);
                if let Some(q) = file.file.wait_queue() {
                    let sub: Arc<dyn Subscriber> = w;
                    q.unsubscribe(&sub);
                }
                return Ok(());
            }
            _ => return Err(Errno::EINVAL),
        }
        drop(ws);
        if readiness(file, cx) != 0 {
            self.queue.notify_events(EPOLLIN);
        }
        Ok(())
    }

    /// Whether `target` is this epoll or is watched by it, directly or
    /// through nested epolls (or the nesting is too deep).
    fn reaches(&self, target: &Epoll, depth: usize) -> bool {
        if std::ptr::eq(self, target) || depth >= MAX_NESTS {
            return true;
        }
        let files: Vec<Arc<FileDescription>> = self.watches.lock().iter().filter_map(|w| w.file.upgrade()).collect();
        files.iter().any(|f| f.file.as_any().downcast_ref::<Epoll>().is_some_and(|e| e.reaches(target, depth + 1)))
    }

    /// Collect up to `max` ready events as `(events, data)`, consuming edges
    /// and disarming one-shot watches that report.
    pub fn collect(&self, cx: Caller<'_>, max: usize) -> Vec<(u32, u64)> {
        self.scan(cx, max, true)
    }

    fn scan(&self, cx: Caller<'_>, max: usize, consume: bool) -> Vec<(u32, u64)> {
        let ws: Vec<Arc<Watch>> = {
            let mut g = self.watches.lock();
            g.retain(|w| w.file.strong_count() > 0);
            g.clone()
        };
        let mut out = Vec::new();
        let n = ws.len();
        if n == 0 || max == 0 {
            return out;
        }
        let start = self.rotate.load(Ordering::Relaxed) % n;
        for i in 0..n {
            let w = &ws[(start + i) % n];
            if w.disabled.load(Ordering::Acquire) {
                continue;
            }
            let Some(f) = w.file.upgrade() else { continue };
            let ev = w.events.load(Ordering::Acquire);
            if ev & EPOLLET != 0 {
                let pending =
                    if consume { w.pending.swap(false, Ordering::AcqRel) } else { w.pending.load(Ordering::Acquire) };
                if !pending {
                    continue;
                }
            }
            let r = readiness(&f, cx) & w.interest();
            if r == 0 {
                continue;
            }
            if consume && ev & EPOLLONESHOT != 0 {
                w.disabled.store(true, Ordering::Release);
            }
            out.push((r, w.data.load(Ordering::Acquire)));
            if out.len() == max {
                if consume {
                    self.rotate.store(start + i + 1, Ordering::Relaxed);
                }
                break;
            }
        }
        out
    }

    /// Donated host descriptors among the watched files, with the `poll`
    /// events to wait for.
    pub fn host_fds(&self) -> Vec<(i32, i16)> {
        let ws = self.watches.lock().clone();
        ws.iter()
            .filter(|w| !w.disabled.load(Ordering::Acquire))
            .filter_map(|w| {
                let f = w.file.upgrade()?;
                let fd = std::os::fd::AsRawFd::as_raw_fd(&f.file.host_fd()?);
                let ev = w.events.load(Ordering::Acquire) & (EPOLLIN | EPOLLOUT | EPOLLRDHUP);
                Some((fd, ev as i16))
            })
            .collect()
    }

    /// Number of live watches.
    pub fn len(&self) -> usize {
        self.watches.lock().iter().filter(|w| w.file.strong_count() > 0).count()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl FileOps for Epoll {
    fn seekable(&self) -> bool {
        false
    }

    fn poll(&self, cx: Caller<'_>) -> u32 {
        if self.scan(cx, 1, false).is_empty() {
            0
        } else {
            (libc::POLLIN | libc::POLLRDNORM) as u32
        }
    }

    fn wait_queue(&self) -> Option<&WaitQueue> {
        Some(&self.queue)
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fs::eventfd::EventFd;
    use crate::fs::pipe::Pipe;
    use crate::kernel::waiter::Waiter;
    use abi::consts::{O_RDONLY, O_WRONLY};
    use std::time::{Duration, Instant};

    fn pipe_descs() -> (Arc<FileDescription>, Arc<FileDescription>) {
        let (r, w) = Pipe::pair();
        (
            FileDescription::new_anon(r, None, O_RDONLY, b"pipe:[r]".to_vec()),
            FileDescription::new_anon(w, None, O_WRONLY, b"pipe:[w]".to_vec()),
        )
    }

    #[test]
    fn level_triggered_reports_until_drained() {
        let ep = Epoll::new();
        let (r, w) = pipe_descs();
        ep.ctl(Caller::SENTRY, EPOLL_CTL_ADD, 3, &r, EPOLLIN, 7).expect("add");
        let before = ep.collect(Caller::SENTRY, 8);
        w.file.write(Caller::SENTRY, b"ab", 0).expect("write");

        assert!(before.is_empty());
        assert_eq!(ep.collect(Caller::SENTRY, 8), vec![(EPOLLIN, 7)]);
        assert_eq!(ep.collect(Caller::SENTRY, 8).len(), 1);
        r.file.read(Caller::SENTRY, &mut [0u8; 2], 0).expect("read");
        assert!(ep.collect(Caller::SENTRY, 8).is_empty());
    }

    #[test]
    fn edge_triggered_reports_once_per_arrival() {
        let ep = Epoll::new();
        let (r, w) = pipe_descs();
        ep.ctl(Caller::SENTRY, EPOLL_CTL_ADD, 3, &r, EPOLLIN | EPOLLET, 1).expect("add");
        w.file.write(Caller::SENTRY, b"a", 0).expect("write");

        assert_eq!(ep.collect(Caller::SENTRY, 8).len(), 1);
        assert!(ep.collect(Caller::SENTRY, 8).is_empty());
        w.file.write(Caller::SENTRY, b"b", 0).expect("write");
        assert_eq!(ep.collect(Caller::SENTRY, 8).len(), 1);
    }

    #[test]
    fn edge_triggered_partial_read_does_not_report_again() {
        let ep = Epoll::new();
        let (r, w) = pipe_descs();
        ep.ctl(Caller::SENTRY, EPOLL_CTL_ADD, 3, &r, EPOLLIN | EPOLLET, 1).expect("add");
        w.file.write(Caller::SENTRY, b"abc", 0).expect("write");
        assert_eq!(ep.collect(Caller::SENTRY, 8).len(), 1);

        r.file.read(Caller::SENTRY, &mut [0u8; 1], 0).expect("read");
        assert!(ep.collect(Caller::SENTRY, 8).is_empty());
    }

    #[test]
    fn oneshot_reports_once_until_modified() {
        let ep = Epoll::new();
        let (r, w) = pipe_descs();
        ep.ctl(Caller::SENTRY, EPOLL_CTL_ADD, 3, &r, EPOLLIN | EPOLLONESHOT, 1).expect("add");
        w.file.write(Caller::SENTRY, b"a", 0).expect("write");

        assert_eq!(ep.collect(Caller::SENTRY, 8).len(), 1);
        assert!(ep.collect(Caller::SENTRY, 8).is_empty());
        ep.ctl(Caller::SENTRY, EPOLL_CTL_MOD, 3, &r, EPOLLIN | EPOLLONESHOT, 2).expect("mod");
        assert_eq!(ep.collect(Caller::SENTRY, 8), vec![(EPOLLIN, 2)]);
    }

    #[test]
    fn ctl_errors_match_linux() {
        let ep = Epoll::new();
        let (r, _w) = pipe_descs();
        ep.ctl(Caller::SENTRY, EPOLL_CTL_ADD, 3, &r, EPOLLIN, 0).expect("add");

        assert_eq!(ep.ctl(Caller::SENTRY, EPOLL_CTL_ADD, 3, &r, EPOLLIN, 0), Err(Errno::EEXIST));
        assert_eq!(ep.ctl(Caller::SENTRY, EPOLL_CTL_MOD, 4, &r, EPOLLIN, 0), Err(Errno::ENOENT));
        assert_eq!(ep.ctl(Caller::SENTRY, EPOLL_CTL_DEL, 3, &r, 0, 0), Ok(()));
        assert_eq!(ep.ctl(Caller::SENTRY, EPOLL_CTL_DEL, 3, &r, 0, 0), Err(Errno::ENOENT));
    }

    #[test]
    fn closing_the_watched_file_removes_the_watch() {
        let ep = Epoll::new();
        let (r, w) = pipe_descs();
        ep.ctl(Caller::SENTRY, EPOLL_CTL_ADD, 3, &r, EPOLLIN, 0).expect("add");
        drop(r);

        assert_eq!(ep.len(), 0);
        assert_eq!(w.file.poll(Caller::SENTRY) & libc::POLLERR as u32, libc::POLLERR as u32);
    }

    #[test]
    fn hangup_is_reported_without_being_asked() {
        let ep = Epoll::new();
        let (r, w) = pipe_descs();
        ep.ctl(Caller::SENTRY, EPOLL_CTL_ADD, 3, &r, EPOLLIN, 0).expect("add");
        drop(w);

        assert_eq!(ep.collect(Caller::SENTRY, 8), vec![(EPOLLHUP, 0)]);
    }

    #[test]
    fn nested_epoll_is_readable_and_wakes_waiters() {
        let outer = Epoll::new();
        let inner = Epoll::new();
        let e = EventFd::new(0, false);
        let inner_desc = FileDescription::new_anon(inner.clone(), None, O_RDONLY, b"anon_inode:[eventpoll]".to_vec());
        let outer_desc = FileDescription::new_anon(outer.clone(), None, O_RDONLY, b"anon_inode:[eventpoll]".to_vec());
        let ev_desc = FileDescription::new_anon(e.clone(), None, abi::consts::O_RDWR, b"anon_inode:[eventfd]".to_vec());
        inner.ctl(Caller::SENTRY, EPOLL_CTL_ADD, 5, &ev_desc, EPOLLIN, 9).expect("add inner");
        outer.ctl(Caller::SENTRY, EPOLL_CTL_ADD, 6, &inner_desc, EPOLLIN, 10).expect("add outer");
        let w = Waiter::new().expect("waiter");
        outer.queue().add(&w);

        e.write(Caller::SENTRY, &1u64.to_ne_bytes(), 0).expect("write");
        let (_, notified) = w.wait(&[], Some(Instant::now() + Duration::from_secs(5)));
        assert!(notified);
        assert_eq!(outer.collect(Caller::SENTRY, 8), vec![(EPOLLIN, 10)]);
        assert_eq!(inner.ctl(Caller::SENTRY, EPOLL_CTL_ADD, 7, &outer_desc, EPOLLIN, 0), Err(Errno::ELOOP));
    }

    #[test]
    fn small_maxevents_rotates_through_ready_watches() {
        let ep = Epoll::new();
        let (r1, w1) = pipe_descs();
        let (r2, w2) = pipe_descs();
        ep.ctl(Caller::SENTRY, EPOLL_CTL_ADD, 3, &r1, EPOLLIN, 1).expect("add");
        ep.ctl(Caller::SENTRY, EPOLL_CTL_ADD, 4, &r2, EPOLLIN, 2).expect("add");
        w1.file.write(Caller::SENTRY, b"a", 0).expect("write");
        w2.file.write(Caller::SENTRY, b"b", 0).expect("write");

        let first = ep.collect(Caller::SENTRY, 1);
        let second = ep.collect(Caller::SENTRY, 1);
        assert_ne!(first, second);
    }
}
