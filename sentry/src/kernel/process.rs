//! Process lifecycle: clone/fork, exit, reparenting, and wait.

use parking_lot::Mutex;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use abi::consts::*;
use abi::Errno;
use platform::Registers;

use super::signal::{self, bit};
use super::task::{new_process, new_shared};
use super::{Kernel, Process, Task, TaskExit};
use crate::vfs::KResult;

pub const CLONE_VM: u64 = 0x100;
pub const CLONE_FS: u64 = 0x200;
pub const CLONE_FILES: u64 = 0x400;
pub const CLONE_SIGHAND: u64 = 0x800;
pub const CLONE_PIDFD: u64 = 0x1000;
pub const CLONE_PTRACE: u64 = 0x2000;
pub const CLONE_VFORK: u64 = 0x4000;
pub const CLONE_PARENT: u64 = 0x8000;
pub const CLONE_THREAD: u64 = 0x10000;
pub const CLONE_NEWNS: u64 = 0x20000;
pub const CLONE_SYSVSEM: u64 = 0x40000;
pub const CLONE_SETTLS: u64 = 0x80000;
pub const CLONE_PARENT_SETTID: u64 = 0x100000;
pub const CLONE_CHILD_CLEARTID: u64 = 0x200000;
pub const CLONE_DETACHED: u64 = 0x400000;
pub const CLONE_UNTRACED: u64 = 0x800000;
pub const CLONE_CHILD_SETTID: u64 = 0x1000000;
pub const CLONE_NEWCGROUP: u64 = 0x0200_0000;
pub const CLONE_NEWUTS: u64 = 0x0400_0000;
pub const CLONE_NEWIPC: u64 = 0x0800_0000;
pub const CLONE_NEWUSER: u64 = 0x1000_0000;
pub const CLONE_NEWPID: u64 = 0x2000_0000;
pub const CLONE_NEWNET: u64 = 0x4000_0000;
pub const CLONE_IO: u64 = 0x8000_0000;
pub const CLONE_CLEAR_SIGHAND: u64 = 0x1_0000_0000;
pub const CLONE_INTO_CGROUP: u64 = 0x2_0000_0000;

/// What `clone`/`clone3` asked for.
pub struct CloneArgs {
    pub flags: u64,
    pub exit_signal: u32,
    pub stack: u64,
    pub parent_tid: u64,
    pub child_tid: u64,
    pub tls: u64,
    /// clone3's `pidfd` pointer (clone's is `parent_tid`).
    pub pidfd: u64,
}

/// `clone(2)`: a new thread or process. Returns the child's tid.
pub fn do_clone(t: &mut Task, a: CloneArgs) -> KResult<i32> {
    let f = a.flags;
    if f & CLONE_SIGHAND != 0 && f & CLONE_VM == 0 {
        return Err(Errno::EINVAL);
    }
    if f & CLONE_THREAD != 0 && f & CLONE_SIGHAND == 0 {
        return Err(Errno::EINVAL);
    }
    if f & CLONE_FS != 0 && f & CLONE_NEWNS != 0 {
        return Err(Errno::EINVAL);
    }
    if f & CLONE_PIDFD != 0 && (f & (CLONE_THREAD | CLONE_DETACHED) != 0) {
        return Err(Errno::EINVAL);
    }
    if f & (CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWUSER | CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWCGROUP)
        != 0
    {
        // Namespaces inside the sandbox are not supported yet.
        return Err(Errno::EPERM);
    }
    if f & (CLONE_INTO_CGROUP) != 0 {
        return Err(Errno::EINVAL);
    }
    // copy_thread sets the TLS as ARCH_SET_FS would: an address past the
    // user address space is EPERM (the host would refuse it as the child's
    // fs_base, failing the child's first switch).
    if f & CLONE_SETTLS != 0 && a.tls >= t.k.platform.max_user_address() {
        return Err(Errno::EPERM);
    }
    let k = t.k.clone();
    if k.shutdown.load(Ordering::SeqCst) {
        // As a dying pid namespace: no new tasks.
        return Err(Errno::ENOMEM);
    }
    // Charged before any host resource (stub process, sentry thread) is
    // made, as the pids cgroup charges before fork does its work.
    k.pids.try_charge()?;
    let r = clone_charged(t, &k, a);
    if r.is_err() {
        k.pids.uncharge();
    }
    r
}

