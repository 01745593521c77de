//! A task: one application thread, run by one sentry thread.

use parking_lot::Mutex;
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use abi::consts::*;
use abi::types::{KernelSigaction, Rlimit, Siginfo, StackT, Ucontext};
use abi::Errno;
use platform::{Context, Event, FpState, Registers};
use zerocopy::{AsBytes, FromBytes};

use super::signal::{self, bit, DefaultAction, SigQueue};
use super::waiter::{WaitQueue, Waiter};
use super::{ExitState, FsContext, Kernel, Process, TaskShared};
use crate::loader::{self, ExecFile, StackInfo};
use crate::mm::MemoryManager;
use crate::syscalls;
use crate::vfs::Caller;
use crate::vfs::{Creds, FdTable, KResult, Location};

/// How a task ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TaskExit {
    /// `exit`/`exit_group` with this status.
    Code(i32),
    /// Killed by this signal.
    Signal(i32),
}

impl TaskExit {
    /// As a shell reports it.
    pub fn shell_status(self) -> i32 {
        match self {
            TaskExit::Code(c) => c & 0xff,
            TaskExit::Signal(s) => 128 + s,
        }
    }

    /// The `wait` status word.
    pub fn wait_status(self) -> i32 {
        match self {
            TaskExit::Code(c) => (c & 0xff) << 8,
            TaskExit::Signal(s) => s & 0x7f,
        }
    }
}

/// One application thread.
pub struct Task {
    pub k: Arc<Kernel>,
    pub proc_: Arc<Process>,
    pub shared: Arc<TaskShared>,
    pub tid: i32,
    pub regs: Registers,
    pub fpu: FpState,
    pub ctx: Box<dyn Context>,
    pub mm: Arc<Mutex<MemoryManager>>,
    pub fds: Arc<Mutex<FdTable>>,
    pub fsc: Arc<Mutex<FsContext>>,
    pub altstack: StackT,
    pub clear_child_tid: u64,
    pub robust_list: (u64, u64),
    /// Set by `exit` (this thread) and `exit_group` (all threads).
    pub exit: Option<TaskExit>,
    /// What this task blocks on.
    pub waiter: Arc<Waiter>,
    /// A syscall interrupted by a signal, to restart or fail with EINTR
    /// once the signal's disposition is known.
    pub restart: Option<Errno>,
    /// The mask to restore after a handler run from `rt_sigsuspend`.
    pub saved_mask: Option<u64>,
    /// This thread forked the stub process its address space lives in.
    pub owns_space: bool,
    /// `fpu` holds state to load into the context before it first runs
    /// (a new thread or process inherits its parent's).
    pub pending_fpu: bool,
    /// The address of the last fault, to tell a retry from a loop.
    pub last_fault: Option<u64>,
}

/// Default resource limits (what a Debian login shell sees).
pub fn default_rlimits() -> [Rlimit; 16] {
    let inf = Rlimit { rlim_cur: RLIM_INFINITY, rlim_max: RLIM_INFINITY };
    let mut r = [inf; 16];
    r[RLIMIT_STACK as usize] = Rlimit { rlim_cur: 8 << 20, rlim_max: RLIM_INFINITY };
    r[RLIMIT_NOFILE as usize] = Rlimit { rlim_cur: 1024, rlim_max: 1 << 20 };
    r[RLIMIT_CORE as usize] = Rlimit { rlim_cur: 0, rlim_max: RLIM_INFINITY };
    r[RLIMIT_NPROC as usize] = Rlimit { rlim_cur: 63_432, rlim_max: 63_432 };
    r[RLIMIT_MEMLOCK as usize] = Rlimit { rlim_cur: 8 << 20, rlim_max: 8 << 20 };
    r[8 + 4] = Rlimit { rlim_cur: 63_432, rlim_max: 63_432 }; // RLIMIT_SIGPENDING
    r[8 + 5] = Rlimit { rlim_cur: 819_200, rlim_max: 819_200 }; // RLIMIT_MSGQUEUE
    r[8 + 6] = Rlimit { rlim_cur: 0, rlim_max: 0 }; // RLIMIT_NICE
    r[8 + 7] = Rlimit { rlim_cur: 0, rlim_max: 0 }; // RLIMIT_RTPRIO
    r
}

