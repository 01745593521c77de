//! The ptrace platform against real stub processes. Every test runs its whole
//! body on one thread: the thread that creates an address space traces it.

use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd};
use std::sync::Arc;

use platform::ptrace::{PtraceAddressSpace, PtracePlatform};
use platform::{AddressSpace, Context, Error, Event, FpState, Prot, Registers};

const CODE_ADDR: u64 = 0x40_0000;
const DATA_ADDR: u64 = 0x60_0000;
/// MemoryFile offset of the code page and of the data page.
const CODE_OFF: u64 = 0;
const DATA_OFF: u64 = 0x1000;
const DATA_VALUE: u64 = 0x1122_3344_5566_7788;
const PAGE: u64 = 0x1000;

const SYS_GETPID: u64 = 39;
const SYS_EXIT: u64 = 60;

const RX: Prot = Prot { read: true, write: false, exec: true };
const R: Prot = Prot { read: true, write: false, exec: false };

/// `mov eax, nr; syscall`
fn syscall_insn(nr: u8) -> Vec<u8> {
    vec![0xb8, nr, 0, 0, 0, 0x0f, 0x05]
}

/// `mov rdi, [disp32]` (absolute address below 2 GiB)
fn load_rdi(addr: u64) -> Vec<u8> {
    let mut v = vec![0x48, 0x8b, 0x3c, 0x25];
    v.extend_from_slice(&u32::try_from(addr).expect("low address").to_le_bytes());
    v
}

/// `mov [disp32], rdi`
fn store_rdi(addr: u64) -> Vec<u8> {
    let mut v = vec![0x48, 0x89, 0x3c, 0x25];
    v.extend_from_slice(&u32::try_from(addr).expect("low address").to_le_bytes());
    v
}

/// A 1 MiB MemoryFile holding `code` at CODE_OFF and DATA_VALUE at DATA_OFF.
fn memfile(code: &[u8]) -> OwnedFd {
    // SAFETY: a fresh memfd; the name is a NUL-terminated literal.
    let fd = unsafe { libc::memfd_create(c"bulwark-test".as_ptr(), libc::MFD_CLOEXEC) };
    assert!(fd >= 0, "memfd_create: {}", std::io::Error::last_os_error());
    // SAFETY: `fd` is a fresh descriptor we own.
    let fd = unsafe { OwnedFd::from_raw_fd(fd) };
    // SAFETY: plain calls on our own descriptor with live buffers.
    unsafe {
        assert_eq!(libc::ftruncate(fd.as_raw_fd(), 1 << 20), 0);
        let n = libc::pwrite(fd.as_raw_fd(), code.as_ptr().cast(), code.len(), CODE_OFF as i64);
        assert_eq!(n, code.len() as isize);
        let data = DATA_VALUE.to_le_bytes();
        let n = libc::pwrite(fd.as_raw_fd(), data.as_ptr().cast(), data.len(), DATA_OFF as i64);
        assert_eq!(n, data.len() as isize);
    }
    fd
}

struct Fixture {
    _memfd: OwnedFd,
    space: Arc<PtraceAddressSpace>,
    dyn_space: Arc<dyn AddressSpace>,
    ctx: Box<dyn Context>,
}

/// A fresh address space with `code` mapped R+X at CODE_ADDR.
fn fixture(code: &[u8]) -> Fixture {
    let memfd = memfile(code);
    let platform = PtracePlatform::new(memfd.as_fd()).expect("platform");
    let space = platform.new_ptrace_address_space().expect("address space");
    space.map_file(CODE_ADDR, PAGE, CODE_OFF, RX).expect("map code");
    let dyn_space: Arc<dyn AddressSpace> = space.clone();
    let ctx = platform::Platform::new_context(&platform).expect("context");
    Fixture { _memfd: memfd, space, dyn_space, ctx }
}

impl Fixture {
    fn switch(&mut self, regs: &mut Registers) -> Event {
        let mut fpu = FpState::default();
        self.ctx.switch(&self.dyn_space, regs, &mut fpu).expect("switch")
    }
}

fn start_regs() -> Registers {
    Registers { rip: CODE_ADDR, ..Registers::default() }
}

