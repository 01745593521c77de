//! `PtraceContext`: runs application code in a stub thread with
//! `PTRACE_SYSEMU` until it makes a system call, faults or is interrupted.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, Weak};

use super::stub::Stub;
use super::sys::{self, Stop};
use crate::{Access, AddressSpace, Context, Error, Event, FpState, Registers, Result};

/// Size of the `FXSAVE` area `PTRACE_GETFPREGS` transfers.
const FXSAVE_LEN: usize = 512;

/// The part of a context other threads may touch: whom to interrupt.
#[derive(Debug, Default)]
struct Shared {
    /// The stub the context is bound to.
    target: Mutex<Weak<Stub>>,
    /// `interrupt` was called while the context was bound to no stub.
    pending: AtomicBool,
}

impl Shared {
    fn interrupt(&self) {
        let target = self.target.lock().unwrap_or_else(|e| e.into_inner()).upgrade();
        match target {
            // A pending SIGSTOP makes the next (or the running) switch stop.
            Some(stub) => stub.interrupt(),
            None => self.pending.store(true, Ordering::Release),
        }
    }
}

/// A handle that interrupts a `PtraceContext` from any thread.
#[derive(Clone, Debug)]
pub struct Interrupter(Arc<Shared>);

impl Interrupter {
    /// As `Context::interrupt`.
    pub fn interrupt(&self) {
        self.0.interrupt();
    }
}

/// The address space a context runs in, and its stub.
struct Binding {
    space: Arc<dyn AddressSpace>,
    stub: Arc<Stub>,
}

/// One application thread, run in the (single) thread of its address space's
/// stub. `switch` must be called from the thread that created the address
/// space (the stub's tracer).
pub struct PtraceContext {
    shared: Arc<Shared>,
    binding: Option<Binding>,
}

impl PtraceContext {
    pub(crate) fn new() -> PtraceContext {
        PtraceContext { shared: Arc::default(), binding: None }
    }

    /// A handle that interrupts this context from another thread (the
    /// `Context` trait is `Send` but not `Sync`).
    pub fn interrupter(&self) -> Interrupter {
        Interrupter(Arc::clone(&self.shared))
    }

    /// Read the thread's `FXSAVE` area (x87/SSE state) into the first 512
    /// bytes of `fpu`, growing it if needed. The context must have switched
    /// at least once and be stopped (it is, outside `switch`).
    pub fn fpu_state(&self, fpu: &mut FpState) -> Result<()> {
        let stub = self.bound_stub()?;
        if fpu.bytes.len() < FXSAVE_LEN {
            fpu.bytes.resize(FXSAVE_LEN, 0);
        }
        sys::ptrace("ptrace(PTRACE_GETFPREGS)", libc::PTRACE_GETFPREGS, stub.pid, 0, fpu.bytes.as_mut_ptr() as usize)
            .map_err(|e| stub.diagnose(e))
    }

    /// Load the thread's `FXSAVE` area from the first 512 bytes of `fpu`.
    pub fn set_fpu_state(&self, fpu: &FpState) -> Result<()> {
        let stub = self.bound_stub()?;
        if fpu.bytes.len() < FXSAVE_LEN {
            return Err(Error::Host {
                call: "ptrace(PTRACE_SETFPREGS)",
                err: std::io::Error::from_raw_os_error(libc::EINVAL),
            });
        }
        sys::ptrace("ptrace(PTRACE_SETFPREGS)", libc::PTRACE_SETFPREGS, stub.pid, 0, fpu.bytes.as_ptr() as usize)
            .map_err(|e| stub.diagnose(e))
    }

    fn bound_stub(&self) -> Result<&Arc<Stub>> {
        match &self.binding {
            Some(b) if !b.stub.is_dead() => Ok(&b.stub),
            Some(b) => Err(b.stub.dead_error()),
            None => Err(Error::StubDied("the context has not run in any address space".into())),
        }
    }

    /// Bind to `space`'s stub thread unless already bound to it.
    fn bind(&mut self, space: &Arc<dyn AddressSpace>) -> Result<Arc<Stub>> {
        if let Some(b) = &self.binding {
            if std::ptr::addr_eq(Arc::as_ptr(&b.space), Arc::as_ptr(space)) {
                return Ok(Arc::clone(&b.stub));
            }
        }
        let stub = super::stub_of(space)?;
        if stub.bound.swap(true, Ordering::AcqRel) {
            return Err(Error::Unavailable(
                "ptrace",
                "a second context in one address space (multi-threaded applications) is not \
                 supported yet"
                    .into(),
            ));
        }
        self.unbind();
        *self.shared.target.lock().unwrap_or_else(|e| e.into_inner()) = Arc::downgrade(&stub);
        self.binding = Some(Binding { space: Arc::clone(space), stub: Arc::clone(&stub) });
        Ok(stub)
    }

