//! The ptrace platform.
//!
//! Each address space is a stub process forked from the sentry thread that
//! creates it, which traces the stub's initial thread (`PTRACE_TRACEME`).
//! Each further application thread is a host thread of the stub, made by
//! `AddressSpace::new_thread` (an injected `clone`) and seized
//! (`PTRACE_SEIZE`) by the OS thread of its context's first `switch`.
//! ptrace requests for a thread must come from its tracer, so:
//!
//! - A context's `switch`, FPU access and drop run on its tracer thread.
//! - `map_file`, `unmap`, `protect` and `new_thread` run on the tracer of
//!   any one thread of the space (which is stopped), and are injected into
//!   that thread; the others keep running.
//! - `interrupt` may come from anywhere: a thread-directed SIGURG.
//! - Each OS thread traces at most one thread per space.
//! - Drop a context on its tracer before that OS thread exits: a tracer
//!   that exits still tracing kills the whole stub (`PTRACE_O_EXITKILL`,
//!   which is also what ends the stubs of a crashed sentry). Dropped on its
//!   tracer, a context makes its stub thread `exit` unless it is the last
//!   one; the space's drop (any thread) kills and reaps the rest.
//! - Stub threads of a space can be pinned to different CPUs: each tracer
//!   pins itself and the thread it seizes to its current CPU.
//!
//! - The stub holds only the stub code page (`stub::STUB_BASE`) and whatever
//!   the sentry maps from the MemoryFile, at the same fd number as in the
//!   sentry.
//! - Application code runs under `PTRACE_SYSEMU`: its system calls stop at
//!   entry and the host never executes them.
//! - Address-space changes are `mmap`/`munmap`/`mprotect` injected into the
//!   stopped stub at a `syscall; int3` sequence in the stub page.
//! - A seccomp filter kills the stub for any other host system call.

mod context;
mod stub;
mod sys;

use std::collections::BTreeMap;
use std::os::fd::{AsRawFd, BorrowedFd, RawFd};
use std::sync::{Arc, Mutex, Weak};

pub use context::{Interrupter, PtraceContext};

pub use stub::{STUB_BASE, STUB_LEN};

use crate::{AddressSpace, Context, Error, Platform, Prot, Result, ThreadToken};
use stub::Stub;

/// The ptrace platform over one MemoryFile.
#[derive(Debug)]
pub struct PtracePlatform {
    memfd: RawFd,
}

impl PtracePlatform {
    /// A ptrace platform whose address spaces map pages of `memfd`. The
    /// platform keeps its number: `memfd` must stay open as long as the
    /// platform is used (the MemoryFile outlives every address space).
    pub fn new(memfd: BorrowedFd<'_>) -> Result<PtracePlatform> {
        stub::install_stub_page()?;
        Ok(PtracePlatform { memfd: memfd.as_raw_fd() })
    }

    /// `new_address_space` with its concrete type. The calling thread
    /// becomes the tracer of the new stub (see the module docs) and is pinned
    /// to the CPU it runs on, together with the stub.
    pub fn new_ptrace_address_space(&self) -> Result<Arc<PtraceAddressSpace>> {
        let stub = Arc::new(Stub::spawn(self.memfd)?);
        let space = Arc::new(PtraceAddressSpace { stub: Arc::clone(&stub) });
        registry().insert(space_key(&space), Arc::downgrade(&stub));
        Ok(space)
    }

    /// A new context with its concrete type.
    pub fn new_ptrace_context(&self) -> PtraceContext {
        PtraceContext::new()
    }
}

impl Platform for PtracePlatform {
    fn name(&self) -> &'static str {
        "ptrace"
    }

    fn new_address_space(&self) -> Result<Arc<dyn AddressSpace>> {
        Ok(self.new_ptrace_address_space()?)
    }

    fn new_context(&self) -> Result<Box<dyn Context>> {
        Ok(Box::new(self.new_ptrace_context()))
    }

    fn new_context_for(&self, token: ThreadToken) -> Result<Box<dyn Context>> {
        Ok(Box::new(PtraceContext::for_thread(token)))
    }
}

/// An application address space: one stub process.
#[derive(Debug)]
pub struct PtraceAddressSpace {
    stub: Arc<Stub>,
}

