//! Structures as the x86-64 kernel lays them out in application memory.

use zerocopy::{AsBytes, FromBytes, FromZeroes};

/// `struct timespec`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, AsBytes, FromBytes, FromZeroes)]
#[repr(C)]
pub struct Timespec {
    pub tv_sec: i64,
    pub tv_nsec: i64,
}

/// `struct timeval`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, AsBytes, FromBytes, FromZeroes)]
#[repr(C)]
pub struct Timeval {
    pub tv_sec: i64,
    pub tv_usec: i64,
}

/// `struct timezone`.
#[derive(Clone, Copy, Debug, Default, AsBytes, FromBytes, FromZeroes)]
#[repr(C)]
pub struct Timezone {
    pub tz_minuteswest: i32,
    pub tz_dsttime: i32,
}

/// `struct stat` (x86-64).
#[derive(Clone, Copy, Debug, Default, AsBytes, FromBytes, FromZeroes)]
#[repr(C)]
pub struct Stat {
    pub st_dev: u64,
    pub st_ino: u64,
    pub st_nlink: u64,
    pub st_mode: u32,
    pub st_uid: u32,
    pub st_gid: u32,
    pub __pad0: u32,
    pub st_rdev: u64,
    pub st_size: i64,
    pub st_blksize: i64,
    pub st_blocks: i64,
    pub st_atime: i64,
    pub st_atime_nsec: i64,
    pub st_mtime: i64,
    pub st_mtime_nsec: i64,
    pub st_ctime: i64,
    pub st_ctime_nsec: i64,
    pub __unused: [i64; 3],
}

/// `struct statx_timestamp`.
#[derive(Clone, Copy, Debug, Default, AsBytes, FromBytes, FromZeroes)]
#[repr(C)]
pub struct StatxTimestamp {
    pub tv_sec: i64,
    pub tv_nsec: u32,
    pub __reserved: i32,
}

/// `struct statx`.
#[derive(Clone, Copy, Debug, Default, AsBytes, FromBytes, FromZeroes)]
#[repr(C)]
pub struct Statx {
    pub stx_mask: u32,
    pub stx_blksize: u32,
    pub stx_attributes: u64,
    pub stx_nlink: u32,
    pub stx_uid: u32,
    pub stx_gid: u32,
    pub stx_mode: u16,
    pub __spare0: u16,
    pub stx_ino: u64,
    pub stx_size: u64,
    pub stx_blocks: u64,
    pub stx_attributes_mask: u64,
    pub stx_atime: StatxTimestamp,
    pub stx_btime: StatxTimestamp,
    pub stx_ctime: StatxTimestamp,
    pub stx_mtime: StatxTimestamp,
    pub stx_rdev_major: u32,
    pub stx_rdev_minor: u32,
    pub stx_dev_major: u32,
    pub stx_dev_minor: u32,
    pub stx_mnt_id: u64,
    pub stx_dio_mem_align: u32,
    pub stx_dio_offset_align: u32,
    pub __spare3: [u64; 12],
}

/// `struct statfs` (x86-64).
#[derive(Clone, Copy, Debug, Default, AsBytes, FromBytes, FromZeroes)]
#[repr(C)]
pub struct Statfs {
    pub f_type: i64,
    pub f_bsize: i64,
    pub f_blocks: u64,
    pub f_bfree: u64,
    pub f_bavail: u64,
    pub f_files: u64,
    pub f_ffree: u64,
    pub f_fsid: [i32; 2],
    pub f_namelen: i64,
    pub f_frsize: i64,
    pub f_flags: i64,
    pub f_spare: [i64; 4],
}

/// `struct new_utsname`: six 65-byte fields.
#[derive(Clone, Copy, AsBytes, FromBytes, FromZeroes)]
#[repr(C)]
pub struct Utsname {
    pub sysname: [u8; 65],
    pub nodename: [u8; 65],
    pub release: [u8; 65],
    pub version: [u8; 65],
    pub machine: [u8; 65],
    pub domainname: [u8; 65],
}

