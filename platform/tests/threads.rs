//! Several application threads in one ptrace address space, each run by its
//! own OS thread (its tracer), and many address spaces at once.

use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use platform::ptrace::{PtraceAddressSpace, PtraceContext, PtracePlatform};
use platform::{AddressSpace, Context, Error, Event, FpState, Platform, Prot, Registers};

const CODE_ADDR: u64 = 0x40_0000;
/// Thread B's code, in the same page as A's.
const B_CODE_ADDR: u64 = CODE_ADDR + 0x100;
const DATA_ADDR: u64 = 0x60_0000;
const CODE_OFF: u64 = 0;
const DATA_OFF: u64 = 0x1000;
const DATA_VALUE: u64 = 0x1122_3344_5566_7788;
const PAGE: u64 = 0x1000;
const SYS_GETPID: u64 = 39;
const SYS_CLONE: u64 = 56;

const RX: Prot = Prot { read: true, write: false, exec: true };
const R: Prot = Prot { read: true, write: false, exec: false };

/// `loop: mov eax, 39; syscall; jmp loop`
fn getpid_loop() -> Vec<u8> {
    vec![0xb8, 39, 0, 0, 0, 0x0f, 0x05, 0xeb, 0xf7]
}

/// `mov [disp32], rdi`
fn store_rdi(addr: u64) -> Vec<u8> {
    let mut v = vec![0x48, 0x89, 0x3c, 0x25];
    v.extend_from_slice(&u32::try_from(addr).expect("low address").to_le_bytes());
    v
}

/// `mov rdi, [disp32]`
fn load_rdi(addr: u64) -> Vec<u8> {
    let mut v = vec![0x48, 0x8b, 0x3c, 0x25];
    v.extend_from_slice(&u32::try_from(addr).expect("low address").to_le_bytes());
    v
}

/// A 1 MiB MemoryFile with `a` at CODE_OFF, `b` at CODE_OFF + 0x100 and
/// DATA_VALUE at DATA_OFF.
fn memfile(a: &[u8], b: &[u8]) -> OwnedFd {
    // SAFETY: a fresh memfd; the name is a NUL-terminated literal.
    let fd = unsafe { libc::memfd_create(c"bulwark-threads".as_ptr(), libc::MFD_CLOEXEC) };
    assert!(fd >= 0, "memfd_create: {}", std::io::Error::last_os_error());
    // SAFETY: `fd` is a fresh descriptor we own.
    let fd = unsafe { OwnedFd::from_raw_fd(fd) };
    // SAFETY: `fd` is ours.
    assert_eq!(unsafe { libc::ftruncate(fd.as_raw_fd(), 1 << 20) }, 0);
    pwrite(&fd, a, CODE_OFF);
    pwrite(&fd, b, CODE_OFF + (B_CODE_ADDR - CODE_ADDR));
    pwrite(&fd, &DATA_VALUE.to_le_bytes(), DATA_OFF);
    fd
}

fn pwrite(fd: &OwnedFd, bytes: &[u8], off: u64) {
    // SAFETY: a live buffer of the length given, on our descriptor.
    let n = unsafe { libc::pwrite(fd.as_raw_fd(), bytes.as_ptr().cast(), bytes.len(), off as i64) };
    assert_eq!(n, bytes.len() as isize);
}

fn pread_u64(fd: &OwnedFd, off: u64) -> u64 {
    let mut b = [0u8; 8];
    // SAFETY: a live buffer of the length given, on our descriptor.
    let n = unsafe { libc::pread(fd.as_raw_fd(), b.as_mut_ptr().cast(), 8, off as i64) };
    assert_eq!(n, 8);
    u64::from_le_bytes(b)
}

struct Space {
    memfd: OwnedFd,
    platform: Arc<PtracePlatform>,
    space: Arc<PtraceAddressSpace>,
    dyn_space: Arc<dyn AddressSpace>,
}

/// A space on the calling thread with the code page mapped R+X and the data
/// page mapped R+W.
fn space(a: &[u8], b: &[u8]) -> Space {
    let memfd = memfile(a, b);
    let platform = Arc::new(PtracePlatform::new(memfd.as_fd()).expect("platform"));
    let space = platform.new_ptrace_address_space().expect("address space");
    space.map_file(CODE_ADDR, PAGE, CODE_OFF, RX).expect("map code");
    space.map_file(DATA_ADDR, PAGE, DATA_OFF, Prot::RW).expect("map data");
    let dyn_space: Arc<dyn AddressSpace> = space.clone();
    Space { memfd, platform, space, dyn_space }
}