/// `do_clone` once the new task is charged: every failure leaves no trace
/// of the child (the caller uncharges it).
fn clone_charged(t: &mut Task, k: &Arc<Kernel>, a: CloneArgs) -> KResult<i32> {
    let f = a.flags;
    let tid = k.alloc_pid();
    let mut regs: Registers = t.regs;
    regs.rax = 0;
    if a.stack != 0 {
        regs.rsp = a.stack;
    }
    if f & CLONE_SETTLS != 0 {
        regs.fs_base = a.tls;
    }
    // The child's memory: shared, or a copy made now (before the parent
    // runs again).
    let (mm, fresh_space) =
        if f & CLONE_VM != 0 { (t.mm.clone(), false) } else { (Arc::new(Mutex::new(t.mm.lock().fork_copy()?)), true) };
    let token = if f & CLONE_VM != 0 {
        let space = t.mm.lock().space().clone();
        Some(space.new_thread().map_err(|e| {
            tracing::error!("pid {}: cannot create a thread: {e}", t.pid());
            Errno::EAGAIN
        })?)
    } else {
        None
    };
    let fds = if f & CLONE_FILES != 0 { t.fds.clone() } else { Arc::new(Mutex::new(t.fds.lock().clone())) };
    let fsc = if f & CLONE_FS != 0 { t.fsc.clone() } else { Arc::new(Mutex::new(t.fsc.lock().clone())) };
    let (proc_, shared) = if f & CLONE_THREAD != 0 {
        let s = new_shared(k, &t.proc_, tid, t.sigmask())?;
        (t.proc_.clone(), s)
    } else {
        let parent =
            if f & CLONE_PARENT != 0 { t.proc_.parent().unwrap_or_else(|| t.proc_.clone()) } else { t.proc_.clone() };
        let exit_signal = if f & CLONE_PARENT != 0 { t.proc_.exit_signal } else { a.exit_signal };
        let p = new_process(tid, Some(&parent), mm.clone(), fds.clone(), fsc.clone(), t.creds(), exit_signal);
        if f & CLONE_CLEAR_SIGHAND != 0 {
            for act in p.actions.lock().iter_mut() {
                if act.handler > 1 {
                    *act = Default::default();
                }
            }
        }
        parent.children.lock().push(p.clone());
        k.procs.lock().insert(tid, p.clone());
        let s = match new_shared(k, &p, tid, t.sigmask()) {
            Ok(s) => s,
            Err(e) => {
                forget_child(k, &p, None, true);
                return Err(e);
            }
        };
        (p, s)
    };
    let new_proc = f & CLONE_THREAD == 0;
    *shared.comm.lock() = t.comm();
    let clear_child_tid = if f & CLONE_CHILD_CLEARTID != 0 { a.child_tid } else { 0 };
    let altstack = if f & CLONE_VM != 0 && f & CLONE_VFORK == 0 { Default::default() } else { t.altstack };
    let (ready_tx, ready_rx) = std::sync::mpsc::channel();
    let (go_tx, go_rx) = std::sync::mpsc::channel();
    let spawn = ChildStart {
        k: k.clone(),
        proc_: proc_.clone(),
        shared: shared.clone(),
        mm: mm.clone(),
        fds,
        fsc,
        regs,
        fpu: {
            let mut fp = t.fpu.clone();
            let _ = t.ctx.fpu_state(&mut fp);
            fp
        },
        token,
        fresh_space,
        clear_child_tid,
        altstack,
        ready: ready_tx,
        go: go_rx,
    };
    let spawned = std::thread::Builder::new().name(format!("task-{tid}")).spawn(move || spawn.run());
    // The child's host resources exist once it says so; until then (and
    // on failure) it has never run.
    let started = match spawned {
        Ok(_) => ready_rx.recv().unwrap_or(Err(Errno::EAGAIN)),
        Err(e) => {
            tracing::error!("pid {}: cannot start a sentry thread: {e}", t.pid());
            Err(Errno::EAGAIN)
        }
    };
    let written = started.and_then(|()| write_clone_ids(t, &a, tid, &proc_, &mm));
    let pidfd = match written {
        Ok(fd) => fd,
        Err(e) => {
            forget_child(k, &proc_, Some(&shared), new_proc);
            return Err(e);
        }
    };
    if go_tx.send(()).is_err() {
        // The child's thread is gone before running: it never existed.
        if let Some(fd) = pidfd {
            let _ = t.fds.lock().remove(fd);
        }
        forget_child(k, &proc_, Some(&shared), new_proc);
        return Err(Errno::EAGAIN);
    }
    if f & CLONE_VFORK != 0 {
        let p = proc_.clone();
        let _ = t.wait_until(&[&proc_.exit_wq], None, || Ok(p.vfork_done.load(Ordering::Relaxed).then_some(())));
    }
    Ok(tid)
}

