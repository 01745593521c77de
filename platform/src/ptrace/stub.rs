//! The stub process: its code page, its seccomp filter, how it is forked,
//! how system calls are injected into it, and how it is killed.
//!
//! A stub is forked from the sentry thread that creates the address space and
//! is traced by that thread (`PTRACE_TRACEME` makes the forking *thread* the
//! tracer). Every `ptrace` request on a stub must come from that thread.

use std::os::fd::{AsFd, OwnedFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};

use hostsys::seccomp::{sock_filter, Action, Policy, Rule};
use libc::{c_int, pid_t};

use super::sys::{self, Resume, Stop};
use crate::{Error, Registers, Result};

/// Where the stub code page lives, in the sentry and in every stub. The
/// sentry never maps application memory there (`AddressSpace::reserved`).
pub const STUB_BASE: u64 = 0x7000_0000_0000;
/// Length of the stub code page.
pub const STUB_LEN: u64 = 0x1000;
/// The end of the user address space on x86-64 (4-level paging).
const USER_TOP: u64 = 0x7fff_ffff_f000;

/// Offset of the entry routine in the stub page.
const ENTRY_OFF: u64 = 0;
/// `rip` of a stub waiting in the entry routine's trap loop (after `int3`).
const READY_RIP: u64 = STUB_BASE + 47;
/// Address of the `syscall; int3` sequence injected calls run.
const INJECT_RIP: u64 = STUB_BASE + 64;
/// `rip` after the `int3` that ends an injected call.
const INJECT_DONE_RIP: u64 = INJECT_RIP + 3;
/// Address of the `syscall` that injected `clone`s run: the parent traps
/// after it, the child (rax == 0) jumps to `SPIN_RIP`.
const CLONE_RIP: u64 = STUB_BASE + 80;
/// `rip` after the `int3` that ends an injected `clone` in the parent.
const CLONE_DONE_RIP: u64 = CLONE_RIP + 8;
/// The loop a new thread waits in (the `pause` system call, without a
/// stack) until its tracer seizes it: blocked, it leaves the CPU to the
/// sentry thread that will adopt it (a spinning thread pinned to the same
/// CPU cost ~4 ms of timeslice per thread creation).
const SPIN_RIP: u64 = CLONE_RIP + 8;

/// The stub page: hand-assembled, position-dependent only through the
/// immediates below. Every byte not listed is `int3` (0xcc).
fn stub_code() -> [u8; 4096] {
    let mut page = [0xcc_u8; 4096];
    let mut code: Vec<u8> = Vec::with_capacity(64);
    // Entry (offset 0). No stack is used: the stack is unmapped here.
    code.extend_from_slice(&[0xb8, 0x0b, 0, 0, 0]); //        mov eax, 11 (munmap)
    code.extend_from_slice(&[0x31, 0xff]); //                  xor edi, edi
    code.extend_from_slice(&[0x48, 0xbe]); //                  movabs rsi, STUB_BASE
    code.extend_from_slice(&STUB_BASE.to_le_bytes());
    code.extend_from_slice(&[0x0f, 0x05]); //                  syscall
    code.extend_from_slice(&[0xb8, 0x0b, 0, 0, 0]); //        mov eax, 11 (munmap)
    code.extend_from_slice(&[0x48, 0xbf]); //                  movabs rdi, STUB_BASE+STUB_LEN
    code.extend_from_slice(&(STUB_BASE + STUB_LEN).to_le_bytes());
    code.extend_from_slice(&[0x48, 0xbe]); //                  movabs rsi, USER_TOP-(STUB_BASE+STUB_LEN)
    code.extend_from_slice(&(USER_TOP - STUB_BASE - STUB_LEN).to_le_bytes());
    code.extend_from_slice(&[0x0f, 0x05]); //                  syscall
    code.push(0xcc); //                                        ready: int3
    code.extend_from_slice(&[0xeb, 0xfd]); //                  jmp ready
    debug_assert_eq!(STUB_BASE + code.len() as u64 - 2, READY_RIP);
    page[..code.len()].copy_from_slice(&code);
    // Injection (offset 64): the stub's only host system calls after entry.
    let inject = (INJECT_RIP - STUB_BASE) as usize;
    page[inject..inject + 3].copy_from_slice(&[
        0x0f, 0x05, //                                         syscall
        0xcc, //                                               int3
    ]);
    // Thread creation (offset 80): `clone` returns twice.
    let clone = (CLONE_RIP - STUB_BASE) as usize;
    page[clone..clone + 17].copy_from_slice(&[
        0x0f, 0x05, //                                         syscall
        0x48, 0x85, 0xc0, //                                   test rax, rax
        0x74, 0x01, //                                         jz spin (the child)
        0xcc, //                                               int3 (the parent)
        0xb8, 0x22, 0x00, 0x00, 0x00, //                       spin: mov eax, 34 (pause)
        0x0f, 0x05, //                                         syscall
        0xeb, 0xf7, //                                         jmp spin
    ]);
    debug_assert_eq!(CLONE_DONE_RIP, SPIN_RIP);
    page
}

static STUB_PAGE: OnceLock<std::result::Result<(), String>> = OnceLock::new();

