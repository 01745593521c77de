//! The kernel proper: processes, tasks, credentials, signals, and the run
//! loop.

pub mod clock;
pub mod futex;
pub mod host_signals;
pub mod limits;
pub mod process;
pub mod signal;
pub mod sysv;
mod task;
pub mod timer;
pub mod waiter;

use parking_lot::Mutex;
use std::collections::{BTreeMap, HashSet};
use std::fs::File;
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::time::Instant;

use abi::consts::*;
use abi::types::{KernelSigaction, Rlimit, Siginfo};
use platform::Platform;

use crate::mm::{MemoryFile, MemoryManager};
use crate::vfs::{Creds, FdTable, Location, Vfs};
use signal::SigQueue;
use waiter::{WaitQueue, Waiter};

pub use task::{getrandom, Task, TaskExit};

/// Sandbox-wide state shared by every task.
pub struct Kernel {
    pub mf: Arc<MemoryFile>,
    pub platform: Arc<dyn Platform>,
    pub vfs: Arc<Vfs>,
    pub hostname: Mutex<Vec<u8>>,
    /// The kernel release `uname` and `/proc/sys/kernel/osrelease` report.
    pub release: Mutex<Vec<u8>>,
    pub domainname: Mutex<Vec<u8>>,
    /// Where `--strace` lines go.
    pub strace: Option<Mutex<File>>,
    /// `--network host`: Internet and netlink sockets are host sockets.
    pub host_network: bool,
    /// The application's own seccomp profile (an OCI config's), if any.
    pub app_filter: std::sync::OnceLock<crate::syscalls::filter::AppFilter>,
    reported: Mutex<HashSet<u64>>,
    /// When the sandbox booted (uptime, CLOCK_BOOTTIME offset).
    pub start: Instant,
    /// Processes by pid, live or zombie (until reaped).
    pub procs: Mutex<BTreeMap<i32, Arc<Process>>>,
    /// Live threads by tid.
    pub tasks: Mutex<BTreeMap<i32, Arc<TaskShared>>>,
    pub futexes: futex::Futexes,
    /// Pages of files mapped `MAP_SHARED`, by (dev, ino).
    shared_objects: Mutex<std::collections::HashMap<(u64, u64), Arc<crate::mm::SharedObject>>>,
    /// Some file has been mapped `MAP_SHARED` (read and write skip the
    /// lookup until then).
    any_shared: AtomicBool,
    /// System V shared memory, semaphores and message queues.
    pub sysv: sysv::SysvIpc,
    pub timers: timer::TimerService,
    /// The clocks applications see, and the vvar page the vDSO reads them from.
    pub clock: clock::Clock,
    /// The vDSO image mapped into every new program (`None` if it could
    /// not be set up: programs then run without one).
    pub vdso: Option<crate::loader::Vdso>,
    next_pid: Mutex<i32>,
    /// Set when pid 1 has exited: every task ends.
    pub shutdown: AtomicBool,
    /// Notified when a process exits (the sandbox's main loop waits on it).
    pub exit_wq: WaitQueue,
    /// The foreground process group of the sandbox's terminal (stdio).
    pub tty_pgrp: AtomicI32,
    /// The session the terminal is the controlling terminal of.
    pub tty_sid: AtomicI32,
    /// Other host terminals, by their host device number: those given to
    /// processes `bulwark exec --tty` adds, each the controlling terminal
    /// of the session the process leads.
    pub exec_ttys: Mutex<std::collections::HashMap<u64, Arc<JobControl>>>,
    /// `net.ipv4.ip_unprivileged_port_start`: ports below it take
    /// `CAP_NET_BIND_SERVICE` to bind (1024 by default; 0..=65535).
    pub unprivileged_port_start: std::sync::atomic::AtomicU32,
    /// The process whose exit ends the sandbox: the first program (pid 1,
    /// or pid 2 under the sandbox's own init).
    pub main_pid: AtomicI32,
    /// The host terminal given as stdin, if it is one (host job control).
    pub host_tty: std::sync::OnceLock<std::os::fd::OwnedFd>,
    /// Tasks in the sandbox and their limit (`--pids-limit`).
    pub pids: limits::TaskCounter,
    /// Processes the OOM killer has killed, until their memory is released.
    pub oom_victims: limits::OomVictims,
    /// The sandbox is paused (`bulwark pause`): no task runs application
    /// code until [`Kernel::thaw`]; blocked calls stay blocked, and one that
    /// completes waits before it returns to the program.
    pub frozen: AtomicBool,
    /// Told when `frozen` clears.
    pub thaw_wq: WaitQueue,
}