fn switch(ctx: &mut dyn Context, space: &Arc<dyn AddressSpace>, regs: &mut Registers) -> Event {
    ctx.switch(space, regs, &mut FpState::default()).expect("switch")
}

/// `n` getpid traps; each returns `ret`. Panics on any other event.
fn trap_getpids(ctx: &mut dyn Context, space: &Arc<dyn AddressSpace>, regs: &mut Registers, n: usize, ret: u64) {
    for i in 0..n {
        let ev = switch(ctx, space, regs);
        assert_eq!((ev, regs.syscall_nr()), (Event::Syscall, SYS_GETPID), "trap {i}");
        regs.set_return(ret);
    }
}

fn regs_at(rip: u64) -> Registers {
    Registers { rip, ..Registers::default() }
}

/// Host thread `tid` of process `pid` still exists (not exited, not a zombie).
fn thread_alive(pid: libc::pid_t, tid: libc::pid_t) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/task/{tid}/stat")) {
        // The state follows the parenthesised name.
        Ok(stat) => stat.rsplit_once(") ").is_some_and(|(_, rest)| !rest.starts_with(['Z', 'X'])),
        Err(_) => false,
    }
}

fn wait_until(what: &str, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        std::thread::sleep(Duration::from_millis(1));
    }
}

#[test]
fn two_threads_share_memory_and_trap_independently_in_parallel() {
    let b_code = [store_rdi(DATA_ADDR), getpid_loop()].concat();
    let s = space(&getpid_loop(), &b_code);
    let mut a_ctx = s.platform.new_context().expect("context");
    let mut a_regs = regs_at(CODE_ADDR);
    trap_getpids(a_ctx.as_mut(), &s.dyn_space, &mut a_regs, 1, 1);

    let token = s.dyn_space.new_thread().expect("new_thread");
    let b_ctx = s.platform.new_context_for(token).expect("context for token");
    let barrier = Arc::new(Barrier::new(2));
    let (b_space, b_barrier) = (Arc::clone(&s.dyn_space), Arc::clone(&barrier));
    let b = std::thread::spawn(move || {
        let mut ctx = b_ctx;
        let mut regs = Registers { rdi: 0xfeed_f00d, ..regs_at(B_CODE_ADDR) };
        trap_getpids(ctx.as_mut(), &b_space, &mut regs, 1, 2);
        b_barrier.wait();
        trap_getpids(ctx.as_mut(), &b_space, &mut regs, 1000, 2);
        // Dropped on its tracer (B must not exit while it traces a thread:
        // PTRACE_O_EXITKILL would kill the whole stub).
        drop(ctx);
        regs.rip
    });
    barrier.wait();
    let stored = pread_u64(&s.memfd, DATA_OFF);
    trap_getpids(a_ctx.as_mut(), &s.dyn_space, &mut a_regs, 1000, 1);
    let b_rip = b.join().expect("thread B");

    assert_eq!(stored, 0xfeed_f00d);
    assert_eq!(a_regs.rip, CODE_ADDR + 7);
    assert_eq!(b_rip, B_CODE_ADDR + 8 + 7);
    trap_getpids(a_ctx.as_mut(), &s.dyn_space, &mut a_regs, 1, 1);
}

#[test]
fn threads_run_in_distinct_host_threads_of_one_stub_process() {
    let s = space(&getpid_loop(), &getpid_loop());
    let mut a_ctx = s.platform.new_ptrace_context();
    trap_getpids(&mut a_ctx, &s.dyn_space, &mut regs_at(CODE_ADDR), 1, 0);
    let token = s.dyn_space.new_thread().expect("new_thread");

    let space = Arc::clone(&s.dyn_space);
    let b_tid = std::thread::spawn(move || {
        let mut ctx = PtraceContext::for_thread(token);
        trap_getpids(&mut ctx, &space, &mut regs_at(B_CODE_ADDR), 1, 0);
        ctx.stub_tid()
    })
    .join()
    .expect("thread B")
    .expect("bound");

    let pid = s.space.stub_pid();
    assert_eq!(a_ctx.stub_tid(), Some(pid));
    assert_ne!(b_tid, pid);
    assert_eq!(u64::try_from(b_tid).ok(), Some(token.raw()));
}

