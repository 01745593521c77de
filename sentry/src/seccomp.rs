//! The sentry's own seccomp policy: once start-up is done (the program is
//! loaded, every start-up thread and host socket made), the sentry may
//! make only the host system calls in [`RULES`] (plus [`HOST_NETWORK`]
//! with `--network host`); any other call, or any call with another
//! architecture's numbering, kills the sandbox. Installed on every sentry
//! thread at once (`SECCOMP_FILTER_FLAG_TSYNC`: the timer, host-signal,
//! network and control threads already run), just before the first
//! application instruction.
//!
//! Stubs forked after this inherit the filter, and their own stacks on
//! top: so the calls a stub's post-fork child makes before its filter, and
//! the calls the sentry injects into stubs (from the stub page), are
//! listed here too. The application's own calls never reach either
//! filter (PTRACE_SYSEMU skips them before seccomp runs).
//!
//! The list was found by tracing (`raw_syscalls:sys_enter` on the sentry's
//! threads after this filter's `seccomp` call) over the whole test suite:
//! shells, coreutils, python3 servers and clients, gcc, git, sqlite3,
//! `--network host` and `sandbox`, OCI create/start/exec/pause.

use hostsys::seccomp::{Action, Policy, Rule};
use platform::ptrace::{STUB_BASE, STUB_LEN};

const PROT_EXEC: u64 = libc::PROT_EXEC as u64;

/// The thread flags glibc's `pthread_create` passes to `clone` (after
/// `clone3` is refused): std's threads.
const PTHREAD_FLAGS: u64 = (libc::CLONE_VM
    | libc::CLONE_FS
    | libc::CLONE_FILES
    | libc::CLONE_SIGHAND
    | libc::CLONE_THREAD
    | libc::CLONE_SYSVSEM
    | libc::CLONE_SETTLS
    | libc::CLONE_PARENT_SETTID
    | libc::CLONE_CHILD_CLEARTID) as u64;
/// glibc's `fork`: `Stub::spawn` forks each stub.
const FORK_FLAGS: u64 = (libc::CLONE_CHILD_SETTID | libc::CLONE_CHILD_CLEARTID | libc::SIGCHLD) as u64;

/// A `ptrace` request, each the platform's (platform/src/ptrace).
macro_rules! ptrace {
    ($req:expr, $why:expr) => {
        Rule::with(libc::SYS_ptrace, &[(0, $req)], $why)
    };
}

/// `ioctl(fd, req)` on host terminals and descriptors (hostsys::term).
macro_rules! ioctl {
    ($req:expr, $why:expr) => {
        Rule::with(libc::SYS_ioctl, &[(1, $req)], $why)
    };
}