/// A new process record.
#[allow(clippy::too_many_arguments)]
pub fn new_process(
    pid: i32,
    parent: Option<&Arc<Process>>,
    mm: Arc<Mutex<MemoryManager>>,
    fds: Arc<Mutex<FdTable>>,
    fs: Arc<Mutex<FsContext>>,
    creds: Creds,
    exit_signal: u32,
) -> Arc<Process> {
    Arc::new(Process {
        pid,
        parent: Mutex::new(parent.map(Arc::downgrade).unwrap_or_default()),
        children: Mutex::new(Vec::new()),
        pgid: AtomicI32::new(parent.map_or(pid, |p| p.pgid.load(Ordering::Relaxed))),
        sid: AtomicI32::new(parent.map_or(pid, |p| p.sid.load(Ordering::Relaxed))),
        mm: Mutex::new(mm),
        fds: Mutex::new(fds),
        fs: Mutex::new(fs),
        creds: Mutex::new(creds),
        comm: Mutex::new(parent.map(|p| p.comm.lock().clone()).unwrap_or_default()),
        exe: Mutex::new(parent.and_then(|p| p.exe.lock().clone())),
        start: Instant::now(),
        actions: Mutex::new(parent.map(|p| *p.actions.lock()).unwrap_or([KernelSigaction::default(); 64])),
        pending: Mutex::new(SigQueue::default()),
        threads: Mutex::new(Vec::new()),
        exit: Mutex::new(ExitState::default()),
        child_wq: WaitQueue::default(),
        exit_wq: WaitQueue::default(),
        rlimits: Mutex::new(parent.map(|p| *p.rlimits.lock()).unwrap_or_else(default_rlimits)),
        exit_signal,
        subreaper: AtomicBool::new(false),
        vfork_done: AtomicBool::new(false),
        pdeathsig: AtomicI32::new(0),
        nice: AtomicI32::new(parent.map_or(0, |p| p.nice.load(Ordering::Relaxed))),
        keepcaps: AtomicBool::new(parent.is_some_and(|p| p.keepcaps.load(Ordering::Relaxed))),
        affinity: AtomicU64::new(parent.map_or_else(all_cpus, |p| p.affinity.load(Ordering::Relaxed))),
        status: AtomicI32::new(0),
        sys_ns: AtomicU64::new(0),
        user_ns: AtomicU64::new(0),
        itimer_real: Mutex::new(None),
        posix_timers: Mutex::new(std::collections::BTreeMap::new()),
        oom: Mutex::new(parent.map(|p| *p.oom.lock()).unwrap_or_default()),
    })
}

/// The name the sandbox's own init shows in `/proc/1/comm` and `ps`.
pub const INIT_COMM: &[u8] = b"bulwark-init";

/// The sandbox's own init, pid 1, as `docker run --init` gives: a process
/// of the sentry's with no thread and no program. It ignores SIGCHLD, so
/// the orphans it adopts are reaped as they exit; it is sent only the
/// signals it has handlers for (none), as Linux treats a namespace's init;
/// the sandbox ends, with the program's status, when the program (its
/// first child, [`Kernel::main_pid`]) exits; it counts against the pids
/// limit. `mm` is only a placeholder
/// (the program's before its first execve): init runs no code.
pub fn new_init_process(
    k: &Kernel,
    mm: &Arc<Mutex<MemoryManager>>,
    fs: &Arc<Mutex<FsContext>>,
    creds: &Creds,
) -> Arc<Process> {
    let pid = k.alloc_pid();
    let fds = Arc::new(Mutex::new(FdTable::new()));
    let init = new_process(pid, None, mm.clone(), fds, fs.clone(), creds.clone(), SIGCHLD);
    *init.comm.lock() = INIT_COMM.to_vec();
    if let Some(a) = init.actions.lock().get_mut(SIGCHLD as usize - 1) {
        a.handler = super::signal::SIG_IGN;
    }
    k.procs.lock().insert(pid, init.clone());
    // A pid like any other for the pids limit, as tini is in a container.
    k.pids.charge();
    init
}

/// The affinity mask of every CPU the sandbox reports.
fn all_cpus() -> u64 {
    let n = super::ncpus().min(64);
    if n == 64 {
        u64::MAX
    } else {
        (1u64 << n) - 1
    }
}

/// A new thread record, registered with its process and the kernel.
pub fn new_shared(k: &Kernel, p: &Arc<Process>, tid: i32, mask: u64) -> KResult<Arc<TaskShared>> {
    let s = Arc::new(TaskShared {
        tid,
        process: Arc::downgrade(p),
        pending: Mutex::new(SigQueue::default()),
        mask: AtomicU64::new(mask),
        waiter: Waiter::new()?,
        interrupter: Mutex::new(None),
        exited: AtomicBool::new(false),
        killed: AtomicBool::new(false),
        comm: Mutex::new(p.comm.lock().clone()),
    });
    p.threads.lock().push(s.clone());
    k.tasks.lock().insert(tid, s.clone());
    Ok(s)
}

impl Task {
    /// The first task of the sandbox: pid 1, with `fds` and `fs`, not yet
    /// running any program (call `execve` next).
    pub fn new_init(k: Arc<Kernel>, fds: FdTable, fs: FsContext, creds: Creds) -> KResult<Task> {
        Task::new_init_pid(k, fds, fs, creds, false)
    }