#[test]
fn map_on_thread_b_goes_through_its_own_stub_thread_and_is_visible_to_a() {
    let a_code = [load_rdi(DATA_ADDR + PAGE), getpid_loop()].concat();
    let s = space(&a_code, &getpid_loop());
    let mut a_ctx = s.platform.new_context().expect("context");
    let mut a_regs = regs_at(CODE_ADDR);
    let fault = switch(a_ctx.as_mut(), &s.dyn_space, &mut a_regs);
    let token = s.dyn_space.new_thread().expect("new_thread");

    let space = Arc::clone(&s.dyn_space);
    let b_ctx = s.platform.new_context_for(token).expect("context");
    let (mapped_tx, mapped_rx) = std::sync::mpsc::channel();
    let (done_tx, done_rx) = std::sync::mpsc::channel::<()>();
    let b = std::thread::spawn(move || {
        let mut ctx = b_ctx;
        // B traces nothing yet: no thread to inject through.
        let before = space.map_file(DATA_ADDR + PAGE, PAGE, DATA_OFF, R);
        trap_getpids(ctx.as_mut(), &space, &mut regs_at(B_CODE_ADDR), 1, 0);
        let mapped = space.map_file(DATA_ADDR + PAGE, PAGE, DATA_OFF, R);
        mapped_tx.send((before, mapped)).expect("send");
        // Keep B (and its thread) alive while A runs.
        done_rx.recv().expect("recv");
    });
    let (before_switch, mapped) = mapped_rx.recv().expect("B mapped");
    let after = switch(a_ctx.as_mut(), &s.dyn_space, &mut a_regs);
    done_tx.send(()).expect("send");
    b.join().expect("thread B");

    assert_eq!(fault, Event::Fault { addr: DATA_ADDR + PAGE, access: platform::Access::Unknown, si_code: 1 });
    let Err(Error::Host { call, .. }) = before_switch else { panic!("expected Host error, got {before_switch:?}") };
    assert!(call.contains("not the stub's tracer"), "{call}");
    mapped.expect("map on B");
    assert_eq!((after, a_regs.rdi), (Event::Syscall, DATA_VALUE));
}

#[test]
fn dropping_b_context_on_its_thread_makes_its_stub_thread_exit_while_a_keeps_working() {
    let s = space(&getpid_loop(), &getpid_loop());
    let mut a_ctx = s.platform.new_context().expect("context");
    let mut a_regs = regs_at(CODE_ADDR);
    trap_getpids(a_ctx.as_mut(), &s.dyn_space, &mut a_regs, 1, 0);
    let token = s.dyn_space.new_thread().expect("new_thread");
    let pid = s.space.stub_pid();
    let b_tid = libc::pid_t::try_from(token.raw()).expect("tid");
    let alive_before = thread_alive(pid, b_tid);

    let space = Arc::clone(&s.dyn_space);
    std::thread::spawn(move || {
        let mut ctx = PtraceContext::for_thread(token);
        trap_getpids(&mut ctx, &space, &mut regs_at(B_CODE_ADDR), 10, 0);
        drop(ctx); // On its tracer: the stub thread exits.
    })
    .join()
    .expect("thread B");
    wait_until("B's stub thread is gone", || !thread_alive(pid, b_tid));
    trap_getpids(a_ctx.as_mut(), &s.dyn_space, &mut a_regs, 100, 0);
    let again = s.dyn_space.new_thread();

    assert!(alive_before);
    assert!(thread_alive(pid, pid));
    assert!(again.is_ok(), "{again:?}");
}

#[test]
fn initial_thread_may_exit_first_and_the_others_keep_the_space() {
    let s = space(&getpid_loop(), &getpid_loop());
    let pid = s.space.stub_pid();
    let mut a_ctx = s.platform.new_context().expect("context");
    trap_getpids(a_ctx.as_mut(), &s.dyn_space, &mut regs_at(CODE_ADDR), 1, 0);
    let token = s.dyn_space.new_thread().expect("new_thread");
    let (go, done) = (Arc::new(Barrier::new(2)), Arc::new(Barrier::new(2)));

    let (space, b_go, b_done) = (Arc::clone(&s.dyn_space), Arc::clone(&go), Arc::clone(&done));
    let b = std::thread::spawn(move || {
        let mut ctx = PtraceContext::for_thread(token);
        let mut regs = regs_at(B_CODE_ADDR);
        trap_getpids(&mut ctx, &space, &mut regs, 1, 0);
        b_go.wait(); // A drops its context now.
        b_done.wait();
        trap_getpids(&mut ctx, &space, &mut regs, 100, 0);
        let remap = space.protect(CODE_ADDR, PAGE, RX);
        let more = space.new_thread();
        (remap, more.is_ok())
    });
    go.wait();
    drop(a_ctx); // On its tracer, not the last thread: the initial thread exits.
    let leader_gone = {
        let mut gone = false;
        wait_until("the initial thread is a zombie", || {
            gone = !thread_alive(pid, pid);
            gone
        });
        gone
    };
    done.wait();
    let (remap, more) = b.join().expect("thread B");

    assert!(leader_gone);
    remap.expect("protect on B after the initial thread exited");
    assert!(more);
    drop(s); // Reaps everything without hanging.
             // SAFETY: signal 0 only checks for existence.
    assert_ne!(unsafe { libc::kill(pid, 0) }, 0);
}