/// The host calls the sentry makes after start-up, and why.
pub(crate) const RULES: &[Rule] = &[
    // Memory.
    Rule::masked(libc::SYS_mmap, &[], &[(2, PROT_EXEC, 0)], "allocator, thread stacks: never PROT_EXEC"),
    Rule::from(
        libc::SYS_mmap,
        STUB_BASE,
        STUB_BASE + STUB_LEN,
        "map_file injected into a stub: the MemoryFile, any prot",
    ),
    Rule::masked(libc::SYS_mprotect, &[], &[(2, PROT_EXEC, 0)], "thread stack guards, allocator: never PROT_EXEC"),
    Rule::from(
        libc::SYS_mprotect,
        STUB_BASE,
        STUB_BASE + STUB_LEN,
        "protect injected into a stub: the application's prot",
    ),
    Rule::any(libc::SYS_munmap, "allocator, thread stacks; unmap injected into a stub and the stub's entry routine"),
    Rule::any(libc::SYS_brk, "allocator"),
    Rule::with(libc::SYS_mremap, &[(3, libc::MREMAP_MAYMOVE as u64)], "allocator: realloc of a large (mmapped) block"),
    Rule::with(libc::SYS_madvise, &[(2, libc::MADV_DONTNEED as u64)], "allocator: free and thread-exit trimming"),
    Rule::with(
        libc::SYS_fallocate,
        &[(1, (libc::FALLOC_FL_PUNCH_HOLE | libc::FALLOC_FL_KEEP_SIZE) as u64)],
        "MemoryFile::decommit: punch freed pages out of the memfd",
    ),
    Rule::any(libc::SYS_ftruncate, "host files (fs/host.rs truncate); gofer-donated files' size"),
    // Files and descriptors: never opened here, only used.
    Rule::any(libc::SYS_read, "host stdio, eventfds (waiter), the network stack's pipe, the gofer"),
    Rule::any(libc::SYS_write, "host stdio, eventfds, the debug log, --strace, error messages"),
    Rule::any(libc::SYS_pread64, "file data on gofer-donated descriptors (fs/gofer)"),
    Rule::any(libc::SYS_pwrite64, "file data on gofer-donated descriptors, host files"),
    Rule::any(libc::SYS_lseek, "host files (fs/host.rs)"),
    Rule::any(libc::SYS_fsync, "fsync of gofer and host files"),
    Rule::any(libc::SYS_close, "dropping descriptors: donated files, host sockets, eventfds, stubs' pidfds"),
    Rule::any(libc::SYS_newfstatat, "fstat of donated and stdio descriptors (exec, /proc/PID/fd, ttys)"),
    Rule::with(libc::SYS_fcntl, &[(1, libc::F_GETFD as u64)], "std's debug-build close check"),
    Rule::with(libc::SYS_fcntl, &[(1, libc::F_GETFL as u64)], "stdio access modes of an exec'd process"),
    Rule::with(libc::SYS_fcntl, &[(1, libc::F_SETFL as u64)], "O_NONBLOCK of host sockets and descriptors"),
    Rule::with(libc::SYS_fcntl, &[(1, libc::F_DUPFD_CLOEXEC as u64)], "try_clone of descriptors"),
    Rule::with(libc::SYS_eventfd2, &[(1, (libc::EFD_CLOEXEC | libc::EFD_NONBLOCK) as u64)], "a Waiter's eventfd"),
    Rule::any(libc::SYS_poll, "Waiter::wait over its eventfd and host descriptors; the network stack"),
    Rule::errno(
        libc::SYS_openat,
        libc::ENOENT as u32,
        "glibc malloc's arena count reads /sys/devices/system/cpu/online: the empty root would say ENOENT",
    ),
    // Terminals.
    ioctl!(0x5401, "TCGETS: isatty, host terminal modes"),
    ioctl!(0x5402, "TCSETS: host terminal modes"),
    ioctl!(0x5403, "TCSETSW"),
    ioctl!(0x5404, "TCSETSF"),
    ioctl!(0x540f, "TIOCGPGRP: tcgetpgrp of the host terminal (host_signals)"),
    ioctl!(0x5413, "TIOCGWINSZ: the host terminal's size"),
    ioctl!(0x5414, "TIOCSWINSZ"),
    ioctl!(0x541b, "FIONREAD on host descriptors"),
    // Sockets: the gofer connections, the control socket, host stdio
    // sockets, the packet socket of --network sandbox (opened in boot).
    Rule::any(libc::SYS_sendmsg, "gofer requests; control replies with descriptors; host sockets"),
    Rule::any(libc::SYS_recvmsg, "gofer replies with SCM_RIGHTS; control requests; host sockets"),
    Rule::any(libc::SYS_sendto, "host sockets"),
    Rule::any(libc::SYS_recvfrom, "host sockets; the network stack's packet socket"),
    Rule::any(libc::SYS_sendmmsg, "the network stack's packet socket"),
    Rule::any(libc::SYS_shutdown, "host sockets; control connections"),
    Rule::any(libc::SYS_accept4, "the control socket (OCI start, exec, state); host listening sockets"),
    Rule::any(libc::SYS_getsockopt, "host sockets (SO_ERROR, SO_TYPE, TCP_INFO, ...)"),
    Rule::any(libc::SYS_setsockopt, "host sockets"),
    Rule::any(libc::SYS_getsockname, "host sockets"),
    Rule::any(libc::SYS_getpeername, "host sockets"),
    // Threads, scheduling, time.
    Rule::with(libc::SYS_clone, &[(0, PTHREAD_FLAGS)], "std::thread::spawn: task, exec and control threads"),
    Rule::with(libc::SYS_clone, &[(0, FORK_FLAGS)], "Stub::spawn: fork of a stub"),
    Rule::from(
        libc::SYS_clone,
        STUB_BASE,
        STUB_BASE + STUB_LEN,
        "new_thread injected into a stub (its own filter checks the flags)",
    ),
    Rule::errno(
        libc::SYS_clone3,
        libc::ENOSYS as u32,
        "its flags are in memory a filter cannot read: glibc falls back to clone",
    ),
    Rule::any(libc::SYS_futex, "locks, condition variables, thread joins"),
    Rule::any(libc::SYS_set_robust_list, "glibc, every new thread"),
    Rule::any(libc::SYS_rseq, "glibc registers each new thread; a stub's registration is undone by injection"),
    Rule::any(libc::SYS_sigaltstack, "std's stack-overflow handler, per thread"),
    Rule::any(libc::SYS_rt_sigprocmask, "glibc thread creation; a stub's child unblocking its signals"),
    Rule::any(libc::SYS_rt_sigaction, "glibc's abort() resets SIGABRT: a sentry abort dies of SIGABRT, not here"),
    Rule::any(libc::SYS_rt_sigreturn, "returning from the no-op handlers of signals read from the signalfd"),
    Rule::any(libc::SYS_restart_syscall, "a wait interrupted by a signal"),
    Rule::with(libc::SYS_prctl, &[(0, libc::PR_SET_NAME as u64)], "thread names"),
    Rule::with(libc::SYS_prctl, &[(0, libc::PR_SET_PDEATHSIG as u64)], "a stub's child: die with the sentry"),
    Rule::with(libc::SYS_prctl, &[(0, libc::PR_SET_NO_NEW_PRIVS as u64)], "a stub's child before its filter"),
    Rule::with(
        libc::SYS_seccomp,
        &[(0, 1), (1, 0)],
        "a stub's child installs its filter (SECCOMP_SET_MODE_FILTER, no flags)",
    ),
    Rule::any(libc::SYS_sched_setaffinity, "pinning a task thread and its stub to one CPU"),
    Rule::any(libc::SYS_sched_getaffinity, "the current CPU set; std's thread spawn"),
    Rule::any(libc::SYS_sched_yield, "spinning waits"),
    Rule::any(libc::SYS_clock_gettime, "clocks, when the vDSO falls back to the kernel"),
    Rule::any(libc::SYS_clock_nanosleep, "std::thread::sleep"),
    Rule::any(libc::SYS_getrandom, "HashMap seeds; the application's getrandom, /dev/urandom"),
    Rule::any(libc::SYS_sysinfo, "the application's sysinfo"),
    Rule::any(libc::SYS_gettid, "ptrace bookkeeping: which sentry thread traces a stub"),
    Rule::any(libc::SYS_getpid, "Stub::spawn; a stub's child signalling itself"),
    Rule::any(libc::SYS_getppid, "a stub's child checks its parent"),
    Rule::any(libc::SYS_getpgrp, "host_signals: is the sandbox in the terminal's foreground"),
    Rule::with(libc::SYS_setpgid, &[(0, 0), (1, 0)], "a stub's child: a process group of its own"),
    Rule::any(libc::SYS_close_range, "a stub's child closes all but the MemoryFile"),
    // Stubs: ptrace and process control.
    ptrace!(0, "PTRACE_TRACEME: a stub's child"),
    ptrace!(6, "PTRACE_POKEUSER: debug registers"),
    ptrace!(7, "PTRACE_CONT"),
    ptrace!(0xc, "PTRACE_GETREGS"),
    ptrace!(0xd, "PTRACE_SETREGS"),
    ptrace!(0xe, "PTRACE_GETFPREGS"),
    ptrace!(0xf, "PTRACE_SETFPREGS"),
    ptrace!(0x11, "PTRACE_DETACH: a thread handed to another tracer"),
    ptrace!(0x1f, "PTRACE_SYSEMU: running application code"),
    ptrace!(0x4200, "PTRACE_SETOPTIONS"),
    ptrace!(0x4201, "PTRACE_GETEVENTMSG"),
    ptrace!(0x4202, "PTRACE_GETSIGINFO: faults and signals"),
    ptrace!(0x4204, "PTRACE_GETREGSET: XSAVE state"),
    ptrace!(0x4205, "PTRACE_SETREGSET"),
    ptrace!(0x4206, "PTRACE_SEIZE: a new stub thread"),
    ptrace!(0x4207, "PTRACE_INTERRUPT: interrupting a switch"),
    ptrace!(0x420f, "PTRACE_GET_RSEQ_CONFIGURATION: a new stub's rseq"),
    Rule::with(libc::SYS_wait4, &[(2, libc::__WALL as u64)], "reaping and waiting for stub threads (__WALL)"),
    Rule::any(libc::SYS_tgkill, "Context::interrupt (SIGURG to a stub thread)"),
    Rule::any(libc::SYS_kill, "host_signals: killpg of the sandbox's group; a stub's child stops itself"),
    Rule::with(libc::SYS_pidfd_open, &[(1, 0)], "Stub::spawn: a pidfd of the new stub"),
    Rule::any(libc::SYS_pidfd_send_signal, "killing a stub (SIGKILL) without pid reuse races"),
    Rule::from(libc::SYS_pause, STUB_BASE, STUB_BASE + STUB_LEN, "a new stub thread waits to be seized"),
    Rule::any(libc::SYS_exit, "a thread ends; a stub thread exits by injection"),
    Rule::any(libc::SYS_exit_group, "the sentry's exit; a stub's child failing its setup"),
];