/// `struct sysinfo` (x86-64).
#[derive(Clone, Copy, Debug, Default, AsBytes, FromBytes, FromZeroes)]
#[repr(C)]
pub struct Sysinfo {
    pub uptime: i64,
    pub loads: [u64; 3],
    pub totalram: u64,
    pub freeram: u64,
    pub sharedram: u64,
    pub bufferram: u64,
    pub totalswap: u64,
    pub freeswap: u64,
    pub procs: u16,
    pub pad: u16,
    pub __pad1: u32,
    pub totalhigh: u64,
    pub freehigh: u64,
    pub mem_unit: u32,
    pub __pad2: u32,
}

/// `struct rlimit64`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, AsBytes, FromBytes, FromZeroes)]
#[repr(C)]
pub struct Rlimit {
    pub rlim_cur: u64,
    pub rlim_max: u64,
}

/// `struct iovec`.
#[derive(Clone, Copy, Debug, Default, AsBytes, FromBytes, FromZeroes)]
#[repr(C)]
pub struct Iovec {
    pub iov_base: u64,
    pub iov_len: u64,
}

/// The fixed head of `struct linux_dirent64`; the name follows, NUL-terminated,
/// and the record is padded to 8 bytes.
#[derive(Clone, Copy, Debug, Default, AsBytes, FromBytes, FromZeroes)]
#[repr(C, packed)]
pub struct Dirent64Head {
    pub d_ino: u64,
    pub d_off: i64,
    pub d_reclen: u16,
    pub d_type: u8,
}

/// The kernel's `struct sigaction` for `rt_sigaction` (x86-64).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, AsBytes, FromBytes, FromZeroes)]
#[repr(C)]
pub struct KernelSigaction {
    pub handler: u64,
    pub flags: u64,
    pub restorer: u64,
    pub mask: u64,
}

/// `stack_t`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, AsBytes, FromBytes, FromZeroes)]
#[repr(C)]
pub struct StackT {
    pub ss_sp: u64,
    pub ss_flags: i32,
    pub __pad: i32,
    pub ss_size: u64,
}

/// `struct winsize`.
#[derive(Clone, Copy, Debug, Default, AsBytes, FromBytes, FromZeroes)]
#[repr(C)]
pub struct Winsize {
    pub ws_row: u16,
    pub ws_col: u16,
    pub ws_xpixel: u16,
    pub ws_ypixel: u16,
}

/// The kernel's `struct termios` (what `TCGETS` copies out).
#[derive(Clone, Copy, Debug, Default, AsBytes, FromBytes, FromZeroes)]
#[repr(C)]
pub struct Termios {
    pub c_iflag: u32,
    pub c_oflag: u32,
    pub c_cflag: u32,
    pub c_lflag: u32,
    pub c_line: u8,
    pub c_cc: [u8; 19],
}

/// `struct tms`.
#[derive(Clone, Copy, Debug, Default, AsBytes, FromBytes, FromZeroes)]
#[repr(C)]
pub struct Tms {
    pub tms_utime: i64,
    pub tms_stime: i64,
    pub tms_cutime: i64,
    pub tms_cstime: i64,
}

/// `struct rusage`.
#[derive(Clone, Copy, Debug, Default, AsBytes, FromBytes, FromZeroes)]
#[repr(C)]
pub struct Rusage {
    pub ru_utime: Timeval,
    pub ru_stime: Timeval,
    pub rest: [i64; 14],
}

/// `struct open_how` for `openat2`.
#[derive(Clone, Copy, Debug, Default, AsBytes, FromBytes, FromZeroes)]
#[repr(C)]
pub struct OpenHow {
    pub flags: u64,
    pub mode: u64,
    pub resolve: u64,
}