/// The ids `clone` hands out before the child runs: `CLONE_PARENT_SETTID`,
/// `CLONE_PIDFD` (the descriptor, returned) and `CLONE_CHILD_SETTID`.
fn write_clone_ids(
    t: &mut Task,
    a: &CloneArgs,
    tid: i32,
    child: &Arc<Process>,
    mm: &Arc<Mutex<crate::mm::MemoryManager>>,
) -> KResult<Option<i32>> {
    let f = a.flags;
    if f & CLONE_PARENT_SETTID != 0 {
        t.write_val(a.parent_tid, &tid)?;
    }
    let pidfd = if f & CLONE_PIDFD != 0 { Some(crate::syscalls::pidfd::install(t, child, O_CLOEXEC)?) } else { None };
    let written = (|| {
        if let Some(fd) = pidfd {
            t.write_val(if a.pidfd != 0 { a.pidfd } else { a.parent_tid }, &fd)?;
        }
        if f & CLONE_CHILD_SETTID != 0 {
            mm.lock().write_bytes(a.child_tid, &tid.to_ne_bytes())?;
        }
        Ok(())
    })();
    match written {
        Ok(()) => Ok(pidfd),
        Err(e) => {
            if let Some(fd) = pidfd {
                let _ = t.fds.lock().remove(fd);
            }
            Err(e)
        }
    }
}

/// Undo a child's registration (its thread record, and its process when
/// `new_proc`): the clone failed before it ran.
fn forget_child(k: &Kernel, p: &Arc<Process>, shared: Option<&Arc<super::TaskShared>>, new_proc: bool) {
    if let Some(s) = shared {
        k.tasks.lock().remove(&s.tid);
        p.threads.lock().retain(|x| x.tid != s.tid);
    }
    if new_proc {
        k.procs.lock().remove(&p.pid);
        if let Some(parent) = p.parent() {
            parent.children.lock().retain(|x| !Arc::ptr_eq(x, p));
        }
    }
}

/// Everything a new task's own sentry thread needs to start.
struct ChildStart {
    k: Arc<Kernel>,
    proc_: Arc<Process>,
    shared: Arc<super::TaskShared>,
    mm: Arc<Mutex<crate::mm::MemoryManager>>,
    fds: Arc<Mutex<crate::vfs::FdTable>>,
    fsc: Arc<Mutex<super::FsContext>>,
    regs: Registers,
    fpu: platform::FpState,
    token: Option<platform::ThreadToken>,
    fresh_space: bool,
    clear_child_tid: u64,
    altstack: abi::types::StackT,
    /// Tells the parent whether the child's host resources exist.
    ready: std::sync::mpsc::Sender<KResult<()>>,
    /// The parent's word to run (dropped unsent: the clone failed).
    go: std::sync::mpsc::Receiver<()>,
}

impl ChildStart {
    fn run(mut self) {
        let k = self.k.clone();
        let ctx = match self.token.take() {
            Some(tok) => k.platform.new_context_for(tok),
            None => k.platform.new_context(),
        };
        let ctx = match ctx {
            Ok(c) => c,
            Err(e) => {
                tracing::error!("cannot start task {}: {e}", self.shared.tid);
                let _ = self.ready.send(Err(Errno::EAGAIN));
                return;
            }
        };
        if self.fresh_space {
            match k.platform.new_address_space() {
                Ok(space) => self.mm.lock().set_space(space),
                Err(e) => {
                    tracing::error!("cannot create address space for {}: {e}", self.shared.tid);
                    let _ = self.ready.send(Err(Errno::EAGAIN));
                    return;
                }
            }
        }
        if self.ready.send(Ok(())).is_err() || self.go.recv().is_err() {
            return;
        }
        let mut t =
            Task::assemble(k, self.proc_, self.shared, ctx, self.mm, self.fds, self.fsc, self.regs, self.fresh_space);
        t.clear_child_tid = self.clear_child_tid;
        t.altstack = self.altstack;
        t.fpu = self.fpu;
        t.run();
        // The task (and its platform context) is dropped here, on its own
        // tracer thread, before the thread ends.
        drop(t);
    }
}

