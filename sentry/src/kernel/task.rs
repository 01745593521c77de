//! A task: one application thread, run by one sentry thread.

use std::sync::{Arc, Mutex};

use abi::consts::*;
use abi::types::{KernelSigaction, Rlimit, StackT};
use abi::Errno;
use platform::{Context, Event, FpState, Registers};
use zerocopy::{AsBytes, FromBytes};

use super::{FsContext, Kernel, Process};
use crate::loader::{self, ExecFile, StackInfo};
use crate::mm::MemoryManager;
use crate::syscalls;
use crate::vfs::{lock, Creds, FdTable, KResult, Location};

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
}

/// Signal state kept for the calls that set it; delivery comes with the
/// process model.
pub struct SignalState {
    pub actions: [KernelSigaction; 64],
    pub mask: u64,
    pub altstack: StackT,
}

/// One application thread.
pub struct Task {
    pub k: Arc<Kernel>,
    pub proc_: Arc<Process>,
    pub tid: i32,
    pub regs: Registers,
    pub fpu: FpState,
    ctx: Box<dyn Context>,
    pub sig: Arc<Mutex<SignalState>>,
    pub sigmask: u64,
    pub altstack: StackT,
    pub rlimits: [Rlimit; 16],
    pub clear_child_tid: u64,
    pub robust_list: (u64, u64),
    pub exit: Option<TaskExit>,
    /// What this task blocks on.
    pub waiter: Arc<super::waiter::Waiter>,
}

