//! How application code is run and trapped.
//!
//! The sentry sees only the three traits here: a [`Platform`] makes
//! [`AddressSpace`]s (an application's memory map, whose pages all come from
//! the sentry's MemoryFile) and [`Context`]s (one per application thread,
//! which runs application code until it needs the kernel). `ptrace` is the
//! first implementation; systrap and KVM fit the same traits.
//!
//! Unsafe code is denied but where the platform works below any safe
//! wrapper: the stub's code page and its post-fork child (raw system calls
//! only), the ptrace requests nix lacks, `tgkill`, and a fault's address
//! in a `siginfo_t`.

#![deny(unsafe_code)]

use std::os::fd::BorrowedFd;
use std::sync::Arc;

pub mod ptrace;

/// Errors of the platform itself (a host call failed): never an application's
/// fault, and fatal to the sandbox or the task.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("host call {call} failed: {err}")]
    Host { call: &'static str, err: std::io::Error },
    #[error("stub process died unexpectedly: {0}")]
    StubDied(String),
    #[error("platform {0} is not available on this host: {1}")]
    Unavailable(&'static str, String),
}

pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    /// The error of host call `call` from `errno`.
    pub fn last_os(call: &'static str) -> Error {
        Error::Host { call, err: std::io::Error::last_os_error() }
    }
}

/// Page protection of a mapping.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Prot {
    pub read: bool,
    pub write: bool,
    pub exec: bool,
}

impl Prot {
    pub const NONE: Prot = Prot { read: false, write: false, exec: false };
    pub const RW: Prot = Prot { read: true, write: true, exec: false };

    /// From `PROT_*` bits.
    pub fn from_bits(bits: u32) -> Prot {
        Prot {
            read: bits & abi::consts::PROT_READ != 0,
            write: bits & abi::consts::PROT_WRITE != 0,
            exec: bits & abi::consts::PROT_EXEC != 0,
        }
    }

    /// As `PROT_*` bits.
    pub fn bits(self) -> u32 {
        let mut b = 0;
        if self.read {
            b |= abi::consts::PROT_READ;
        }
        if self.write {
            b |= abi::consts::PROT_WRITE;
        }
        if self.exec {
            b |= abi::consts::PROT_EXEC;
        }
        b
    }
}

/// The kind of access that faulted, where the platform knows it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    Read,
    Write,
    Exec,
    /// The platform cannot tell (ptrace sees only SIGSEGV and the address).
    Unknown,
}

/// The general-purpose registers of an x86-64 thread, laid out as the
/// kernel's `struct user_regs_struct`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[repr(C)]
pub struct Registers {
    pub r15: u64,
    pub r14: u64,
    pub r13: u64,
    pub r12: u64,
    pub rbp: u64,
    pub rbx: u64,
    pub r11: u64,
    pub r10: u64,
    pub r9: u64,
    pub r8: u64,
    pub rax: u64,
    pub rcx: u64,
    pub rdx: u64,
    pub rsi: u64,
    pub rdi: u64,
    pub orig_rax: u64,
    pub rip: u64,
    pub cs: u64,
    pub eflags: u64,
    pub rsp: u64,
    pub ss: u64,
    pub fs_base: u64,
    pub gs_base: u64,
    pub ds: u64,
    pub es: u64,
    pub fs: u64,
    pub gs: u64,
}

/// Conversions from and to libc's `user_regs_struct`, the type nix's
/// `PTRACE_GETREGS`/`PTRACE_SETREGS` take: the same fields in the same
/// order.
macro_rules! user_regs_conversions {
    ($($f:ident),* $(,)?) => {
        impl From<libc::user_regs_struct> for Registers {
            fn from(r: libc::user_regs_struct) -> Registers {
                Registers { $($f: r.$f),* }
            }
        }

        impl From<Registers> for libc::user_regs_struct {
            fn from(r: Registers) -> libc::user_regs_struct {
                libc::user_regs_struct { $($f: r.$f),* }
            }
        }
    };
}

user_regs_conversions!(
    r15, r14, r13, r12, rbp, rbx, r11, r10, r9, r8, rax, rcx, rdx, rsi, rdi, orig_rax, rip, cs, eflags, rsp, ss,
    fs_base, gs_base, ds, es, fs, gs,
);

impl Registers {
    /// The system call number of a `Event::Syscall` stop.
    pub fn syscall_nr(&self) -> u64 {
        self.orig_rax
    }

    /// The six system call arguments, in ABI order.
    pub fn syscall_args(&self) -> [u64; 6] {
        [self.rdi, self.rsi, self.rdx, self.r10, self.r8, self.r9]
    }

    /// Set the value the system call returns.
    pub fn set_return(&mut self, v: u64) {
        self.rax = v;
    }
}

/// The x87/SSE/AVX state of a thread.
///
/// Layout: either a bare 512-byte `FXSAVE` area, or the standard
/// (non-compacted) `XSAVE` image the kernel exposes as `NT_X86_XSTATE`:
/// bytes 0..512 the `FXSAVE` area (x87, MXCSR, xmm0-15 at 160..416; bytes
/// 464..512 hold the kernel's `fx_sw_bytes`, as in a signal frame's
/// fpstate), bytes 512..576 the XSAVE header (`xstate_bv` at 512), then the
/// components at their CPUID-given offsets (ymm upper halves at 576 ...).
/// Its length is the host's user xstate size. Platforms that keep the state
/// in the host thread fill it only when `Context::fpu_state` is asked.
#[derive(Clone)]
pub struct FpState {
    pub bytes: Vec<u8>,
}

impl Default for FpState {
    fn default() -> Self {
        FpState { bytes: vec![0; 512] }
    }
}