/// The last thread of `p` has exited with `how`: make it a zombie, tell
/// the parent, hand the children to a reaper.
pub fn exit_process(k: &Arc<Kernel>, p: &Arc<Process>, how: TaskExit) {
    {
        let mut e = p.exit.lock();
        if e.zombie {
            return;
        }
        e.group_exit.get_or_insert(how);
        e.zombie = true;
        e.stopped = false;
    }
    p.status.store(how.wait_status(), Ordering::Relaxed);
    // Files close now; memory goes when the process is reaped.
    *p.fds.lock() = Arc::new(Mutex::new(crate::vfs::FdTable::new()));
    crate::vfs::lock::release_posix_locks(p.pid);
    // The address space goes now, as Linux's exit_mm, so what it held
    // (shm attaches) is released before the parent can see the exit;
    // unless another live process shares it (CLONE_VM, vfork).
    let mm = p.mm();
    let shared = k.all_processes().iter().any(|q| !Arc::ptr_eq(q, p) && !q.is_zombie() && Arc::ptr_eq(&q.mm(), &mm));
    if !shared {
        mm.lock().clear();
    }
    k.oom_victims.released(p);
    k.sysv.exit_process(p.pid);
    p.vfork_done.store(true, Ordering::Relaxed);
    p.exit_wq.notify_all();
    if p.pid == k.main_pid.load(Ordering::Relaxed) {
        // The sandbox ends with its first program, as a pid namespace
        // ends with its init: every other process is killed.
        k.shutdown.store(true, Ordering::SeqCst);
        for q in k.all_processes() {
            if q.pid != 1 && !Arc::ptr_eq(&q, p) {
                q.group_exit(TaskExit::Signal(SIGKILL as i32));
            }
        }
    }
    // Orphans go to the reaper.
    let orphans: Vec<Arc<Process>> = std::mem::take(&mut *p.children.lock());
    if !orphans.is_empty() {
        if let Some(r) = k.reaper_for(p) {
            for c in &orphans {
                *c.parent.lock() = Arc::downgrade(&r);
                let sig = c.pdeathsig.load(Ordering::Relaxed);
                if sig > 0 {
                    k.signal_process(c, signal::info(sig as u32, signal::SI_USER));
                }
            }
            r.children.lock().extend(orphans.iter().cloned());
            // Zombies adopted by a reaper that does not wait for children
            // (SIGCHLD ignored: the sandbox's init) are reaped at once.
            let act = r.action(SIGCHLD);
            if act.handler == signal::SIG_IGN || act.flags & signal::SA_NOCLDWAIT != 0 {
                for c in orphans.iter().filter(|c| c.is_zombie()) {
                    reap(k, &r, c);
                }
            }
            r.child_wq.notify_all();
        } else {
            for c in &orphans {
                k.release_process(c.pid);
            }
        }
    }
    match p.parent() {
        Some(parent) => {
            let act = parent.action(SIGCHLD);
            let autoreap =
                p.exit_signal == SIGCHLD && (act.handler == signal::SIG_IGN || act.flags & signal::SA_NOCLDWAIT != 0);
            if autoreap {
                reap(k, &parent, p);
            } else if p.exit_signal != 0 {
                let (code, status) = match how {
                    TaskExit::Code(c) => (signal::CLD_EXITED, c),
                    TaskExit::Signal(s) => (signal::CLD_KILLED, s),
                };
                let mut i = signal::info_from(p.exit_signal, code, p.pid, p.creds.lock().uid);
                i.fields[1] = u64::from(status as u32);
                k.signal_process(&parent, i);
            }
            parent.child_wq.notify_all();
        }
        None => {
            if p.pid != 1 {
                k.release_process(p.pid);
            }
        }
    }
    k.exit_wq.notify_all();
}