/// Map the stub code page into the sentry, once per process. Forked stubs
/// inherit it.
// Unsafe: maps and fills the stub code page at its fixed address.
#[allow(unsafe_code)]
pub(crate) fn install_stub_page() -> Result<()> {
    let r = STUB_PAGE.get_or_init(|| {
        // SAFETY: a fresh anonymous mapping at an address nothing else uses
        // (MAP_FIXED_NOREPLACE refuses to replace an existing mapping).
        let p = unsafe {
            libc::mmap(
                STUB_BASE as *mut libc::c_void,
                STUB_LEN as usize,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_FIXED_NOREPLACE,
                -1,
                0,
            )
        };
        if p == libc::MAP_FAILED {
            return Err(format!("mmap of the stub page: {}", std::io::Error::last_os_error()));
        }
        if p as u64 != STUB_BASE {
            // Kernels before 4.17 treat MAP_FIXED_NOREPLACE as a hint.
            return Err(format!("stub page landed at {p:p}, not {STUB_BASE:#x}"));
        }
        let code = stub_code();
        // SAFETY: `p` is a fresh writable mapping of STUB_LEN (= 4096) bytes.
        unsafe { std::ptr::copy_nonoverlapping(code.as_ptr(), p.cast::<u8>(), code.len()) };
        // SAFETY: changes the protection of our own fresh mapping only.
        if unsafe { libc::mprotect(p, STUB_LEN as usize, libc::PROT_READ | libc::PROT_EXEC) } != 0 {
            return Err(format!("mprotect of the stub page: {}", std::io::Error::last_os_error()));
        }
        Ok(())
    });
    r.clone().map_err(|e| Error::Unavailable("ptrace", e))
}

/// `exit`: ends the calling thread only.
const SYS_EXIT: u64 = 60;
/// `clone`: allowed only with exactly `CLONE_THREAD_FLAGS` (new_thread).
const SYS_CLONE: u64 = 56;
/// The flags of the `clone` `new_thread` injects: a thread sharing
/// everything, with no ptrace inheritance, no tid writes, no TLS.
pub(crate) const CLONE_THREAD_FLAGS: u64 = (libc::CLONE_VM
    | libc::CLONE_FS
    | libc::CLONE_FILES
    | libc::CLONE_SIGHAND
    | libc::CLONE_THREAD
    | libc::CLONE_SYSVSEM) as u64;

/// The host system calls a stub may make, and why. Application system
/// calls never reach the filter (PTRACE_SYSEMU stops them first); only
/// calls the sentry injects do. Everything else kills the stub.
const RULES: &[Rule] = &[
    Rule::any(abi::sysno::SYS_MMAP as i64, "map_file: mmap(MAP_SHARED|MAP_FIXED) of the MemoryFile"),
    Rule::any(abi::sysno::SYS_MUNMAP as i64, "unmap, and the entry routine unmapping the sentry's memory"),
    Rule::any(abi::sysno::SYS_MPROTECT as i64, "protect"),
    Rule::any(SYS_EXIT as i64, "a context dropped: its stub thread exits (exit, not exit_group)"),
    Rule::any(abi::sysno::SYS_PAUSE as i64, "a new thread waits, blocked, until its tracer seizes it"),
    Rule::with(SYS_CLONE as i64, &[(0, CLONE_THREAD_FLAGS)], "new_thread: a thread of the stub, nothing else"),
];

/// `struct sock_fprog` over seccompiler's `sock_filter` (the same layout
/// as the kernel's, which libc's type also has).
#[repr(C)]
struct SockFprog {
    len: u16,
    filter: *const sock_filter,
}

/// The stub's policy.
const POLICY: Policy = Policy { name: "stub", rules: RULES, default: Action::KillProcess };

/// The compiled stub filter, built once per sentry: the forked child may
/// not allocate, so it installs this program with a raw `seccomp` call.
fn stub_filter() -> Result<&'static [sock_filter]> {
    static PROG: OnceLock<std::result::Result<Vec<sock_filter>, String>> = OnceLock::new();
    match PROG.get_or_init(|| POLICY.compile().map_err(|e| e.to_string())) {
        Ok(p) => Ok(p),
        Err(e) => Err(Error::Unavailable("ptrace", e.clone())),
    }
}

/// What a stub thread is doing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ThreadState {
    /// Made by `new_thread`, untraced, spinning in the stub page.
    Spinning,
    /// Claimed by an adopter, which is seizing it.
    Seizing,
    /// Traced (and stopped, outside a switch) by `Slot::tracer`.
    Traced,
    /// Being made to exit by its tracer.
    Exiting,
    /// Exited or reaped.
    Gone,
}

/// One host thread of a stub.
#[derive(Debug)]
pub(crate) struct StubThread {
    pub(crate) tid: pid_t,
    /// An interrupt signal was consumed while injecting into this thread:
    /// the next switch returns `Event::Interrupted`.
    pub(crate) interrupt_pending: AtomicBool,
    /// `resume` turned `PTRACE_O_TRACEEXIT` on for the current run.
    watch_exit: AtomicBool,
    /// Something other than the context's switch set this thread's
    /// registers: the next switch writes them all.
    pub(crate) regs_touched: AtomicBool,
}

impl StubThread {
    fn new(tid: pid_t) -> StubThread {
        StubThread {
            tid,
            interrupt_pending: AtomicBool::new(false),
            watch_exit: AtomicBool::new(false),
            regs_touched: AtomicBool::new(false),
        }
    }
}

#[derive(Debug)]
struct Slot {
    thread: Arc<StubThread>,
    state: ThreadState,
    /// The sentry thread (gettid) tracing it; 0 when untraced.
    tracer: pid_t,
    /// A context runs it.
    bound: bool,
}