    /// The first task, made a child of a new init process (pid 1) when
    /// `under_init`.
    fn new_init_pid(k: Arc<Kernel>, fds: FdTable, fs: FsContext, creds: Creds, under_init: bool) -> KResult<Task> {
        let space = k.platform.new_address_space().map_err(|e| {
            tracing::error!("cannot create address space: {e}");
            Errno::ENOMEM
        })?;
        let ctx = k.platform.new_context().map_err(|e| {
            tracing::error!("cannot create context: {e}");
            Errno::ENOMEM
        })?;
        let mm = Arc::new(Mutex::new(MemoryManager::new(k.mf.clone(), space, k.platform.max_user_address())));
        let fsc = Arc::new(Mutex::new(fs));
        let init = under_init.then(|| new_init_process(&k, &mm, &fsc, &creds));
        let pid = k.alloc_pid();
        let fds = Arc::new(Mutex::new(fds));
        let p = new_process(pid, init.as_ref(), mm.clone(), fds.clone(), fsc.clone(), creds, SIGCHLD);
        if let Some(init) = &init {
            init.children.lock().push(p.clone());
        }
        k.procs.lock().insert(pid, p.clone());
        k.pids.charge();
        let shared = new_shared(&k, &p, pid, 0)?;
        Ok(Task::assemble(k, p, shared, ctx, mm, fds, fsc, Registers::default(), true))
    }

    /// The first program's task, as pid 2 under the sandbox's own init
    /// (pid 1, see [`new_init_process`]) when `with_init`, else as pid 1
    /// itself ([`Task::new_init`]). Under the init, the program leads a
    /// session and process group of its own, which holds the terminal.
    pub fn new_first(k: Arc<Kernel>, fds: FdTable, fs: FsContext, creds: Creds, with_init: bool) -> KResult<Task> {
        if !with_init {
            return Task::new_init(k, fds, fs, creds);
        }
        let task = Task::new_init_pid(k.clone(), fds, fs, creds.clone(), true)?;
        // Not init's dispositions (SIGCHLD ignored): the program starts as
        // exec'd by a shell, every signal at its default.
        *task.proc_.actions.lock() = [KernelSigaction::default(); 64];
        let pid = task.pid();
        task.proc_.pgid.store(pid, Ordering::Relaxed);
        task.proc_.sid.store(pid, Ordering::Relaxed);
        k.main_pid.store(pid, Ordering::Relaxed);
        k.tty_pgrp.store(pid, Ordering::Relaxed);
        k.tty_sid.store(pid, Ordering::Relaxed);
        Ok(task)
    }

    /// Put a task together from its parts.
    #[allow(clippy::too_many_arguments)]
    pub fn assemble(
        k: Arc<Kernel>,
        p: Arc<Process>,
        shared: Arc<TaskShared>,
        ctx: Box<dyn Context>,
        mm: Arc<Mutex<MemoryManager>>,
        fds: Arc<Mutex<FdTable>>,
        fsc: Arc<Mutex<FsContext>>,
        regs: Registers,
        owns_space: bool,
    ) -> Task {
        let waiter = shared.waiter.clone();
        Task {
            k,
            tid: shared.tid,
            proc_: p,
            shared,
            regs,
            fpu: FpState::default(),
            ctx,
            mm,
            fds,
            fsc,
            altstack: StackT { ss_flags: SS_DISABLE, ..Default::default() },
            clear_child_tid: 0,
            robust_list: (0, 0),
            exit: None,
            waiter,
            restart: None,
            saved_mask: None,
            owns_space,
            pending_fpu: false,
            last_fault: None,
        }
    }

    pub fn pid(&self) -> i32 {
        self.proc_.pid
    }

    pub fn creds(&self) -> Creds {
        self.proc_.creds.lock().clone()
    }

    pub fn comm(&self) -> Vec<u8> {
        self.shared.comm.lock().clone()
    }

    pub fn fs(&self) -> FsContext {
        self.fsc.lock().clone()
    }

    pub fn sigmask(&self) -> u64 {
        self.shared.mask.load(Ordering::Relaxed)
    }

    pub fn set_sigmask(&self, m: u64) {
        self.shared.mask.store(m & !signal::UNBLOCKABLE, Ordering::Relaxed);
    }

    pub fn rlimit(&self, r: u32) -> Rlimit {
        self.proc_.rlimits.lock().get(r as usize).copied().unwrap_or_default()
    }

    // ---- application memory ----

    pub fn read_bytes(&self, addr: u64, buf: &mut [u8]) -> KResult<()> {
        self.mm.lock().read_bytes(addr, buf)
    }

    pub fn write_bytes(&self, addr: u64, buf: &[u8]) -> KResult<()> {
        self.mm.lock().write_bytes(addr, buf)
    }

