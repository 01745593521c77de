//! One sentry thread that fires timers (alarm, setitimer, POSIX timers) at
//! their deadlines.

use std::collections::BTreeMap;
use std::sync::{Arc, Condvar, Mutex};
use std::time::Instant;

use crate::vfs::lock;

type Callback = Box<dyn FnOnce() + Send>;

struct State {
    next_id: u64,
    /// (deadline, id) -> callback.
    queue: BTreeMap<(Instant, u64), Callback>,
    started: bool,
}

/// The timer thread and its queue.
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

    /// Run `f` at `at`; returns a handle for `cancel`.
    pub fn add(&self, at: Instant, f: Callback) -> (Instant, u64) {
        let (m, cv) = &*self.state;
        let mut s = lock(m);
        let id = s.next_id;
        s.next_id += 1;
        s.queue.insert((at, id), f);
        if !s.started {
            s.started = true;
            let st = self.state.clone();
            std::thread::Builder::new().name("bulwark-timers".into()).spawn(move || run(st)).ok();
        }
        cv.notify_one();
        (at, id)
    }

    /// Cancel a timer that has not fired; true if it was pending.
    pub fn cancel(&self, h: (Instant, u64)) -> bool {
        let (m, _) = &*self.state;
        lock(m).queue.remove(&h).is_some()
    }
}

fn run(st: Arc<(Mutex<State>, Condvar)>) {
    let (m, cv) = &*st;
    let mut s = lock(m);
    loop {
        let now = Instant::now();
        let first = s.queue.keys().next().copied();
        match first {
            Some(k) if k.0 <= now => {
                if let Some(f) = s.queue.remove(&k) {
                    drop(s);
                    f();
                    s = lock(m);
                }
            }
            Some(k) => {
                s = cv.wait_timeout(s, k.0 - now).map(|r| r.0).unwrap_or_else(|e| e.into_inner().0);
            }
            None => {
                s = cv.wait(s).unwrap_or_else(|e| e.into_inner());
            }
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