#[test]
fn app_syscalls_trap_to_the_sentry_and_take_its_return_value() {
    let code = [syscall_insn(39), vec![0x89, 0xc7], syscall_insn(60)].concat(); // mov edi, eax
    let mut f = fixture(&code);
    let mut regs = start_regs();

    let first = f.switch(&mut regs);
    let first_nr = regs.syscall_nr();
    regs.set_return(4242);
    let second = f.switch(&mut regs);

    assert_eq!((first, first_nr), (Event::Syscall, SYS_GETPID));
    assert_eq!((second, regs.syscall_nr(), regs.rdi), (Event::Syscall, SYS_EXIT, 4242));
}

#[test]
fn load_from_unmapped_page_faults_and_succeeds_once_mapped() {
    let code = [load_rdi(DATA_ADDR), syscall_insn(39)].concat();
    let mut f = fixture(&code);
    let mut regs = start_regs();

    let fault = f.switch(&mut regs);
    f.space.map_file(DATA_ADDR, PAGE, DATA_OFF, R).expect("map data");
    let after = f.switch(&mut regs);

    assert_eq!(fault, Event::Fault { addr: DATA_ADDR, access: platform::Access::Unknown, si_code: 1 });
    assert_eq!((after, regs.syscall_nr(), regs.rdi), (Event::Syscall, SYS_GETPID, DATA_VALUE));
}

#[test]
fn stub_is_killed_by_seccomp_for_host_syscall_outside_injected_set() {
    let mut f = fixture(&syscall_insn(39));

    let injected = f.space.inject_for_test(SYS_GETPID, [0; 6]);
    let later = f.space.map_file(DATA_ADDR, PAGE, DATA_OFF, R);
    let switched = f.ctx.switch(&f.dyn_space, &mut start_regs(), &mut FpState::default());

    let Err(Error::StubDied(msg)) = injected else { panic!("expected StubDied, got {injected:?}") };
    assert!(msg.contains("SIGSYS") && msg.contains("signal 31"), "{msg}");
    assert!(matches!(later, Err(Error::StubDied(_))), "{later:?}");
    assert!(matches!(switched, Err(Error::StubDied(_))), "{switched:?}");
}

#[test]
fn allowed_injected_syscall_returns_its_result() {
    let f = fixture(&syscall_insn(39));

    // mprotect of the mapped code page: allowed, returns 0.
    let r = f.space.inject_for_test(10, [CODE_ADDR, PAGE, u64::from(RX.bits()), 0, 0, 0]);

    assert_eq!(r.expect("mprotect"), 0);
}

#[test]
fn failed_injected_syscall_is_a_host_error_with_its_errno() {
    let f = fixture(&syscall_insn(39));

    // Unaligned address: EINVAL from the host, the stub survives.
    let r = f.space.protect(CODE_ADDR + 1, PAGE, R);
    let again = f.space.protect(CODE_ADDR, PAGE, RX);

    let Err(Error::Host { err, .. }) = r else { panic!("expected Host error, got {r:?}") };
    assert_eq!(err.raw_os_error(), Some(libc::EINVAL));
    assert!(again.is_ok(), "{again:?}");
}

#[test]
fn access_after_unmap_faults() {
    let code = [load_rdi(DATA_ADDR), syscall_insn(39), load_rdi(DATA_ADDR), syscall_insn(39)].concat();
    let mut f = fixture(&code);
    f.space.map_file(DATA_ADDR, PAGE, DATA_OFF, R).expect("map data");
    let mut regs = start_regs();

    let first = f.switch(&mut regs);
    f.space.unmap(DATA_ADDR, PAGE).expect("unmap");
    let second = f.switch(&mut regs);

    assert_eq!((first, regs.rdi), (Event::Syscall, DATA_VALUE));
    assert_eq!(second, Event::Fault { addr: DATA_ADDR, access: platform::Access::Unknown, si_code: 1 });
}

#[test]
fn write_after_protect_read_only_faults() {
    let code = [store_rdi(DATA_ADDR), syscall_insn(39), store_rdi(DATA_ADDR), syscall_insn(39)].concat();
    let mut f = fixture(&code);
    f.space.map_file(DATA_ADDR, PAGE, DATA_OFF, Prot::RW).expect("map data");
    let mut regs = Registers { rdi: 7, ..start_regs() };

    let first = f.switch(&mut regs);
    f.space.protect(DATA_ADDR, PAGE, R).expect("protect");
    let second = f.switch(&mut regs);

    assert_eq!(first, Event::Syscall);
    assert_eq!(second, Event::Fault { addr: DATA_ADDR, access: platform::Access::Unknown, si_code: 2 });
}