impl Kernel {
    pub fn new(
        mf: Arc<MemoryFile>,
        platform: Arc<dyn Platform>,
        vfs: Arc<Vfs>,
        hostname: &str,
        strace: Option<File>,
        host_network: bool,
    ) -> Arc<Kernel> {
        let clock = clock::Clock::new(mf.clone());
        let vdso = clock.vvar_page().and_then(|vvar| crate::loader::Vdso::new(&mf, vvar));
        let k = Arc::new(Kernel {
            mf,
            platform,
            vfs,
            hostname: Mutex::new(hostname.as_bytes().to_vec()),
            release: Mutex::new(crate::syscalls::sys::RELEASE.to_vec()),
            domainname: Mutex::new(b"(none)".to_vec()),
            strace: strace.map(Mutex::new),
            host_network,
            app_filter: std::sync::OnceLock::new(),
            reported: Mutex::new(HashSet::new()),
            start: Instant::now(),
            procs: Mutex::new(BTreeMap::new()),
            tasks: Mutex::new(BTreeMap::new()),
            futexes: futex::Futexes::default(),
            shared_objects: Mutex::new(std::collections::HashMap::new()),
            any_shared: AtomicBool::new(false),
            sysv: sysv::SysvIpc::default(),
            timers: timer::TimerService::new(),
            clock,
            vdso,
            next_pid: Mutex::new(1),
            shutdown: AtomicBool::new(false),
            exit_wq: WaitQueue::default(),
            tty_pgrp: AtomicI32::new(1),
            tty_sid: AtomicI32::new(1),
            exec_ttys: Mutex::new(std::collections::HashMap::new()),
            unprivileged_port_start: std::sync::atomic::AtomicU32::new(
                crate::net::inet::UNPRIVILEGED_PORT_START.into(),
            ),
            main_pid: AtomicI32::new(1),
            host_tty: std::sync::OnceLock::new(),
            pids: limits::TaskCounter::default(),
            oom_victims: limits::OomVictims::default(),
            frozen: AtomicBool::new(false),
            thaw_wq: WaitQueue::default(),
        });
        clock::start(&k);
        k
    }

    /// Pause every task: each one running application code is interrupted
    /// and waits in its run loop (invisible to the program: no signal, no
    /// stop a parent could see) until [`Kernel::thaw`].
    pub fn freeze(&self) {
        self.frozen.store(true, Ordering::SeqCst);
        let tasks: Vec<Arc<TaskShared>> = self.tasks.lock().values().cloned().collect();
        for t in tasks {
            t.kick();
        }
    }

    /// Let the tasks [`Kernel::freeze`] paused run again.
    pub fn thaw(&self) {
        self.frozen.store(false, Ordering::SeqCst);
        self.thaw_wq.notify_all();
    }

    /// The shared pages of file `(dev, ino)`, made on its first
    /// `MAP_SHARED` mapping.
    pub fn shared_object_for_mmap(&self, dev_ino: (u64, u64)) -> Arc<crate::mm::SharedObject> {
        self.any_shared.store(true, Ordering::Relaxed);
        self.shared_objects.lock().entry(dev_ino).or_default().clone()
    }

    /// The shared pages of file `(dev, ino)`, if it is mapped shared.
    pub fn shared_object(&self, dev_ino: (u64, u64)) -> Option<Arc<crate::mm::SharedObject>> {
        if !self.any_shared.load(Ordering::Relaxed) {
            return None;
        }
        self.shared_objects.lock().get(&dev_ino).cloned()
    }

    /// Whether any file has been mapped shared.
    pub fn any_shared(&self) -> bool {
        self.any_shared.load(Ordering::Relaxed)
    }

    /// A new process or thread id.
    pub fn alloc_pid(&self) -> i32 {
        let mut n = self.next_pid.lock();
        let procs = self.procs.lock();
        let tasks = self.tasks.lock();
        loop {
            let p = *n;
            *n = if *n >= 4_194_303 { 2 } else { *n + 1 };
            if !procs.contains_key(&p) && !tasks.contains_key(&p) {
                return p;
            }
        }
    }

    /// Remove process `pid` from the process table (it has been reaped),
    /// releasing its leader's task charge.
    pub fn release_process(&self, pid: i32) {
        if self.procs.lock().remove(&pid).is_some() {
            self.pids.uncharge();
        }
    }

    /// Report an unsupported system call once per number.
    pub fn report_unsupported(&self, nr: u64, comm: &[u8]) {
        if self.reported.lock().insert(nr) {
            let name = abi::sysno::syscall_name(nr).unwrap_or("unknown");
            tracing::warn!(syscall = name, nr, comm = %String::from_utf8_lossy(comm), "unsupported system call");
        }
    }