#[test]
fn interrupting_b_from_a_stops_only_b() {
    let spin = vec![0xeb, 0xfe]; // jmp .
    let s = space(&getpid_loop(), &spin);
    let mut a_ctx = s.platform.new_context().expect("context");
    let mut a_regs = regs_at(CODE_ADDR);
    trap_getpids(a_ctx.as_mut(), &s.dyn_space, &mut a_regs, 1, 0);
    let token = s.dyn_space.new_thread().expect("new_thread");
    let mut b_ctx = PtraceContext::for_thread(token);
    let interrupter = b_ctx.interrupter();
    let started = Arc::new(Barrier::new(2));

    let (space, b_started) = (Arc::clone(&s.dyn_space), Arc::clone(&started));
    let b = std::thread::spawn(move || {
        // Bind first (an interrupt before binding is latched, which is a
        // different path), then spin until interrupted.
        let mut regs = regs_at(B_CODE_ADDR);
        let mut fpu = FpState::default();
        let first = b_ctx.switch(&space, &mut regs, &mut fpu);
        b_started.wait();
        (first, regs.rip)
    });
    // The first switch of B spins forever; interrupt it while A traps.
    trap_getpids(a_ctx.as_mut(), &s.dyn_space, &mut a_regs, 100, 0);
    std::thread::sleep(Duration::from_millis(20));
    interrupter.interrupt();
    trap_getpids(a_ctx.as_mut(), &s.dyn_space, &mut a_regs, 100, 0);
    started.wait();
    let (first, b_rip) = b.join().expect("thread B");

    assert_eq!(first.expect("switch B"), Event::Interrupted);
    assert_eq!(b_rip, B_CODE_ADDR);
}

#[test]
fn interrupt_before_a_tokens_first_switch_is_latched() {
    let s = space(&getpid_loop(), &getpid_loop());
    let mut a_ctx = s.platform.new_context().expect("context");
    trap_getpids(a_ctx.as_mut(), &s.dyn_space, &mut regs_at(CODE_ADDR), 1, 0);
    let mut b_ctx = s.platform.new_context_for(s.dyn_space.new_thread().expect("new_thread")).expect("ctx");

    b_ctx.interrupt();
    let space = Arc::clone(&s.dyn_space);
    let (first, second) = std::thread::spawn(move || {
        let mut regs = regs_at(B_CODE_ADDR);
        let first = switch(b_ctx.as_mut(), &space, &mut regs);
        let second = switch(b_ctx.as_mut(), &space, &mut regs);
        (first, second)
    })
    .join()
    .expect("thread B");

    assert_eq!((first, second), (Event::Interrupted, Event::Syscall));
}

#[test]
fn fpu_state_round_trips_through_the_trait_and_reaches_the_thread() {
    // movq rdi, xmm0; mov eax, 39; syscall
    let code = [vec![0x66, 0x48, 0x0f, 0x7e, 0xc7], getpid_loop()].concat();
    let s = space(&code, &[]);
    let mut ctx = s.platform.new_context().expect("context");
    let mut regs = regs_at(CODE_ADDR + 5); // First stop without running movq.
    trap_getpids(ctx.as_mut(), &s.dyn_space, &mut regs, 1, 0);

    let mut fpu = FpState::default();
    ctx.fpu_state(&mut fpu).expect("get");
    let len = fpu.bytes.len();
    fpu.bytes[160..168].copy_from_slice(&0xdead_beef_u64.to_le_bytes()); // xmm0 low
    ctx.set_fpu_state(&fpu).expect("set");
    let mut back = FpState::default();
    ctx.fpu_state(&mut back).expect("get again");
    let mut fx = FpState { bytes: back.bytes[..512].to_vec() };
    fx.bytes[160..168].copy_from_slice(&0x0123_4567_u64.to_le_bytes());
    let mut regs = regs_at(CODE_ADDR);
    let ev_xsave = switch(ctx.as_mut(), &s.dyn_space, &mut regs);
    let rdi_xsave = regs.rdi;
    ctx.set_fpu_state(&fx).expect("set FXSAVE area only");
    let mut regs = regs_at(CODE_ADDR);
    let ev_fx = switch(ctx.as_mut(), &s.dyn_space, &mut regs);

    assert!(len >= 512, "{len}");
    assert_eq!(&back.bytes[160..168], &0xdead_beef_u64.to_le_bytes());
    assert_eq!((ev_xsave, rdi_xsave), (Event::Syscall, 0xdead_beef));
    assert_eq!((ev_fx, regs.rdi), (Event::Syscall, 0x0123_4567));
}

