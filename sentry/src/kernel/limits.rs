//! The sandbox's resource limits, as a container's cgroups would set them:
//! the number of tasks (the pids controller: `fork`/`clone` past it fail
//! with `EAGAIN`) and the memory held in the MemoryFile (past it, the
//! sandbox's own OOM killer ends a process inside, never the host's).

use parking_lot::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use abi::consts::SIGKILL;
use abi::Errno;

use super::{Kernel, Process, Task, TaskExit};
use crate::vfs::KResult;

/// The task count and its limit, as the pids cgroup keeps them: a task is
/// charged when it is created and uncharged when it is released (a thread
/// when it exits, a process's leader when the process is reaped, so
/// zombies count).
#[derive(Debug, Default)]
pub struct TaskCounter {
    /// The limit; 0 for none.
    max: AtomicU64,
    current: AtomicU64,
}

impl TaskCounter {
    /// Set the limit (`None`: unlimited).
    pub fn set_max(&self, max: Option<u64>) {
        self.max.store(max.unwrap_or(0), Ordering::Relaxed);
    }

    /// The limit, if there is one.
    pub fn max(&self) -> Option<u64> {
        Some(self.max.load(Ordering::Relaxed)).filter(|&m| m != 0)
    }

    /// Tasks charged now.
    pub fn current(&self) -> u64 {
        self.current.load(Ordering::Relaxed)
    }

    /// Charge one new task: `EAGAIN` when that would pass the limit.
    pub fn try_charge(&self) -> KResult<()> {
        let max = self.max().unwrap_or(u64::MAX);
        self.current
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| (n < max).then_some(n + 1))
            .map(|_| ())
            .map_err(|_| Errno::EAGAIN)
    }

    /// Charge a task whatever the limit (the sandbox's first task).
    pub fn charge(&self) {
        self.current.fetch_add(1, Ordering::AcqRel);
    }

    /// A task has been released.
    pub fn uncharge(&self) {
        let _ = self.current.fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| n.checked_sub(1));
    }
}

/// Processes the OOM killer has killed whose memory is not yet released.
#[derive(Default)]
pub struct OomVictims(Mutex<Vec<Arc<Process>>>);

impl OomVictims {
    /// `p` has released its memory (its exit has cleared its address
    /// space): it is no longer waited for.
    pub fn released(&self, p: &Arc<Process>) {
        let mut v = self.0.lock();
        if !v.is_empty() {
            v.retain(|x| !Arc::ptr_eq(x, p));
        }
    }

    /// The victim still releasing its memory, or else a new one: the
    /// process holding the most memory is killed (under the lock, so two
    /// tasks out of memory at once kill one process, not two).
    fn current_or_kill(&self, k: &Kernel) -> Option<Arc<Process>> {
        let mut v = self.0.lock();
        if let Some(p) = v.first() {
            return Some(p.clone());
        }
        let (victim, doomed) = kill_largest(k)?;
        v.extend(doomed);
        Some(victim)
    }

    fn contains(&self, p: &Arc<Process>) -> bool {
        self.0.lock().iter().any(|x| Arc::ptr_eq(x, p))
    }
}

/// What the sandbox reports as its total memory, in kB: the host's
/// `host_kb`, or the memory limit if that is less.
pub fn mem_total_kb(k: &Kernel, host_kb: u64) -> u64 {
    k.mf.limit().map_or(host_kb, |l| host_kb.min(l / 1024))
}

/// How long one wait for a victim's memory lasts before it is looked at
/// again (a victim is only waited for, never killed twice).
const VICTIM_WAIT: Duration = Duration::from_millis(200);

/// The process the OOM killer picks among `candidates` (pid and resident
/// bytes): the one holding the most memory, as Linux's badness score
/// ranks them; on a tie the newest (highest pid).
pub fn pick_victim(candidates: &[(i32, u64)]) -> Option<i32> {
    candidates.iter().max_by_key(|&&(pid, rss)| (rss, pid)).map(|&(pid, _)| pid)
}

/// `t` could not get memory for a page fault: the sandbox is out of
/// memory. Unless a process killed for it earlier is still releasing its
/// memory, kill the process holding the most (SIGKILL, with every process
/// sharing its address space), then wait until the victim's memory is
/// released. The caller retries the fault; if `t`'s own process is the
/// victim, it exits instead.
pub fn out_of_memory(t: &Task) {
    let k = &t.k;
    let Some(victim) = k.oom_victims.current_or_kill(k) else { return };
    if t.must_exit().is_some() || Arc::ptr_eq(&victim, &t.proc_) {
        return;
    }
    let deadline = Instant::now() + VICTIM_WAIT;
    let _ = t.wait_until(&[&victim.exit_wq], Some(deadline), || {
        Ok((t.must_exit().is_some() || !k.oom_victims.contains(&victim)).then_some(()))
    });
}

/// Kill the live process holding the most memory, and every other live
/// process sharing its address space: the victim, and all those killed.
fn kill_largest(k: &Kernel) -> Option<(Arc<Process>, Vec<Arc<Process>>)> {
    let live: Vec<Arc<Process>> = k.all_processes().into_iter().filter(|p| !p.is_dead()).collect();
    let sizes: Vec<(i32, u64)> = live.iter().map(|p| (p.pid, p.mm().lock().resident())).collect();
    let pid = pick_victim(&sizes)?;
    let victim = live.iter().find(|p| p.pid == pid)?.clone();
    let mm = victim.mm();
    let doomed: Vec<Arc<Process>> = live.iter().filter(|p| Arc::ptr_eq(&p.mm(), &mm)).cloned().collect();
    let comm = String::from_utf8_lossy(&victim.comm.lock()).into_owned();
    tracing::warn!("out of memory: killed pid {pid} ({comm})");
    for p in &doomed {
        p.group_exit(TaskExit::Signal(SIGKILL as i32));
    }
    Some((victim, doomed))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn charge_past_the_limit_fails_with_eagain() {
        let c = TaskCounter::default();
        c.set_max(Some(2));

        let got = [c.try_charge(), c.try_charge(), c.try_charge()];

        assert_eq!(got, [Ok(()), Ok(()), Err(Errno::EAGAIN)]);
        assert_eq!(c.current(), 2);
    }

    #[test]
    fn uncharge_makes_room_for_another_task() {
        let c = TaskCounter::default();
        c.set_max(Some(1));
        c.charge();

        c.uncharge();
        let got = c.try_charge();

        assert_eq!((got, c.current()), (Ok(()), 1));
    }

    #[test]
    fn no_limit_charges_without_bound() {
        let c = TaskCounter::default();
        c.set_max(None);

        let all_ok = (0..10_000).all(|_| c.try_charge().is_ok());

        assert_eq!((all_ok, c.max(), c.current()), (true, None, 10_000));
    }

    #[test]
    fn uncharge_at_zero_stays_zero() {
        let c = TaskCounter::default();

        c.uncharge();

        assert_eq!(c.current(), 0);
    }

    #[test]
    fn victim_is_the_process_holding_the_most_memory() {
        let procs = [(1, 4096), (2, 64 << 20), (3, 8192)];

        assert_eq!(pick_victim(&procs), Some(2));
    }

    #[test]
    fn victim_on_a_tie_is_the_newest_process() {
        let procs = [(5, 4096), (9, 4096), (7, 4096)];

        assert_eq!(pick_victim(&procs), Some(9));
    }

    #[test]
    fn no_candidates_no_victim() {
        assert_eq!(pick_victim(&[]), None);
    }
}