    /// Log, once per number, a call through the i386 ABI (`int 0x80`).
    pub fn report_unsupported_i386(&self, nr: u64, comm: &[u8]) {
        if self.reported.lock().insert(nr | 1 << 32) {
            tracing::warn!(nr, comm = %String::from_utf8_lossy(comm), "unsupported 32-bit (int 0x80) system call");
        }
    }

    /// Process `pid` (live or zombie).
    pub fn process(&self, pid: i32) -> Option<Arc<Process>> {
        self.procs.lock().get(&pid).cloned()
    }

    /// Thread `tid`.
    pub fn task(&self, tid: i32) -> Option<Arc<TaskShared>> {
        self.tasks.lock().get(&tid).cloned()
    }

    /// Pids of all processes, ascending.
    pub fn pids(&self) -> Vec<i32> {
        self.procs.lock().keys().copied().collect()
    }

    /// All processes.
    pub fn all_processes(&self) -> Vec<Arc<Process>> {
        self.procs.lock().values().cloned().collect()
    }

    /// The checks every sent signal goes through: `false` when it is
    /// discarded on arrival (or has already acted: SIGKILL). `blocked` says
    /// whether the receiver(s) block it: blocked signals are never ignored,
    /// since the handler may change before they are unblocked.
    fn admit(p: &Process, sig: u32, blocked: bool) -> bool {
        if sig == 0 || p.is_dead() || (p.init_ignores(sig) && !blocked) {
            return false;
        }
        if sig == SIGKILL {
            p.group_exit(TaskExit::Signal(SIGKILL as i32));
            return false;
        }
        if sig == SIGCONT {
            p.continue_all();
        }
        blocked || !signal::ignored(sig, &p.action(sig))
    }

    /// Send a process-directed signal.
    pub fn signal_process(&self, p: &Arc<Process>, info: Siginfo) {
        let sig = info.si_signo as u32;
        let all_block = p.threads.lock().iter().all(|t| t.mask.load(Ordering::Relaxed) & signal::bit(sig) != 0);
        if !Self::admit(p, sig, all_block) {
            return;
        }
        p.pending.lock().push(info);
        let threads = p.threads.lock().clone();
        let target = threads
            .iter()
            .find(|t| t.mask.load(Ordering::Relaxed) & signal::bit(sig) == 0)
            .or_else(|| threads.first())
            .cloned();
        if let Some(t) = &target {
            t.kick();
        }
        // Threads waiting for it in sigtimedwait or signalfd wake too.
        for t in threads.iter().filter(|t| target.as_ref().is_none_or(|x| !Arc::ptr_eq(x, t))) {
            t.waiter.notify();
        }
    }

    /// Send a process-directed signal to every process of group `pgid`.
    pub fn signal_group(&self, pgid: i32, info: Siginfo) {
        for p in self.all_processes().iter().filter(|p| p.pgid.load(Ordering::Relaxed) == pgid) {
            self.signal_process(p, info);
        }
    }

    /// Send a thread-directed signal.
    pub fn signal_thread(&self, t: &Arc<TaskShared>, info: Siginfo) {
        let sig = info.si_signo as u32;
        let Some(p) = t.process.upgrade() else { return };
        let blocked = t.mask.load(Ordering::Relaxed) & signal::bit(sig) != 0;
        if !Self::admit(&p, sig, blocked) {
            return;
        }
        t.pending.lock().push(info);
        t.kick();
    }

    /// The process that orphans are reparented to: the nearest subreaper
    /// ancestor of `p`, else pid 1.
    pub fn reaper_for(&self, p: &Arc<Process>) -> Option<Arc<Process>> {
        let mut cur = p.parent();
        while let Some(a) = cur {
            if a.subreaper.load(Ordering::Relaxed) && !a.is_dead() {
                return Some(a);
            }
            cur = a.parent();
        }
        self.process(1).filter(|i| !Arc::ptr_eq(i, p))
    }
}

/// Root, working directory and umask (`CLONE_FS` shares this).
#[derive(Clone)]
pub struct FsContext {
    pub root: Location,
    pub cwd: Location,
    pub umask: u32,
}

/// How a process ended or stopped, as its parent will be told.
#[derive(Default)]
pub struct ExitState {
    /// Set by `exit_group`, a fatal signal or the last thread's `exit`.
    pub group_exit: Option<TaskExit>,
    /// All threads are gone; the parent has not reaped it yet.
    pub zombie: bool,
    /// A stop the parent has not been told of (`WUNTRACED`): the signal.
    pub stop_report: Option<u32>,
    /// A continue the parent has not been told of (`WCONTINUED`).
    pub continue_report: bool,
    /// Stopped by a stop signal.
    pub stopped: bool,
}

