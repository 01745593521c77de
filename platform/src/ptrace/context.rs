//! `PtraceContext`: runs application code in a stub thread with
//! `PTRACE_SYSEMU` until it makes a system call, faults or is interrupted.
//! Contexts in one address space run in different threads of its stub,
//! each traced by its own OS thread.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, Weak};

use super::stub::{Stub, StubThread, INTERRUPT_SIGNAL};
use super::sys::{self, Resume, Stop};
use crate::{Access, AddressSpace, Context, Error, Event, FpState, Registers, Result, ThreadToken};

/// Size of the `FXSAVE` area `PTRACE_GETFPREGS` transfers.
const FXSAVE_LEN: usize = 512;
/// `NT_X86_XSTATE` (linux/elf.h): the XSAVE regset.
const NT_X86_XSTATE: usize = 0x202;
/// Room for the largest user XSAVE image (AMX tiles included: ~11 KiB).
const XSTATE_MAX: usize = 16 << 10;
/// Offset of `xstate_bv` in an XSAVE image; bits 0 and 1 are x87 and SSE.
const XSTATE_BV: usize = 512;
const XFEATURE_FP_SSE: u64 = 0b11;

/// The part of a context other threads may touch: whom to interrupt.
#[derive(Debug, Default)]
struct Shared {
    /// The stub and thread the context is bound to.
    target: Mutex<Option<(Weak<Stub>, libc::pid_t)>>,
    /// `interrupt` was called while the context was bound to no stub.
    pending: AtomicBool,
}

impl Shared {
    fn interrupt(&self) {
        let target = self.target.lock().unwrap_or_else(|e| e.into_inner());
        match target.as_ref().and_then(|(stub, tid)| Some((stub.upgrade()?, *tid))) {
            // A pending interrupt signal makes the next (or the running)
            // switch stop; other threads of the stub are not disturbed.
            Some((stub, tid)) => stub.interrupt(tid),
            None => self.pending.store(true, Ordering::Release),
        }
    }