/// The signal `Context::interrupt` sends to one stub thread: thread-directed
/// (`tgkill`), not a stop signal, ignored by default, never application's.
pub(crate) const INTERRUPT_SIGNAL: c_int = libc::SIGURG;

/// ptrace options of every stub thread. Not `PTRACE_O_TRACEEXIT`: with it a
/// killed thread stops at its exit event until its tracer resumes it, so a
/// stub killed while its tracers are busy elsewhere could not be reaped.
/// `exit_thread` turns it on for the one thread it ends.
const TRACE_OPTIONS: c_int = libc::PTRACE_O_TRACESYSGOOD | libc::PTRACE_O_EXITKILL;
/// `PTRACE_EVENT_STOP` (linux/ptrace.h): the stop `PTRACE_INTERRUPT` causes.
const PTRACE_EVENT_STOP: c_int = 128;

/// One stub process: its threads, each traced by one sentry thread.
#[derive(Debug)]
pub(crate) struct Stub {
    /// Process id of the stub (and thread id of its initial thread).
    pub(crate) pid: pid_t,
    /// A pidfd of the stub process: signals it without pid-reuse races.
    pidfd: OwnedFd,
    /// The MemoryFile's fd number inside the stub.
    pub(crate) memfd: c_int,
    /// Set once the stub process is known to be dead or dying (and has been
    /// sent SIGKILL and reaped).
    dead: AtomicBool,
    /// The initial thread has been reaped.
    leader_reaped: AtomicBool,
    threads: Mutex<Vec<Slot>>,
    /// The stub's user code and stack segment selectors (0x33, 0x2b).
    pub(crate) user_cs: u64,
    pub(crate) user_ss: u64,
}

/// The trap flag (single step) in `eflags`.
const EFLAGS_TF: u64 = 1 << 8;

/// Exit codes of a stub that failed to set itself up, by step.
const STEP_PDEATHSIG: i32 = 101;
const STEP_SIGMASK: i32 = 102;
const STEP_TRACEME: i32 = 103;
const STEP_CLOSE: i32 = 104;
const STEP_STOP: i32 = 105;
const STEP_NO_NEW_PRIVS: i32 = 106;
const STEP_SECCOMP: i32 = 107;
const STEP_PGRP: i32 = 108;

/// What a stub's exit `code` says about where its setup failed.
fn setup_step(code: i32) -> &'static str {
    match code {
        STEP_PDEATHSIG => " (prctl(PR_SET_PDEATHSIG) failed or the parent died)",
        STEP_SIGMASK => " (rt_sigprocmask failed)",
        STEP_TRACEME => " (ptrace(PTRACE_TRACEME) failed)",
        STEP_CLOSE => " (close_range failed: Linux 5.9+ is needed)",
        STEP_STOP => " (kill(SIGSTOP) failed)",
        STEP_NO_NEW_PRIVS => " (prctl(PR_SET_NO_NEW_PRIVS) failed)",
        STEP_SECCOMP => " (installing the seccomp filter failed)",
        STEP_PGRP => " (setpgid failed)",
        _ => "",
    }
}