/// What a process's threads share, and what `/proc/<pid>` shows.
pub struct Process {
    pub pid: i32,
    pub parent: Mutex<Weak<Process>>,
    pub children: Mutex<Vec<Arc<Process>>>,
    pub pgid: AtomicI32,
    pub sid: AtomicI32,
    pub mm: Mutex<Arc<Mutex<MemoryManager>>>,
    pub fds: Mutex<Arc<Mutex<FdTable>>>,
    pub fs: Mutex<Arc<Mutex<FsContext>>>,
    pub creds: Mutex<Creds>,
    /// `comm`: the executable's base name, at most 15 bytes.
    pub comm: Mutex<Vec<u8>>,
    /// The executable.
    pub exe: Mutex<Option<Location>>,
    pub start: Instant,
    pub actions: Mutex<[KernelSigaction; 64]>,
    /// Process-directed pending signals.
    pub pending: Mutex<SigQueue>,
    pub threads: Mutex<Vec<Arc<TaskShared>>>,
    pub exit: Mutex<ExitState>,
    /// Notified when a child changes state (exit, stop, continue).
    pub child_wq: WaitQueue,
    /// Notified when this process exits (pidfd poll, vfork).
    pub exit_wq: WaitQueue,
    pub rlimits: Mutex<[Rlimit; 16]>,
    /// Signal the parent gets on exit (SIGCHLD, or another with clone).
    pub exit_signal: u32,
    pub subreaper: AtomicBool,
    /// Set when a vfork child has exec'd or exited.
    pub vfork_done: AtomicBool,
    pub pdeathsig: AtomicI32,
    /// Nice value (-20..19); the sandbox does not change host scheduling.
    pub nice: AtomicI32,
    /// CPU affinity as the application set it (bit per CPU, up to 64); the
    /// sentry keeps its own placement of the host threads.
    pub affinity: AtomicU64,
    /// `PR_SET_KEEPCAPS` (`SECBIT_KEEP_CAPS`): a change of uid away from 0
    /// keeps the permitted capabilities. Inherited by fork, cleared by exec.
    pub keepcaps: AtomicBool,
    /// Exit status word for `wait` (valid once zombie).
    pub status: AtomicI32,
    /// CPU-time proxy: nanoseconds spent in the sentry on its behalf.
    pub sys_ns: AtomicU64,
    /// Host seconds the process's tasks spent running application code.
    pub user_ns: AtomicU64,
    /// `ITIMER_REAL` (alarm, setitimer).
    pub itimer_real: Mutex<Option<timer::Armed>>,
    /// POSIX timers (`timer_create`) by id.
    pub posix_timers: Mutex<BTreeMap<i32, timer::PosixTimer>>,
    /// `/proc/<pid>/oom_score_adj` and its floor; inherited by fork, kept
    /// across exec.
    pub oom: Mutex<OomAdj>,
}

/// A process's OOM-killer adjustment, as Linux keeps it in the signal
/// struct.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct OomAdj {
    /// `oom_score_adj`, -1000..=1000.
    pub adj: i16,
    /// `oom_score_adj_min`: the lowest value an unprivileged write may
    /// set (a privileged write of `oom_score_adj` moves it).
    pub min: i16,
}

impl Process {
    pub fn parent(&self) -> Option<Arc<Process>> {
        self.parent.lock().upgrade()
    }

    pub fn ppid(&self) -> i32 {
        self.parent().map_or(0, |p| p.pid)
    }

    pub fn action(&self, sig: u32) -> KernelSigaction {
        self.actions.lock().get((sig as usize).wrapping_sub(1)).copied().unwrap_or_default()
    }

    pub fn mm(&self) -> Arc<Mutex<MemoryManager>> {
        self.mm.lock().clone()
    }

    pub fn fds(&self) -> Arc<Mutex<FdTable>> {
        self.fds.lock().clone()
    }

    pub fn fs(&self) -> Arc<Mutex<FsContext>> {
        self.fs.lock().clone()
    }

    /// The sandbox's init (pid 1) is sent only the signals it has handlers
    /// for, SIGKILL included, as Linux does for a pid namespace's init.
    /// (Faults are forced on the faulting thread and still kill it.)
    pub fn init_ignores(&self, sig: u32) -> bool {
        self.pid == 1 && self.action(sig).handler == signal::SIG_DFL
    }

