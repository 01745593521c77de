//! The gofer's seccomp filter: once jailed, the serving loop may make only
//! the host system calls in [`ALLOWED`]; any other call (or any call from
//! another architecture's numbering) kills the process.
//!
//! The filter is classic BPF built by hand, like the ptrace stub's (no
//! dependency), and unit-tested below with a tiny BPF interpreter.

use std::io;

use libc::{sock_filter, sock_fprog};

/// The host system calls the serving loop makes, and why: everything
/// [`crate::server::serve`] and what it calls (see `sys.rs`) needs after the
/// jail is up, through to the process's exit. Hot calls come first (the
/// filter tests them in order). Numbers are x86-64's.
pub(crate) const ALLOWED: &[(u32, &str)] = &[
    (libc::SYS_recvmsg as u32, "recv_msg: read one request from the sentry"),
    (libc::SYS_sendmsg as u32, "send_msg: send one reply, maybe with an SCM_RIGHTS descriptor"),
    (libc::SYS_openat as u32, "lookup (O_PATH), open/reopen, create, directories opened by \".\""),
    (libc::SYS_newfstatat as u32, "fstat: fstatat(fd, \"\", AT_EMPTY_PATH) on every handle"),
    (libc::SYS_close as u32, "dropping descriptors: closed handles, donated copies, listings"),
    (libc::SYS_getdents64 as u32, "ReadDir and WalkDirs listings"),
    (libc::SYS_lseek as u32, "ReadDir: seek a directory to the sentry's cookie"),
    (libc::SYS_fcntl as u32, "reopen: F_GETFL/F_SETFL to clear O_NONBLOCK; F_GETFD in std's debug-build close check"),
    (libc::SYS_readlinkat as u32, "ReadLink: readlinkat(fd, \"\")"),
    (libc::SYS_fstatfs as u32, "StatFs"),
    (libc::SYS_sched_setaffinity as u32, "Pin: run on the caller's CPU"),
    (libc::SYS_ftruncate as u32, "Open with O_TRUNC; SetAttr size"),
    (libc::SYS_fchmod as u32, "SetAttr mode"),
    (libc::SYS_fchownat as u32, "SetAttr uid/gid: fchownat(fd, \"\", AT_EMPTY_PATH)"),
    (libc::SYS_utimensat as u32, "SetAttr times: futimens"),
    (libc::SYS_mkdirat as u32, "Mkdir"),
    (libc::SYS_symlinkat as u32, "Symlink"),
    (libc::SYS_linkat as u32, "Link"),
    (libc::SYS_unlinkat as u32, "Unlink, and undoing a Link that raced"),
    (libc::SYS_renameat as u32, "Rename (glibc's renameat)"),
    (libc::SYS_fgetxattr as u32, "GetXattr on a directory or regular file"),
    (libc::SYS_lgetxattr as u32, "GetXattr on a symlink or special file, by name"),
    (libc::SYS_flistxattr as u32, "ListXattr on a directory or regular file"),
    (libc::SYS_llistxattr as u32, "ListXattr on a symlink or special file, by name"),
    (libc::SYS_fsetxattr as u32, "SetXattr on a directory or regular file"),
    (libc::SYS_lsetxattr as u32, "SetXattr on a symlink or special file, by name"),
    (libc::SYS_fremovexattr as u32, "RemoveXattr on a directory or regular file"),
    (libc::SYS_lremovexattr as u32, "RemoveXattr on a symlink or special file, by name"),
    (libc::SYS_fchdir as u32, "l*xattr calls: enter the parent directory, then back to the root"),
    (libc::SYS_getrandom as u32, "the handle table's HashMap seeds its hasher (first use in the process)"),
    (libc::SYS_brk as u32, "allocator: grow and trim the heap"),
    (libc::SYS_mmap as u32, "allocator: blocks above the mmap threshold, and the heap when brk fails"),
    (libc::SYS_munmap as u32, "allocator: free large buffers; std frees the signal stack at exit"),
    (libc::SYS_mremap as u32, "allocator: realloc of a large buffer (growing listings)"),
    (libc::SYS_sigaltstack as u32, "std's exit cleanup disables the main thread's signal stack"),
    (libc::SYS_write as u32, "error messages on stderr before exiting"),
    (libc::SYS_exit_group as u32, "exit when the sentry hangs up, or on error"),
];

const AUDIT_ARCH_X86_64: u32 = 0xc000_003e;
// Classic BPF opcodes (linux/bpf_common.h); BPF_LD, BPF_W and BPF_K are 0.
const BPF_LD_W_ABS: u16 = 0x20; // BPF_LD | BPF_W | BPF_ABS
const BPF_JMP_JEQ_K: u16 = 0x05 | 0x10; // BPF_JMP | BPF_JEQ | BPF_K
const BPF_RET_K: u16 = 0x06; // BPF_RET | BPF_K
const SECCOMP_DATA_NR: u32 = 0; // offsetof(struct seccomp_data, nr)
const SECCOMP_DATA_ARCH: u32 = 4; // offsetof(struct seccomp_data, arch)

/// What every call outside [`ALLOWED`] gets.
const DEFAULT_ACTION: u32 = libc::SECCOMP_RET_KILL_PROCESS;

/// The filter's length: 4 instructions of prologue, one test per allowed
/// call, then the two verdicts.
const FILTER_LEN: usize = 6 + ALLOWED.len();
// Every jump to the ALLOW verdict must fit in a `u8` offset.
const _: () = assert!(ALLOWED.len() < 250);