fn default_rlimits() -> [Rlimit; 16] {
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

impl Task {
    /// The first task of the sandbox: pid 1, with `fds` and `fs`, not yet
    /// running any program (call `execve` next).
    pub fn new_init(k: Arc<Kernel>, fds: FdTable, fs: FsContext, creds: Creds) -> KResult<Task> {
        let space = k.platform.new_address_space().map_err(|e| {
            k.log(&format!("bulwark: cannot create address space: {e}"));
            Errno::ENOMEM
        })?;
        let ctx = k.platform.new_context().map_err(|e| {
            k.log(&format!("bulwark: cannot create context: {e}"));
            Errno::ENOMEM
        })?;
        let mm = MemoryManager::new(k.mf.clone(), space, k.platform.max_user_address());
        let pid = k.alloc_pid();
        let p = Arc::new(Process {
            pid,
            ppid: Mutex::new(0),
            mm: Arc::new(Mutex::new(mm)),
            fds: Arc::new(Mutex::new(fds)),
            fs: Arc::new(Mutex::new(fs)),
            creds: Mutex::new(creds),
            comm: Mutex::new(Vec::new()),
            exe: Mutex::new(None),
            start: std::time::Instant::now(),
        });
        lock(&k.procs).insert(pid, Arc::downgrade(&p));
        Ok(Task {
            k,
            proc_: p,
            tid: pid,
            regs: Registers::default(),
            fpu: FpState::default(),
            ctx,
            sig: Arc::new(Mutex::new(SignalState {
                actions: [KernelSigaction::default(); 64],
                mask: 0,
                altstack: StackT { ss_flags: SS_DISABLE, ..Default::default() },
            })),
            sigmask: 0,
            altstack: StackT { ss_flags: SS_DISABLE, ..Default::default() },
            rlimits: default_rlimits(),
            clear_child_tid: 0,
            robust_list: (0, 0),
            exit: None,
            waiter: super::waiter::Waiter::new()?,
        })
    }

    pub fn pid(&self) -> i32 {
        self.proc_.pid
    }

    pub fn creds(&self) -> Creds {
        lock(&self.proc_.creds).clone()
    }

    pub fn comm(&self) -> Vec<u8> {
        lock(&self.proc_.comm).clone()
    }

    pub fn fs(&self) -> FsContext {
        lock(&self.proc_.fs).clone()
    }

    // ---- application memory ----

    pub fn read_bytes(&self, addr: u64, buf: &mut [u8]) -> KResult<()> {
        lock(&self.proc_.mm).read_bytes(addr, buf)
    }

    pub fn write_bytes(&self, addr: u64, buf: &[u8]) -> KResult<()> {
        lock(&self.proc_.mm).write_bytes(addr, buf)
    }

    pub fn read_vec(&self, addr: u64, len: usize) -> KResult<Vec<u8>> {
        let mut v = vec![0u8; len];
        self.read_bytes(addr, &mut v)?;
        Ok(v)
    }

    pub fn read_val<T: FromBytes + AsBytes + Default>(&self, addr: u64) -> KResult<T> {
        let mut v = T::default();
        self.read_bytes(addr, v.as_bytes_mut())?;
        Ok(v)
    }

    pub fn write_val<T: AsBytes>(&self, addr: u64, v: &T) -> KResult<()> {
        self.write_bytes(addr, v.as_bytes())
    }

    /// A path argument: NUL-terminated, shorter than `PATH_MAX`.
    pub fn read_path(&self, addr: u64) -> KResult<Vec<u8>> {
        lock(&self.proc_.mm).read_cstring(addr, PATH_MAX)
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
            let s = lock(&self.proc_.mm).read_cstring(p, 128 * 1024)?;
            total += s.len() + 1;
            if total > 2 << 20 || out.len() > 0x7fff_ffff {
                return Err(Errno::E2BIG);
            }
            out.push(s);
            addr = addr.checked_add(8).ok_or(Errno::EFAULT)?;
        }
    }

    // ---- blocking ----

    /// A write hit a pipe or socket with no reader: raise SIGPIPE.
    pub fn send_sigpipe(&self) {}

    /// Whether a signal that would interrupt a blocking call is pending.
    pub fn signal_pending(&self) -> bool {
        false
    }

    /// Block until `ready` yields a value, a signal is pending
    /// (`ERESTARTSYS`: the syscall layer restarts or returns `EINTR` as the
    /// handler's `SA_RESTART` says), or `deadline` passes (`ETIMEDOUT`).
    /// `ready` is re-checked after every notification of `queues`; register
    /// before checking so no wake-up is lost.
    pub fn wait_until<T>(
        &self,
        queues: &[&super::waiter::WaitQueue],
        deadline: Option<std::time::Instant>,
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
            if deadline.is_some_and(|d| std::time::Instant::now() >= d) {
                return Err(Errno::ETIMEDOUT);
            }
            self.waiter.wait(&[], deadline);
        }
    }

    // ---- exec ----

    /// Open an executable at `path` (resolved from the cwd), checking it is
    /// a regular file the task may execute.
    pub fn open_exec(&self, path: &[u8]) -> KResult<(ExecFile, Location)> {
        let fs = self.fs();
        let creds = self.creds();
        let loc = self.k.vfs.resolve(&fs.root, &fs.cwd, path, true, &creds)?;
        let attr = loc.inode().attr()?;
        if attr.is_dir() {
            return Err(Errno::EACCES);
        }
        if !attr.is_regular() {
            return Err(Errno::EACCES);
        }
        crate::vfs::may_access(&attr, &creds, X_OK)?;
        let file = loc.inode().open(O_RDONLY)?;
        let full = self.k.vfs.path_of(&loc, &fs.root);
        Ok((ExecFile { file, attr, path: full }, loc))
    }

    /// Replace the program: `execve(path, argv, envp)`.
    pub fn execve(&mut self, path: &[u8], mut argv: Vec<Vec<u8>>, envp: Vec<Vec<u8>>) -> KResult<()> {
        let (mut exe, mut loc) = self.open_exec(path)?;
        let mut execfn = path.to_vec();
        // `#!` scripts, up to 4 levels like Linux's binfmt recursion limit.
        for _ in 0..5 {
            let mut head = [0u8; 256];
            let n = exe.file.read(&mut head, 0)?;
            if n < 2 || &head[..2] != b"#!" {
                break;
            }
            let line_end = head[..n].iter().position(|&b| b == b'\n').unwrap_or(n);
            let line = &head[2..line_end];
            let line: Vec<u8> = line.iter().copied().skip_while(|b| *b == b' ' || *b == b'\t').collect();
            let mut parts = line.splitn(2, |b| *b == b' ' || *b == b'\t');
            let interp = parts.next().unwrap_or(&[]).to_vec();
            if interp.is_empty() {
                return Err(Errno::ENOEXEC);
            }
            let arg = parts.next().map(|a| {
                let a: Vec<u8> = a.to_vec();
                let end = a.iter().rposition(|b| *b != b' ' && *b != b'\t' && *b != b'\r').map_or(0, |i| i + 1);
                a[..end].to_vec()
            });
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
        // Point of no return: build the new image in a fresh address space.
        let space = self.k.platform.new_address_space().map_err(|e| {
            self.k.log(&format!("bulwark: cannot create address space: {e}"));
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
        };
        let mut open_interp = |p: &[u8]| self.open_exec(p).map(|(e, _)| e);
        let img = loader::load(&mut mm, &exe, &mut open_interp, &info)?;
        *lock(&self.proc_.mm) = mm;
        lock(&self.proc_.fds).close_on_exec();
        let base = exe.path.rsplit(|b| *b == b'/').next().unwrap_or(&exe.path);
        *lock(&self.proc_.comm) = base[..base.len().min(15)].to_vec();
        *lock(&self.proc_.exe) = Some(loc);
        {
            let mut s = lock(&self.sig);
            for a in s.actions.iter_mut() {
                // Handlers reset to default; ignored stays ignored.
                if a.handler > 1 {
                    *a = KernelSigaction::default();
                }
            }
        }
        self.altstack = StackT { ss_flags: SS_DISABLE, ..Default::default() };
        self.regs = Registers { rip: img.entry, rsp: img.sp, cs: 0x33, ss: 0x2b, eflags: 0x202, ..Default::default() };
        self.fpu = FpState::default();
        self.ctx = self.k.platform.new_context().map_err(|_| Errno::ENOMEM)?;
        Ok(())
    }

    /// Run until the task exits.
    pub fn run(&mut self) -> TaskExit {
        super::set_current(Some(self.proc_.clone()));
        loop {
            if let Some(e) = self.exit {
                return e;
            }
            let space = lock(&self.proc_.mm).space().clone();
            let ev = match self.ctx.switch(&space, &mut self.regs, &mut self.fpu) {
                Ok(ev) => ev,
                Err(e) => {
                    self.k.log(&format!("bulwark: platform failure: {e}"));
                    return TaskExit::Signal(SIGKILL as i32);
                }
            };
            match ev {
                Event::Syscall => syscalls::dispatch(self),
                Event::Fault { addr, .. } => {
                    let handled = lock(&self.proc_.mm).handle_fault(addr);
                    if !matches!(handled, Ok(true)) {
                        self.k.log(&format!(
                            "bulwark: {} (pid {}): segmentation fault at {addr:#x} (rip {:#x})",
                            String::from_utf8_lossy(&self.comm()),
                            self.pid(),
                            self.regs.rip
                        ));
                        self.exit = Some(TaskExit::Signal(SIGSEGV as i32));
                    }
                }
                Event::Signal { signo, .. } => {
                    self.k.log(&format!(
                        "bulwark: {} (pid {}): signal {signo} at rip {:#x}",
                        String::from_utf8_lossy(&self.comm()),
                        self.pid(),
                        self.regs.rip
                    ));
                    self.exit = Some(TaskExit::Signal(signo));
                }
                Event::Interrupted => {}
            }
        }
    }
}

impl Drop for Task {
    fn drop(&mut self) {
        lock(&self.k.procs).remove(&self.proc_.pid);
    }
}

/// Fill `buf` from the host's random source (the sentry's own use).
pub fn getrandom(buf: &mut [u8]) {
    let mut done = 0;
    while done < buf.len() {
        // SAFETY: writing into the unfilled tail of `buf`, whose length we pass.
        #[allow(unsafe_code)]
        let n = unsafe { libc::getrandom(buf[done..].as_mut_ptr().cast(), buf.len() - done, 0) };
        if n > 0 {
            done += n as usize;
        }
    }
}