    fn unbind(&mut self) {
        if let Some(b) = self.binding.take() {
            b.stub.bound.store(false, Ordering::Release);
            *self.shared.target.lock().unwrap_or_else(|e| e.into_inner()) = Weak::new();
        }
    }
}

impl Drop for PtraceContext {
    fn drop(&mut self) {
        self.unbind();
    }
}

impl Context for PtraceContext {
    fn switch(&mut self, space: &Arc<dyn AddressSpace>, regs: &mut Registers, _fpu: &mut FpState) -> Result<Event> {
        let stub = self.bind(space)?;
        if stub.is_dead() {
            return Err(stub.dead_error());
        }
        if self.shared.pending.swap(false, Ordering::AcqRel) || stub.interrupt_pending.swap(false, Ordering::AcqRel) {
            return Ok(Event::Interrupted);
        }
        let pid = stub.pid;
        let mut run = *regs;
        // The sentry does syscall restarts itself: the host must never
        // rewind `rip` because of what the sentry left in `rax`.
        run.orig_rax = u64::MAX;
        // Segment selectors must be user selectors; a zeroed `Registers`
        // means "the usual 64-bit ones".
        if run.cs & 3 != 3 {
            run.cs = stub.user_cs;
        }
        if run.ss & 3 != 3 {
            run.ss = stub.user_ss;
        }
        sys::set_regs(pid, &run).map_err(|e| stub.diagnose(e))?;
        loop {
            sys::resume("ptrace(PTRACE_SYSEMU)", libc::PTRACE_SYSEMU, pid, 0)?;
            let stop = stub.wait()?;
            let event = match stop {
                Stop::Syscall => Event::Syscall,
                Stop::Signal(libc::SIGSTOP) => Event::Interrupted,
                Stop::Signal(sig @ (libc::SIGSEGV | libc::SIGBUS | libc::SIGFPE | libc::SIGILL | libc::SIGTRAP)) => {
                    match fault_event(pid, sig)? {
                        Some(event) => event,
                        None => continue, // Sent by someone on the host: ignore.
                    }
                }
                // Other host signals are not the application's: suppress them.
                Stop::Signal(_) | Stop::Event(_) => continue,
                Stop::Exited(_) | Stop::Killed(_) => return Err(stub.died(stop, "running application code")),
            };
            sys::get_regs(pid, regs)?;
            return Ok(event);
        }
    }

    fn interrupt(&self) {
        self.shared.interrupt();
    }

    fn interrupter(&self) -> Arc<dyn Fn() + Send + Sync> {
        let i = PtraceContext::interrupter(self);
        Arc::new(move || i.interrupt())
    }

    fn fpu_state(&mut self, out: &mut FpState) -> Result<()> {
        PtraceContext::fpu_state(self, out)
    }

    fn set_fpu_state(&mut self, st: &FpState) -> Result<()> {
        PtraceContext::set_fpu_state(self, st)
    }
}

/// The event for a synchronous signal `sig` the application raised, or
/// `None` if the signal was sent from outside (kill, tgkill).
fn fault_event(pid: libc::pid_t, sig: libc::c_int) -> Result<Option<Event>> {
    let info = sys::get_siginfo(pid)?;
    if info.si_code <= 0 {
        return Ok(None); // SI_USER, SI_TKILL, SI_QUEUE ...: not a fault.
    }
    // SAFETY: for these signals raised by the kernel (si_code > 0) the
    // siginfo holds the faulting address in `si_addr`.
    let addr = unsafe { info.si_addr() } as u64;
    // SEGV_MAPERR, SEGV_ACCERR: a page fault the sentry may resolve. Other
    // SIGSEGVs (SI_KERNEL: general protection) are plain signals.
    const SEGV_MAPERR: i32 = 1;
    const SEGV_ACCERR: i32 = 2;
    Ok(Some(match (sig, info.si_code) {
        (libc::SIGSEGV, SEGV_MAPERR | SEGV_ACCERR) => {
            Event::Fault { addr, access: Access::Unknown, si_code: info.si_code }
        }
        _ => Event::Signal { signo: sig, si_code: info.si_code, addr },
    }))
}
