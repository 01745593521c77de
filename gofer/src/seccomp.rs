//! The gofer's seccomp policy: once jailed, the serving loop may make only
//! the host system calls in [`RULES`]; any other call (or any call from
//! another architecture's numbering) kills the process. Compiled by
//! `hostsys::seccomp` and tested here on the compiled program.

use hostsys::seccomp::{Action, Policy, Rule};

/// The host system calls the serving loop makes, and why: everything
/// [`crate::server::serve`] and what it calls (see `sys.rs`) needs after the
/// jail is up, through to the process's exit.
const RULES: &[Rule] = &[
    Rule::any(libc::SYS_recvmsg, "recv_msg: read one request from the sentry"),
    Rule::any(libc::SYS_sendmsg, "send_msg: send one reply, maybe with an SCM_RIGHTS descriptor"),
    Rule::any(libc::SYS_openat, "lookup (O_PATH), open/reopen, create, directories opened by \".\""),
    Rule::any(libc::SYS_newfstatat, "fstat: fstatat(fd, \"\", AT_EMPTY_PATH) on every handle"),
    Rule::any(libc::SYS_close, "dropping descriptors: closed handles, donated copies, listings"),
    Rule::any(libc::SYS_getdents64, "ReadDir and WalkDirs listings"),
    Rule::any(libc::SYS_lseek, "ReadDir: seek a directory to the sentry's cookie"),
    Rule::any(libc::SYS_fcntl, "reopen: F_GETFL/F_SETFL to clear O_NONBLOCK; F_GETFD in std's debug-build close check"),
    Rule::any(libc::SYS_readlinkat, "ReadLink: readlinkat(fd, \"\")"),
    Rule::any(libc::SYS_fstatfs, "StatFs"),
    Rule::any(libc::SYS_sched_setaffinity, "Pin: run on the caller's CPU"),
    Rule::any(libc::SYS_ftruncate, "Open with O_TRUNC; SetAttr size"),
    Rule::any(libc::SYS_fchmod, "SetAttr mode"),
    Rule::any(libc::SYS_fchownat, "SetAttr uid/gid: fchownat(fd, \"\", AT_EMPTY_PATH)"),
    Rule::any(libc::SYS_utimensat, "SetAttr times: futimens"),
    Rule::any(libc::SYS_mkdirat, "Mkdir"),
    Rule::any(libc::SYS_symlinkat, "Symlink"),
    Rule::any(libc::SYS_linkat, "Link"),
    Rule::any(libc::SYS_unlinkat, "Unlink, and undoing a Link that raced"),
    Rule::any(libc::SYS_renameat, "Rename (glibc's renameat)"),
    Rule::any(libc::SYS_fgetxattr, "GetXattr on a directory or regular file"),
    Rule::any(libc::SYS_lgetxattr, "GetXattr on a symlink or special file, by name"),
    Rule::any(libc::SYS_flistxattr, "ListXattr on a directory or regular file"),
    Rule::any(libc::SYS_llistxattr, "ListXattr on a symlink or special file, by name"),
    Rule::any(libc::SYS_fsetxattr, "SetXattr on a directory or regular file"),
    Rule::any(libc::SYS_lsetxattr, "SetXattr on a symlink or special file, by name"),
    Rule::any(libc::SYS_fremovexattr, "RemoveXattr on a directory or regular file"),
    Rule::any(libc::SYS_lremovexattr, "RemoveXattr on a symlink or special file, by name"),
    Rule::any(libc::SYS_fchdir, "l*xattr calls: enter the parent directory, then back to the root"),
    Rule::any(libc::SYS_getrandom, "the handle table's HashMap seeds its hasher (first use in the process)"),
    Rule::any(libc::SYS_brk, "allocator: grow and trim the heap"),
    Rule::any(libc::SYS_mmap, "allocator: blocks above the mmap threshold, and the heap when brk fails"),
    Rule::any(libc::SYS_munmap, "allocator: free large buffers; std frees the signal stack at exit"),
    Rule::any(libc::SYS_mremap, "allocator: realloc of a large buffer (growing listings)"),
    Rule::any(libc::SYS_sigaltstack, "std's exit cleanup disables the main thread's signal stack"),
    Rule::any(libc::SYS_write, "error messages on stderr before exiting"),
    Rule::any(libc::SYS_exit_group, "exit when the sentry hangs up, or on error"),
];

/// The gofer's policy.
pub(crate) const POLICY: Policy = Policy { name: "gofer", rules: RULES, default: Action::KillProcess };

/// Install the policy on the calling thread (the gofer is single-threaded
/// when it serves).
pub(crate) fn install() -> std::io::Result<()> {
    Ok(POLICY.install()?)
}

#[cfg(test)]
mod tests {
    use hostsys::seccomp::{evaluate, AUDIT_ARCH_X86_64};

    use super::*;

    fn run(nr: libc::c_long) -> u32 {
        let prog = POLICY.compile().expect("the gofer policy compiles");
        evaluate(&prog, AUDIT_ARCH_X86_64, nr as u32, [0; 6]).expect("runs")
    }

    #[test]
    fn every_listed_call_is_allowed() {
        for r in RULES {
            assert_eq!(run(r.nr), libc::SECCOMP_RET_ALLOW, "{} ({})", r.nr, r.why);
        }
    }

    #[test]
    fn the_list_has_no_duplicates_and_a_reason_for_each() {
        let mut nrs: Vec<i64> = RULES.iter().map(|r| r.nr).collect();
        nrs.sort_unstable();
        nrs.dedup();
        assert_eq!(nrs.len(), RULES.len());
        assert!(RULES.iter().all(|r| !r.why.is_empty()));
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
        let prog = POLICY.compile().expect("the gofer policy compiles");
        let kill = Some(libc::SECCOMP_RET_KILL_PROCESS);
        let recvmsg = libc::SYS_recvmsg as u32;
        // i386 (0x40000003): its 47 is not recvmsg.
        assert_eq!(evaluate(&prog, 0x4000_0003, recvmsg, [0; 6]), kill);
        // x32 numbering: the same call with __X32_SYSCALL_BIT set.
        assert_eq!(evaluate(&prog, AUDIT_ARCH_X86_64, recvmsg | 0x4000_0000, [0; 6]), kill);
    }
}