    pub fn read_vec(&self, addr: u64, len: usize) -> KResult<Vec<u8>> {
        let mut v = vec![0u8; len];
        self.read_bytes(addr, &mut v)?;
        Ok(v)
    }

    pub fn read_val<T: FromBytes + AsBytes>(&self, addr: u64) -> KResult<T> {
        let mut v = T::new_zeroed();
        self.read_bytes(addr, v.as_bytes_mut())?;
        Ok(v)
    }

    pub fn write_val<T: AsBytes>(&self, addr: u64, v: &T) -> KResult<()> {
        self.write_bytes(addr, v.as_bytes())
    }

    /// A path argument: NUL-terminated, shorter than `PATH_MAX`.
    pub fn read_path(&self, addr: u64) -> KResult<Vec<u8>> {
        self.mm.lock().read_cstring(addr, PATH_MAX)
    }

    /// A NULL-terminated array of string pointers (argv, envp).
    pub fn read_string_array(&self, mut addr: u64) -> KResult<Vec<Vec<u8>>> {
        let mut out = Vec::new();
        if addr == 0 {
            return Ok(out);
        }
        let mut total = 0usize;
        loop {
            let p: u64 = self.read_val(addr)?;
            if p == 0 {
                return Ok(out);
            }
            let s = self.mm.lock().read_cstring(p, 128 * 1024)?;
            total += s.len() + 1;
            if total > 2 << 20 {
                return Err(Errno::E2BIG);
            }
            out.push(s);
            addr = addr.checked_add(8).ok_or(Errno::EFAULT)?;
        }
    }

    // ---- blocking ----

    /// Whether a signal that would interrupt a blocking call is pending, or
    /// the task must exit.
    pub fn signal_pending(&self) -> bool {
        if self.must_exit().is_some() {
            return true;
        }
        let mask = self.sigmask();
        self.shared.pending.lock().set & !mask != 0 || self.proc_.pending.lock().set & !mask != 0
    }

    /// Block until `ready` yields a value, a signal is pending
    /// (`ERESTARTSYS`: the syscall layer restarts or returns `EINTR` as the
    /// handler's `SA_RESTART` says), or `deadline` passes (`ETIMEDOUT`).
    /// `ready` is re-checked after every notification of `queues`; register
    /// before checking so no wake-up is lost.
    pub fn wait_until<T>(
        &self,
        queues: &[&WaitQueue],
        deadline: Option<Instant>,
        mut ready: impl FnMut() -> KResult<Option<T>>,
    ) -> KResult<T> {
        loop {
            for q in queues {
                q.add(&self.waiter);
            }
            if let Some(v) = ready()? {
                return Ok(v);
            }
            if self.signal_pending() {
                return Err(Errno::ERESTARTSYS);
            }
            if deadline.is_some_and(|d| Instant::now() >= d) {
                return Err(Errno::ETIMEDOUT);
            }
            self.waiter.wait(&[], deadline);
        }
    }

    /// Block until host descriptor `fd` (a donated stdio stream) is ready
    /// for `events`, interruptible by signals.
    pub fn wait_host(&self, fd: std::os::fd::RawFd, events: i16) -> KResult<()> {
        loop {
            if self.signal_pending() {
                return Err(Errno::ERESTARTSYS);
            }
            let (rev, _) = self.waiter.wait(&[(fd, events)], None);
            if rev.first().is_some_and(|r| *r != 0) {
                return Ok(());
            }
        }
    }

    /// Sleep until `deadline`, interruptible by signals.
    pub fn sleep_until(&self, deadline: Instant) -> KResult<()> {
        match self.wait_until(&[], Some(deadline), || Ok(None::<()>)) {
            Err(Errno::ETIMEDOUT) => Ok(()),
            Err(e) => Err(e),
            Ok(()) => Ok(()),
        }
    }

    /// A write hit a pipe or socket with no reader: raise SIGPIPE.
    pub fn send_sigpipe(&self) {
        let info = signal::info_from(SIGPIPE, signal::SI_USER, self.pid(), self.creds().uid);
        self.k.signal_thread(&self.shared, info);
    }

    // ---- exec ----

    /// Open an executable at `path` (resolved from the cwd), checking it is
    /// a regular file the task may execute.
    pub fn open_exec(&self, path: &[u8]) -> KResult<(ExecFile, Location)> {
        let fs = self.fs();
        let creds = self.creds();
        let loc = self.k.vfs.resolve(Caller::of(self), &fs.root, &fs.cwd, path, true, &creds)?;
        let attr = loc.inode().attr()?;
        if !attr.is_regular() {
            return Err(Errno::EACCES);
        }
        crate::vfs::may_access(&attr, &creds, X_OK)?;
        let file = loc.inode().open(Caller::of(self), O_RDONLY)?;
        let full = self.k.vfs.path_of(&loc, &fs.root);
        Ok((ExecFile { file, attr, path: full }, loc))
    }