/// The child side of `Stub::spawn`. Runs in a fork of a multi-threaded
/// process: only raw system calls, no allocation, no locks.
// Unsafe: the post-fork stub child: raw system calls only.
#[allow(unsafe_code)]
fn child(parent: pid_t, memfd: c_int, prog: &SockFprog) -> ! {
    let fail = |step: i32| -> ! {
        // SAFETY: _exit has no preconditions.
        unsafe { libc::_exit(step) }
    };
    // SAFETY: each raw system call below takes integers or pointers to
    // live, initialised values of the right type; none touches memory owned
    // by other threads of the parent. The stub entry is the code installed
    // by `install_stub_page` (inherited through fork) and never returns.
    unsafe {
        if libc::syscall(libc::SYS_prctl, libc::PR_SET_PDEATHSIG, libc::SIGKILL, 0, 0, 0) != 0
            || libc::syscall(libc::SYS_getppid) != libc::c_long::from(parent)
        {
            fail(STEP_PDEATHSIG);
        }
        let empty: u64 = 0;
        if libc::syscall(libc::SYS_rt_sigprocmask, libc::SIG_SETMASK, &empty as *const u64, 0, 8) != 0 {
            fail(STEP_SIGMASK);
        }
        // A process group of its own: the host terminal's signals (^C,
        // ^Z, window changes) go to the sentry, which passes them on to the
        // sandbox's foreground group, never straight to the stub.
        if libc::syscall(libc::SYS_setpgid, 0, 0) != 0 {
            fail(STEP_PGRP);
        }
        if libc::syscall(libc::SYS_ptrace, libc::PTRACE_TRACEME, 0, 0, 0) != 0 {
            fail(STEP_TRACEME);
        }
        let memfd = memfd.unsigned_abs();
        if (memfd > 0 && libc::syscall(libc::SYS_close_range, 0, memfd - 1, 0) != 0)
            || libc::syscall(libc::SYS_close_range, memfd + 1, u32::MAX, 0) != 0
        {
            fail(STEP_CLOSE);
        }
        let me = libc::syscall(libc::SYS_getpid);
        if libc::syscall(libc::SYS_kill, me, libc::SIGSTOP) != 0 {
            fail(STEP_STOP);
        }
        // The tracer has set its options (PTRACE_O_EXITKILL) and resumed us.
        // From here on EXITKILL, not the parent-death signal, ends the stub
        // if the sentry dies: the death signal fires when the forking
        // *thread* exits, and other sentry threads may outlive it and keep
        // using the space.
        if libc::syscall(libc::SYS_prctl, libc::PR_SET_PDEATHSIG, 0, 0, 0, 0) != 0 {
            fail(STEP_PDEATHSIG);
        }
        if libc::syscall(libc::SYS_prctl, libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 {
            fail(STEP_NO_NEW_PRIVS);
        }
        if libc::syscall(libc::SYS_seccomp, libc::SECCOMP_SET_MODE_FILTER, 0, prog as *const SockFprog) != 0 {
            fail(STEP_SECCOMP);
        }
        // From here on only mmap/munmap/mprotect are allowed. The entry
        // routine unmaps everything but the stub page and traps.
        let entry: extern "C" fn() -> ! = std::mem::transmute((STUB_BASE + ENTRY_OFF) as usize);
        entry()
    }
}

impl Stub {
    /// Fork a stub from the calling thread, which becomes the tracer of its
    /// initial thread, and wait until it sits stopped in its entry
    /// routine's trap loop with nothing mapped but the stub page.
    ///
    /// The calling thread and the stub are pinned to the CPU the caller is
    /// running on: a same-CPU ptrace round trip is several times cheaper.
    // Unsafe: forks the stub from a multi-threaded sentry.
    #[allow(unsafe_code)]
    pub(crate) fn spawn(memfd: c_int) -> Result<Stub> {
        install_stub_page()?;
        pin_to_current_cpu()?;
        let filter = stub_filter()?;
        let prog = SockFprog {
            len: u16::try_from(filter.len())
                .map_err(|_| Error::Unavailable("ptrace", "stub filter too long".into()))?,
            filter: filter.as_ptr(),
        };
        let parent = nix::unistd::getpid().as_raw();
        let tracer = sys::gettid();
        // SAFETY: the child runs only `child`, which makes raw system calls
        // and never returns, so no state shared with other threads of this
        // process (locks, allocator) is touched in it.
        let pid = unsafe { libc::fork() };
        if pid == -1 {
            return Err(Error::last_os("fork"));
        }
        if pid == 0 {
            child(parent, memfd, &prog);
        }
        let pidfd = match sys::pidfd_open(pid) {
            Ok(fd) => fd,
            Err(e) => {
                // `pid` is our unreaped child: the number is still its.
                let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), nix::sys::signal::Signal::SIGKILL);
                let _ = sys::wait(pid);
                return Err(e);
            }
        };
        let leader = Arc::new(StubThread::new(pid));
        let mut stub = Stub {
            pid,
            pidfd,
            memfd,
            dead: AtomicBool::new(false),
            leader_reaped: AtomicBool::new(false),
            threads: Mutex::new(vec![Slot {
                thread: Arc::clone(&leader),
                state: ThreadState::Traced,
                tracer,
                bound: false,
            }]),
            // The x86-64 user selectors; read back from the stub below.
            user_cs: 0x33,
            user_ss: 0x2b,
        };
        // From here on, dropping `stub` kills and reaps the child.
        match stub.wait(&leader)? {
            Stop::Signal(libc::SIGSTOP) => {}
            other => return Err(stub.died(other, "stopping for its tracer")),
        }
        sys::set_options(pid, TRACE_OPTIONS)?;
        stub.unregister_rseq(&leader)?;
        sys::resume(pid, Resume::Cont)?;
        match stub.wait(&leader)? {
            Stop::Signal(libc::SIGTRAP) => {}
            other => return Err(stub.died(other, "entering the stub")),
        }
        let mut regs = Registers::default();
        sys::get_regs(pid, &mut regs)?;
        if regs.rip != READY_RIP {
            return Err(Error::StubDied(format!("stub {pid} trapped at {:#x}, not in its entry routine", regs.rip)));
        }
        // rax holds the second munmap's result.
        sys::syscall_result("munmap (stub entry)", regs.rax)?;
        stub.user_cs = regs.cs;
        stub.user_ss = regs.ss;
        Ok(stub)
    }

    /// Undo the rseq registration the stub inherited from the forking
    /// thread (glibc registers one per thread, and fork keeps it). The stub
    /// is about to unmap the rseq area, after which every return to user
    /// mode that updates it would kill the stub with SIGSEGV. `rseq` acts on
    /// the calling thread only, so it is injected while the stub, stopped
    /// before its seccomp filter, still has the sentry's memory.
    fn unregister_rseq(&self, leader: &StubThread) -> Result<()> {
        /// `struct ptrace_rseq_configuration`.
        #[repr(C)]
        #[derive(Default)]
        struct RseqConfig {
            pointer: u64,
            size: u32,
            signature: u32,
            flags: u32,
            pad: u32,
        }
        const PTRACE_GET_RSEQ_CONFIGURATION: libc::c_uint = 0x420f;
        const RSEQ_FLAG_UNREGISTER: u64 = 1;
        let mut config = RseqConfig::default();
        let r = sys::ptrace_raw(
            "ptrace(PTRACE_GET_RSEQ_CONFIGURATION)",
            PTRACE_GET_RSEQ_CONFIGURATION,
            self.pid,
            std::mem::size_of::<RseqConfig>(),
            &mut config as *mut RseqConfig as usize,
        );
        match r {
            Ok(()) => {}
            // Before Linux 5.13: cannot ask; assume no registration.
            Err(Error::Host { ref err, .. }) if err.raw_os_error() == Some(libc::EIO) => return Ok(()),
            Err(e) => return Err(e),
        }
        if config.pointer == 0 {
            return Ok(());
        }
        let args = [config.pointer, u64::from(config.size), RSEQ_FLAG_UNREGISTER, u64::from(config.signature), 0, 0];
        self.inject(leader, "rseq (unregister, stub setup)", libc::SYS_rseq.unsigned_abs(), args)?;
        Ok(())
    }

    fn slots(&self) -> MutexGuard<'_, Vec<Slot>> {
        self.threads.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The stub thread the calling sentry thread traces, for injections.
    pub(crate) fn caller_thread(&self) -> Result<Arc<StubThread>> {
        if self.is_dead() {
            return Err(self.dead_error());
        }
        let me = sys::gettid();
        let slots = self.slots();
        match slots.iter().find(|s| s.tracer == me && s.state == ThreadState::Traced) {
            Some(s) => Ok(Arc::clone(&s.thread)),
            None => Err(not_tracer()),
        }
    }

    /// Bind a context on the calling thread to the stub thread it already
    /// traces (the initial thread, for the thread that made the space).
    pub(crate) fn bind_caller(&self) -> Result<Arc<StubThread>> {
        if self.is_dead() {
            return Err(self.dead_error());
        }
        let me = sys::gettid();
        let mut slots = self.slots();
        let Some(slot) = slots.iter_mut().find(|s| s.tracer == me && s.state == ThreadState::Traced) else {
            return Err(Error::Unavailable(
                "ptrace",
                "a context without a thread token must first switch on the thread that created the \
                 address space; other threads run contexts from new_context_for(new_thread())"
                    .into(),
            ));
        };
        if slot.bound {
            return Err(Error::Unavailable(
                "ptrace",
                "this thread already runs a context in this address space; a second application thread \
                 needs new_thread() and its own sentry thread"
                    .into(),
            ));
        }
        slot.bound = true;
        Ok(Arc::clone(&slot.thread))
    }

    /// Make the calling thread the tracer of the spinning thread `tid`
    /// (from `new_thread`): `PTRACE_SEIZE` + `PTRACE_INTERRUPT`, then pin it
    /// and the caller to the caller's CPU.
    pub(crate) fn adopt(&self, tid: pid_t) -> Result<Arc<StubThread>> {
        if self.is_dead() {
            return Err(self.dead_error());
        }
        let me = sys::gettid();
        let thread = {
            let mut slots = self.slots();
            if slots.iter().any(|s| s.tracer == me && s.state == ThreadState::Traced) {
                return Err(Error::Unavailable(
                    "ptrace",
                    "this thread already traces a thread of this address space: run each application \
                     thread of a space on its own sentry thread"
                        .into(),
                ));
            }
            let Some(slot) = slots.iter_mut().find(|s| s.thread.tid == tid && s.state == ThreadState::Spinning) else {
                return Err(Error::Unavailable(
                    "ptrace",
                    format!("thread token {tid} is not a new, unadopted thread of this address space"),
                ));
            };
            // Claimed under the lock: a second adopter is refused above.
            slot.state = ThreadState::Seizing;
            slot.tracer = me;
            slot.bound = true;
            Arc::clone(&slot.thread)
        };
        if let Err(e) = self.seize(&thread) {
            self.process_died();
            return Err(e);
        }
        if let Some(slot) = self.slots().iter_mut().find(|s| Arc::ptr_eq(&s.thread, &thread)) {
            slot.state = ThreadState::Traced;
        }
        Ok(thread)
    }

    fn seize(&self, thread: &StubThread) -> Result<()> {
        let tid = thread.tid;
        sys::seize(tid, TRACE_OPTIONS)?;
        sys::interrupt(tid)?;
        loop {
            match self.wait(thread)? {
                Stop::Event(PTRACE_EVENT_STOP) => break,
                // A host signal before the interrupt stop: suppress it.
                Stop::Signal(_) | Stop::Event(_) | Stop::Syscall => {
                    sys::resume(tid, Resume::Cont)?;
                }
                other => return Err(self.died(other, "seizing a new thread")),
            }
        }
        if let Some(cpu) = sys::current_cpu() {
            sys::pin(0, cpu)?;
            sys::pin(tid, cpu)?;
        }
        Ok(())
    }

    /// Inject a thread-creating `clone` into the caller's stub thread and
    /// return the new thread's id; it spins, untraced, until adopted.
    pub(crate) fn new_thread(&self) -> Result<pid_t> {
        let parent = self.caller_thread()?;
        let call = "clone (injected, new_thread)";
        let rax =
            self.inject_at(&parent, call, CLONE_RIP, CLONE_DONE_RIP, SYS_CLONE, [CLONE_THREAD_FLAGS, 0, 0, 0, 0, 0])?;
        let tid =
            pid_t::try_from(rax).map_err(|_| Error::StubDied(format!("stub {}: clone returned {rax:#x}", self.pid)))?;
        let thread = Arc::new(StubThread::new(tid));
        self.slots().push(Slot { thread, state: ThreadState::Spinning, tracer: 0, bound: false });
        Ok(tid)
    }

    /// A context of `thread` is gone. On its tracer, the thread exits
    /// unless it is the stub's last one (which the space's drop kills);
    /// elsewhere it is only marked unbound (it stays stopped).
    pub(crate) fn release(&self, thread: &Arc<StubThread>) {
        let me = sys::gettid();
        let exit = {
            let mut slots = self.slots();
            let live = slots
                .iter()
                .filter(|s| matches!(s.state, ThreadState::Spinning | ThreadState::Seizing | ThreadState::Traced))
                .count();
            let Some(slot) = slots.iter_mut().find(|s| Arc::ptr_eq(&s.thread, thread)) else { return };
            slot.bound = false;
            let exit = slot.tracer == me && slot.state == ThreadState::Traced && live > 1 && !self.is_dead();
            if exit {
                slot.state = ThreadState::Exiting;
            }
            exit
        };
        if exit {
            let ok = self.exit_thread(thread).is_ok();
            let mut slots = self.slots();
            if let Some(slot) = slots.iter_mut().find(|s| Arc::ptr_eq(&s.thread, thread)) {
                // Left traced and stopped if the exit failed: the drop of the
                // space reaps it.
                slot.state = if ok { ThreadState::Gone } else { ThreadState::Traced };
                if ok {
                    slot.tracer = 0;
                }
            }
        }
    }

    /// Make the stopped `thread` call `exit(0)`; detach it at its
    /// `PTRACE_EVENT_EXIT` stop, so that the kernel reaps it (and an initial
    /// thread waits as a zombie for the process's end, reaped by the drop).
    fn exit_thread(&self, thread: &StubThread) -> Result<()> {
        let tid = thread.tid;
        let mut regs = Registers::default();
        sys::get_regs(tid, &mut regs).map_err(|e| self.diagnose(e))?;
        regs.rip = INJECT_RIP;
        regs.rax = SYS_EXIT;
        regs.orig_rax = u64::MAX;
        regs.rdi = 0;
        regs.cs = self.user_cs;
        regs.ss = self.user_ss;
        regs.eflags &= !EFLAGS_TF;
        sys::set_regs(tid, &regs)?;
        let options = TRACE_OPTIONS | libc::PTRACE_O_TRACEEXIT;
        sys::set_options(tid, options)?;
        sys::resume(tid, Resume::Cont)?;
        loop {
            match self.wait(thread)? {
                Stop::Event(libc::PTRACE_EVENT_EXIT) => {
                    return sys::detach(tid);
                }
                Stop::Signal(libc::SIGTRAP) => return Err(self.died(Stop::Signal(libc::SIGTRAP), "exit (injected)")),
                Stop::Signal(_) | Stop::Event(_) | Stop::Syscall => {
                    sys::resume(tid, Resume::Cont)?;
                }
                stop @ (Stop::Exited(_) | Stop::Killed(_)) => return Err(self.died(stop, "exit (injected)")),
            }
        }
    }

    /// Whether the stub is known to be dead.
    pub(crate) fn is_dead(&self) -> bool {
        self.dead.load(Ordering::Acquire)
    }

    /// An error for an operation on a stub already dead.
    pub(crate) fn dead_error(&self) -> Error {
        Error::StubDied(format!("stub {} has already exited", self.pid))
    }

    /// The stub process died (or must): SIGKILL it and reap every thread
    /// but the initial one, so that no tracer of the initial thread waits
    /// forever for a thread group that never empties (the kernel reports the
    /// initial thread's death only after all others are reaped). The
    /// initial thread is reaped by its tracer (`wait`) or by the drop.
    /// Idempotent; safe from any thread.
    pub(crate) fn process_died(&self) {
        if self.dead.swap(true, Ordering::AcqRel) {
            return;
        }
        sys::pidfd_kill(self.pidfd.as_fd());
        let tids: Vec<pid_t> = {
            let slots = self.slots();
            slots
                .iter()
                .filter(|s| matches!(s.state, ThreadState::Traced | ThreadState::Exiting) && s.thread.tid != self.pid)
                .map(|s| s.thread.tid)
                .collect()
        };
        // Every thread is dying: any stop still reported is stale. Another
        // tracer reaping the same thread makes our wait fail with ECHILD.
        for tid in tids {
            self.reap(tid);
        }
    }

    /// Wait until thread `tid` of the dying stub is gone. A thread stopped
    /// at its exit event (`PTRACE_O_TRACEEXIT` is on only while its tracer
    /// waits for it, which may be us) is resumed to finish dying.
    fn reap(&self, tid: pid_t) {
        while let Ok(stop) = sys::wait(tid) {
            match stop {
                Stop::Exited(_) | Stop::Killed(_) => break,
                Stop::Event(libc::PTRACE_EVENT_EXIT) => {
                    let _ = sys::resume(tid, Resume::Cont);
                }
                _ => {}
            }
        }
        if tid == self.pid {
            self.leader_reaped.store(true, Ordering::Release);
        }
        if let Some(slot) = self.slots().iter_mut().find(|s| s.thread.tid == tid) {
            slot.state = ThreadState::Gone;
        }
    }

    /// Resume the stopped `thread` with `req` (`PTRACE_SYSEMU`,
    /// `PTRACE_CONT`). The initial thread of a stub with other threads runs
    /// with `PTRACE_O_TRACEEXIT`: should the process die meanwhile, its
    /// exit event reaches its tracer at once, while its death proper would
    /// wait for every other thread to be reaped by its (maybe idle) tracer.
    pub(crate) fn resume(&self, thread: &StubThread, how: Resume) -> Result<()> {
        let tid = thread.tid;
        if tid == self.pid && self.has_other_threads() {
            let options = TRACE_OPTIONS | libc::PTRACE_O_TRACEEXIT;
            sys::set_options(tid, options).map_err(|e| self.diagnose(e))?;
            thread.watch_exit.store(true, Ordering::Relaxed);
        }
        sys::resume(tid, how).map_err(|e| self.diagnose(e))
    }

    /// Wait for `thread`'s next stop (after `resume`). Its death means the
    /// process's: the stub is then killed and reaped as a whole.
    pub(crate) fn wait(&self, thread: &StubThread) -> Result<Stop> {
        let tid = thread.tid;
        let stop = match sys::wait(tid) {
            Ok(stop) => stop,
            Err(_) if self.is_dead() => return Err(self.dead_error()),
            Err(e) => return Err(self.diagnose(e)),
        };
        if thread.watch_exit.swap(false, Ordering::Relaxed) {
            if stop == Stop::Event(libc::PTRACE_EVENT_EXIT) {
                // How it is dying, as a wait status.
                let msg = sys::event_msg(tid);
                self.process_died();
                let _ = sys::resume(tid, Resume::Cont);
                self.reap(tid);
                return Ok(match msg.map(c_int::try_from) {
                    Ok(Ok(status)) => Stop::from_status(status),
                    _ => Stop::Killed(libc::SIGKILL),
                });
            }
            if !matches!(stop, Stop::Exited(_) | Stop::Killed(_)) {
                let options = TRACE_OPTIONS;
                sys::set_options(tid, options).map_err(|e| self.diagnose(e))?;
            }
        }
        if matches!(stop, Stop::Exited(_) | Stop::Killed(_)) {
            if tid == self.pid {
                self.leader_reaped.store(true, Ordering::Release);
            }
            self.process_died();
        }
        Ok(stop)
    }

    fn has_other_threads(&self) -> bool {
        self.slots().iter().any(|s| s.thread.tid != self.pid && s.state != ThreadState::Gone)
    }

    /// The error for the stub's unexpected `stop` while `doing` something.
    /// The caller returns it; `Drop` kills and reaps a stub still alive.
    pub(crate) fn died(&self, stop: Stop, doing: &str) -> Error {
        let pid = self.pid;
        match stop {
            Stop::Exited(code) => {
                Error::StubDied(format!("stub {pid} exited with status {code}{} while {doing}", setup_step(code)))
            }
            Stop::Killed(sig) => {
                Error::StubDied(format!("stub {pid} killed by {} (signal {sig}) while {doing}", sys::signal_name(sig)))
            }
            Stop::Signal(sig) => {
                Error::StubDied(format!("stub {pid} stopped by {} (signal {sig}) while {doing}", sys::signal_name(sig)))
            }
            Stop::Syscall => Error::StubDied(format!("stub {pid} made an unexpected system call while {doing}")),
            Stop::Event(ev) => Error::StubDied(format!("stub {pid} reported ptrace event {ev} while {doing}")),
        }
    }

    /// Make a failed ptrace/waitpid error say why when the cause is ours:
    /// the caller is not the thread's tracer. A tracer's request failing
    /// with ESRCH means its (always stopped) thread was killed.
    pub(crate) fn diagnose(&self, e: Error) -> Error {
        match e {
            Error::Host { err, .. } if matches!(err.raw_os_error(), Some(libc::ESRCH | libc::ECHILD)) => {
                let me = sys::gettid();
                let traces = self.slots().iter().any(|s| s.tracer == me && s.state != ThreadState::Gone);
                if !traces {
                    return Error::Host { call: NOT_TRACER, err };
                }
                self.process_died();
                self.dead_error()
            }
            e => e,
        }
    }

    /// Run host system call `nr(args)` in the stopped stub thread `thread`
    /// (traced by the caller) and return its result. The thread's registers
    /// are saved and restored around the call; whatever stop it was in is
    /// left as a SIGTRAP stop (the next resume suppresses it).
    pub(crate) fn inject(&self, thread: &StubThread, call: &'static str, nr: u64, args: [u64; 6]) -> Result<u64> {
        self.inject_at(thread, call, INJECT_RIP, INJECT_DONE_RIP, nr, args)
    }

    fn inject_at(
        &self,
        thread: &StubThread,
        call: &'static str,
        rip: u64,
        done_rip: u64,
        nr: u64,
        args: [u64; 6],
    ) -> Result<u64> {
        if self.is_dead() {
            return Err(self.dead_error());
        }
        let tid = thread.tid;
        thread.regs_touched.store(true, Ordering::Release);
        let mut saved = Registers::default();
        sys::get_regs(tid, &mut saved).map_err(|e| self.diagnose(e))?;
        let mut regs = saved;
        regs.rip = rip;
        regs.rax = nr;
        // No syscall-restart processing may apply to the injected call.
        regs.orig_rax = u64::MAX;
        // Whatever mode and flags the application left: the injected call
        // runs in 64-bit mode (a compat `cs` would make `syscall` an i386
        // call) and without the trap flag (no single-step stop after it).
        regs.cs = self.user_cs;
        regs.ss = self.user_ss;
        regs.eflags &= !EFLAGS_TF;
        [regs.rdi, regs.rsi, regs.rdx, regs.r10, regs.r8, regs.r9] = args;
        sys::set_regs(tid, &regs).map_err(|e| self.diagnose(e))?;
        self.resume(thread, Resume::Cont)?;
        loop {
            match self.wait(thread)? {
                Stop::Signal(libc::SIGTRAP) => {
                    sys::get_regs(tid, &mut regs).map_err(|e| self.diagnose(e))?;
                    if regs.rip != done_rip {
                        return Err(self.died(Stop::Signal(libc::SIGTRAP), call));
                    }
                    break;
                }
                Stop::Signal(INTERRUPT_SIGNAL) => {
                    // An interrupt raced with us: report it on the next switch.
                    thread.interrupt_pending.store(true, Ordering::Release);
                    self.resume(thread, Resume::Cont)?;
                }
                Stop::Signal(sig @ (libc::SIGSEGV | libc::SIGBUS | libc::SIGILL | libc::SIGFPE)) => {
                    // The injection itself faulted: the stub is broken.
                    return Err(self.died(Stop::Signal(sig), call));
                }
                Stop::Signal(_) | Stop::Event(_) | Stop::Syscall => {
                    // Asynchronous host signals are not the application's.
                    self.resume(thread, Resume::Cont)?;
                }
                other => return Err(self.died(other, call)),
            }
        }
        sys::set_regs(tid, &saved)?;
        sys::syscall_result(call, regs.rax)
    }

    /// Send the interrupt signal to stub thread `tid`, unless the stub is
    /// gone. Thread-directed and not a stop signal: the other threads of
    /// the stub are not disturbed.
    pub(crate) fn interrupt(&self, tid: pid_t) {
        if !self.is_dead() {
            // A failure means the thread is exiting: nothing to interrupt.
            let _ = sys::tgkill(self.pid, tid, INTERRUPT_SIGNAL);
        }
    }
}

