//! The stub process: its code page, its seccomp filter, how it is forked,
//! how system calls are injected into it, and how it is killed.
//!
//! A stub is forked from the sentry thread that creates the address space and
//! is traced by that thread (`PTRACE_TRACEME` makes the forking *thread* the
//! tracer). Every `ptrace` request on a stub must come from that thread.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::OnceLock;

use libc::{c_int, pid_t, sock_filter, sock_fprog};

use super::sys::{self, Stop};
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
    page
}

static STUB_PAGE: OnceLock<std::result::Result<(), String>> = OnceLock::new();

/// Map the stub code page into the sentry, once per process. Forked stubs
/// inherit it.
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

/// The host system calls a stub may make, and why. Everything else kills it.
const ALLOWED_SYSCALLS: [(u32, &str); 3] = [
    (abi::sysno::SYS_MMAP as u32, "map_file: mmap(MAP_SHARED|MAP_FIXED) of the MemoryFile"),
    (abi::sysno::SYS_MUNMAP as u32, "unmap, and the entry routine unmapping the sentry's memory"),
    (abi::sysno::SYS_MPROTECT as u32, "protect"),
];

const AUDIT_ARCH_X86_64: u32 = 0xc000_003e;
// Classic BPF opcodes (linux/bpf_common.h); BPF_LD, BPF_W and BPF_K are 0.
const BPF_LD_W_ABS: u16 = 0x20; // BPF_LD | BPF_W | BPF_ABS (0x20)
const BPF_JMP_JEQ_K: u16 = 0x05 | 0x10; // BPF_JMP (0x05) | BPF_JEQ (0x10) | BPF_K
const BPF_RET_K: u16 = 0x06; // BPF_RET (0x06) | BPF_K
const SECCOMP_DATA_NR: u32 = 0; // offsetof(struct seccomp_data, nr)
const SECCOMP_DATA_ARCH: u32 = 4; // offsetof(struct seccomp_data, arch)
const FILTER_LEN: usize = 6 + ALLOWED_SYSCALLS.len();

/// The stub's seccomp filter: x86-64 only, and only `ALLOWED_SYSCALLS`.
/// Application system calls never reach it (PTRACE_SYSEMU stops them first);
/// only calls the sentry injects do.
fn seccomp_filter() -> [sock_filter; FILTER_LEN] {
    let stmt = |code, k| sock_filter { code, jt: 0, jf: 0, k };
    let kill = stmt(BPF_RET_K, libc::SECCOMP_RET_KILL_PROCESS);
    let mut f = [kill; FILTER_LEN];
    f[0] = stmt(BPF_LD_W_ABS, SECCOMP_DATA_ARCH);
    f[1] = sock_filter { code: BPF_JMP_JEQ_K, jt: 1, jf: 0, k: AUDIT_ARCH_X86_64 };
    f[2] = kill;
    f[3] = stmt(BPF_LD_W_ABS, SECCOMP_DATA_NR);
    let n = ALLOWED_SYSCALLS.len();
    for (i, (nr, _why)) in ALLOWED_SYSCALLS.iter().enumerate() {
        // Jump over the remaining compares and the kill to the allow.
        let jt = u8::try_from(n - i).unwrap_or(u8::MAX);
        f[4 + i] = sock_filter { code: BPF_JMP_JEQ_K, jt, jf: 0, k: *nr };
    }
    f[4 + n] = kill;
    f[5 + n] = stmt(BPF_RET_K, libc::SECCOMP_RET_ALLOW);
    f
}

/// One stub process (one thread, for now), traced by the thread that forked it.
#[derive(Debug)]
pub(crate) struct Stub {
    /// Process (and, single-threaded, thread) id of the stub.
    pub(crate) pid: pid_t,
    /// The host thread that traces the stub.
    pub(crate) tracer: pid_t,
    /// The MemoryFile's fd number inside the stub.
    pub(crate) memfd: c_int,
    /// Set once the stub has been reaped: its pid must not be signalled again.
    dead: AtomicBool,
    /// An interrupt stop was consumed while injecting: the next switch
    /// returns `Event::Interrupted`.
    pub(crate) interrupt_pending: AtomicBool,
    /// A context is bound to the stub's thread.
    pub(crate) bound: AtomicBool,
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
        _ => "",
    }
}