/// `siginfo_t` (128 bytes). The union is kept as raw words: `fields[0..]`
/// start at byte 16. Common layouts: kill/sigqueue `si_pid` (fields[0] low
/// 32 bits), `si_uid` (high 32), `si_value` (fields[1]); SIGCHLD adds
/// `si_status` (fields[1] low 32); faults `si_addr` (fields[0]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, AsBytes, FromBytes, FromZeroes)]
#[repr(C)]
pub struct Siginfo {
    pub si_signo: i32,
    pub si_errno: i32,
    pub si_code: i32,
    pub __pad: i32,
    pub fields: [u64; 14],
}

/// The kernel's `struct sigcontext` (x86-64), `uc_mcontext`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, AsBytes, FromBytes, FromZeroes)]
#[repr(C)]
pub struct Sigcontext {
    pub r8: u64,
    pub r9: u64,
    pub r10: u64,
    pub r11: u64,
    pub r12: u64,
    pub r13: u64,
    pub r14: u64,
    pub r15: u64,
    pub rdi: u64,
    pub rsi: u64,
    pub rbp: u64,
    pub rbx: u64,
    pub rdx: u64,
    pub rax: u64,
    pub rcx: u64,
    pub rsp: u64,
    pub rip: u64,
    pub eflags: u64,
    pub cs: u16,
    pub gs: u16,
    pub fs: u16,
    pub ss: u16,
    pub err: u64,
    pub trapno: u64,
    pub oldmask: u64,
    pub cr2: u64,
    pub fpstate: u64,
    pub reserved1: [u64; 8],
}

/// The kernel's `struct ucontext` (x86-64) as the signal frame holds it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, AsBytes, FromBytes, FromZeroes)]
#[repr(C)]
pub struct Ucontext {
    pub uc_flags: u64,
    pub uc_link: u64,
    pub uc_stack: StackT,
    pub uc_mcontext: Sigcontext,
    pub uc_sigmask: u64,
}

/// `struct rt_sigframe` (x86-64) without the FPU area that follows it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, AsBytes, FromBytes, FromZeroes)]
#[repr(C)]
pub struct RtSigframe {
    pub pretcode: u64,
    pub uc: Ucontext,
    pub info: Siginfo,
}

/// `struct ipc64_perm` (x86-64).
#[derive(Clone, Copy, Debug, Default, AsBytes, FromBytes, FromZeroes)]
#[repr(C)]
pub struct IpcPerm64 {
    pub key: i32,
    pub uid: u32,
    pub gid: u32,
    pub cuid: u32,
    pub cgid: u32,
    pub mode: u32,
    pub seq: u16,
    pub pad2: u16,
    pub pad3: u32,
    pub unused1: u64,
    pub unused2: u64,
}

/// `struct shmid64_ds` (x86-64).
#[derive(Clone, Copy, Debug, Default, AsBytes, FromBytes, FromZeroes)]
#[repr(C)]
pub struct ShmidDs {
    pub shm_perm: IpcPerm64,
    pub shm_segsz: u64,
    pub shm_atime: i64,
    pub shm_dtime: i64,
    pub shm_ctime: i64,
    pub shm_cpid: i32,
    pub shm_lpid: i32,
    pub shm_nattch: u64,
    pub unused4: u64,
    pub unused5: u64,
}

/// `struct shminfo64` (`IPC_INFO`).
#[derive(Clone, Copy, Debug, Default, AsBytes, FromBytes, FromZeroes)]
#[repr(C)]
pub struct ShmInfo64 {
    pub shmmax: u64,
    pub shmmin: u64,
    pub shmmni: u64,
    pub shmseg: u64,
    pub shmall: u64,
    pub unused: [u64; 4],
}

/// `struct shm_info` (`SHM_INFO`).
#[derive(Clone, Copy, Debug, Default, AsBytes, FromBytes, FromZeroes)]
#[repr(C)]
pub struct ShmUsage {
    pub used_ids: i32,
    pub pad: i32,
    pub shm_tot: u64,
    pub shm_rss: u64,
    pub shm_swp: u64,
    pub swap_attempts: u64,
    pub swap_successes: u64,
}

