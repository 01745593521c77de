//! Flag sets of system call arguments as `bitflags` types, one per set, each
//! flag named as in the Linux headers (so `--strace` prints the names a
//! reader knows and `grep` finds them). Where a flag is also a constant in
//! `consts`, the value comes from there, so each number is written once.

use bitflags::bitflags;

use crate::consts::*;

bitflags! {
    /// `open(2)` flags besides the access mode (the low two bits, which
    /// are a number: `O_RDONLY`, `O_WRONLY`, `O_RDWR`). A multi-bit flag
    /// comes before the flags it holds, so it prints as its own name; the
    /// order is strace's.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub struct OpenFlags: u32 {
        const O_CREAT = O_CREAT;
        const O_EXCL = O_EXCL;
        const O_NOCTTY = O_NOCTTY;
        const O_TRUNC = O_TRUNC;
        const O_APPEND = O_APPEND;
        const O_NONBLOCK = O_NONBLOCK;
        const O_SYNC = O_SYNC;
        const O_DSYNC = O_DSYNC;
        const O_DIRECT = O_DIRECT;
        const O_LARGEFILE = O_LARGEFILE;
        const O_NOFOLLOW = O_NOFOLLOW;
        const O_NOATIME = O_NOATIME;
        const O_CLOEXEC = O_CLOEXEC;
        const O_PATH = O_PATH;
        const O_TMPFILE = O_TMPFILE;
        const O_DIRECTORY = O_DIRECTORY;
        const FASYNC = O_ASYNC;
    }

    /// `AT_*` flags of the `*at` calls.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub struct AtFlags: u32 {
        const AT_SYMLINK_NOFOLLOW = AT_SYMLINK_NOFOLLOW;
        const AT_REMOVEDIR = AT_REMOVEDIR;
        const AT_SYMLINK_FOLLOW = AT_SYMLINK_FOLLOW;
        const AT_NO_AUTOMOUNT = AT_NO_AUTOMOUNT;
        const AT_EMPTY_PATH = AT_EMPTY_PATH;
        const AT_STATX_FORCE_SYNC = 0x2000;
        const AT_STATX_DONT_SYNC = 0x4000;
        const AT_RECURSIVE = 0x8000;
    }

    /// Memory protection (`PROT_*`); none is `PROT_NONE`.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub struct Prot: u32 {
        const PROT_READ = PROT_READ;
        const PROT_WRITE = PROT_WRITE;
        const PROT_EXEC = PROT_EXEC;
        const PROT_SEM = 0x8;
        const PROT_GROWSDOWN = PROT_GROWSDOWN;
        const PROT_GROWSUP = PROT_GROWSUP;
    }

    /// `mmap` flags (`MAP_*`). The low two bits are the mapping's type,
    /// where 3 is `MAP_SHARED_VALIDATE`, not the two types together.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub struct MapFlags: u32 {
        const MAP_SHARED = MAP_SHARED;
        const MAP_PRIVATE = MAP_PRIVATE;
        const MAP_FIXED = MAP_FIXED;
        const MAP_ANONYMOUS = MAP_ANONYMOUS;
        const MAP_32BIT = MAP_32BIT;
        const MAP_GROWSDOWN = MAP_GROWSDOWN;
        const MAP_DENYWRITE = MAP_DENYWRITE;
        const MAP_EXECUTABLE = MAP_EXECUTABLE;
        const MAP_LOCKED = MAP_LOCKED;
        const MAP_NORESERVE = MAP_NORESERVE;
        const MAP_POPULATE = MAP_POPULATE;
        const MAP_NONBLOCK = MAP_NONBLOCK;
        const MAP_STACK = MAP_STACK;
        const MAP_HUGETLB = MAP_HUGETLB;
        const MAP_SYNC = 0x80000;
        const MAP_FIXED_NOREPLACE = MAP_FIXED_NOREPLACE;
        const MAP_UNINITIALIZED = 0x400_0000;
    }

    /// `mremap` flags (`MREMAP_*`).
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub struct MremapFlags: u32 {
        const MREMAP_MAYMOVE = MREMAP_MAYMOVE;
        const MREMAP_FIXED = MREMAP_FIXED;
        const MREMAP_DONTUNMAP = MREMAP_DONTUNMAP;
    }

    /// `mount` flags (`MS_*`).
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub struct MountFlags: u32 {
        const MS_RDONLY = 1;
        const MS_NOSUID = 1 << 1;
        const MS_NODEV = 1 << 2;
        const MS_NOEXEC = 1 << 3;
        const MS_SYNCHRONOUS = 1 << 4;
        const MS_REMOUNT = 1 << 5;
        const MS_MANDLOCK = 1 << 6;
        const MS_DIRSYNC = 1 << 7;
        const MS_NOSYMFOLLOW = 1 << 8;
        const MS_NOATIME = 1 << 10;
        const MS_NODIRATIME = 1 << 11;
        const MS_BIND = 1 << 12;
        const MS_MOVE = 1 << 13;
        const MS_REC = 1 << 14;
        const MS_SILENT = 1 << 15;
        const MS_POSIXACL = 1 << 16;
        const MS_UNBINDABLE = 1 << 17;
        const MS_PRIVATE = 1 << 18;
        const MS_SLAVE = 1 << 19;
        const MS_SHARED = 1 << 20;
        const MS_RELATIME = 1 << 21;
        const MS_KERNMOUNT = 1 << 22;
        const MS_I_VERSION = 1 << 23;
        const MS_STRICTATIME = 1 << 24;
        const MS_LAZYTIME = 1 << 25;
    }

    /// `pidfd_open` flags.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub struct PidfdFlags: u32 {
        const PIDFD_NONBLOCK = O_NONBLOCK;
    }

    /// `msync` flags.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub struct MsyncFlags: u32 {
        const MS_ASYNC = 1;
        const MS_INVALIDATE = 2;
        const MS_SYNC = 4;
    }

    /// `umount2` flags.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub struct UmountFlags: u32 {
        const MNT_FORCE = 1;
        const MNT_DETACH = 2;
        const MNT_EXPIRE = 4;
        const UMOUNT_NOFOLLOW = 8;
    }

    /// `renameat2` flags (`RENAME_*`).
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub struct RenameFlags: u32 {
        const RENAME_NOREPLACE = RENAME_NOREPLACE;
        const RENAME_EXCHANGE = RENAME_EXCHANGE;
        const RENAME_WHITEOUT = RENAME_WHITEOUT;
    }

    /// The `statx` mask (`STATX_*`). `STATX_BASIC_STATS` comes first so
    /// that a mask holding all its bits prints as that one name.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub struct StatxMask: u32 {
        const STATX_BASIC_STATS = STATX_BASIC_STATS;
        const STATX_TYPE = STATX_TYPE;
        const STATX_MODE = STATX_MODE;
        const STATX_NLINK = STATX_NLINK;
        const STATX_UID = STATX_UID;
        const STATX_GID = STATX_GID;
        const STATX_ATIME = STATX_ATIME;
        const STATX_MTIME = STATX_MTIME;
        const STATX_CTIME = STATX_CTIME;
        const STATX_INO = STATX_INO;
        const STATX_SIZE = STATX_SIZE;
        const STATX_BLOCKS = STATX_BLOCKS;
        const STATX_BTIME = STATX_BTIME;
        const STATX_MNT_ID = STATX_MNT_ID;
        const STATX_DIOALIGN = 0x2000;
        const STATX_MNT_ID_UNIQUE = 0x4000;
    }

    /// The creation flags of `pipe2` and `dup3`.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub struct PipeFlags: u32 {
        const O_NONBLOCK = O_NONBLOCK;
        const O_DIRECT = O_DIRECT;
        const O_CLOEXEC = O_CLOEXEC;
    }

    /// `eventfd2` flags (`EFD_*`).
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub struct EventfdFlags: u32 {
        const EFD_SEMAPHORE = 1;
        const EFD_NONBLOCK = O_NONBLOCK;
        const EFD_CLOEXEC = O_CLOEXEC;
    }

    /// `epoll_create1` flags.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub struct EpollCreateFlags: u32 {
        const EPOLL_CLOEXEC = O_CLOEXEC;
    }

    /// `epoll_event.events`: readiness and, from bit 28, how the entry
    /// reports. In strace's order.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub struct EpollEvents: u32 {
        const EPOLLIN = EPOLLIN;
        const EPOLLPRI = EPOLLPRI;
        const EPOLLOUT = EPOLLOUT;
        const EPOLLERR = EPOLLERR;
        const EPOLLHUP = EPOLLHUP;
        const EPOLLNVAL = 0x20;
        const EPOLLRDNORM = 0x40;
        const EPOLLRDBAND = 0x80;
        const EPOLLWRNORM = 0x100;
        const EPOLLWRBAND = 0x200;
        const EPOLLMSG = 0x400;
        const EPOLLRDHUP = EPOLLRDHUP;
        const EPOLLEXCLUSIVE = EPOLLEXCLUSIVE;
        const EPOLLWAKEUP = EPOLLWAKEUP;
        const EPOLLONESHOT = EPOLLONESHOT;
        const EPOLLET = EPOLLET;
    }

    /// `pollfd.events` and `revents`.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub struct PollEvents: u16 {
        const POLLIN = 0x1;
        const POLLPRI = 0x2;
        const POLLOUT = 0x4;
        const POLLERR = 0x8;
        const POLLHUP = 0x10;
        const POLLNVAL = 0x20;
        const POLLRDNORM = 0x40;
        const POLLRDBAND = 0x80;
        const POLLWRNORM = 0x100;
        const POLLWRBAND = 0x200;
        const POLLMSG = 0x400;
        const POLLRDHUP = 0x2000;
    }

    /// `inotify_init1` flags.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub struct InotifyFlags: u32 {
        const IN_NONBLOCK = O_NONBLOCK;
        const IN_CLOEXEC = O_CLOEXEC;
    }

    /// An inotify event mask (`IN_*`), bit by bit as strace lists it.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub struct InotifyMask: u32 {
        const IN_ACCESS = IN_ACCESS;
        const IN_MODIFY = IN_MODIFY;
        const IN_ATTRIB = IN_ATTRIB;
        const IN_CLOSE_WRITE = IN_CLOSE_WRITE;
        const IN_CLOSE_NOWRITE = IN_CLOSE_NOWRITE;
        const IN_OPEN = IN_OPEN;
        const IN_MOVED_FROM = IN_MOVED_FROM;
        const IN_MOVED_TO = IN_MOVED_TO;
        const IN_CREATE = IN_CREATE;
        const IN_DELETE = IN_DELETE;
        const IN_DELETE_SELF = IN_DELETE_SELF;
        const IN_MOVE_SELF = IN_MOVE_SELF;
        const IN_UNMOUNT = IN_UNMOUNT;
        const IN_Q_OVERFLOW = IN_Q_OVERFLOW;
        const IN_IGNORED = IN_IGNORED;
        const IN_ONLYDIR = IN_ONLYDIR;
        const IN_DONT_FOLLOW = IN_DONT_FOLLOW;
        const IN_EXCL_UNLINK = IN_EXCL_UNLINK;
        const IN_MASK_CREATE = IN_MASK_CREATE;
        const IN_MASK_ADD = IN_MASK_ADD;
        const IN_ISDIR = IN_ISDIR;
        const IN_ONESHOT = IN_ONESHOT;
    }

    /// `signalfd4` flags.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub struct SignalfdFlags: u32 {
        const SFD_NONBLOCK = O_NONBLOCK;
        const SFD_CLOEXEC = O_CLOEXEC;
    }

    /// `timerfd_create` flags.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub struct TimerfdFlags: u32 {
        const TFD_NONBLOCK = O_NONBLOCK;
        const TFD_CLOEXEC = O_CLOEXEC;
    }

    /// `timerfd_settime` flags.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub struct TimerfdSetFlags: u32 {
        const TFD_TIMER_ABSTIME = 1;
        const TFD_TIMER_CANCEL_ON_SET = 2;
    }

    /// `timer_settime` and `clock_nanosleep` flags.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub struct TimerFlags: u32 {
        const TIMER_ABSTIME = TIMER_ABSTIME;
    }

    /// The flags a socket type may carry.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub struct SockFlags: u32 {
        const SOCK_NONBLOCK = O_NONBLOCK;
        const SOCK_CLOEXEC = O_CLOEXEC;
    }

    /// `send`/`recv` flags (`MSG_*`).
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub struct MsgFlags: u32 {
        const MSG_OOB = 1;
        const MSG_PEEK = 2;
        const MSG_DONTROUTE = 4;
        const MSG_CTRUNC = 8;
        const MSG_PROXY = 0x10;
        const MSG_TRUNC = 0x20;
        const MSG_DONTWAIT = 0x40;
        const MSG_EOR = 0x80;
        const MSG_WAITALL = 0x100;
        const MSG_FIN = 0x200;
        const MSG_SYN = 0x400;
        const MSG_CONFIRM = 0x800;
        const MSG_RST = 0x1000;
        const MSG_ERRQUEUE = 0x2000;
        const MSG_NOSIGNAL = 0x4000;
        const MSG_MORE = 0x8000;
        const MSG_WAITFORONE = 0x1_0000;
        const MSG_BATCH = 0x4_0000;
        const MSG_ZEROCOPY = 0x400_0000;
        const MSG_FASTOPEN = 0x2000_0000;
        const MSG_CMSG_CLOEXEC = 0x4000_0000;
    }

    /// `wait4`/`waitid` options.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub struct WaitOptions: u32 {
        const WNOHANG = 1;
        const WUNTRACED = 2;
        const WEXITED = 4;
        const WCONTINUED = 8;
        const WNOWAIT = 0x100_0000;
        const __WNOTHREAD = 0x2000_0000;
        const __WALL = 0x4000_0000;
        const __WCLONE = 0x8000_0000;
    }

    /// `memfd_create` flags (`MFD_*`).
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub struct MemfdFlags: u32 {
        const MFD_CLOEXEC = 1;
        const MFD_ALLOW_SEALING = 2;
        const MFD_HUGETLB = 4;
        const MFD_NOEXEC_SEAL = 8;
        const MFD_EXEC = 0x10;
    }

    /// `setxattr` flags.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub struct XattrFlags: u32 {
        const XATTR_CREATE = XATTR_CREATE;
        const XATTR_REPLACE = XATTR_REPLACE;
    }

    /// `splice`/`tee`/`vmsplice` flags.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub struct SpliceFlags: u32 {
        const SPLICE_F_MOVE = 1;
        const SPLICE_F_NONBLOCK = 2;
        const SPLICE_F_MORE = 4;
        const SPLICE_F_GIFT = 8;
    }

    /// `getrandom` flags.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub struct GrndFlags: u32 {
        const GRND_NONBLOCK = GRND_NONBLOCK;
        const GRND_RANDOM = GRND_RANDOM;
        const GRND_INSECURE = GRND_INSECURE;
    }

    /// `close_range` flags.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub struct CloseRangeFlags: u32 {
        const CLOSE_RANGE_UNSHARE = CLOSE_RANGE_UNSHARE;
        const CLOSE_RANGE_CLOEXEC = CLOSE_RANGE_CLOEXEC;
    }

    /// `openat2`'s `resolve` flags.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub struct ResolveFlags: u64 {
        const RESOLVE_NO_XDEV = RESOLVE_NO_XDEV;
        const RESOLVE_NO_MAGICLINKS = RESOLVE_NO_MAGICLINKS;
        const RESOLVE_NO_SYMLINKS = RESOLVE_NO_SYMLINKS;
        const RESOLVE_BENEATH = RESOLVE_BENEATH;
        const RESOLVE_IN_ROOT = RESOLVE_IN_ROOT;
        const RESOLVE_CACHED = RESOLVE_CACHED;
    }

    /// `fallocate` modes.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub struct FallocFlags: u32 {
        const FALLOC_FL_KEEP_SIZE = FALLOC_FL_KEEP_SIZE;
        const FALLOC_FL_PUNCH_HOLE = FALLOC_FL_PUNCH_HOLE;
    }

    /// `flock` operations.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub struct FlockFlags: u32 {
        const LOCK_SH = LOCK_SH as u32;
        const LOCK_EX = LOCK_EX as u32;
        const LOCK_UN = LOCK_UN as u32;
        const LOCK_NB = LOCK_NB as u32;
    }

    /// `stack_t.ss_flags`.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub struct SsFlags: u32 {
        const SS_ONSTACK = SS_ONSTACK as u32;
        const SS_DISABLE = SS_DISABLE as u32;
        const SS_AUTODISARM = SS_AUTODISARM as u32;
    }

    /// `sa_flags`, in strace's order.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub struct SaFlags: u64 {
        const SA_RESTORER = SA_RESTORER;
        const SA_ONSTACK = SA_ONSTACK;
        const SA_RESTART = SA_RESTART;
        const SA_INTERRUPT = SA_INTERRUPT;
        const SA_NODEFER = SA_NODEFER;
        const SA_RESETHAND = SA_RESETHAND;
        const SA_SIGINFO = SA_SIGINFO;
        const SA_NOCLDSTOP = SA_NOCLDSTOP;
        const SA_NOCLDWAIT = SA_NOCLDWAIT;
    }

    /// `shmat` flags.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub struct ShmatFlags: u32 {
        const SHM_RDONLY = SHM_RDONLY;
        const SHM_RND = SHM_RND;
        const SHM_REMAP = SHM_REMAP;
        const SHM_EXEC = SHM_EXEC;
    }

    /// `msgsnd`/`msgrcv` flags.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub struct IpcMsgFlags: u32 {
        const IPC_NOWAIT = IPC_NOWAIT;
        const MSG_NOERROR = MSG_NOERROR;
        const MSG_EXCEPT = MSG_EXCEPT;
        const MSG_COPY = MSG_COPY;
    }

    /// An `access` mode; none is `F_OK`. In strace's order.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub struct AccessMode: u32 {
        const R_OK = R_OK;
        const W_OK = W_OK;
        const X_OK = X_OK;
    }

    /// `clone` flags; the low byte is the exit signal, not a flag.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub struct CloneFlags: u64 {
        const CLONE_VM = 0x100;
        const CLONE_FS = 0x200;
        const CLONE_FILES = 0x400;
        const CLONE_SIGHAND = 0x800;
        const CLONE_PIDFD = 0x1000;
        const CLONE_PTRACE = 0x2000;
        const CLONE_VFORK = 0x4000;
        const CLONE_PARENT = 0x8000;
        const CLONE_THREAD = 0x1_0000;
        const CLONE_NEWNS = 0x2_0000;
        const CLONE_SYSVSEM = 0x4_0000;
        const CLONE_SETTLS = 0x8_0000;
        const CLONE_PARENT_SETTID = 0x10_0000;
        const CLONE_CHILD_CLEARTID = 0x20_0000;
        const CLONE_DETACHED = 0x40_0000;
        const CLONE_UNTRACED = 0x80_0000;
        const CLONE_CHILD_SETTID = 0x100_0000;
        const CLONE_NEWCGROUP = 0x200_0000;
        const CLONE_NEWUTS = 0x400_0000;
        const CLONE_NEWIPC = 0x800_0000;
        const CLONE_NEWUSER = 0x1000_0000;
        const CLONE_NEWPID = 0x2000_0000;
        const CLONE_NEWNET = 0x4000_0000;
        const CLONE_IO = 0x8000_0000;
    }
}