    fn set_target(&self, target: Option<(Weak<Stub>, libc::pid_t)>) {
        *self.target.lock().unwrap_or_else(|e| e.into_inner()) = target;
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

/// The address space a context runs in, its stub, and the stub thread it
/// runs (traced by the OS thread of the first switch).
struct Binding {
    space: Arc<dyn AddressSpace>,
    stub: Arc<Stub>,
    thread: Arc<StubThread>,
}

/// One application thread, run in one host thread of its address space's
/// stub, traced by the OS thread of the context's first `switch`.
///
/// - Made by `new_context` (no token), it runs the space's initial thread:
///   its first `switch` must be on the thread that created the space.
/// - Made by `new_context_for(token)` (or `adopt`), its first `switch`
///   seizes the thread `token` names, on whichever OS thread that is.
///
/// Afterwards `switch`, `fpu_state`, `set_fpu_state` and the drop belong on
/// that OS thread. Dropped there, the context makes its stub thread exit
/// (unless it is the stub's last thread, which the space's drop kills);
/// dropped elsewhere it cannot, and the thread stays stopped until the
/// space goes.
pub struct PtraceContext {
    shared: Arc<Shared>,
    binding: Option<Binding>,
    /// The thread to adopt at the first switch.
    token: Option<ThreadToken>,
    /// FPU state set before the first switch, loaded once bound.
    pending_fpu: Option<FpState>,
    /// The bound thread's registers as the last switch left them (read at
    /// its stop), while nothing else has set them: a switch that changes
    /// only `rax` (a system call's result) writes just that register.
    last: Option<Registers>,
}

impl PtraceContext {
    pub(crate) fn new() -> PtraceContext {
        PtraceContext { shared: Arc::default(), binding: None, token: None, pending_fpu: None, last: None }
    }

    /// A context that will run thread `token` (see the type's docs).
    pub fn for_thread(token: ThreadToken) -> PtraceContext {
        PtraceContext { shared: Arc::default(), binding: None, token: Some(token), pending_fpu: None, last: None }
    }

    /// Make this (not yet switched) context run thread `token` from
    /// `AddressSpace::new_thread`: as `Platform::new_context_for`.
    pub fn adopt(&mut self, token: ThreadToken) -> Result<()> {
        if self.binding.is_some() {
            return Err(Error::Unavailable("ptrace", "a context that has run cannot adopt another thread".into()));
        }
        self.token = Some(token);
        Ok(())
    }

    /// A handle that interrupts this context from another thread (the
    /// `Context` trait is `Send` but not `Sync`).
    pub fn interrupter(&self) -> Interrupter {
        Interrupter(Arc::clone(&self.shared))
    }

    /// The host thread id this context runs in, once it has switched.
    pub fn stub_tid(&self) -> Option<libc::pid_t> {
        self.binding.as_ref().map(|b| b.thread.tid)
    }

    fn bound(&self) -> Result<(&Arc<Stub>, libc::pid_t)> {
        match &self.binding {
            Some(b) if !b.stub.is_dead() => Ok((&b.stub, b.thread.tid)),
            Some(b) => Err(b.stub.dead_error()),
            None => Err(Error::StubDied("the context has not run in any address space".into())),
        }
    }

    /// Bind to `space`'s stub thread unless already bound to it.
    fn bind(&mut self, space: &Arc<dyn AddressSpace>) -> Result<(Arc<Stub>, Arc<StubThread>)> {
        if let Some(b) = &self.binding {
            if std::ptr::addr_eq(Arc::as_ptr(&b.space), Arc::as_ptr(space)) {
                return Ok((Arc::clone(&b.stub), Arc::clone(&b.thread)));
            }
        }
        let stub = super::stub_of(space)?;
        self.unbind();
        let thread = match self.token {
            Some(token) => {
                let tid = libc::pid_t::try_from(token.raw()).map_err(|_| {
                    Error::Unavailable("ptrace", format!("thread token {token:?} is not a ptrace thread"))
                })?;
                stub.adopt(tid)?
            }
            None => stub.bind_caller()?,
        };
        self.token = None;
        self.shared.set_target(Some((Arc::downgrade(&stub), thread.tid)));
        self.binding = Some(Binding { space: Arc::clone(space), stub: Arc::clone(&stub), thread: Arc::clone(&thread) });
        Ok((stub, thread))
    }

    fn unbind(&mut self) {
        self.last = None;
        if let Some(b) = self.binding.take() {
            self.shared.set_target(None);
            b.stub.release(&b.thread);
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
        let (stub, thread) = self.bind(space)?;
        if stub.is_dead() {
            return Err(stub.dead_error());
        }
        if let Some(st) = self.pending_fpu.take() {
            self.set_fpu_state(&st)?;
        }
        if self.shared.pending.swap(false, Ordering::AcqRel) || thread.interrupt_pending.swap(false, Ordering::AcqRel) {
            return Ok(Event::Interrupted);
        }
        let tid = thread.tid;
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
        // Registers the host changed behind our back (an injected call
        // restores them, but say so anyway) are written whole.
        let touched = thread.regs_touched.swap(false, Ordering::AcqRel);
        let last = self.last.take().filter(|_| !touched);
        match last {
            Some(last) if only_rax_differs(&last, &run) => {
                if run.rax != last.rax {
                    sys::poke_user(tid, RAX_OFFSET, run.rax).map_err(|e| stub.diagnose(e))?;
                }
            }
            _ => sys::set_regs(tid, &run).map_err(|e| stub.diagnose(e))?,
        }
        loop {
            stub.resume(&thread, Resume::Sysemu)?;
            let stop = stub.wait(&thread)?;
            let event = match stop {
                Stop::Syscall => Event::Syscall,
                Stop::Signal(INTERRUPT_SIGNAL) => Event::Interrupted,
                Stop::Signal(sig @ (libc::SIGSEGV | libc::SIGBUS | libc::SIGFPE | libc::SIGILL | libc::SIGTRAP)) => {
                    match fault_event(tid, sig).map_err(|e| stub.diagnose(e))? {
                        Some(event) => event,
                        None => continue, // Sent by someone on the host: ignore.
                    }
                }
                // Other host signals are not the application's: suppress them.
                Stop::Signal(_) | Stop::Event(_) => continue,
                Stop::Exited(_) | Stop::Killed(_) => return Err(stub.died(stop, "running application code")),
            };
            sys::get_regs(tid, regs).map_err(|e| stub.diagnose(e))?;
            self.last = Some(*regs);
            // `syscall` leaves the return address in rcx and the flags in
            // r11 (the kernel's saved rip and flags); `int 0x80` and
            // `sysenter` (the i386 ABI, other call numbers) leave them be.
            if event == Event::Syscall && (regs.rcx != regs.rip || regs.r11 != regs.eflags) {
                return Ok(Event::Syscall32);
            }
            return Ok(event);
        }
    }

    fn interrupt(&self) {
        self.shared.interrupt();
    }

    fn interrupter(&self) -> Arc<dyn Fn() + Send + Sync> {
        let shared = Arc::clone(&self.shared);
        Arc::new(move || shared.interrupt())
    }

    /// The XSAVE image (`NT_X86_XSTATE`) where the host offers it, else the
    /// 512-byte `FXSAVE` area; `out.bytes` is resized to what was read.
    fn fpu_state(&mut self, out: &mut FpState) -> Result<()> {
        let (stub, tid) = self.bound()?;
        out.bytes.resize(XSTATE_MAX, 0);
        let r = sys::regset(
            "ptrace(PTRACE_GETREGSET, NT_X86_XSTATE)",
            libc::PTRACE_GETREGSET,
            tid,
            NT_X86_XSTATE,
            out.bytes.as_mut_ptr(),
            out.bytes.len(),
        );
        match r {
            Ok(len) if len > FXSAVE_LEN => {
                out.bytes.truncate(len);
                Ok(())
            }
            Ok(_) | Err(Error::Host { .. }) if !stub.is_dead() => {
                out.bytes.truncate(FXSAVE_LEN);
                let data = out.bytes.as_mut_ptr() as usize;
                sys::ptrace_raw("ptrace(PTRACE_GETFPREGS)", libc::PTRACE_GETFPREGS, tid, 0, data)
                    .map_err(|e| stub.diagnose(e))
            }
            Ok(_) => Err(stub.dead_error()),
            Err(e) => Err(stub.diagnose(e)),
        }
    }

    /// An XSAVE image (longer than 512 bytes, as `fpu_state` returned it) is
    /// loaded with `NT_X86_XSTATE`; the x87 and SSE bits of its `xstate_bv`
    /// are set first, so that the `FXSAVE` area, which `fpu_state` always
    /// fills, is what the thread gets. A 512-byte area goes through
    /// `PTRACE_SETFPREGS`.
    fn set_fpu_state(&mut self, st: &FpState) -> Result<()> {
        if self.binding.is_none() {
            self.pending_fpu = Some(st.clone());
            return Ok(());
        }
        let (stub, tid) = self.bound()?;
        let einval = |call| Error::Host { call, err: std::io::Error::from_raw_os_error(libc::EINVAL) };
        if st.bytes.len() > FXSAVE_LEN {
            if st.bytes.len() < XSTATE_BV + 64 {
                return Err(einval("ptrace(PTRACE_SETREGSET, NT_X86_XSTATE)"));
            }
            let mut image = st.bytes.clone();
            let mut bv = [0u8; 8];
            bv.copy_from_slice(&image[XSTATE_BV..XSTATE_BV + 8]);
            let bv = u64::from_le_bytes(bv) | XFEATURE_FP_SSE;
            image[XSTATE_BV..XSTATE_BV + 8].copy_from_slice(&bv.to_le_bytes());
            return sys::regset(
                "ptrace(PTRACE_SETREGSET, NT_X86_XSTATE)",
                libc::PTRACE_SETREGSET,
                tid,
                NT_X86_XSTATE,
                image.as_mut_ptr(),
                image.len(),
            )
            .map(drop)
            .map_err(|e| stub.diagnose(e));
        }
        if st.bytes.len() < FXSAVE_LEN {
            return Err(einval("ptrace(PTRACE_SETFPREGS)"));
        }
        sys::ptrace_raw("ptrace(PTRACE_SETFPREGS)", libc::PTRACE_SETFPREGS, tid, 0, st.bytes.as_ptr() as usize)
            .map_err(|e| stub.diagnose(e))
    }
}

/// Offset of `rax` in `struct user_regs_struct`, for `PTRACE_POKEUSER`.
const RAX_OFFSET: usize = std::mem::offset_of!(Registers, rax);

/// Whether `run` (about to be resumed, `orig_rax` -1) differs from the
/// registers the stopped thread has (`last`) in `rax` at most, so that
/// writing `rax` alone gives the thread `run`. The thread keeps the
/// `orig_rax` of its stop, which matters to the host only if `rax` holds
/// one of the `-ERESTART*` codes (it would then restart the call when a
/// host signal interrupts the resume): those are written whole.
fn only_rax_differs(last: &Registers, run: &Registers) -> bool {
    const ERESTART: std::ops::RangeInclusive<i64> = -516..=-512;
    let mut same = *last;
    same.rax = run.rax;
    same.orig_rax = run.orig_rax;
    same == *run && !ERESTART.contains(&(run.rax as i64))
}

/// The event for a synchronous signal `sig` the application raised, or
/// `None` if the signal was sent from outside (kill, tgkill).
// Unsafe: reads `si_addr` out of the kernel's siginfo union.
#[allow(unsafe_code)]
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