/// Remove zombie `c` from `parent` and the process table.
pub fn reap(k: &Kernel, parent: &Process, c: &Arc<Process>) {
    parent.children.lock().retain(|x| !Arc::ptr_eq(x, c));
    if c.pid != 1 {
        k.release_process(c.pid);
    }
}

/// Which children a wait call selects.
#[derive(Clone, Copy, Debug)]
pub enum WaitFor {
    Any,
    Pid(i32),
    Pgid(i32),
}

pub const WNOHANG: u32 = 1;
pub const WUNTRACED: u32 = 2;
pub const WSTOPPED: u32 = 2;
pub const WEXITED: u32 = 4;
pub const WCONTINUED: u32 = 8;
pub const WNOWAIT: u32 = 0x0100_0000;
pub const WNOTHREAD: u32 = 0x2000_0000;
pub const WALL: u32 = 0x4000_0000;
pub const WCLONE: u32 = 0x8000_0000;

/// One child's reportable state change.
pub struct WaitResult {
    pub pid: i32,
    pub uid: u32,
    /// `si_code` (CLD_*).
    pub code: i32,
    /// Exit status or signal number (for waitid's si_status).
    pub status: i32,
    /// The wait4 status word.
    pub wstatus: i32,
}

/// wait4/waitid: find (and unless WNOWAIT consume) a state change of a
/// child; block unless WNOHANG. `Ok(None)` for WNOHANG with nothing ready.
pub fn do_wait(t: &Task, which: WaitFor, options: u32) -> KResult<Option<WaitResult>> {
    let p = t.proc_.clone();
    let k = t.k.clone();
    let r = t.wait_until(&[&p.child_wq], None, || {
        let children: Vec<Arc<Process>> = p.children.lock().clone();
        // Children of other threads of this process count too (they are all
        // the process's children here).
        let matching: Vec<&Arc<Process>> = children
            .iter()
            .filter(|c| match which {
                WaitFor::Any => true,
                WaitFor::Pid(pid) => c.pid == pid,
                WaitFor::Pgid(g) => c.pgid.load(Ordering::Relaxed) == g,
            })
            .filter(|c| {
                let clone_child = c.exit_signal != SIGCHLD;
                options & WALL != 0 || (options & WCLONE != 0) == clone_child
            })
            .collect();
        if matching.is_empty() {
            return Err(Errno::ECHILD);
        }
        for c in matching {
            let mut e = c.exit.lock();
            let uid = c.creds.lock().uid;
            if e.zombie && options & WEXITED != 0 {
                let how = e.group_exit.unwrap_or(TaskExit::Code(0));
                drop(e);
                let (code, status) = match how {
                    TaskExit::Code(x) => (signal::CLD_EXITED, x & 0xff),
                    TaskExit::Signal(s) => (signal::CLD_KILLED, s),
                };
                if options & WNOWAIT == 0 {
                    reap(&k, &p, c);
                }
                return Ok(Some(Some(WaitResult { pid: c.pid, uid, code, status, wstatus: how.wait_status() })));
            }
            if options & WSTOPPED != 0 {
                if let Some(sig) = e.stop_report {
                    if options & WNOWAIT == 0 {
                        e.stop_report = None;
                    }
                    let sig = sig as i32;
                    return Ok(Some(Some(WaitResult {
                        pid: c.pid,
                        uid,
                        code: signal::CLD_STOPPED,
                        status: sig,
                        wstatus: (sig << 8) | 0x7f,
                    })));
                }
            }
            if options & WCONTINUED != 0 && e.continue_report {
                if options & WNOWAIT == 0 {
                    e.continue_report = false;
                }
                return Ok(Some(Some(WaitResult {
                    pid: c.pid,
                    uid,
                    code: signal::CLD_CONTINUED,
                    status: SIGCONT as i32,
                    wstatus: 0xffff,
                })));
            }
        }
        if options & WNOHANG != 0 {
            return Ok(Some(None));
        }
        Ok(None)
    })?;
    let _ = bit;
    Ok(r)
}