/// Why a `Context::switch` returned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Event {
    /// The application made a system call; `regs` holds its number and
    /// arguments. The sentry sets the return value and switches again.
    Syscall,
    /// A memory access fault at `addr`.
    Fault { addr: u64, access: Access, si_code: i32 },
    /// A signal other than a memory fault was raised by application code
    /// (SIGFPE, SIGILL, SIGTRAP, SIGBUS ...).
    Signal { signo: i32, si_code: i32, addr: u64 },
    /// `Context::interrupt` was called.
    Interrupted,
    /// The application entered the kernel through the 32-bit ABI (`int
    /// 0x80` or `sysenter`), with i386 call numbers; `regs` as for
    /// `Syscall`.
    Syscall32,
}

/// A new host thread in an existing address space, made by
/// `AddressSpace::new_thread` and not yet run by any context: hand it to
/// `Platform::new_context_for`. Opaque; for ptrace it is the host thread id.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ThreadToken(pub u64);

impl ThreadToken {
    /// A token from a platform's own thread handle.
    pub fn from_raw(raw: u64) -> ThreadToken {
        ThreadToken(raw)
    }

    /// The platform's own thread handle (ptrace: the host thread id).
    pub fn raw(self) -> u64 {
        self.0
    }
}

/// An application's address space. All pages come from the MemoryFile
/// (`memfd`) the platform was created with.
///
/// Threading (ptrace): every method that changes the space must be called
/// on a thread that runs (traces) a context bound to this space, outside
/// that context's `switch` — the sentry thread handling one of the
/// application's system calls or faults. The change is made through that
/// thread's stub thread and applies to the whole space at once, while the
/// space's other threads keep running. Any other thread gets an error.
pub trait AddressSpace: Send + Sync {
    /// Map `[addr, addr+len)` to MemoryFile offset `off`, shared, with `prot`,
    /// replacing whatever was mapped there.
    fn map_file(&self, addr: u64, len: u64, off: u64, prot: Prot) -> Result<()>;
    /// Remove any mapping of `[addr, addr+len)`.
    fn unmap(&self, addr: u64, len: u64) -> Result<()>;
    /// Change the protection of mapped pages in `[addr, addr+len)`.
    fn protect(&self, addr: u64, len: u64, prot: Prot) -> Result<()>;
    /// Application addresses the platform reserves for itself (the stub's
    /// code): the sentry never maps anything there.
    fn reserved(&self) -> std::ops::Range<u64>;
    /// A new host thread in this space, for a new application thread
    /// (`clone` with `CLONE_VM`). Called like `map_file` (on the thread of a
    /// context bound to this space, which is stopped); the new thread is run
    /// by a context from `Platform::new_context_for(token)`, on any thread.
    /// A token that is never adopted is reclaimed with the space.
    fn new_thread(&self) -> Result<ThreadToken> {
        Err(Error::Unavailable("threads", "this address space cannot add threads".into()))
    }
}

/// One application thread's execution context.
///
/// Threading (ptrace): the first `switch` binds the context to one host
/// thread of the space, traced by the calling OS thread; from then on
/// `switch`, `fpu_state`, `set_fpu_state` and the drop must happen on that
/// same OS thread. `interrupt` may be called from anywhere.
pub trait Context: Send {
    /// Run application code with `regs` in `space` until it needs the kernel.
    fn switch(&mut self, space: &Arc<dyn AddressSpace>, regs: &mut Registers, fpu: &mut FpState) -> Result<Event>;
    /// Make a running `switch` return `Event::Interrupted` soon. Only this
    /// context's thread is disturbed; an interrupt while no `switch` runs
    /// makes the next one return `Event::Interrupted` at once.
    fn interrupt(&self);
    /// A handle that does what `interrupt` does, callable from any thread
    /// while `switch` runs (the context itself is `Send`, not `Sync`).
    fn interrupter(&self) -> Arc<dyn Fn() + Send + Sync>;
    /// The thread's floating-point state into `out` (see `FpState` for the
    /// layout). Valid once `switch` has returned at least once.
    fn fpu_state(&mut self, out: &mut FpState) -> Result<()>;
    /// Load the thread's floating-point state from `st`, as `fpu_state`
    /// returned it (possibly edited), or a bare 512-byte `FXSAVE` area.
    /// Before the first `switch` the state is kept and loaded by it.
    fn set_fpu_state(&mut self, st: &FpState) -> Result<()>;
}

/// A way of running application code.
pub trait Platform: Send + Sync {
    /// The platform's name, as `--platform` spells it.
    fn name(&self) -> &'static str;
    /// A new, empty address space.
    fn new_address_space(&self) -> Result<Arc<dyn AddressSpace>>;
    /// A new context for one application thread. Its first `switch` in a
    /// space runs the space's initial thread, so it must be called on the
    /// thread that created the space (a fresh space, or after `execve`).
    fn new_context(&self) -> Result<Box<dyn Context>>;
    /// A new context that runs the thread `token` (from
    /// `AddressSpace::new_thread`). It may be created on any thread and
    /// moved; the OS thread of its first `switch` becomes its thread.
    fn new_context_for(&self, token: ThreadToken) -> Result<Box<dyn Context>>;
    /// The highest application address plus one.
    fn max_user_address(&self) -> u64 {
        0x7fff_ffff_f000
    }
}

/// Make the platform named `name` over MemoryFile `memfd`.
pub fn new(name: &str, memfd: BorrowedFd<'_>) -> Result<Arc<dyn Platform>> {
    match name {
        "ptrace" => Ok(Arc::new(ptrace::PtracePlatform::new(memfd)?)),
        other => Err(Error::Unavailable(
            if other == "systrap" {
                "systrap"
            } else if other == "kvm" {
                "kvm"
            } else {
                "unknown"
            },
            format!("platform {other:?} is not implemented yet; use --platform ptrace"),
        )),
    }
}