/// `struct semid64_ds` (x86-64).
#[derive(Clone, Copy, Debug, Default, AsBytes, FromBytes, FromZeroes)]
#[repr(C)]
pub struct SemidDs {
    pub sem_perm: IpcPerm64,
    pub sem_otime: i64,
    pub unused1: u64,
    pub sem_ctime: i64,
    pub unused2: u64,
    pub sem_nsems: u64,
    pub unused3: u64,
    pub unused4: u64,
}

/// `struct seminfo` (`IPC_INFO`, `SEM_INFO`).
#[derive(Clone, Copy, Debug, Default, AsBytes, FromBytes, FromZeroes)]
#[repr(C)]
pub struct SemInfo {
    pub semmap: i32,
    pub semmni: i32,
    pub semmns: i32,
    pub semmnu: i32,
    pub semmsl: i32,
    pub semopm: i32,
    pub semume: i32,
    pub semusz: i32,
    pub semvmx: i32,
    pub semaem: i32,
}

/// `struct sembuf`.
#[derive(Clone, Copy, Debug, Default, AsBytes, FromBytes, FromZeroes)]
#[repr(C)]
pub struct Sembuf {
    pub sem_num: u16,
    pub sem_op: i16,
    pub sem_flg: i16,
}

/// `struct msqid64_ds` (x86-64).
#[derive(Clone, Copy, Debug, Default, AsBytes, FromBytes, FromZeroes)]
#[repr(C)]
pub struct MsqidDs {
    pub msg_perm: IpcPerm64,
    pub msg_stime: i64,
    pub msg_rtime: i64,
    pub msg_ctime: i64,
    pub msg_cbytes: u64,
    pub msg_qnum: u64,
    pub msg_qbytes: u64,
    pub msg_lspid: i32,
    pub msg_lrpid: i32,
    pub unused4: u64,
    pub unused5: u64,
}

/// `struct msginfo` (`IPC_INFO`, `MSG_INFO`).
#[derive(Clone, Copy, Debug, Default, AsBytes, FromBytes, FromZeroes)]
#[repr(C)]
pub struct MsgInfo {
    pub msgpool: i32,
    pub msgmap: i32,
    pub msgmax: i32,
    pub msgmnb: i32,
    pub msgmni: i32,
    pub msgssz: i32,
    pub msgtql: i32,
    pub msgseg: u16,
    pub pad: u16,
}

/// `struct epoll_event`, packed on x86-64.
#[derive(Clone, Copy, Debug, Default, AsBytes, FromBytes, FromZeroes)]
#[repr(C, packed)]
pub struct EpollEvent {
    pub events: u32,
    pub data: u64,
}

/// `struct pollfd`.
#[derive(Clone, Copy, Debug, Default, AsBytes, FromBytes, FromZeroes)]
#[repr(C)]
pub struct Pollfd {
    pub fd: i32,
    pub events: i16,
    pub revents: i16,
}

/// `struct clone_args` of clone3 (the first 88 bytes, version 2).
#[derive(Clone, Copy, Debug, Default, AsBytes, FromBytes, FromZeroes)]
#[repr(C)]
pub struct Clone3Args {
    pub flags: u64,
    pub pidfd: u64,
    pub child_tid: u64,
    pub parent_tid: u64,
    pub exit_signal: u64,
    pub stack: u64,
    pub stack_size: u64,
    pub tls: u64,
    pub set_tid: u64,
    pub set_tid_size: u64,
    pub cgroup: u64,
}

/// `struct msghdr`.
#[derive(Clone, Copy, Debug, Default, AsBytes, FromBytes, FromZeroes)]
#[repr(C)]
pub struct MsgHdr {
    pub name: u64,
    pub namelen: u32,
    pub _pad0: u32,
    pub iov: u64,
    pub iovlen: u64,
    pub control: u64,
    pub controllen: u64,
    pub flags: i32,
    pub _pad1: u32,
}

/// `struct __user_cap_header_struct`.
#[derive(Clone, Copy, Debug, Default, AsBytes, FromBytes, FromZeroes)]
#[repr(C)]
pub struct CapHeader {
    pub version: u32,
    pub pid: i32,
}

