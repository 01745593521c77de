/* A system call fuzzer, run in the sandbox by tests/fuzz_syscalls.rs.
 *
 * The parent forks workers one after another; each worker issues a run of
 * random system calls (every x86-64 number 0..470, a few beyond, and the
 * x32 bit now and then) with random arguments drawn from pools of boundary
 * values (0, -1, 1<<31, 1<<63, page multiples, huge lengths), descriptors
 * the worker opened (pipes, sockets, files, eventfd, epoll, memfd, a pty,
 * ...) and pointer-shaped values (NULL, its own buffers at every offset and
 * alignment, the byte before a PROT_NONE guard page, a read-only page,
 * unmapped and non-canonical addresses, kernel addresses 0xffff8...,
 * paths, iovec arrays, socket addresses). A worker that dies (a SIGSEGV
 * from a bad pointer it gave itself, a signal it sent itself) or hangs
 * (killed after WORKER_MS) is counted and the next one starts.
 *
 * Environment: FUZZ_SEED (default: from the clock; printed either way),
 * FUZZ_COUNT (calls in all, default 20000), FUZZ_PER_WORKER (default 100),
 * FUZZ_TIME (seconds, default 20: the run stops early past it),
 * FUZZ_WORKER=N (run worker N alone), FUZZ_NR=N (make call N only),
 * FUZZ_VERBOSE=1 (each call on stderr
 * before it is made: to find the call that breaks something, run with the
 * printed seed, FUZZ_WORKER and FUZZ_VERBOSE), FUZZ_PATHS=a:b (paths to
 * aim at besides the built-in ones). Worker N's generator is seeded from
 * (seed, N), so a run is reproducible call by call.
 *
 * The worker loop makes raw system calls (inline `syscall`), never libc,
 * so what a call does to errno, TLS or libc's state cannot derail it.
 *
 * What is left out or tamed, and why (all else is called as drawn):
 *  - exit, exit_group: would end the worker at once (nothing to learn);
 *  - vfork: the child would run on the worker's own stack while the worker
 *    is suspended, and return into the same frame; fork, clone and clone3
 *    are made, the child exits at once, and clone/clone3 lose CLONE_VM and
 *    CLONE_VFORK (a child sharing the worker's memory and stack would
 *    corrupt it) and clone3 always gets the fuzzer's own clone_args;
 *  - rt_sigreturn, execve, execveat: they replace the worker's registers
 *    or image, so they are only a worker's last call;
 *  - signals sent by kill, tkill, tgkill, rt_sigqueueinfo,
 *    rt_tgsigqueueinfo, pidfd_send_signal are drawn from signals the
 *    fuzzer handles or ignores (and invalid numbers): SIGKILL or SIGSTOP to
 *    -1 or the parent would end or freeze the fuzzer itself; the parent
 *    ignores every signal it can but SIGCHLD;
 *  - prlimit64, ptrace, process_vm_writev, sched_setscheduler,
 *    sched_setparam, sched_setattr never name the parent or init (an
 *    RLIMIT_CPU of 0, a PTRACE_ATTACH stop or a write into the parent's
 *    memory would end or freeze the fuzzer);
 *  - munmap, mremap, mprotect, pkey_mprotect, madvise, mlock, munlock,
 *    remap_file_pages, mseal, brk, shmat with an address, and mmap with
 *    MAP_FIXED get addresses in a scratch arena (or unmapped/kernel ones):
 *    elsewhere they would unmap the worker's own stack or code;
 *  - arch_prctl(ARCH_SET_FS) becomes ARCH_GET_FS (the worker's TLS).
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <linux/sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/timerfd.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define PAGE 4096UL
#define BUF_SIZE (64 * 1024UL)
#define ARENA_PAGES 64
#define WORKER_MS 3000
#define MAX_NR 470

static long raw6(long n, long a, long b, long c, long d, long e, long f) {
    register long r10 __asm__("r10") = d;
    register long r8 __asm__("r8") = e;
    register long r9 __asm__("r9") = f;
    long ret;
    __asm__ volatile("syscall"
                     : "=a"(ret)
                     : "a"(n), "D"(a), "S"(b), "d"(c), "r"(r10), "r"(r8), "r"(r9)
                     : "rcx", "r11", "memory");
    return ret;
}

/* ---- output without libc (the worker may have broken TLS or stdio) ---- */

static int log_fd = 2;

static void out(const char *s) {
    size_t n = 0;
    while (s[n])
        n++;
    raw6(SYS_write, log_fd, (long)s, (long)n, 0, 0, 0);
}

