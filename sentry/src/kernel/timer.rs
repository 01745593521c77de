//! One sentry thread that fires timers (alarm, setitimer, POSIX timers) at
//! their deadlines.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

use parking_lot::{Condvar, Mutex};

type Callback = Box<dyn FnOnce() + Send>;

struct State {
    next_id: u64,
    /// (deadline, id) -> callback.
    queue: BTreeMap<(Instant, u64), Callback>,
    started: bool,
}

/// The timer thread and its queue. Clones share one thread: the kernel's
/// interval and POSIX timers, the realtime clock's updates and timerfds
/// all run on it.
#[derive(Clone)]
pub struct TimerService {
    state: Arc<(Mutex<State>, Condvar)>,
}

impl Default for TimerService {
    fn default() -> Self {
        Self::new()
    }
}

impl TimerService {
    pub fn new() -> TimerService {
        TimerService {
            state: Arc::new((Mutex::new(State { next_id: 1, queue: BTreeMap::new(), started: false }), Condvar::new())),
        }
    }

    /// Run `f` at `at`; returns a handle for `cancel`. If the thread cannot
    /// be started, callbacks do not run: deadlines are still seen by the
    /// reads and polls that compute expirations from the clock.
    pub fn add(&self, at: Instant, f: Callback) -> (Instant, u64) {
        let (m, cv) = &*self.state;
        let mut s = m.lock();
        let id = s.next_id;
        s.next_id += 1;
        s.queue.insert((at, id), f);
        if !s.started {
            s.started = true;
            let st = self.state.clone();
            std::thread::Builder::new().name("bulwark-timers".into()).spawn(move || run(&st)).ok();
        }
        cv.notify_one();
        (at, id)
    }

    /// Cancel a timer that has not fired; true if it was pending.
    pub fn cancel(&self, h: (Instant, u64)) -> bool {
        let (m, _) = &*self.state;
        m.lock().queue.remove(&h).is_some()
    }
}

/// The timer thread: run each callback at its deadline, without the lock.
fn run(st: &(Mutex<State>, Condvar)) {
    let (m, cv) = st;
    let mut s = m.lock();
    loop {
        let now = Instant::now();
        match s.queue.keys().next().copied() {
            Some(k) if k.0 <= now => {
                if let Some(f) = s.queue.remove(&k) {
                    drop(s);
                    f();
                    s = m.lock();
                }
            }
            Some(k) => {
                cv.wait_until(&mut s, k.0);
            }
            None => cv.wait(&mut s),
        }
    }
}

/// An armed interval timer: when it fires next, its period, and the
/// service handle to cancel it.
#[derive(Clone, Copy, Debug)]
pub struct Armed {
    pub deadline: Instant,
    pub interval: std::time::Duration,
    pub handle: (Instant, u64),
}

/// A POSIX timer.
pub struct PosixTimer {
    /// `SIGEV_SIGNAL` (0), `SIGEV_NONE` (1), `SIGEV_THREAD_ID` (4).
    pub notify: i32,
    pub signo: u32,
    pub value: u64,
    /// Target thread for `SIGEV_THREAD_ID`.
    pub tid: i32,
    pub clock: i32,
    pub armed: Option<Armed>,
    /// Expirations not yet delivered (timer_getoverrun).
    pub overrun: i32,
}