/// The filter:
///
/// ```text
///  0      ld arch;  jeq X86_64 ? 3 : 2;  2: KILL
///  3      ld nr
///  4..4+n jeq allowed[i] ? ALLOW : next
///  4+n    KILL;  5+n ALLOW
/// ```
fn filter() -> Vec<sock_filter> {
    let stmt = |code, k| sock_filter { code, jt: 0, jf: 0, k };
    // Offsets are below 256 (checked at compile time above).
    let jeq = |k, jt: usize, jf: usize| sock_filter { code: BPF_JMP_JEQ_K, jt: jt as u8, jf: jf as u8, k };
    let n = ALLOWED.len();
    let allow_at = 5 + n;
    let mut f = Vec::with_capacity(FILTER_LEN);
    f.push(stmt(BPF_LD_W_ABS, SECCOMP_DATA_ARCH));
    f.push(jeq(AUDIT_ARCH_X86_64, 1, 0));
    f.push(stmt(BPF_RET_K, DEFAULT_ACTION));
    f.push(stmt(BPF_LD_W_ABS, SECCOMP_DATA_NR));
    for (i, (nr, _why)) in ALLOWED.iter().enumerate() {
        f.push(jeq(*nr, allow_at - (4 + i) - 1, 0));
    }
    f.push(stmt(BPF_RET_K, DEFAULT_ACTION));
    f.push(stmt(BPF_RET_K, libc::SECCOMP_RET_ALLOW));
    debug_assert_eq!(f.len(), FILTER_LEN);
    f
}

/// Install the filter on the calling thread (the gofer is single-threaded
/// when it serves). Needs `no_new_privs`, which the jail sets.
pub(crate) fn install() -> io::Result<()> {
    let mut f = filter();
    let prog = sock_fprog {
        // FILTER_LEN is a small constant.
        len: FILTER_LEN as u16,
        filter: f.as_mut_ptr(),
    };
    // SAFETY: `prog` points at `FILTER_LEN` valid instructions, which the
    // kernel copies before returning.
    let ret = unsafe { libc::syscall(libc::SYS_seccomp, libc::SECCOMP_SET_MODE_FILTER, 0, &prog as *const sock_fprog) };
    if ret != 0 {
        let e = io::Error::last_os_error();
        return Err(io::Error::new(e.kind(), format!("gofer seccomp filter: {e}")));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Run the classic BPF `f` over a `seccomp_data` with `arch` and `nr`.
    fn run_filter(f: &[sock_filter], arch: u32, nr: u32) -> u32 {
        let word = |off: u32| match off {
            SECCOMP_DATA_NR => nr,
            SECCOMP_DATA_ARCH => arch,
            other => panic!("unexpected load at {other}"),
        };
        let (mut pc, mut acc) = (0usize, 0u32);
        loop {
            let i = f[pc];
            match i.code {
                BPF_LD_W_ABS => acc = word(i.k),
                BPF_JMP_JEQ_K => pc += usize::from(if acc == i.k { i.jt } else { i.jf }),
                BPF_RET_K => return i.k,
                other => panic!("unexpected opcode {other:#x}"),
            }
            pc += 1;
        }
    }

    fn run(nr: libc::c_long) -> u32 {
        run_filter(&filter(), AUDIT_ARCH_X86_64, nr as u32)
    }

    #[test]
    fn every_listed_call_is_allowed() {
        let f = filter();
        for (nr, why) in ALLOWED {
            assert_eq!(run_filter(&f, AUDIT_ARCH_X86_64, *nr), libc::SECCOMP_RET_ALLOW, "{nr} ({why})");
        }
    }

    #[test]
    fn the_list_has_no_duplicates_and_a_reason_for_each() {
        let mut nrs: Vec<u32> = ALLOWED.iter().map(|(nr, _)| *nr).collect();
        nrs.sort_unstable();
        nrs.dedup();
        assert_eq!(nrs.len(), ALLOWED.len());
        assert!(ALLOWED.iter().all(|(_, why)| !why.is_empty()));
    }

    #[test]
    fn dangerous_calls_kill() {
        let kill = libc::SECCOMP_RET_KILL_PROCESS;
        for nr in [
            libc::SYS_execve,
            libc::SYS_execveat,
            libc::SYS_ptrace,
            libc::SYS_socket,
            libc::SYS_connect,
            libc::SYS_mount,
            libc::SYS_umount2,
            libc::SYS_pivot_root,
            libc::SYS_unshare,
            libc::SYS_setns,
            libc::SYS_clone,
            libc::SYS_clone3,
            libc::SYS_fork,
            libc::SYS_kill,
            libc::SYS_open,
            libc::SYS_mprotect,
            libc::SYS_process_vm_writev,
            libc::SYS_bpf,
            libc::SYS_seccomp,
            libc::SYS_prctl,
            libc::SYS_ioctl,
            libc::SYS_chdir,
            libc::SYS_open_by_handle_at,
        ] {
            assert_eq!(run(nr), kill, "syscall {nr}");
        }
    }

    #[test]
    fn other_architectures_and_x32_numbers_kill() {
        let f = filter();
        let kill = libc::SECCOMP_RET_KILL_PROCESS;
        let recvmsg = libc::SYS_recvmsg as u32;
        // i386 (0x40000003): its 47 is not recvmsg.
        assert_eq!(run_filter(&f, 0x4000_0003, recvmsg), kill);
        // x32 numbering: the same call with __X32_SYSCALL_BIT set.
        assert_eq!(run_filter(&f, AUDIT_ARCH_X86_64, recvmsg | 0x4000_0000), kill);
    }
}