#[test]
fn fpu_state_of_an_unswitched_context_is_an_error() {
    let memfd = memfile(&[], &[]);
    let platform = PtracePlatform::new(memfd.as_fd()).expect("platform");
    let mut ctx = platform.new_context().expect("context");

    let r = ctx.fpu_state(&mut FpState::default());

    assert!(r.is_err());
}

#[test]
fn injected_clone_with_other_flags_is_killed_by_seccomp() {
    const FLAGS: u64 = (libc::CLONE_VM
        | libc::CLONE_FS
        | libc::CLONE_FILES
        | libc::CLONE_SIGHAND
        | libc::CLONE_THREAD
        | libc::CLONE_SYSVSEM) as u64;
    for flags in [FLAGS | libc::CLONE_PTRACE as u64, libc::SIGCHLD as u64, FLAGS | 1 << 32] {
        let s = space(&getpid_loop(), &[]);
        let mut ctx = s.platform.new_context().expect("context");
        trap_getpids(ctx.as_mut(), &s.dyn_space, &mut regs_at(CODE_ADDR), 1, 0);

        let r = s.space.inject_for_test(SYS_CLONE, [flags, 0, 0, 0, 0, 0]);
        let later = ctx.switch(&s.dyn_space, &mut regs_at(CODE_ADDR), &mut FpState::default());

        let Err(Error::StubDied(msg)) = r else { panic!("flags {flags:#x}: expected StubDied, got {r:?}") };
        assert!(msg.contains("SIGSYS"), "{msg}");
        assert!(matches!(later, Err(Error::StubDied(_))), "{later:?}");
    }
}

#[test]
fn seccomp_kill_through_one_thread_ends_every_thread_without_hanging() {
    let s = space(&getpid_loop(), &getpid_loop());
    let mut a_ctx = s.platform.new_context().expect("context");
    trap_getpids(a_ctx.as_mut(), &s.dyn_space, &mut regs_at(CODE_ADDR), 1, 0);
    let token = s.dyn_space.new_thread().expect("new_thread");
    let go = Arc::new(Barrier::new(2));

    let (space, b_go) = (Arc::clone(&s.dyn_space), Arc::clone(&go));
    let b = std::thread::spawn(move || {
        let mut ctx = PtraceContext::for_thread(token);
        let mut regs = regs_at(B_CODE_ADDR);
        trap_getpids(&mut ctx, &space, &mut regs, 1, 0);
        b_go.wait();
        // Stopped and idle until A's injection has killed the stub.
        b_go.wait();
        ctx.switch(&space, &mut regs, &mut FpState::default())
    });
    go.wait();
    // The initial thread's death is reported only after B's thread is
    // reaped, and B's tracer is idle: this must not hang.
    let r = s.space.inject_for_test(SYS_GETPID, [0; 6]);
    go.wait();
    let b_after = b.join().expect("thread B");

    let Err(Error::StubDied(msg)) = r else { panic!("expected StubDied, got {r:?}") };
    assert!(msg.contains("SIGSYS"), "{msg}");
    assert!(matches!(b_after, Err(Error::StubDied(_))), "{b_after:?}");
}