/// With `--network host`: the application's Internet and netlink sockets
/// are host sockets (net/host.rs, through hostsys::net).
pub(crate) const HOST_NETWORK: &[Rule] = &[
    Rule::with(libc::SYS_socket, &[(0, libc::AF_INET as u64)], "socket(AF_INET)"),
    Rule::with(libc::SYS_socket, &[(0, libc::AF_INET6 as u64)], "socket(AF_INET6)"),
    Rule::with(libc::SYS_socket, &[(0, libc::AF_NETLINK as u64)], "socket(AF_NETLINK): routes and addresses"),
    Rule::any(libc::SYS_bind, "bind"),
    Rule::any(libc::SYS_listen, "listen"),
    Rule::any(libc::SYS_connect, "connect"),
];

const fn concat<const N: usize>(a: &[Rule], b: &[Rule]) -> [Rule; N] {
    let mut out = [Rule::any(-1, ""); N];
    let mut i = 0;
    while i < a.len() {
        out[i] = a[i];
        i += 1;
    }
    while i < N {
        out[i] = b[i - a.len()];
        i += 1;
    }
    out
}

static WITH_HOST_NETWORK: [Rule; RULES.len() + HOST_NETWORK.len()] = concat(RULES, HOST_NETWORK);

/// The sentry's policy for its network mode; `log` (debug builds only)
/// logs what it lacks instead of killing.
pub(crate) fn policy(host_network: bool, log: bool) -> Policy {
    let rules: &'static [Rule] = if host_network { &WITH_HOST_NETWORK } else { RULES };
    Policy { name: "sentry", rules, default: if log { Action::Log } else { Action::KillProcess } }
}

