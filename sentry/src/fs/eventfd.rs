//! eventfd: a 64-bit counter read and written 8 bytes at a time.

use parking_lot::Mutex;
use std::any::Any;
use std::sync::Arc;

use abi::Errno;

use crate::kernel::waiter::WaitQueue;
use crate::vfs::Caller;
use crate::vfs::{FileOps, KResult};

/// The largest value the counter holds.
const MAX: u64 = u64::MAX - 1;

const POLLIN: u32 = libc::POLLIN as u32 | libc::POLLRDNORM as u32;
const POLLOUT: u32 = libc::POLLOUT as u32 | libc::POLLWRNORM as u32;

/// One eventfd object.
pub struct EventFd {
    count: Mutex<u64>,
    semaphore: bool,
    queue: WaitQueue,
}

impl EventFd {
    pub fn new(initval: u64, semaphore: bool) -> Arc<EventFd> {
        Arc::new(EventFd { count: Mutex::new(initval), semaphore, queue: WaitQueue::default() })
    }

    /// The counter, as `/proc/<pid>/fdinfo` shows it.
    pub fn count(&self) -> u64 {
        *self.count.lock()
    }
}

impl FileOps for EventFd {
    fn read(&self, _cx: Caller<'_>, buf: &mut [u8], _off: u64) -> KResult<usize> {
        if buf.len() < 8 {
            return Err(Errno::EINVAL);
        }
        let mut c = self.count.lock();
        if *c == 0 {
            return Err(Errno::EAGAIN);
        }
        let v = if self.semaphore { 1 } else { *c };
        *c -= v;
        drop(c);
        buf[..8].copy_from_slice(&v.to_ne_bytes());
        self.queue.notify_events(POLLOUT);
        Ok(8)
    }

    fn write(&self, _cx: Caller<'_>, buf: &[u8], _off: u64) -> KResult<usize> {
        let Some(bytes) = buf.get(..8) else { return Err(Errno::EINVAL) };
        let mut v = [0u8; 8];
        v.copy_from_slice(bytes);
        let v = u64::from_ne_bytes(v);
        if v == u64::MAX {
            return Err(Errno::EINVAL);
        }
        let mut c = self.count.lock();
        if MAX - *c < v {
            return Err(Errno::EAGAIN);
        }
        *c += v;
        drop(c);
        if v > 0 {
            self.queue.notify_events(POLLIN);
        }
        Ok(8)
    }

    fn seekable(&self) -> bool {
        false
    }

    fn poll(&self, _cx: Caller<'_>) -> u32 {
        let c = *self.count.lock();
        let mut r = 0;
        if c > 0 {
            r |= POLLIN;
        }
        if c < MAX {
            r |= POLLOUT;
        }
        r
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

    fn read_u64(e: &EventFd) -> KResult<u64> {
        let mut b = [0u8; 8];
        e.read(Caller::SENTRY, &mut b, 0)?;
        Ok(u64::from_ne_bytes(b))
    }

    #[test]
    fn read_returns_the_sum_of_writes_and_resets() {
        let e = EventFd::new(1, false);
        e.write(Caller::SENTRY, &5u64.to_ne_bytes(), 0).expect("write");

        assert_eq!(read_u64(&e), Ok(6));
        assert_eq!(read_u64(&e), Err(Errno::EAGAIN));
    }

    #[test]
    fn semaphore_read_returns_one_and_decrements() {
        let e = EventFd::new(2, true);

        assert_eq!(read_u64(&e), Ok(1));
        assert_eq!(read_u64(&e), Ok(1));
        assert_eq!(read_u64(&e), Err(Errno::EAGAIN));
    }

    #[test]
    fn short_buffers_are_einval() {
        let e = EventFd::new(1, false);

        assert_eq!(e.read(Caller::SENTRY, &mut [0u8; 4], 0), Err(Errno::EINVAL));
        assert_eq!(e.write(Caller::SENTRY, &[0u8; 4], 0), Err(Errno::EINVAL));
    }

    #[test]
    fn write_that_would_overflow_returns_eagain_and_max_is_einval() {
        let e = EventFd::new(MAX - 1, false);

        assert_eq!(e.write(Caller::SENTRY, &2u64.to_ne_bytes(), 0), Err(Errno::EAGAIN));
        assert_eq!(e.write(Caller::SENTRY, &u64::MAX.to_ne_bytes(), 0), Err(Errno::EINVAL));
        assert_eq!(e.write(Caller::SENTRY, &1u64.to_ne_bytes(), 0), Ok(8));
        assert_eq!(e.poll(Caller::SENTRY) & POLLOUT, 0);
    }

    #[test]
    fn poll_is_readable_only_when_nonzero() {
        let e = EventFd::new(0, false);
        let before = e.poll(Caller::SENTRY);
        e.write(Caller::SENTRY, &1u64.to_ne_bytes(), 0).expect("write");

        assert_eq!(before & POLLIN, 0);
        assert_ne!(e.poll(Caller::SENTRY) & POLLIN, 0);
    }
}