#[test]
fn mapping_over_the_stub_page_is_refused() {
    let f = fixture(&syscall_insn(39));
    let reserved = f.space.reserved();

    let r = f.space.map_file(reserved.start, PAGE, DATA_OFF, R);

    assert!(matches!(r, Err(Error::Host { .. })), "{r:?}");
}

#[test]
fn int3_in_application_code_is_a_sigtrap_signal_event() {
    let mut f = fixture(&[0xcc, 0x90]);
    let mut regs = start_regs();

    let event = f.switch(&mut regs);

    assert!(matches!(event, Event::Signal { signo: libc::SIGTRAP, .. }), "{event:?}");
    assert_eq!(regs.rip, CODE_ADDR + 1);
}

#[test]
fn interrupt_from_another_thread_stops_a_spinning_application() {
    let f = fixture(&[0xeb, 0xfe]); // jmp .
    let memfd = memfile(&[]);
    let platform = PtracePlatform::new(memfd.as_fd()).expect("platform");
    let mut ctx = platform.new_ptrace_context();
    let interrupter = ctx.interrupter();
    let mut regs = start_regs();

    let t = std::thread::spawn(move || {
        std::thread::sleep(std::time::Duration::from_millis(50));
        interrupter.interrupt();
    });
    let event = ctx.switch(&f.dyn_space, &mut regs, &mut FpState::default()).expect("switch");
    t.join().expect("interrupter thread");

    assert_eq!(event, Event::Interrupted);
    assert_eq!(regs.rip, CODE_ADDR);
}

#[test]
fn interrupt_before_switch_makes_the_next_switch_return_interrupted() {
    let mut f = fixture(&[0xeb, 0xfe]); // jmp .
    let mut regs = start_regs();

    f.ctx.interrupt();
    let event = f.switch(&mut regs);

    assert_eq!(event, Event::Interrupted);
}

#[test]
fn fpu_state_round_trips_through_the_stub_thread() {
    let memfd = memfile(&syscall_insn(39));
    let platform = PtracePlatform::new(memfd.as_fd()).expect("platform");
    let space = platform.new_ptrace_address_space().expect("space");
    space.map_file(CODE_ADDR, PAGE, CODE_OFF, RX).expect("map");
    let dyn_space: Arc<dyn AddressSpace> = space;
    let mut ctx = platform.new_ptrace_context();
    let mut fpu = FpState::default();
    ctx.switch(&dyn_space, &mut start_regs(), &mut fpu).expect("switch");

    ctx.fpu_state(&mut fpu).expect("get");
    fpu.bytes[160..168].copy_from_slice(&0xdead_beef_u64.to_le_bytes()); // xmm0 low
    ctx.set_fpu_state(&fpu).expect("set");
    let mut back = FpState::default();
    ctx.fpu_state(&mut back).expect("get again");

    assert_eq!(&back.bytes[160..168], &0xdead_beef_u64.to_le_bytes());
}

#[test]
fn address_space_change_from_a_thread_other_than_the_tracer_is_a_clear_error() {
    let f = fixture(&syscall_insn(39));
    let space = f.space.clone();

    let r = std::thread::spawn(move || space.unmap(DATA_ADDR, PAGE)).join().expect("thread");
    let from_tracer = f.space.unmap(DATA_ADDR, PAGE);

    let Err(Error::Host { call, .. }) = r else { panic!("expected Host error, got {r:?}") };
    assert!(call.contains("not the stub's tracer"), "{call}");
    assert!(from_tracer.is_ok(), "{from_tracer:?}");
}

#[test]
fn dropping_the_address_space_kills_the_stub() {
    let f = fixture(&syscall_insn(39));
    let pid = f.space.stub_pid();

    drop(f);
    // SAFETY: signal 0 only checks for existence.
    let alive = unsafe { libc::kill(pid, 0) } == 0;

    assert!(!alive);
}

/// Not a test: the cost of one SYSEMU round trip. Run with
/// `cargo test -p platform --release -- --ignored --nocapture switch_round_trip`.
#[test]
#[ignore]
fn switch_round_trip_cost() {
    let code = [syscall_insn(39), vec![0xeb, 0xf9]].concat(); // loop: getpid; jmp loop
    let mut f = fixture(&code);
    let mut regs = start_regs();
    let n = 100_000;

    let start = std::time::Instant::now();
    for _ in 0..n {
        f.switch(&mut regs);
        regs.set_return(1);
    }
    let per = start.elapsed().as_secs_f64() * 1e6 / f64::from(n);

    println!("ptrace switch round trip: {per:.2} µs ({n} getpid traps)");
}