#[test]
fn twenty_address_spaces_from_four_threads_concurrently() {
    let memfd = memfile(&getpid_loop(), &[]);
    let platform = Arc::new(PtracePlatform::new(memfd.as_fd()).expect("platform"));
    let start = Arc::new(Barrier::new(4));

    let workers: Vec<_> = (0..4)
        .map(|_| {
            let (platform, start) = (Arc::clone(&platform), Arc::clone(&start));
            std::thread::spawn(move || {
                start.wait();
                let mut live = Vec::new();
                for _ in 0..5 {
                    let space = platform.new_address_space().expect("space");
                    space.map_file(CODE_ADDR, PAGE, CODE_OFF, RX).expect("map");
                    let mut ctx = platform.new_context().expect("context");
                    trap_getpids(ctx.as_mut(), &space, &mut regs_at(CODE_ADDR), 3, 0);
                    live.push((space, ctx));
                }
                // All five alive together, all still working.
                for (space, ctx) in &mut live {
                    trap_getpids(ctx.as_mut(), space, &mut regs_at(CODE_ADDR), 3, 0);
                }
                live.len()
            })
        })
        .collect();
    let made: usize = workers.into_iter().map(|w| w.join().expect("worker")).sum();

    assert_eq!(made, 20);
}

#[test]
fn fifty_address_spaces_coexist() {
    let memfd = memfile(&getpid_loop(), &[]);
    let platform = PtracePlatform::new(memfd.as_fd()).expect("platform");
    let mut live = Vec::new();
    for _ in 0..50 {
        let space = platform.new_address_space().expect("space");
        space.map_file(CODE_ADDR, PAGE, CODE_OFF, RX).expect("map");
        live.push((space, platform.new_context().expect("context")));
    }

    let mut traps = 0;
    for (space, ctx) in &mut live {
        trap_getpids(ctx.as_mut(), space, &mut regs_at(CODE_ADDR), 2, 0);
        traps += 2;
    }

    assert_eq!(traps, 100);
}

#[test]
fn host_sigkill_while_the_initial_thread_runs_and_other_tracers_idle_does_not_hang() {
    let spin = vec![0xeb, 0xfe]; // jmp .
    let s = space(&getpid_loop(), &spin);
    let pid = s.space.stub_pid();
    let mut a_ctx = s.platform.new_context().expect("context");
    trap_getpids(a_ctx.as_mut(), &s.dyn_space, &mut regs_at(CODE_ADDR), 1, 0);
    let token = s.dyn_space.new_thread().expect("new_thread");
    let (bound_tx, bound_rx) = std::sync::mpsc::channel();
    let (go_tx, go_rx) = std::sync::mpsc::channel::<()>();

    let space = Arc::clone(&s.dyn_space);
    let b = std::thread::spawn(move || {
        let mut ctx = PtraceContext::for_thread(token);
        let mut regs = regs_at(CODE_ADDR);
        trap_getpids(&mut ctx, &space, &mut regs, 1, 0);
        bound_tx.send(()).expect("send");
        go_rx.recv().expect("recv"); // Idle, like a task blocked in the sentry.
        ctx.switch(&space, &mut regs, &mut FpState::default())
    });
    bound_rx.recv().expect("B bound");
    let killer = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(50));
        // SAFETY: the stub is alive (A is switched into it) and unreaped.
        unsafe { libc::kill(pid, libc::SIGKILL) };
    });
    let a_after = a_ctx.switch(&s.dyn_space, &mut regs_at(B_CODE_ADDR), &mut FpState::default());
    killer.join().expect("killer");
    go_tx.send(()).expect("send");
    let b_after = b.join().expect("thread B");

    let Err(Error::StubDied(msg)) = a_after else { panic!("expected StubDied, got {a_after:?}") };
    assert!(msg.contains("SIGKILL"), "{msg}");
    assert!(matches!(b_after, Err(Error::StubDied(_))), "{b_after:?}");
}

#[test]
fn fpu_state_set_before_the_first_switch_is_loaded_by_it() {
    // movq rdi, xmm0; mov eax, 39; syscall
    let code = [vec![0x66, 0x48, 0x0f, 0x7e, 0xc7], getpid_loop()].concat();
    let s = space(&code, &[]);
    let mut ctx = s.platform.new_context().expect("context");
    let mut fx = FpState::default();
    fx.bytes[0..2].copy_from_slice(&0x037f_u16.to_le_bytes()); // FCW
    fx.bytes[24..28].copy_from_slice(&0x1f80_u32.to_le_bytes()); // MXCSR
    fx.bytes[160..168].copy_from_slice(&0x5151_u64.to_le_bytes()); // xmm0 low

    ctx.set_fpu_state(&fx).expect("set before switch");
    let mut regs = regs_at(CODE_ADDR);
    let ev = switch(ctx.as_mut(), &s.dyn_space, &mut regs);

    assert_eq!((ev, regs.rdi), (Event::Syscall, 0x5151));
}