/// A debug-build hook (`BULWARK_DEBUG_*`, passed through by the CLI in
/// debug builds only).
fn debug_env(name: &str) -> bool {
    cfg!(debug_assertions) && std::env::var_os(name).is_some_and(|v| v == "1")
}

/// Install the policy on every sentry thread. In a debug build,
/// `BULWARK_DEBUG_SECCOMP_LOG=1` makes the default action "log" (the
/// kernel's audit log names each unlisted call) and
/// `BULWARK_DEBUG_FORBIDDEN_SYSCALL=1` makes one unlisted call right after.
pub(crate) fn install(host_network: bool) -> Result<(), crate::SandboxError> {
    let p = policy(host_network, debug_env("BULWARK_DEBUG_SECCOMP_LOG"));
    p.install_all_threads().map_err(|e| crate::SandboxError::Host { call: "seccomp", err: e.into() })?;
    if debug_env("BULWARK_DEBUG_FORBIDDEN_SYSCALL") {
        // getuid: the sentry never asks (credentials are the sandbox's own).
        let _ = nix::unistd::getuid();
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use hostsys::seccomp::{evaluate, evaluate_at, AUDIT_ARCH_X86_64};

    use super::*;

    const ALLOW: Option<u32> = Some(libc::SECCOMP_RET_ALLOW);
    const KILL: Option<u32> = Some(libc::SECCOMP_RET_KILL_PROCESS);
    /// An instruction pointer in the sentry's own code, and one in the
    /// stub page (after the injection `syscall`).
    const SENTRY_IP: u64 = 0x5555_5555_1234;
    const STUB_IP: u64 = STUB_BASE + 66;

    fn run(host_network: bool, nr: i64, ip: u64, args: [u64; 6]) -> Option<u32> {
        let prog = policy(host_network, false).compile().expect("the sentry policy compiles");
        evaluate_at(&prog, AUDIT_ARCH_X86_64, nr as u32, ip, args)
    }

    #[test]
    fn every_listed_call_is_allowed_with_its_arguments() {
        for r in WITH_HOST_NETWORK.iter() {
            let mut args = [0u64; 6];
            for &(i, v) in r.args {
                args[usize::from(i)] = v;
            }
            let ip = r.from.map_or(SENTRY_IP, |(start, _)| start + 2);
            let want = match r.errno {
                Some(e) => Some(libc::SECCOMP_RET_ERRNO | e),
                None => ALLOW,
            };
            assert_eq!(run(true, r.nr, ip, args), want, "{} ({})", r.nr, r.why);
        }
    }

    #[test]
    fn a_reason_for_each_rule() {
        assert!(WITH_HOST_NETWORK.iter().all(|r| !r.why.is_empty() && r.nr >= 0));
        assert_eq!(WITH_HOST_NETWORK.len(), RULES.len() + HOST_NETWORK.len());
    }

    #[test]
    fn no_executable_memory_outside_the_stub_page() {
        let rx = (libc::PROT_READ | libc::PROT_EXEC) as u64;
        let shared_fixed = (libc::MAP_SHARED | libc::MAP_FIXED) as u64;
        let anon = (libc::MAP_PRIVATE | libc::MAP_ANONYMOUS) as u64;
        assert_eq!(run(false, libc::SYS_mmap, SENTRY_IP, [0, 4096, 3, anon, u64::MAX, 0]), ALLOW);
        assert_eq!(run(false, libc::SYS_mmap, SENTRY_IP, [0, 4096, rx, anon, u64::MAX, 0]), KILL);
        assert_eq!(run(false, libc::SYS_mmap, SENTRY_IP, [0, 4096, rx, shared_fixed, 9, 0]), KILL);
        assert_eq!(run(false, libc::SYS_mprotect, SENTRY_IP, [0, 4096, 1, 0, 0, 0]), ALLOW);
        assert_eq!(run(false, libc::SYS_mprotect, SENTRY_IP, [0, 4096, rx, 0, 0, 0]), KILL);
        assert_eq!(run(false, libc::SYS_mprotect, SENTRY_IP, [0, 4096, 7, 0, 0, 0]), KILL);
        // Injected into a stub: the application's own protections.
        assert_eq!(run(false, libc::SYS_mmap, STUB_IP, [0x40_0000, 4096, rx, shared_fixed, 9, 0]), ALLOW);
        assert_eq!(run(false, libc::SYS_mprotect, STUB_IP, [0x40_0000, 4096, rx, 0, 0, 0]), ALLOW);
        // Just past the stub page is the sentry's again.
        assert_eq!(run(false, libc::SYS_mprotect, STUB_BASE + STUB_LEN, [0, 4096, rx, 0, 0, 0]), KILL);
    }

    #[test]
    fn clone_only_makes_threads_and_stubs() {
        assert_eq!(run(false, libc::SYS_clone, SENTRY_IP, [PTHREAD_FLAGS, 0, 0, 0, 0, 0]), ALLOW);
        assert_eq!(run(false, libc::SYS_clone, SENTRY_IP, [FORK_FLAGS, 0, 0, 0, 0, 0]), ALLOW);
        let newns = FORK_FLAGS | libc::CLONE_NEWUSER as u64;
        assert_eq!(run(false, libc::SYS_clone, SENTRY_IP, [newns, 0, 0, 0, 0, 0]), KILL);
        let vfork = (libc::CLONE_VM | libc::CLONE_VFORK | libc::SIGCHLD) as u64;
        assert_eq!(run(false, libc::SYS_clone, SENTRY_IP, [vfork, 0, 0, 0, 0, 0]), KILL);
        assert_eq!(
            run(false, libc::SYS_clone3, SENTRY_IP, [0; 6]),
            Some(libc::SECCOMP_RET_ERRNO | libc::ENOSYS as u32)
        );
    }

    #[test]
    fn sockets_only_with_the_host_network() {
        for fam in [libc::AF_INET, libc::AF_INET6, libc::AF_NETLINK] {
            let args = [fam as u64, libc::SOCK_STREAM as u64, 0, 0, 0, 0];
            assert_eq!(run(true, libc::SYS_socket, SENTRY_IP, args), ALLOW, "family {fam}");
            assert_eq!(run(false, libc::SYS_socket, SENTRY_IP, args), KILL, "family {fam}");
        }
        for fam in [libc::AF_UNIX, libc::AF_PACKET, libc::AF_VSOCK] {
            let args = [fam as u64, libc::SOCK_STREAM as u64, 0, 0, 0, 0];
            assert_eq!(run(true, libc::SYS_socket, SENTRY_IP, args), KILL, "family {fam}");
        }
        assert_eq!(run(false, libc::SYS_connect, SENTRY_IP, [0; 6]), KILL);
        assert_eq!(run(true, libc::SYS_connect, SENTRY_IP, [0; 6]), ALLOW);
    }

    #[test]
    fn ioctl_prctl_and_ptrace_by_request() {
        assert_eq!(run(false, libc::SYS_ioctl, SENTRY_IP, [0, 0x5401, 0, 0, 0, 0]), ALLOW);
        // TIOCSTI (push input into a terminal), TIOCSCTTY.
        assert_eq!(run(false, libc::SYS_ioctl, SENTRY_IP, [0, 0x5412, 0, 0, 0, 0]), KILL);
        assert_eq!(run(false, libc::SYS_ioctl, SENTRY_IP, [0, 0x540e, 0, 0, 0, 0]), KILL);
        assert_eq!(run(false, libc::SYS_prctl, SENTRY_IP, [libc::PR_SET_NAME as u64, 0, 0, 0, 0, 0]), ALLOW);
        assert_eq!(run(false, libc::SYS_prctl, SENTRY_IP, [libc::PR_SET_DUMPABLE as u64, 1, 0, 0, 0, 0]), KILL);
        assert_eq!(run(false, libc::SYS_ptrace, SENTRY_IP, [libc::PTRACE_SYSEMU as u64, 5, 0, 0, 0, 0]), ALLOW);
        assert_eq!(run(false, libc::SYS_ptrace, SENTRY_IP, [libc::PTRACE_ATTACH as u64, 5, 0, 0, 0, 0]), KILL);
        assert_eq!(run(false, libc::SYS_ptrace, SENTRY_IP, [libc::PTRACE_POKEDATA as u64, 5, 0, 0, 0, 0]), KILL);
    }

    #[test]
    fn opens_are_refused_and_escapes_kill() {
        let enoent = Some(libc::SECCOMP_RET_ERRNO | libc::ENOENT as u32);
        assert_eq!(run(false, libc::SYS_openat, SENTRY_IP, [0; 6]), enoent);
        for nr in [
            libc::SYS_open,
            libc::SYS_execve,
            libc::SYS_execveat,
            libc::SYS_mount,
            libc::SYS_umount2,
            libc::SYS_pivot_root,
            libc::SYS_chroot,
            libc::SYS_unshare,
            libc::SYS_setns,
            libc::SYS_fork,
            libc::SYS_vfork,
            libc::SYS_process_vm_writev,
            libc::SYS_process_vm_readv,
            libc::SYS_bpf,
            libc::SYS_perf_event_open,
            libc::SYS_io_uring_setup,
            libc::SYS_userfaultfd,
            libc::SYS_keyctl,
            libc::SYS_open_by_handle_at,
            libc::SYS_memfd_create,
            libc::SYS_getuid,
            libc::SYS_kexec_load,
            libc::SYS_init_module,
        ] {
            assert_eq!(run(true, nr, SENTRY_IP, [0; 6]), KILL, "syscall {nr}");
            // From the stub page too: only the listed injections pass.
            assert_eq!(run(true, nr, STUB_IP, [0; 6]), KILL, "syscall {nr} from the stub page");
        }
    }

    #[test]
    fn other_architectures_and_x32_numbers_kill() {
        let prog = policy(true, false).compile().expect("compiles");
        let read = libc::SYS_read as u32;
        assert_eq!(evaluate(&prog, 0x4000_0003, read, [0; 6]), KILL);
        assert_eq!(evaluate(&prog, AUDIT_ARCH_X86_64, read | 0x4000_0000, [0; 6]), KILL);
        // i386's 435 is not clone3: no ENOSYS for it.
        assert_eq!(evaluate(&prog, 0x4000_0003, libc::SYS_clone3 as u32, [0; 6]), KILL);
    }

    #[test]
    fn the_debug_log_default_only_logs() {
        let prog = policy(false, true).compile().expect("compiles");
        assert_eq!(evaluate(&prog, AUDIT_ARCH_X86_64, libc::SYS_getuid as u32, [0; 6]), Some(libc::SECCOMP_RET_LOG));
    }
}
