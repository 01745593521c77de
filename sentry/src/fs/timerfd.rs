//! timerfd: a timer read as a count of expirations.
//!
//! Expirations are computed from the clock when the timer is read or polled;
//! the kernel's timer thread only announces each deadline on the timer's
//! wait queue, so blocked readers, `poll` and epoll see it fire.

use parking_lot::Mutex;
use std::any::Any;
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use abi::Errno;

use crate::kernel::timer::TimerService;
use crate::kernel::waiter::WaitQueue;
use crate::vfs::Caller;
use crate::vfs::{FileOps, KResult};

const POLLIN: u32 = libc::POLLIN as u32 | libc::POLLRDNORM as u32;
/// Periodic announcements are spaced at least this far apart (the count
/// stays exact; only wake-ups are coalesced).
const MIN_NOTIFY_GAP: Duration = Duration::from_millis(1);

struct State {
    /// The next expiry, if armed.
    next: Option<Instant>,
    interval: Duration,
    /// Expirations not yet read.
    ticks: u64,
    /// Bumped by every `set`, so announcements of an old setting are dropped.
    generation: u64,
}

impl State {
    /// Count the expirations up to `now`.
    fn update(&mut self, now: Instant) {
        let Some(next) = self.next else { return };
        if next > now {
            return;
        }
        if self.interval.is_zero() {
            self.ticks = self.ticks.saturating_add(1);
            self.next = None;
            return;
        }
        let late = (now - next).as_nanos() / self.interval.as_nanos();
        let n = u64::try_from(late).unwrap_or(u64::MAX - 1).saturating_add(1);
        self.ticks = self.ticks.saturating_add(n);
        let step = self.interval.as_nanos().saturating_mul(u128::from(n));
        self.next = u64::try_from(step).ok().and_then(|s| next.checked_add(Duration::from_nanos(s)));
    }

    fn remaining(&self, now: Instant) -> Duration {
        self.next.map_or(Duration::ZERO, |n| n.saturating_duration_since(now).max(Duration::from_nanos(1)))
    }
}

/// One timerfd.
pub struct TimerFd {
    /// The clock it was created on (`CLOCK_*`).
    pub clock: i32,
    state: Mutex<State>,
    queue: WaitQueue,
    timers: TimerService,
    me: Weak<TimerFd>,
}

impl TimerFd {
    pub fn new(clock: i32, timers: TimerService) -> Arc<TimerFd> {
        Arc::new_cyclic(|me| TimerFd {
            clock,
            state: Mutex::new(State { next: None, interval: Duration::ZERO, ticks: 0, generation: 0 }),
            queue: WaitQueue::default(),
            timers,
            me: me.clone(),
        })
    }

    /// Arm at `deadline` (disarm with `None`), repeating every `interval`
    /// if non-zero. Returns the previous (time left, interval).
    pub fn set(&self, deadline: Option<Instant>, interval: Duration) -> (Duration, Duration) {
        let now = Instant::now();
        let mut s = self.state.lock();
        s.update(now);
        let old = (s.remaining(now), s.interval);
        s.next = deadline;
        s.interval = if deadline.is_some() { interval } else { Duration::ZERO };
        s.ticks = 0;
        s.generation += 1;
        let gen = s.generation;
        drop(s);
        if let Some(d) = deadline {
            self.announce_at(d, gen);
        }
        old
    }

    /// (time left, interval); zero time left when disarmed.
    pub fn get(&self) -> (Duration, Duration) {
        let now = Instant::now();
        let mut s = self.state.lock();
        s.update(now);
        (s.remaining(now), s.interval)
    }

    fn announce_at(&self, at: Instant, gen: u64) {
        let me = self.me.clone();
        self.timers.add(
            at,
            Box::new(move || {
                if let Some(t) = me.upgrade() {
                    t.fired(gen);
                }
            }),
        );
    }