/// `struct __user_cap_data_struct`: one 32-bit half of each set.
#[derive(Clone, Copy, Debug, Default, AsBytes, FromBytes, FromZeroes)]
#[repr(C)]
pub struct CapData {
    pub effective: u32,
    pub permitted: u32,
    pub inheritable: u32,
}

/// The two descriptors `pipe` stores (`int pipefd[2]`), printed as strace
/// does: `[3, 4]`.
#[derive(Clone, Copy, Debug, Default, AsBytes, FromBytes, FromZeroes)]
#[repr(transparent)]
pub struct FdPair(pub [i32; 2]);

/// `struct signalfd_siginfo`: what a signalfd read returns per signal (128 bytes).
#[derive(Clone, Copy, Debug, Default, AsBytes, FromBytes, FromZeroes)]
#[repr(C)]
pub struct SignalfdSiginfo {
    pub signo: u32,
    pub errno: i32,
    pub code: i32,
    pub pid: u32,
    pub uid: u32,
    pub fd: i32,
    pub tid: u32,
    pub band: u32,
    pub overrun: u32,
    pub trapno: u32,
    pub status: i32,
    pub int: i32,
    pub ptr: u64,
    pub utime: u64,
    pub stime: u64,
    pub addr: u64,
    pub addr_lsb: u16,
    pub pad2: u16,
    pub syscall: i32,
    pub call_addr: u64,
    pub arch: u32,
    pub pad: [u8; 28],
}

/// `struct itimerval` (setitimer, getitimer).
#[derive(Clone, Copy, Debug, Default, AsBytes, FromBytes, FromZeroes)]
#[repr(C)]
pub struct Itimerval {
    pub interval: Timeval,
    pub value: Timeval,
}

/// `struct itimerspec` (timer_settime, timerfd_settime).
#[derive(Clone, Copy, Debug, Default, AsBytes, FromBytes, FromZeroes)]
#[repr(C)]
pub struct Itimerspec {
    pub interval: Timespec,
    pub value: Timespec,
}

/// `struct sigevent` as timer_create reads it (64 bytes; `sigev_notify_thread_id` in the union).
#[derive(Clone, Copy, Debug, Default, AsBytes, FromBytes, FromZeroes)]
#[repr(C)]
pub struct Sigevent {
    pub value: u64,
    pub signo: i32,
    pub notify: i32,
    pub tid: i32,
    pub pad: [i32; 11],
}

/// `struct flock` (x86-64: 32 bytes with padding).
#[derive(Clone, Copy, Debug, Default, AsBytes, FromBytes, FromZeroes)]
#[repr(C)]
pub struct Flock {
    pub l_type: i16,
    pub l_whence: i16,
    pub _pad0: u32,
    pub l_start: i64,
    pub l_len: i64,
    pub l_pid: i32,
    pub _pad1: u32,
}

/// `struct ucred`: who is at the other end.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, AsBytes, FromBytes, FromZeroes)]
#[repr(C)]
pub struct Ucred {
    pub pid: i32,
    pub uid: u32,
    pub gid: u32,
}

/// The two times of `utimensat` (access, modification).
#[derive(Clone, Copy, Debug, Default, AsBytes, FromBytes, FromZeroes)]
#[repr(C)]
pub struct Utimes(pub [Timespec; 2]);

/// The sixth argument of `pselect6`: `{ const sigset_t *ss; size_t ss_len; }`.
#[derive(Clone, Copy, Debug, Default, AsBytes, FromBytes, FromZeroes)]
#[repr(C)]
pub struct SigmaskArg {
    pub ss: u64,
    pub ss_len: u64,
}

/// `struct f_owner_ex` (`F_SETOWN_EX`, `F_GETOWN_EX`).
#[derive(Clone, Copy, Debug, Default, AsBytes, FromBytes, FromZeroes)]
#[repr(C)]
pub struct FOwnerEx {
    /// `F_OWNER_TID`, `F_OWNER_PID` or `F_OWNER_PGRP`.
    pub kind: i32,
    pub pid: i32,
}