impl PtraceAddressSpace {
    /// The stub's host process id.
    pub fn stub_pid(&self) -> libc::pid_t {
        self.stub.pid
    }

    /// Inject host system call `nr` with `args` into the caller's stub
    /// thread. Only for tests: anything outside the allowed set kills the
    /// stub.
    #[doc(hidden)]
    pub fn inject_for_test(&self, nr: u64, args: [u64; 6]) -> Result<u64> {
        self.inject("injected system call", nr, args)
    }

    /// Inject `nr(args)` into the stub thread the calling thread traces.
    fn inject(&self, call: &'static str, nr: u64, args: [u64; 6]) -> Result<u64> {
        let thread = self.stub.caller_thread()?;
        self.stub.inject(&thread, call, nr, args)
    }

    /// Refuse ranges that touch the stub page or leave the user range.
    fn check_range(&self, call: &'static str, addr: u64, len: u64) -> Result<()> {
        let einval = || Error::Host { call, err: std::io::Error::from_raw_os_error(libc::EINVAL) };
        let end = addr.checked_add(len).ok_or_else(einval)?;
        let reserved = self.reserved();
        if addr < reserved.end && reserved.start < end {
            return Err(einval());
        }
        Ok(())
    }
}

impl AddressSpace for PtraceAddressSpace {
    fn map_file(&self, addr: u64, len: u64, off: u64, prot: Prot) -> Result<()> {
        const CALL: &str = "mmap (injected)";
        self.check_range(CALL, addr, len)?;
        let flags = (libc::MAP_SHARED | libc::MAP_FIXED).unsigned_abs();
        let fd = self.stub.memfd.unsigned_abs();
        let args = [addr, len, u64::from(prot.bits()), u64::from(flags), u64::from(fd), off];
        self.inject(CALL, abi::sysno::SYS_MMAP, args).map(drop)
    }

    fn unmap(&self, addr: u64, len: u64) -> Result<()> {
        const CALL: &str = "munmap (injected)";
        self.check_range(CALL, addr, len)?;
        self.inject(CALL, abi::sysno::SYS_MUNMAP, [addr, len, 0, 0, 0, 0]).map(drop)
    }

    fn protect(&self, addr: u64, len: u64, prot: Prot) -> Result<()> {
        const CALL: &str = "mprotect (injected)";
        self.check_range(CALL, addr, len)?;
        let args = [addr, len, u64::from(prot.bits()), 0, 0, 0];
        self.inject(CALL, abi::sysno::SYS_MPROTECT, args).map(drop)
    }

    fn reserved(&self) -> std::ops::Range<u64> {
        STUB_BASE..STUB_BASE + STUB_LEN
    }

    fn new_thread(&self) -> Result<ThreadToken> {
        let tid = self.stub.new_thread()?;
        Ok(ThreadToken::from_raw(tid.unsigned_abs().into()))
    }
}

impl Drop for PtraceAddressSpace {
    fn drop(&mut self) {
        registry().remove(&space_key(self));
        // The stub is killed and reaped when its last reference (this one,
        // or a context's binding) goes.
    }
}

/// The stubs of live `PtraceAddressSpace`s, by the address of the space.
/// A context is handed an `Arc<dyn AddressSpace>` and finds its stub here
/// (the trait has no downcast). A context keeps the `Arc` it was bound with,
/// so a bound address cannot be reused by another space.
static SPACES: Mutex<BTreeMap<usize, Weak<Stub>>> = Mutex::new(BTreeMap::new());

fn registry() -> std::sync::MutexGuard<'static, BTreeMap<usize, Weak<Stub>>> {
    SPACES.lock().unwrap_or_else(|e| e.into_inner())
}

fn space_key(space: &PtraceAddressSpace) -> usize {
    std::ptr::from_ref(space) as usize
}

/// The stub of `space`, which must be a `PtraceAddressSpace`.
fn stub_of(space: &Arc<dyn AddressSpace>) -> Result<Arc<Stub>> {
    let key = Arc::as_ptr(space).cast::<()>() as usize;
    registry()
        .get(&key)
        .and_then(Weak::upgrade)
        .ok_or_else(|| Error::Unavailable("ptrace", "a ptrace context can only run in a ptrace address space".into()))
}