    /// Zombie or exiting.
    pub fn is_dead(&self) -> bool {
        let e = self.exit.lock();
        e.zombie || e.group_exit.is_some()
    }

    pub fn is_zombie(&self) -> bool {
        self.exit.lock().zombie
    }

    /// Make every thread of the process exit with `how` (the first reason
    /// wins).
    pub fn group_exit(&self, how: TaskExit) {
        {
            let mut e = self.exit.lock();
            if e.group_exit.is_some() || e.zombie {
                return;
            }
            e.group_exit = Some(how);
            e.stopped = false;
        }
        for t in self.threads.lock().iter() {
            t.kick();
        }
    }

    /// SIGCONT: resume a stopped process.
    pub fn continue_all(&self) {
        let mut e = self.exit.lock();
        if e.stopped {
            e.stopped = false;
            e.continue_report = true;
            e.stop_report = None;
            drop(e);
            for t in self.threads.lock().iter() {
                t.kick();
            }
            if let Some(p) = self.parent() {
                p.child_wq.notify_all();
            }
        }
        // Pending stop signals are discarded by SIGCONT.
        let mut q = self.pending.lock();
        for s in [SIGSTOP, 20, 21, 22] {
            q.discard(s);
        }
    }

    /// A one-line state letter for /proc.
    pub fn state_letter(&self) -> char {
        let e = self.exit.lock();
        if e.zombie {
            'Z'
        } else if e.stopped {
            'T'
        } else {
            'S'
        }
    }
}

/// What other threads need of a task: its signal state and how to wake it.
pub struct TaskShared {
    pub tid: i32,
    pub process: Weak<Process>,
    pub pending: Mutex<SigQueue>,
    pub mask: AtomicU64,
    pub waiter: Arc<Waiter>,
    /// Makes the task's running application code return to the sentry.
    pub interrupter: Mutex<Option<Arc<dyn Fn() + Send + Sync>>>,
    /// Set once the task has exited.
    pub exited: AtomicBool,
    /// Asks this one thread to exit (another thread is exec'ing).
    pub killed: AtomicBool,
    /// Thread name (`comm`), per thread.
    pub comm: Mutex<Vec<u8>>,
}

impl TaskShared {
    /// Wake the task from a wait and out of application code, to look at
    /// its signals.
    pub fn kick(&self) {
        self.waiter.notify();
        if let Some(f) = self.interrupter.lock().as_ref() {
            f();
        }
    }
}

/// A terminal's session and foreground process group.
#[derive(Debug, Default)]
pub struct JobControl {
    pub sid: AtomicI32,
    pub pgrp: AtomicI32,
}

/// The session and foreground process group of a terminal: the sandbox's
/// own terminal's (`Kernel::tty_sid`, `Kernel::tty_pgrp`), or one with its
/// own (an exec'd process's host terminal, a pty of the sandbox's).
pub enum TermCtl<'a> {
    Main(&'a Kernel),
    Own(Arc<JobControl>),
}

impl TermCtl<'_> {
    pub fn sid(&self) -> &AtomicI32 {
        match self {
            TermCtl::Main(k) => &k.tty_sid,
            TermCtl::Own(j) => &j.sid,
        }
    }

    pub fn pgrp(&self) -> &AtomicI32 {
        match self {
            TermCtl::Main(k) => &k.tty_pgrp,
            TermCtl::Own(j) => &j.pgrp,
        }
    }
}

impl Kernel {
    /// The job control of the terminal whose host device number is `rdev`
    /// (`None`, or one no exec'd session holds: the sandbox's own).
    /// `rdev` is asked (a host call) only when exec'd sessions hold
    /// terminals of their own.
    pub fn terminal(&self, rdev: impl FnOnce() -> Option<u64>) -> TermCtl<'_> {
        let ttys = self.exec_ttys.lock();
        if ttys.is_empty() {
            return TermCtl::Main(self);
        }
        match rdev().and_then(|r| ttys.get(&r).cloned()) {
            Some(j) => TermCtl::Own(j),
            None => TermCtl::Main(self),
        }
    }

    /// Make host terminal `rdev` the controlling terminal of session
    /// `sid` (an exec'd process leading it), `sid` its foreground group.
    pub fn set_exec_tty(&self, rdev: u64, sid: i32) {
        let j = Arc::new(JobControl { sid: AtomicI32::new(sid), pgrp: AtomicI32::new(sid) });
        self.exec_ttys.lock().insert(rdev, j);
    }
}

/// CPUs the sandbox reports: the host's count, read once at boot (before
/// the platform pins sentry threads, which would make it look like one).
pub fn ncpus() -> usize {
    static N: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    *N.get_or_init(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
}