/// The message of an address-space or context call made on a thread that
/// traces no thread of the stub.
const NOT_TRACER: &str =
    "ptrace: called from a thread that traces no thread of this address space (not the stub's tracer)";

fn not_tracer() -> Error {
    Error::Host { call: NOT_TRACER, err: std::io::Error::from_raw_os_error(libc::ESRCH) }
}

impl Drop for Stub {
    fn drop(&mut self) {
        self.process_died();
        // No context is left, so no thread runs with PTRACE_O_TRACEEXIT:
        // the initial thread dies without stopping, once the others are
        // reaped (or, if it exited first, it waits as a zombie for us).
        if !self.leader_reaped.load(Ordering::Acquire) {
            self.reap(self.pid);
        }
    }
}

/// Pin the calling thread to the CPU it is running on; a stub forked from it
/// inherits the pinning.
fn pin_to_current_cpu() -> Result<()> {
    match sys::current_cpu() {
        Some(cpu) => sys::pin(0, cpu),
        None => Ok(()), // Unknown CPU: leave scheduling alone.
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stub_code_trap_loop_and_injection_sit_at_their_documented_offsets() {
        let page = stub_code();

        let ready = (READY_RIP - STUB_BASE) as usize;
        let inject = (INJECT_RIP - STUB_BASE) as usize;

        assert_eq!(&page[ready - 1..ready + 2], &[0xcc, 0xeb, 0xfd]);
        assert_eq!(&page[inject..inject + 3], &[0x0f, 0x05, 0xcc]);
    }

    #[test]
    fn seccomp_filter_allows_exactly_the_injected_calls() {
        use hostsys::seccomp::{evaluate, AUDIT_ARCH_X86_64};
        let f = stub_filter().expect("the stub policy compiles");
        let allow = libc::SECCOMP_RET_ALLOW;
        let kill = libc::SECCOMP_RET_KILL_PROCESS;
        let run = |nr: u64, arg0| evaluate(f, AUDIT_ARCH_X86_64, nr as u32, [arg0, 0, 0, 0, 0, 0]).expect("runs");

        let verdicts: Vec<u32> = [9, 11, 10, 60, 34].iter().map(|&nr| run(nr, 0)).collect();

        assert_eq!(verdicts, vec![allow; 5]);
        assert_eq!(run(39, 0), kill); // getpid
        assert_eq!(run(231, 0), kill); // exit_group
        assert_eq!(run(57, 0), kill); // fork
        assert_eq!(run(SYS_CLONE, CLONE_THREAD_FLAGS), allow);
        assert_eq!(run(SYS_CLONE, CLONE_THREAD_FLAGS | libc::CLONE_PTRACE as u64), kill);
        assert_eq!(run(SYS_CLONE, CLONE_THREAD_FLAGS & !(libc::CLONE_THREAD as u64)), kill);
        assert_eq!(run(SYS_CLONE, CLONE_THREAD_FLAGS | 1 << 32), kill);
        assert_eq!(run(SYS_CLONE, 0x11), kill); // fork-like clone(SIGCHLD)
        assert_eq!(evaluate(f, 0x4000_0003, 9, [0; 6]), Some(kill)); // i386 number space
    }

    #[test]
    fn clone_sequence_traps_the_parent_and_spins_the_child() {
        let page = stub_code();
        let clone = (CLONE_RIP - STUB_BASE) as usize;
        let spin = (SPIN_RIP - STUB_BASE) as usize;

        assert_eq!(&page[clone..clone + 2], &[0x0f, 0x05]);
        assert_eq!(page[clone + 7], 0xcc);
        assert_eq!(&page[spin..spin + 9], &[0xb8, 0x22, 0, 0, 0, 0x0f, 0x05, 0xeb, 0xf7]);
    }
}