static void out_hex(uint64_t v) {
    char b[19];
    int i = 18;
    b[i] = 0;
    do {
        b[--i] = "0123456789abcdef"[v & 15];
        v >>= 4;
    } while (v);
    b[--i] = 'x';
    b[--i] = '0';
    out(b + i);
}

static void out_dec(long v) {
    char b[24];
    int i = 23;
    int neg = v < 0;
    uint64_t u = neg ? -(uint64_t)v : (uint64_t)v;
    b[i] = 0;
    do {
        b[--i] = '0' + u % 10;
        u /= 10;
    } while (u);
    if (neg)
        b[--i] = '-';
    out(b + i);
}

/* ---- the generator: splitmix64, reproducible from (seed, worker) ---- */

static uint64_t rng;

static uint64_t mix(uint64_t z) {
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static uint64_t next(void) {
    return mix(rng += 0x9e3779b97f4a7c15ULL);
}

static uint64_t below(uint64_t n) {
    return n ? next() % n : 0;
}

/* ---- what arguments are drawn from ---- */

static char *buf;       /* BUF_SIZE read-write bytes, then a PROT_NONE page */
static char *rodata;    /* a read-only page */
static char *arena;     /* ARENA_PAGES pages the memory calls may wreck */
static char *paths;     /* NUL-terminated paths, PATH_STRIDE apart */
static char *iovs;      /* struct iovec arrays */
static int fds[48];
static int nfds;
static long self_pid, parent_pid, parent_pgid;
static uint64_t start_brk;

#define PATH_STRIDE 256
#define NPATHS 40

static const uint64_t boundary[] = {
    0,
    1,
    2,
    3,
    4,
    7,
    8,
    16,
    64,
    255,
    256,
    4095,
    4096,
    4097,
    8192,
    65535,
    65536,
    65537,
    1UL << 20,
    0x7ffff000,
    0x7fffffff,
    0x80000000,
    0xffffffff,
    1UL << 32,
    1UL << 40,
    1UL << 47,
    1UL << 62,
    1UL << 63,
    (1UL << 63) - 1,
    -1UL,
    -2UL,
    -4095UL,
    -4096UL,
    0xffffffff80000000UL,
};

static const uint64_t bad_pointers[] = {
    1,
    0x1000,
    0x10000,
    0xdeadbeef000UL,
    0x7ffffffff000UL,
    0x800000000000UL,      /* first non-canonical */
    0xffff800000000000UL,  /* kernel */
    0xffffffff81000000UL,  /* kernel text */
    0xffffffffff600000UL,  /* vsyscall page */
    -8UL,
    -1UL,
};

static const int safe_signals[] = {0, SIGUSR1, SIGUSR2, SIGALRM, SIGCHLD, SIGURG, SIGWINCH, SIGCONT, 34, 35, 65, -1, 1000};

static uint64_t pick_path(void) {
    return (uint64_t)(paths + below(NPATHS) * PATH_STRIDE);
}

static uint64_t pick_pointer(void) {
    switch (below(12)) {
    case 0:
        return 0;
    case 1:
    case 2:
        return (uint64_t)buf;
    case 3: /* anywhere in the buffer, any alignment */
        return (uint64_t)buf + below(BUF_SIZE);
    case 4: /* just before the guard page */
        return (uint64_t)buf + BUF_SIZE - 1 - below(64);
    case 5:
        return (uint64_t)buf + BUF_SIZE; /* the guard page */
    case 6:
        return (uint64_t)rodata + below(PAGE);
    case 7:
        return bad_pointers[below(sizeof bad_pointers / sizeof *bad_pointers)];
    case 8:
        return pick_path();
    case 9:
        return (uint64_t)iovs + 16 * below(8);
    case 10:
        return (uint64_t)arena + PAGE * below(ARENA_PAGES);
    default:
        return (uint64_t)buf + 8 * below(512);
    }
}

static uint64_t pick_fd(void) {
    return nfds ? (uint64_t)fds[below(nfds)] : 0;
}

/* The shape of the arguments of the calls that take descriptors, paths,
 * buffers and iovecs: f descriptor, d directory descriptor (or AT_FDCWD),
 * s path, p pointer, i iovec array, l length, c count, o offset, S signal,
 * x flags or a command (mostly small); past the shape's end, anything. An
 * argument has its shape two times in three; the rest, and
 * calls not listed, draw from everything. */
static const char *const shapes[MAX_NR + 1] = {
    [SYS_read] = "fpl", [SYS_write] = "fpl", [SYS_open] = "sxx", [SYS_close] = "f", [SYS_stat] = "sp",
    [SYS_fstat] = "fp", [SYS_lstat] = "sp", [SYS_poll] = "pcx", [SYS_lseek] = "fox", [SYS_mmap] = "xlxxfo",
    [SYS_ioctl] = "fxp", [SYS_pread64] = "fplo", [SYS_pwrite64] = "fplo", [SYS_readv] = "fic", [SYS_writev] = "fic",
    [SYS_access] = "sx", [SYS_select] = "cpppp", [SYS_msync] = "xlx", [SYS_mincore] = "xlp", [SYS_dup] = "f",
    [SYS_dup2] = "ff", [SYS_sendfile] = "ffpl", [SYS_connect] = "fpl", [SYS_accept] = "fpp", [SYS_sendto] = "fplxpl",
    [SYS_recvfrom] = "fplxpp", [SYS_sendmsg] = "fpx", [SYS_recvmsg] = "fpx", [SYS_shutdown] = "fx", [SYS_bind] = "fpl",
    [SYS_listen] = "fx", [SYS_getsockname] = "fpp", [SYS_getpeername] = "fpp", [SYS_setsockopt] = "fxxpl",
    [SYS_getsockopt] = "fxxpp", [SYS_fcntl] = "fxx", [SYS_flock] = "fx", [SYS_fsync] = "f", [SYS_fdatasync] = "f",
    [SYS_truncate] = "so", [SYS_ftruncate] = "fo", [SYS_getdents] = "fpl", [SYS_getcwd] = "pl", [SYS_chdir] = "s",
    [SYS_fchdir] = "f", [SYS_rename] = "ss", [SYS_mkdir] = "sx", [SYS_rmdir] = "s", [SYS_creat] = "sx",
    [SYS_link] = "ss", [SYS_unlink] = "s", [SYS_symlink] = "ss", [SYS_readlink] = "spl", [SYS_chmod] = "sx",
    [SYS_fchmod] = "fx", [SYS_chown] = "sxx", [SYS_fchown] = "fxx", [SYS_lchown] = "sxx", [SYS_sethostname] = "pl",
    [SYS_setdomainname] = "pl", [SYS_mknod] = "sxx", [SYS_statfs] = "sp", [SYS_fstatfs] = "fp", [SYS_chroot] = "s",
    [SYS_mount] = "sssxp", [SYS_umount2] = "sx", [SYS_getdents64] = "fpl", [SYS_fadvise64] = "follx",
    [SYS_setxattr] = "sspll", [SYS_lsetxattr] = "sspll", [SYS_fsetxattr] = "fspll", [SYS_getxattr] = "sspl",
    [SYS_lgetxattr] = "sspl", [SYS_fgetxattr] = "fspl", [SYS_listxattr] = "spl", [SYS_llistxattr] = "spl",
    [SYS_flistxattr] = "fpl", [SYS_removexattr] = "ss", [SYS_fremovexattr] = "fs", [SYS_epoll_wait] = "fpcx",
    [SYS_epoll_ctl] = "fxfp", [SYS_inotify_add_watch] = "fsx", [SYS_inotify_rm_watch] = "fx", [SYS_openat] = "dsxx",
    [SYS_mkdirat] = "dsx", [SYS_mknodat] = "dsxx", [SYS_fchownat] = "dsxxx", [SYS_newfstatat] = "dspx",
    [SYS_unlinkat] = "dsx", [SYS_renameat] = "dsds", [SYS_linkat] = "dsdsx", [SYS_symlinkat] = "sds",
    [SYS_readlinkat] = "dspl", [SYS_fchmodat] = "dsx", [SYS_faccessat] = "dsx", [SYS_pselect6] = "cpppp",
    [SYS_ppoll] = "pcppl", [SYS_splice] = "fpfplx", [SYS_tee] = "fflx", [SYS_sync_file_range] = "foox",
    [SYS_vmsplice] = "ficx", [SYS_utimensat] = "dspx", [SYS_epoll_pwait] = "fpcxpl", [SYS_signalfd] = "fpl",
    [SYS_fallocate] = "fxoo", [SYS_timerfd_settime] = "fxpp", [SYS_timerfd_gettime] = "fp", [SYS_accept4] = "fppx",
    [SYS_signalfd4] = "fplx", [SYS_dup3] = "ffx", [SYS_preadv] = "ficoo", [SYS_pwritev] = "ficoo",
    [SYS_recvmmsg] = "fpcxp", [SYS_name_to_handle_at] = "dsppx", [SYS_open_by_handle_at] = "fpx", [SYS_syncfs] = "f",
    [SYS_sendmmsg] = "fpcx", [SYS_setns] = "fx", [SYS_process_vm_readv] = "xicicx", [SYS_finit_module] = "fsx",
    [SYS_renameat2] = "dsdsx", [SYS_memfd_create] = "sx", [SYS_copy_file_range] = "fpfplx", [SYS_preadv2] = "ficoox",
    [SYS_pwritev2] = "ficoox", [SYS_statx] = "dsxxp", [SYS_io_uring_setup] = "cp", [SYS_pidfd_send_signal] = "fSpx",
    [SYS_open_tree] = "dsx", [SYS_move_mount] = "dsdsx", [SYS_fsopen] = "sx", [SYS_fsconfig] = "fxspx",
    [SYS_fsmount] = "fxx", [SYS_fspick] = "dsx", [SYS_pidfd_open] = "xx", [SYS_openat2] = "dspl",
    [SYS_pidfd_getfd] = "ffx", [SYS_faccessat2] = "dsxx", [SYS_process_madvise] = "ficxx", [SYS_epoll_pwait2] = "fpcppl",
    [SYS_mount_setattr] = "dsxpl", [SYS_quotactl_fd] = "fxxp", [SYS_kill] = "xS", [SYS_tkill] = "xS",
    [SYS_tgkill] = "xxS", [SYS_rt_sigaction] = "Sppl", [SYS_rt_sigprocmask] = "xppl", [SYS_rt_sigpending] = "pl",
    [SYS_rt_sigtimedwait] = "pppl", [SYS_rt_sigsuspend] = "pl", [SYS_sigaltstack] = "pp", [SYS_msgsnd] = "xplx",
    [SYS_msgrcv] = "xplxx", [SYS_semop] = "xpc", [SYS_semtimedop] = "xpcp", [SYS_execve] = "spp",
    [SYS_execveat] = "dsppx", [SYS_sched_setaffinity] = "xlp", [SYS_sched_getaffinity] = "xlp",
    [SYS_getrandom] = "plx", [SYS_getgroups] = "cp", [SYS_setgroups] = "cp", [SYS_prctl] = "xxpxx",
    [SYS_uname] = "p", [SYS_sysinfo] = "p", [SYS_getrlimit] = "xp", [SYS_setrlimit] = "xp", [SYS_prlimit64] = "xxpp",
    [SYS_wait4] = "xpxp", [SYS_waitid] = "xxpxp", [SYS_futex] = "pxxppx", [SYS_nanosleep] = "pp",
    [SYS_clock_nanosleep] = "xxpp", [SYS_getitimer] = "xp", [SYS_setitimer] = "xpp", [SYS_timer_create] = "xpp",
    [SYS_timer_settime] = "xxpp", [SYS_mq_open] = "sxxp", [SYS_mq_timedsend] = "fplxp", [SYS_mq_timedreceive] = "fplpp",
    [SYS_socket] = "xxx", [SYS_socketpair] = "xxxp", [SYS_set_robust_list] = "pl", [SYS_get_robust_list] = "xpp",
    [SYS_fanotify_mark] = "fxxds", [SYS_inotify_init1] = "x", [SYS_kcmp] = "xxxff",
    [SYS_clone3] = "pl", [SYS_close_range] = "ffx", [SYS_io_setup] = "cp", [SYS_io_submit] = "xcp",
    [SYS_shmctl] = "xxp", [SYS_semctl] = "xxxp", [SYS_msgctl] = "xxp", [SYS_setsid] = "", [SYS_getpriority] = "xx",
};

static uint64_t any_arg(void);

/* An iovec array (refresh gives it 8 entries of every length). */
static uint64_t pick_iov(void) {
    return below(4) ? (uint64_t)iovs + 16 * below(8) : pick_pointer();
}

static uint64_t pick_arg(long nr, int k) {
    const char *shape = nr >= 0 && nr <= MAX_NR ? shapes[nr] : NULL;
    char kind = 'a';
    for (int i = 0; shape && i <= k; i++) {
        if (!shape[i]) {
            kind = 'a';
            break;
        }
        kind = shape[i];
    }
    if (below(3) == 0)
        kind = 'a';
    switch (kind) {
    case 'f':
        return pick_fd();
    case 'd':
        return below(4) ? (uint64_t)AT_FDCWD : pick_fd();
    case 's':
        return below(5) ? pick_path() : pick_pointer();
    case 'p':
        return pick_pointer();
    case 'i':
        return pick_iov();
    case 'l':
        return below(2) ? below(4097) : boundary[below(sizeof boundary / sizeof *boundary)];
    case 'c':
        return below(3) ? below(9) : boundary[below(sizeof boundary / sizeof *boundary)];
    case 'o':
        return below(2) ? PAGE * below(4) : boundary[below(sizeof boundary / sizeof *boundary)];
    case 'S':
        return (uint64_t)below(66);
    case 'x': /* flags, a command, a mode: mostly small */
        switch (below(4)) {
        case 0:
            return 0;
        case 1:
            return 1UL << below(12);
        case 2:
            return below(64);
        default:
            return any_arg();
        }
    default:
        return any_arg();
    }
}

static uint64_t any_arg(void) {
    switch (below(10)) {
    case 0:
    case 1:
        return boundary[below(sizeof boundary / sizeof *boundary)];
    case 2:
        return below(64);
    case 3:
        return pick_fd();
    case 4:
    case 5:
        return pick_pointer();
    case 6:
        return next();
    case 7:
        return next() & 0xffffffff;
    case 8:
        return 1UL << below(64);
    default:
        return (uint64_t)(int)next() >> below(32);
    }
}

/* Fill the buffer's start and the iovecs with fresh contents: random
 * bytes, small numbers (so that lengths and counts inside structures are
 * sometimes plausible), socket addresses, pointers. */
static void refresh(void) {
    uint64_t *w = (uint64_t *)buf;
    for (int i = 0; i < 64; i++) {
        switch (below(4)) {
        case 0:
            w[i] = next();
            break;
        case 1:
            w[i] = below(256);
            break;
        case 2:
            w[i] = pick_pointer();
            break;
        default:
            w[i] = boundary[below(sizeof boundary / sizeof *boundary)];
        }
    }
    static const uint16_t families[] = {AF_UNIX, AF_INET, AF_INET6, AF_NETLINK, AF_PACKET, 0, 255};
    *(uint16_t *)(buf + 8 * below(8)) = families[below(7)];
    uint64_t *io = (uint64_t *)iovs;
    for (int i = 0; i < 8; i++) {
        io[2 * i] = below(3) ? (uint64_t)buf + below(64) : pick_pointer();
        io[2 * i + 1] = below(2) ? below(4096) : boundary[below(sizeof boundary / sizeof *boundary)];
    }
}

static int is_protected_pid(long v) {
    int p = (int)v;
    return p == 1 || p == -1 || p == parent_pid || p == -parent_pid || p == parent_pgid || p == -parent_pgid;
}

static uint64_t safe_signal(void) {
    return (uint64_t)safe_signals[below(sizeof safe_signals / sizeof *safe_signals)];
}

static uint64_t in_arena(void) {
    switch (below(4)) {
    case 0:
        return bad_pointers[below(sizeof bad_pointers / sizeof *bad_pointers)];
    default:
        return (uint64_t)arena + PAGE * below(ARENA_PAGES) + (below(8) ? 0 : below(PAGE));
    }
}

/* Tame the call as the header says; 0: skip it. */
static int tame(long *nr, uint64_t a[6], int last) {
    switch (*nr) {
    case SYS_exit:
    case SYS_exit_group:
    case SYS_vfork:
        return 0;
    case SYS_rt_sigreturn:
    case SYS_execve:
    case SYS_execveat:
        return last;
    case SYS_kill:
    case SYS_tkill:
        a[1] = safe_signal();
        break;
    case SYS_tgkill:
    case SYS_rt_tgsigqueueinfo:
        a[2] = safe_signal();
        break;
    case SYS_rt_sigqueueinfo:
    case SYS_pidfd_send_signal:
        a[1] = safe_signal();
        break;
    case SYS_prlimit64:
    case SYS_sched_setscheduler:
    case SYS_sched_setparam:
    case SYS_sched_setattr:
    case SYS_process_vm_writev:
        if (is_protected_pid((long)a[0]))
            a[0] = self_pid;
        break;
    case SYS_ptrace:
        if (is_protected_pid((long)a[1]))
            a[1] = self_pid;
        break;
    case SYS_munmap:
    case SYS_mprotect:
    case SYS_pkey_mprotect:
    case SYS_madvise:
    case SYS_mlock:
    case SYS_munlock:
    case SYS_mlock2:
    case SYS_remap_file_pages:
    case 462: /* mseal */
        a[0] = in_arena();
        if (a[1] > ARENA_PAGES * PAGE && below(2))
            a[1] = PAGE * below(ARENA_PAGES);
        break;
    case SYS_mremap:
        a[0] = in_arena();
        a[4] = in_arena();
        break;
    case SYS_mmap:
        if (a[3] & (MAP_FIXED | MAP_FIXED_NOREPLACE))
            a[0] = in_arena();
        break;
    case SYS_shmat:
        if (a[1])
            a[1] = in_arena();
        break;
    case SYS_brk:
        if (a[0] >= start_brk && a[0] < start_brk + (1UL << 32))
            a[0] = start_brk + (1UL << 32) + a[0] % (1UL << 30);
        break;
    case SYS_arch_prctl:
        if (a[0] == 0x1002) /* ARCH_SET_FS */
            a[0] = 0x1003;  /* ARCH_GET_FS */
        break;
    case SYS_clone:
        a[0] &= ~(uint64_t)(CLONE_VM | CLONE_VFORK);
        a[1] = 0; /* the child runs on a copy of the worker's stack */
        break;
    case SYS_clone3: {
        uint64_t *ca = (uint64_t *)(buf + BUF_SIZE - 256);
        ca[0] &= ~(uint64_t)(CLONE_VM | CLONE_VFORK);
        ca[5] = 0; /* stack */
        ca[6] = 0; /* stack_size */
        a[0] = below(4) ? (uint64_t)ca : pick_pointer();
        if (a[0] != (uint64_t)ca && a[0] >= (uint64_t)buf && a[0] < (uint64_t)buf + BUF_SIZE)
            a[0] = (uint64_t)ca;
        a[1] = below(2) ? 88 : a[1];
        break;
    }
    }
    return 1;
}

static void on_signal(int sig) {
    (void)sig;
}

static void worker_setup(uint64_t seed, long worker) {
    /* Not seed + k * increment: those streams are shifts of each other. */
    rng = mix(seed ^ mix((uint64_t)worker + 0x632be59bd9b4e019ULL));
    self_pid = getpid();
    setpgid(0, 0);

    buf = mmap(NULL, BUF_SIZE + PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    rodata = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    arena = mmap(NULL, ARENA_PAGES * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    paths = mmap(NULL, NPATHS * PATH_STRIDE + 2 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    iovs = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (buf == MAP_FAILED || rodata == MAP_FAILED || arena == MAP_FAILED || paths == MAP_FAILED || iovs == MAP_FAILED)
        _exit(3);
    mprotect(buf + BUF_SIZE, PAGE, PROT_NONE);
    memset(rodata, 0x41, PAGE);
    mprotect(rodata, PAGE, PROT_READ);

    static const char *const fixed[] = {
        "/", "/tmp", ".", "..", "", "/dev/null", "/dev/zero", "/dev/full", "/dev/ptmx", "/dev/tty",
        "/proc/self/mem", "/proc/self/maps", "/proc/self/fd/0", "/proc/1/mem", "/proc/sys/kernel/hostname",
        "/sys", "/etc/passwd", "/bin/sh", "/canary-ro", "/canary-ro/file", "/canary-ro/new",
        "/tmp/fuzz-a", "/tmp/fuzz-b/", "/tmp/fuzz-dir", "/tmp/fuzz-link", "/dev/shm/fuzz", "fuzz-rel",
        "/proc/self/cwd/fuzz", "/proc/self/root/tmp/fuzz-c", "/nonexistent/x", "/etc",
    };
    int np = 0;
    for (unsigned i = 0; i < sizeof fixed / sizeof *fixed; i++)
        strcpy(paths + PATH_STRIDE * np++, fixed[i]);
    const char *extra = getenv("FUZZ_PATHS");
    while (extra && *extra && np < NPATHS - 3) {
        const char *end = strchr(extra, ':');
        size_t n = end ? (size_t)(end - extra) : strlen(extra);
        if (n < PATH_STRIDE - 16) {
            memcpy(paths + PATH_STRIDE * np, extra, n);
            strcpy(paths + PATH_STRIDE * np + n, below(2) ? "/file" : "");
            np++;
        }
        extra = end ? end + 1 : NULL;
    }
    while (np < NPATHS - 2) {
        char *p = paths + PATH_STRIDE * np++;
        strcpy(p, "/tmp/fuzz-");
        for (int i = 10; i < 14; i++)
            p[i] = 'a' + below(26);
    }
    /* The last slot: a path longer than the stride, running into the next
     * pages: 4096+ bytes with no NUL before the end of the mapping. */
    memset(paths + PATH_STRIDE * (NPATHS - 2), 'a', PATH_STRIDE + 2 * PAGE - 1);

    int p[2], s[2];
    nfds = 0;
#define ADD(fd)                                                                                                        \
    do {                                                                                                               \
        int f_ = (fd);                                                                                                 \
        if (f_ >= 0 && nfds < 48)                                                                                      \
            fds[nfds++] = f_;                                                                                          \
    } while (0)
    ADD(0);
    ADD(1);
    ADD(2);
    ADD(-1);
    ADD(AT_FDCWD);
    ADD(100000);
    if (pipe2(p, O_CLOEXEC) == 0) {
        ADD(p[0]);
        ADD(p[1]);
    }
    if (pipe2(p, O_NONBLOCK) == 0) {
        ADD(p[0]);
        ADD(p[1]);
    }
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, s) == 0) {
        ADD(s[0]);
        ADD(s[1]);
    }
    if (socketpair(AF_UNIX, SOCK_DGRAM, 0, s) == 0) {
        ADD(s[0]);
        ADD(s[1]);
    }
    ADD(socket(AF_INET, SOCK_STREAM, 0));
    ADD(socket(AF_INET, SOCK_DGRAM, 0));
    ADD(socket(AF_INET6, SOCK_STREAM, 0));
    ADD(socket(AF_NETLINK, SOCK_RAW, 0));
    ADD(socket(AF_UNIX, SOCK_SEQPACKET, 0));
    ADD(eventfd(0, 0));
    ADD(epoll_create1(0));
    ADD(inotify_init1(0));
    ADD(timerfd_create(CLOCK_MONOTONIC, 0));
    ADD((int)syscall(SYS_memfd_create, "fuzz", 0));
    ADD(open("/dev/null", O_RDWR));
    ADD(open("/dev/zero", O_RDONLY));
    ADD(open("/dev/ptmx", O_RDWR | O_NOCTTY));
    ADD(open("/tmp/fuzz-a", O_RDWR | O_CREAT, 0644));
    ADD(open("/", O_RDONLY | O_DIRECTORY));
    ADD(open("/proc/self/status", O_RDONLY));
    ADD(open("/etc/passwd", O_RDONLY));
    ADD(open("/canary-ro", O_RDONLY | O_DIRECTORY));
    ADD((int)syscall(SYS_pidfd_open, self_pid, 0));
    sigset_t all;
    sigfillset(&all);
    ADD(signalfd(-1, &all, 0));

    /* Interrupt blocking calls: a handler (no SA_RESTART) for the timer
     * armed before each call, and for the signals the worker sends. */
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    int handled[] = {SIGALRM, SIGUSR1, SIGUSR2, 34, 35};
    for (unsigned i = 0; i < sizeof handled / sizeof *handled; i++)
        sigaction(handled[i], &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    signal(SIGXFSZ, SIG_IGN);
    signal(SIGTTOU, SIG_IGN);
    signal(SIGTTIN, SIG_IGN);
    signal(SIGIO, SIG_IGN);
    start_brk = (uint64_t)sbrk(0);

    /* Quiet: what the worker writes to fds 0-2 goes nowhere. */
    int null = open("/dev/null", O_RDWR);
    if (getenv("FUZZ_VERBOSE")) {
        log_fd = 1000;
        dup2(2, log_fd);
    }
    dup2(null, 0);
    dup2(null, 1);
    dup2(null, 2);
}

static long only_nr = -1;

static void worker(uint64_t seed, long w, long calls, volatile long *done) {
    worker_setup(seed, w);
    for (long i = 0; i < calls; i++) {
        long nr;
        uint64_t r = below(100);
        if (r < 2)
            nr = (long)next(); /* anything at all */
        else if (r < 4)
            nr = 0x40000000 | (long)below(MAX_NR); /* x32 */
        else
            nr = (long)below(MAX_NR + 1);
        if (only_nr >= 0)
            nr = only_nr;
        uint64_t a[6];
        for (int k = 0; k < 6; k++)
            a[k] = pick_arg(nr, k);
        refresh();
        if (!tame(&nr, a, i == calls - 1))
            continue;
        if (log_fd != 2) {
            out("pid=");
            out_dec(self_pid);
            out(" w=");
            out_dec(w);
            out(" i=");
            out_dec(i);
            out(" nr=");
            out_dec(nr);
            for (int k = 0; k < 6; k++) {
                out(k ? ", " : " (");
                out_hex(a[k]);
            }
            out(")\n");
        }
        /* 100 ms, then SIGALRM interrupts a blocking call. */
        struct itimerval it = {{0, 0}, {0, 100000}};
        raw6(SYS_setitimer, ITIMER_REAL, (long)&it, 0, 0, 0, 0);
        long ret = raw6(nr, (long)a[0], (long)a[1], (long)a[2], (long)a[3], (long)a[4], (long)a[5]);
        if (ret == 0 && (nr == SYS_fork || nr == SYS_clone || nr == SYS_clone3)) {
            /* A child (or the caller's result 0 of a failed flag mix,
             * which does not happen for these three): leave at once. */
            raw6(SYS_exit, 0, 0, 0, 0, 0, 0);
        }
        if (log_fd != 2) {
            out("  = ");
            out_dec(ret);
            out("\n");
        }
        (*done)++;
    }
    raw6(SYS_exit_group, 0, 0, 0, 0, 0, 0);
}

static long env_long(const char *name, long dflt) {
    const char *v = getenv(name);
    return v && *v ? strtol(v, NULL, 0) : dflt;
}

static long now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int main(void) {
    uint64_t seed;
    const char *s = getenv("FUZZ_SEED");
    if (s && *s) {
        seed = strtoull(s, NULL, 0);
    } else {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        seed = (uint64_t)ts.tv_sec * 1000003 ^ (uint64_t)ts.tv_nsec;
    }
    long count = env_long("FUZZ_COUNT", 20000);
    long per = env_long("FUZZ_PER_WORKER", 100);
    long secs = env_long("FUZZ_TIME", 20);
    long only = env_long("FUZZ_WORKER", -1);
    only_nr = env_long("FUZZ_NR", -1);
    if (per <= 0)
        per = 100;
    printf("fuzz: FUZZ_SEED=%#llx FUZZ_COUNT=%ld FUZZ_PER_WORKER=%ld FUZZ_TIME=%ld\n", (unsigned long long)seed, count,
           per, secs);
    fflush(stdout);

    /* The parent ignores every signal a worker may send it but SIGCHLD. */
    for (int sig = 1; sig < 65; sig++)
        if (sig != SIGCHLD && sig != SIGKILL && sig != SIGSTOP)
            signal(sig, SIG_IGN);
    parent_pid = getpid();
    parent_pgid = getpgid(0);

    volatile long *done = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (done == MAP_FAILED)
        return 2;
    long deadline = now_ms() + secs * 1000;
    long workers = 0, calls = 0, clean = 0, hung = 0, stopped = 0;
    long by_signal[65] = {0};
    for (long w = only >= 0 ? only : 0; calls < count && now_ms() < deadline; w++) {
        long n = count - calls < per ? count - calls : per;
        *done = 0;
        pid_t pid = fork();
        if (pid < 0) {
            perror("fork");
            return 2;
        }
        if (pid == 0)
            worker(seed, w, n, done);
        long worker_deadline = now_ms() + WORKER_MS;
        int killed = 0;
        for (;;) {
            int st;
            pid_t got = waitpid(-1, &st, WNOHANG | __WALL);
            if (got == pid && (WIFEXITED(st) || WIFSIGNALED(st))) {
                if (killed)
                    hung++;
                else if (WIFEXITED(st))
                    clean++;
                else
                    by_signal[WTERMSIG(st) & 63]++;
                break;
            }
            if (got == pid && WIFSTOPPED(st)) { /* it made the parent its tracer */
                stopped++;
                kill(pid, SIGKILL);
                continue;
            }
            if (got > 0)
                continue; /* a stray child (CLONE_PARENT) */
            if (!killed && now_ms() > worker_deadline) {
                kill(pid, SIGKILL);
                killed = 1;
            }
            if (killed && now_ms() > worker_deadline + 10000) {
                /* A task SIGKILL does not end is the sandbox's bug. */
                printf("fuzz: worker %ld (pid %d) survived SIGKILL for 10 s (FUZZ_SEED=%#llx FUZZ_WORKER=%ld)\n", w,
                       pid, (unsigned long long)seed, w);
                return 1;
            }
            struct timespec ts = {0, 1000000};
            nanosleep(&ts, NULL);
        }
        while (waitpid(-1, NULL, WNOHANG | __WALL) > 0) {
        }
        workers++;
        calls += *done < n ? (*done > 0 ? *done : 1) : n;
        if (only >= 0)
            break;
    }
    printf("fuzz: workers=%ld calls=%ld clean=%ld hung=%ld traced=%ld", workers, calls, clean, hung, stopped);
    for (int sig = 1; sig < 65; sig++)
        if (by_signal[sig])
            printf(" sig%d=%ld", sig, by_signal[sig]);
    printf("\nfuzz: done\n");
    return 0;
}