/// The child side of `Stub::spawn`. Runs in a fork of a multi-threaded
/// process: only raw system calls, no allocation, no locks.
fn child(parent: pid_t, memfd: c_int, prog: &sock_fprog) -> ! {
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
        // The tracer has set its options and resumed us.
        if libc::syscall(libc::SYS_prctl, libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 {
            fail(STEP_NO_NEW_PRIVS);
        }
        if libc::syscall(libc::SYS_seccomp, libc::SECCOMP_SET_MODE_FILTER, 0, prog as *const sock_fprog) != 0 {
            fail(STEP_SECCOMP);
        }
        // From here on only mmap/munmap/mprotect are allowed. The entry
        // routine unmaps everything but the stub page and traps.
        let entry: extern "C" fn() -> ! = std::mem::transmute((STUB_BASE + ENTRY_OFF) as usize);
        entry()
    }
}

impl Stub {
    /// Fork a stub from the calling thread, which becomes its tracer, and
    /// wait until it sits stopped in its entry routine's trap loop with
    /// nothing mapped but the stub page.
    ///
    /// The calling thread and the stub are pinned to the CPU the caller is
    /// running on: a same-CPU ptrace round trip is several times cheaper.
    pub(crate) fn spawn(memfd: c_int) -> Result<Stub> {
        install_stub_page()?;
        pin_to_current_cpu()?;
        let mut filter = seccomp_filter();
        let prog = sock_fprog {
            // FILTER_LEN is a small constant.
            len: FILTER_LEN as u16,
            filter: filter.as_mut_ptr(),
        };
        // SAFETY: getpid has no preconditions.
        let parent = unsafe { libc::getpid() };
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
        let mut stub = Stub {
            pid,
            tracer,
            memfd,
            dead: AtomicBool::new(false),
            interrupt_pending: AtomicBool::new(false),
            bound: AtomicBool::new(false),
            // The x86-64 user selectors; read back from the stub below.
            user_cs: 0x33,
            user_ss: 0x2b,
        };
        // From here on, dropping `stub` kills and reaps the child.
        match stub.wait()? {
            Stop::Signal(libc::SIGSTOP) => {}
            other => return Err(stub.died(other, "stopping for its tracer")),
        }
        sys::ptrace(
            "ptrace(PTRACE_SETOPTIONS)",
            libc::PTRACE_SETOPTIONS,
            pid,
            0,
            (libc::PTRACE_O_TRACESYSGOOD | libc::PTRACE_O_EXITKILL).unsigned_abs() as usize,
        )?;
        stub.unregister_rseq()?;
        sys::resume("ptrace(PTRACE_CONT)", libc::PTRACE_CONT, pid, 0)?;
        match stub.wait()? {
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
    fn unregister_rseq(&self) -> Result<()> {
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
        let r = sys::ptrace(
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
        self.inject("rseq (unregister, stub setup)", libc::SYS_rseq.unsigned_abs(), args)?;
        Ok(())
    }

    /// Whether the stub has been reaped.
    pub(crate) fn is_dead(&self) -> bool {
        self.dead.load(Ordering::Acquire)
    }

    /// An error for an operation on a stub already reaped.
    pub(crate) fn dead_error(&self) -> Error {
        Error::StubDied(format!("stub {} has already exited", self.pid))
    }

    /// Wait for the stub's next stop; notes its death.
    pub(crate) fn wait(&self) -> Result<Stop> {
        let stop = sys::wait(self.pid).map_err(|e| self.diagnose(e))?;
        if matches!(stop, Stop::Exited(_) | Stop::Killed(_)) {
            self.dead.store(true, Ordering::Release);
        }
        Ok(stop)
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
    /// the caller is not the tracer thread.
    pub(crate) fn diagnose(&self, e: Error) -> Error {
        match e {
            Error::Host { err, .. }
                if matches!(err.raw_os_error(), Some(libc::ESRCH | libc::ECHILD)) && sys::gettid() != self.tracer =>
            {
                Error::Host { call: "ptrace: called from a thread that is not the stub's tracer", err }
            }
            e => e,
        }
    }

    /// Run host system call `nr(args)` in the stopped stub and return its
    /// result. The stub's registers are saved and restored around the call;
    /// whatever stop the stub was in is left as a SIGTRAP stop (the next
    /// resume suppresses it).
    pub(crate) fn inject(&self, call: &'static str, nr: u64, args: [u64; 6]) -> Result<u64> {
        if self.is_dead() {
            return Err(self.dead_error());
        }
        let pid = self.pid;
        let mut saved = Registers::default();
        sys::get_regs(pid, &mut saved).map_err(|e| self.diagnose(e))?;
        let mut regs = saved;
        regs.rip = INJECT_RIP;
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
        sys::set_regs(pid, &regs)?;
        sys::resume("ptrace(PTRACE_CONT)", libc::PTRACE_CONT, pid, 0)?;
        loop {
            match self.wait()? {
                Stop::Signal(libc::SIGTRAP) => {
                    sys::get_regs(pid, &mut regs)?;
                    if regs.rip != INJECT_DONE_RIP {
                        return Err(self.died(Stop::Signal(libc::SIGTRAP), call));
                    }
                    break;
                }
                Stop::Signal(libc::SIGSTOP) => {
                    // An interrupt raced with us: report it on the next switch.
                    self.interrupt_pending.store(true, Ordering::Release);
                    sys::resume("ptrace(PTRACE_CONT)", libc::PTRACE_CONT, pid, 0)?;
                }
                Stop::Signal(sig @ (libc::SIGSEGV | libc::SIGBUS | libc::SIGILL | libc::SIGFPE)) => {
                    // The injection itself faulted: the stub is broken.
                    return Err(self.died(Stop::Signal(sig), call));
                }
                Stop::Signal(_) | Stop::Event(_) => {
                    // Asynchronous host signals are not the application's.
                    sys::resume("ptrace(PTRACE_CONT)", libc::PTRACE_CONT, pid, 0)?;
                }
                other => return Err(self.died(other, call)),
            }
        }
        sys::set_regs(pid, &saved)?;
        sys::syscall_result(call, regs.rax)
    }

    /// Send the interrupt signal to the stub thread, unless it is gone.
    pub(crate) fn interrupt(&self) {
        if !self.is_dead() {
            // A failure means the stub is exiting: nothing to interrupt.
            let _ = sys::tgkill(self.pid, self.pid, libc::SIGSTOP);
        }
    }
}

impl Drop for Stub {
    fn drop(&mut self) {
        if self.is_dead() {
            return;
        }
        // SAFETY: `pid` is our unreaped child, so it cannot have been reused.
        unsafe { libc::kill(self.pid, libc::SIGKILL) };
        loop {
            match sys::wait(self.pid) {
                Ok(Stop::Exited(_) | Stop::Killed(_)) | Err(_) => break,
                Ok(_) => {}
            }
        }
        self.dead.store(true, Ordering::Release);
    }
}

/// Pin the calling thread to the CPU it is running on; a stub forked from it
/// inherits the pinning.
fn pin_to_current_cpu() -> Result<()> {
    // SAFETY: sched_getcpu has no preconditions.
    let cpu = unsafe { libc::sched_getcpu() };
    let Ok(cpu) = usize::try_from(cpu) else {
        return Ok(()); // Unknown CPU: leave scheduling alone.
    };
    // SAFETY: cpu_set_t is plain data; all-zero is the empty set.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    // SAFETY: CPU_SET checks `cpu` against the set's size before writing.
    unsafe { libc::CPU_SET(cpu, &mut set) };
    // SAFETY: `set` is a live cpu_set_t of the size passed.
    let r = unsafe { libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set) };
    if r != 0 {
        return Err(Error::last_os("sched_setaffinity"));
    }
    Ok(())
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
        let f = seccomp_filter();

        let allow_at = f.len() - 1;
        let compares: Vec<(u32, usize)> =
            (4..4 + ALLOWED_SYSCALLS.len()).map(|i| (f[i].k, i + 1 + usize::from(f[i].jt))).collect();

        assert_eq!(f[allow_at].k, libc::SECCOMP_RET_ALLOW);
        assert_eq!(compares, vec![(9, allow_at), (11, allow_at), (10, allow_at)]);
        assert_eq!(f[allow_at - 1].k, libc::SECCOMP_RET_KILL_PROCESS);
    }
}