    /// End every other thread of the process (exec).
    fn kill_other_threads(&self) {
        let others: Vec<Arc<TaskShared>> =
            self.proc_.threads.lock().iter().filter(|t| t.tid != self.tid).cloned().collect();
        for t in &others {
            t.killed.store(true, Ordering::Relaxed);
            t.kick();
        }
        while self.proc_.threads.lock().iter().any(|t| t.tid != self.tid) {
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
    }

    /// Replace the program: `execve(path, argv, envp)`.
    pub fn execve(&mut self, path: &[u8], mut argv: Vec<Vec<u8>>, envp: Vec<Vec<u8>>) -> KResult<()> {
        let (mut exe, mut loc) = self.open_exec(path)?;
        let mut execfn = path.to_vec();
        // `#!` scripts, up to 4 levels like Linux's binfmt recursion limit.
        for _ in 0..5 {
            let mut head = [0u8; loader::SCRIPT_HEAD];
            let n = exe.file.read(Caller::SENTRY, &mut head, 0)?;
            let Some((interp, arg)) = loader::parse_shebang(&head[..n.min(head.len())])? else {
                break;
            };
            let mut nargv = vec![interp.clone()];
            if let Some(a) = arg.filter(|a| !a.is_empty()) {
                nargv.push(a);
            }
            nargv.push(execfn.clone());
            nargv.extend(argv.into_iter().skip(1));
            argv = nargv;
            let (e, l) = self.open_exec(&interp)?;
            exe = e;
            loc = l;
            execfn = interp;
        }
        // Point of no return once the new image is built.
        let space = self.k.platform.new_address_space().map_err(|e| {
            tracing::error!("cannot create address space: {e}");
            Errno::ENOMEM
        })?;
        let mut mm = MemoryManager::new(self.k.mf.clone(), space, self.k.platform.max_user_address());
        let creds = self.creds();
        let mut random = [0u8; 16];
        getrandom(&mut random);
        let info = StackInfo {
            argv: &argv,
            envp: &envp,
            execfn: &execfn,
            uid: creds.uid,
            euid: creds.euid,
            gid: creds.gid,
            egid: creds.egid,
            random,
            vdso: self.k.vdso.as_ref(),
        };
        let mut open_interp = |p: &[u8]| self.open_exec(p).map(|(e, _)| e);
        let img = loader::load(&mut mm, &exe, &mut open_interp, &info)?;
        self.kill_other_threads();
        let ctx = self.k.platform.new_context().map_err(|_| Errno::ENOMEM)?;
        let mm = Arc::new(Mutex::new(mm));
        self.mm = mm.clone();
        *self.proc_.mm.lock() = mm;
        self.owns_space = true;
        // A shared descriptor table (CLONE_FILES) is unshared by exec.
        let fds = self.fds.lock().clone();
        self.fds = Arc::new(Mutex::new(fds));
        self.fds.lock().close_on_exec();
        *self.proc_.fds.lock() = self.fds.clone();
        // comm is the last component of the name execve was given (before
        // symlinks: `python3`, not `python3.11`), as Linux takes it.
        let base = path.rsplit(|b| *b == b'/').next().unwrap_or(path);
        let comm = base[..base.len().min(15)].to_vec();
        *self.proc_.comm.lock() = comm.clone();
        *self.shared.comm.lock() = comm;
        *self.proc_.exe.lock() = Some(loc);
        // The capabilities the new program holds (no file capabilities, no
        // set-id bits): see `caps::Capabilities::exec`.
        {
            let mut c = self.proc_.creds.lock();
            c.caps = c.caps.exec(c.uid, c.euid);
        }
        self.proc_.keepcaps.store(false, Ordering::Relaxed);
        for a in self.proc_.actions.lock().iter_mut() {
            // Handlers reset to default; ignored stays ignored.
            if a.handler > 1 {
                *a = KernelSigaction::default();
            }
        }
        self.altstack = StackT { ss_flags: SS_DISABLE, ..Default::default() };
        self.regs = Registers { rip: img.entry, rsp: img.sp, cs: 0x33, ss: 0x2b, eflags: 0x202, ..Default::default() };
        self.fpu = FpState::default();
        self.ctx = ctx;
        self.install_interrupter();
        self.clear_child_tid = 0;
        self.robust_list = (0, 0);
        if !self.proc_.vfork_done.swap(true, Ordering::Relaxed) {
            self.proc_.exit_wq.notify_all();
        }
        Ok(())
    }

    fn install_interrupter(&self) {
        *self.shared.interrupter.lock() = Some(self.ctx.interrupter());
    }

    // ---- signals ----

    /// Why this task must stop running, if it must.
    pub fn must_exit(&self) -> Option<TaskExit> {
        if let Some(e) = self.exit {
            return Some(e);
        }
        if self.shared.killed.load(Ordering::Relaxed) {
            return Some(TaskExit::Signal(SIGKILL as i32));
        }
        if let Some(e) = self.proc_.exit.lock().group_exit {
            return Some(e);
        }
        if self.k.shutdown.load(Ordering::Relaxed) {
            return Some(TaskExit::Signal(SIGKILL as i32));
        }
        None
    }

    /// A signal the task raised itself (a fault): delivered even if blocked
    /// or ignored, in which case it kills.
    pub fn force_signal(&mut self, info: Siginfo) {
        let sig = info.si_signo as u32;
        let idx = (sig - 1) as usize;
        {
            let mut acts = self.proc_.actions.lock();
            if acts[idx].handler == signal::SIG_IGN || self.sigmask() & bit(sig) != 0 {
                acts[idx].handler = signal::SIG_DFL;
            }
        }
        self.set_sigmask(self.sigmask() & !bit(sig));
        self.shared.pending.lock().push(info);
    }

    /// Deliver pending signals: run default actions or set up handlers.
    fn deliver_signals(&mut self) {
        loop {
            if self.must_exit().is_some() {
                return;
            }
            let mask = self.sigmask();
            let info = self.shared.pending.lock().take(mask).or_else(|| self.proc_.pending.lock().take(mask));
            let Some(info) = info else { break };
            let sig = info.si_signo as u32;
            let act = self.proc_.action(sig);
            if act.handler == signal::SIG_IGN {
                continue;
            }
            if act.handler == signal::SIG_DFL {
                match signal::default_action(sig) {
                    DefaultAction::Ignore | DefaultAction::Continue => continue,
                    DefaultAction::Stop => {
                        self.stop(sig);
                        continue;
                    }
                    DefaultAction::Terminate | DefaultAction::CoreDump => {
                        if signal::default_action(sig) == DefaultAction::CoreDump {
                            tracing::info!(
                                "{} (pid {}, tid {}): killed by signal {sig} (code {}, addr {:#x}) at rip {:#x}",
                                String::from_utf8_lossy(&self.comm()),
                                self.pid(),
                                self.tid,
                                info.si_code,
                                info.fields[0],
                                self.regs.rip
                            );
                        }
                        self.proc_.group_exit(TaskExit::Signal(sig as i32));
                        return;
                    }
                }
            }
            if let Err(e) = self.setup_frame(sig, &act, &info) {
                tracing::error!("pid {}: cannot deliver signal {sig}: {e}", self.pid());
                self.proc_.group_exit(TaskExit::Signal(SIGSEGV as i32));
                return;
            }
        }
        // No handler ran for an interrupted call: restart it.
        if let Some(e) = self.restart.take() {
            if let Some(m) = self.saved_mask.take() {
                self.set_sigmask(m);
            }
            if e == Errno::ERESTART_RESTARTBLOCK {
                self.regs.rax = Errno::EINTR.as_ret();
            } else {
                self.rewind_syscall();
            }
        }
    }

    fn rewind_syscall(&mut self) {
        self.regs.rip = self.regs.rip.wrapping_sub(2);
        self.regs.rax = self.regs.orig_rax;
    }

    fn setup_frame(&mut self, sig: u32, act: &KernelSigaction, info: &Siginfo) -> KResult<()> {
        if let Some(e) = self.restart.take() {
            let restart =
                e == Errno::ERESTARTNOINTR || (e == Errno::ERESTARTSYS && act.flags & signal::SA_RESTART != 0);
            if restart {
                self.rewind_syscall();
            } else {
                self.regs.rax = Errno::EINTR.as_ret();
            }
        }
        let oldmask = self.saved_mask.take().unwrap_or(self.sigmask());
        let frame = signal::build_frame(&self.regs, act, info, oldmask, &self.altstack);
        self.ctx.fpu_state(&mut self.fpu).map_err(|_| Errno::EFAULT)?;
        let mut fx = self.fpu.bytes.clone();
        fx.resize(512, 0);
        self.write_bytes(frame.fp_addr, &fx)?;
        self.write_bytes(frame.sp, &frame.bytes)?;
        // The handler starts with a clean FPU (x87 control word 0x37f,
        // MXCSR 0x1f80), as Linux gives it.
        let mut clean = FpState { bytes: vec![0; self.fpu.bytes.len().max(512)] };
        clean.bytes[0..2].copy_from_slice(&0x037fu16.to_le_bytes());
        clean.bytes[24..28].copy_from_slice(&0x1f80u32.to_le_bytes());
        clean.bytes[28..32].copy_from_slice(&0xffffu32.to_le_bytes());
        let _ = self.ctx.set_fpu_state(&clean);
        self.regs.rip = act.handler;
        self.regs.rsp = frame.sp;
        self.regs.rdi = u64::from(sig);
        let info_off = std::mem::offset_of!(abi::types::RtSigframe, info) as u64;
        let uc_off = std::mem::offset_of!(abi::types::RtSigframe, uc) as u64;
        self.regs.rsi = frame.sp + info_off;
        self.regs.rdx = frame.sp + uc_off;
        self.regs.rax = 0;
        self.regs.eflags &= !(0x400 | 0x100 | 0x40000); // DF, TF, AC
        let mut newmask = oldmask | act.mask;
        if act.flags & signal::SA_NODEFER == 0 {
            newmask |= bit(sig);
        }
        self.set_sigmask(newmask);
        if act.flags & signal::SA_RESETHAND != 0 {
            self.proc_.actions.lock()[(sig - 1) as usize] = KernelSigaction::default();
        }
        Ok(())
    }

    /// `rt_sigreturn`: restore what the handler frame saved.
    pub fn sigreturn(&mut self) -> KResult<()> {
        let uc_addr = self.regs.rsp;
        let uc: Ucontext = self.read_val(uc_addr)?;
        signal::restore_regs(&mut self.regs, &uc)?;
        self.set_sigmask(uc.uc_sigmask);
        if uc.uc_mcontext.fpstate != 0 {
            let fx = self.read_vec(uc.uc_mcontext.fpstate, 512)?;
            let mut st = self.fpu.clone();
            if st.bytes.len() < 512 {
                st.bytes.resize(512, 0);
            }
            st.bytes[..512].copy_from_slice(&fx[..512]);
            // MXCSR reserved bits must be clear or the host refuses the state.
            if st.bytes.len() >= 28 {
                let mxcsr = u32::from_le_bytes([st.bytes[24], st.bytes[25], st.bytes[26], st.bytes[27]]) & 0xffff;
                st.bytes[24..28].copy_from_slice(&mxcsr.to_le_bytes());
            }
            if self.ctx.set_fpu_state(&st).is_ok() {
                self.fpu = st;
            }
        }
        let ss = uc.uc_stack;
        if ss.ss_flags & SS_DISABLE == 0 && ss.ss_size >= MINSIGSTKSZ {
            self.altstack = StackT { ss_flags: 0, ..ss };
        }
        Ok(())
    }

    /// Stop the process (SIGSTOP & co.) until SIGCONT.
    fn stop(&mut self, sig: u32) {
        {
            let mut e = self.proc_.exit.lock();
            e.stopped = true;
            e.stop_report = Some(sig);
            e.continue_report = false;
        }
        if let Some(parent) = self.proc_.parent() {
            if parent.action(SIGCHLD).flags & signal::SA_NOCLDSTOP == 0 {
                let mut i = signal::info_from(SIGCHLD, signal::CLD_STOPPED, self.pid(), self.creds().uid);
                i.fields[1] = u64::from(sig);
                self.k.signal_process(&parent, i);
            }
            parent.child_wq.notify_all();
        }
        if self.pid() == self.k.main_pid.load(Ordering::Relaxed) {
            super::host_signals::program_stopped(&self.k);
        }
    }

    // ---- the run loop ----

    /// Run until the task exits; then tear it down.
    pub fn run(&mut self) -> TaskExit {
        self.install_interrupter();
        let how = loop {
            self.deliver_signals();
            if let Some(e) = self.must_exit() {
                break e;
            }
            if self.proc_.exit.lock().stopped {
                let p = self.proc_.clone();
                let _ = self.wait_until(&[], None, || Ok((!p.exit.lock().stopped).then_some(())));
                continue;
            }
            if self.k.frozen.load(Ordering::SeqCst) {
                self.wait_thawed();
                continue;
            }
            let space = self.mm.lock().space().clone();
            let ev = match self.ctx.switch(&space, &mut self.regs, &mut self.fpu) {
                Ok(ev) => ev,
                Err(e) => {
                    tracing::error!("pid {}: platform failure: {e}", self.pid());
                    self.proc_.group_exit(TaskExit::Signal(SIGKILL as i32));
                    continue;
                }
            };
            match ev {
                Event::Syscall => {
                    self.last_fault = None;
                    syscalls::dispatch(self)
                }
                Event::Syscall32 => {
                    self.last_fault = None;
                    syscalls::table::dispatch_i386(self)
                }
                Event::Fault { addr, si_code, .. } => {
                    // A fault on a page another thread has just mapped (or
                    // given its own copy of a copy-on-write page) is
                    // retried, but never twice in a row at one address.
                    let repeat = self.last_fault == Some(addr);
                    self.last_fault = Some(addr);
                    let stale = (si_code == SEGV_MAPERR || si_code == SEGV_ACCERR) && !repeat;
                    let handled = self.mm.lock().handle_fault(addr, stale);
                    if handled == Err(Errno::ENOMEM) {
                        // No page to give: the OOM killer makes room (or
                        // ends this process), then the access is retried.
                        self.last_fault = None;
                        super::limits::out_of_memory(self);
                        continue;
                    }
                    if let Err(e) = handled {
                        let why = self.mm.lock().last_error.take().unwrap_or_default();
                        tracing::warn!("tid {}: fault at {addr:#x} not handled: {e} {why}", self.tid);
                    }
                    if !matches!(handled, Ok(true)) {
                        let what = self.mm.lock().describe(addr);
                        tracing::info!("tid {}: SIGSEGV at {addr:#x}: {what}", self.tid);
                        let mut i = signal::info(SIGSEGV, si_code);
                        i.fields[0] = addr;
                        self.force_signal(i);
                    }
                }
                Event::Signal { signo, si_code, addr } => {
                    let mut i = signal::info(signo as u32, si_code);
                    i.fields[0] = addr;
                    self.force_signal(i);
                }
                Event::Interrupted => {}
            }
        };
        self.exit_task(how);
        how
    }

    /// Wait while the kernel is frozen (`bulwark pause`); signals do not
    /// end the wait, only a thaw or the task's end.
    fn wait_thawed(&self) {
        loop {
            self.k.thaw_wq.add(&self.waiter);
            if !self.k.frozen.load(Ordering::SeqCst) || self.must_exit().is_some() {
                return;
            }
            self.waiter.wait(&[], None);
        }
    }

    /// Thread teardown: robust futexes, `clear_child_tid`, and the process
    /// exit when this was the last thread.
    fn exit_task(&mut self, how: TaskExit) {
        self.exit_robust_list();
        // Gone from the process before a joiner is woken, so what it sees
        // next (e.g. /proc/<pid>/task) already shows the thread exited.
        self.shared.exited.store(true, Ordering::Relaxed);
        *self.shared.interrupter.lock() = None;
        self.k.tasks.lock().remove(&self.tid);
        if self.tid != self.pid() {
            // A thread is released as it exits; the leader when its
            // process is reaped.
            self.k.pids.uncharge();
        }
        let last = {
            let mut th = self.proc_.threads.lock();
            th.retain(|t| t.tid != self.tid);
            th.is_empty()
        };
        if self.clear_child_tid != 0 {
            let _ = self.write_val(self.clear_child_tid, &0u32);
            let key = (Arc::as_ptr(&self.mm) as usize, self.clear_child_tid);
            let _ = self.k.futexes.wake(key, 1, u32::MAX);
        }
        if last {
            let status = self.proc_.exit.lock().group_exit.unwrap_or(how);
            super::process::exit_process(&self.k, &self.proc_, status);
        }
    }

    /// Mark the robust futexes this thread holds as owner-dead and wake a
    /// waiter on each (`set_robust_list`).
    fn exit_robust_list(&self) {
        const FUTEX_OWNER_DIED: u32 = 0x4000_0000;
        const FUTEX_WAITERS: u32 = 0x8000_0000;
        const FUTEX_TID_MASK: u32 = 0x3fff_ffff;
        let (head, len) = self.robust_list;
        if head == 0 || len != 24 {
            return;
        }
        let Ok(first) = self.read_val::<u64>(head) else { return };
        let Ok(offset) = self.read_val::<i64>(head + 8) else { return };
        let pending = self.read_val::<u64>(head + 16).unwrap_or(0);
        let mut entry = first & !1;
        let mut seen = 0;
        let handle = |e: u64| {
            let word = e.wrapping_add(offset as u64);
            if let Ok(v) = self.read_val::<u32>(word) {
                if v & FUTEX_TID_MASK == self.tid as u32 {
                    let nv = (v & FUTEX_WAITERS) | FUTEX_OWNER_DIED;
                    let _ = self.write_val(word, &nv);
                    let key = (Arc::as_ptr(&self.mm) as usize, word);
                    let _ = self.k.futexes.wake(key, 1, u32::MAX);
                }
            }
        };
        while entry != head && entry != 0 && seen < 2048 {
            let next = self.read_val::<u64>(entry).unwrap_or(0) & !1;
            if entry != pending & !1 {
                handle(entry);
            }
            entry = next;
            seen += 1;
        }
        if pending & !1 != 0 {
            handle(pending & !1);
        }
    }
}

/// Fill `buf` from the host's random source (the sentry's own use).
pub fn getrandom(buf: &mut [u8]) {
    // The host's pool never fails a blocking read once ready; an error
    // leaves the rest zero rather than spinning.
    let _ = crate::host::getrandom(buf);
}