    /// The timer thread reached a deadline of setting `gen`.
    fn fired(&self, gen: u64) {
        let now = Instant::now();
        let mut s = self.state.lock();
        if s.generation != gen {
            return;
        }
        s.update(now);
        let next = s.next.map(|n| n.max(now + MIN_NOTIFY_GAP));
        drop(s);
        self.queue.notify_events(POLLIN);
        if let Some(n) = next {
            self.announce_at(n, gen);
        }
    }
}

impl FileOps for TimerFd {
    fn read(&self, _cx: Caller<'_>, buf: &mut [u8], _off: u64) -> KResult<usize> {
        if buf.len() < 8 {
            return Err(Errno::EINVAL);
        }
        let mut s = self.state.lock();
        s.update(Instant::now());
        if s.ticks == 0 {
            return Err(Errno::EAGAIN);
        }
        let n = std::mem::take(&mut s.ticks);
        drop(s);
        buf[..8].copy_from_slice(&n.to_ne_bytes());
        Ok(8)
    }

    fn write(&self, _cx: Caller<'_>, _buf: &[u8], _off: u64) -> KResult<usize> {
        Err(Errno::EINVAL)
    }

    fn seekable(&self) -> bool {
        false
    }

    fn poll(&self, _cx: Caller<'_>) -> u32 {
        let mut s = self.state.lock();
        s.update(Instant::now());
        if s.ticks > 0 {
            POLLIN
        } else {
            0
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
    use crate::kernel::waiter::Waiter;

    fn read_u64(t: &TimerFd) -> KResult<u64> {
        let mut b = [0u8; 8];
        t.read(Caller::SENTRY, &mut b, 0)?;
        Ok(u64::from_ne_bytes(b))
    }

    #[test]
    fn disarmed_timer_reads_eagain() {
        let t = TimerFd::new(libc::CLOCK_MONOTONIC, TimerService::new());

        assert_eq!(read_u64(&t), Err(Errno::EAGAIN));
        assert_eq!(t.get(), (Duration::ZERO, Duration::ZERO));
    }

    #[test]
    fn expired_periodic_timer_counts_every_interval() {
        let t = TimerFd::new(libc::CLOCK_MONOTONIC, TimerService::new());
        let start = Instant::now() - Duration::from_millis(35);
        t.set(Some(start), Duration::from_millis(10));

        assert_eq!(read_u64(&t), Ok(4));
        assert_eq!(read_u64(&t), Err(Errno::EAGAIN));
    }

    #[test]
    fn one_shot_timer_fires_once_and_disarms() {
        let t = TimerFd::new(libc::CLOCK_MONOTONIC, TimerService::new());
        t.set(Some(Instant::now()), Duration::ZERO);

        assert_ne!(t.poll(Caller::SENTRY) & POLLIN, 0);
        assert_eq!(read_u64(&t), Ok(1));
        assert_eq!(t.get().0, Duration::ZERO);
    }

    #[test]
    fn timer_thread_wakes_a_waiter_at_the_deadline() {
        let t = TimerFd::new(libc::CLOCK_MONOTONIC, TimerService::new());
        let w = Waiter::new().expect("waiter");
        t.queue.add(&w);
        t.set(Some(Instant::now() + Duration::from_millis(20)), Duration::ZERO);

        let (_, notified) = w.wait(&[], Some(Instant::now() + Duration::from_secs(5)));
        assert!(notified);
        assert_eq!(read_u64(&t), Ok(1));
    }

    #[test]
    fn set_returns_the_previous_setting() {
        let t = TimerFd::new(libc::CLOCK_MONOTONIC, TimerService::new());
        t.set(Some(Instant::now() + Duration::from_secs(100)), Duration::from_secs(3));

        let (left, interval) = t.set(None, Duration::ZERO);
        assert!(left > Duration::from_secs(99));
        assert_eq!(interval, Duration::from_secs(3));
    }
}
