//! `/proc`: the sandbox's processes and the system figures common tools read.
//!
//! Files are generated when opened (a snapshot, as Linux's seq files are
//! for small reads) and report size 0, as on Linux.

use parking_lot::Mutex;
use std::any::Any;
use std::sync::{Arc, Weak};

use abi::consts::*;
use abi::types::Timespec;
use abi::Errno;

use crate::kernel::{Kernel, Process};
use crate::vfs::Caller;
pub use pid::description_inode;
use pid::{pid_file, reopen_target};
use system::{now_realtime, static_file};
use write::Sink;

mod pid;
mod system;
mod write;
use crate::vfs::{DirEntry, FileOps, FileRef, Inode, InodeAttr, InodeRef, KResult, Location};

/// The /proc file system.
pub struct ProcFs {
    dev: u64,
    kernel: Mutex<Weak<Kernel>>,
}

impl ProcFs {
    pub fn new(dev: u64) -> Arc<ProcFs> {
        Arc::new(ProcFs { dev, kernel: Mutex::new(Weak::new()) })
    }

    /// Tell /proc which kernel it describes (after the kernel exists).
    pub fn set_kernel(&self, k: &Arc<Kernel>) {
        *self.kernel.lock() = Arc::downgrade(k);
    }

    fn kernel(&self) -> KResult<Arc<Kernel>> {
        self.kernel.lock().upgrade().ok_or(Errno::ESRCH)
    }

    pub fn root(self: &Arc<Self>) -> InodeRef {
        Arc::new(ProcNode { fs: self.clone(), kind: Kind::Root })
    }
}

#[derive(Clone)]
enum Kind {
    Root,
    SelfLink,
    Static(&'static str),
    SysDir(&'static str),
    PidDir(i32),
    PidFile(i32, &'static str),
    PidLink(i32, &'static str),
    FdDir(i32),
    FdLink(i32, i32),
    /// `/proc/<pid>/fdinfo` and its files.
    FdInfoDir(i32),
    FdInfo(i32, i32),
    TaskDir(i32),
    /// `/proc/<pid>/task/<tid>`.
    ThreadDir(i32, i32),
    /// A file of a thread's directory.
    ThreadFile(i32, i32, &'static str),
}

struct ProcNode {
    fs: Arc<ProcFs>,
    kind: Kind,
}

const ROOT_FILES: &[&str] =
    &["cpuinfo", "filesystems", "loadavg", "meminfo", "mounts", "stat", "uptime", "version", "sys", "net"];
/// The directories of [`ROOT_FILES`] (static trees, see [`sys_dir`]).
const ROOT_DIRS: &[&str] = &["sys", "net"];
const PID_FILES: &[&str] = &[
    "cgroup",
    "cmdline",
    "comm",
    "environ",
    "io",
    "limits",
    "maps",
    "mountinfo",
    "mounts",
    "oom_adj",
    "oom_score",
    "oom_score_adj",
    "smaps_rollup",
    "stat",
    "statm",
    "status",
];
const PID_LINKS: &[&str] = &["cwd", "exe", "root"];
/// The files of a process (and a thread) that writes change (see `write`).
const PID_WRITABLE: &[&str] = &["comm", "oom_adj", "oom_score_adj"];
/// The sys/ files Linux gives mode 0644 (only hostname, domainname and
/// ip_unprivileged_port_start are the sandbox's to change; `write`
/// refuses the rest).
const SYS_WRITABLE_MODE: &[&str] = &[
    "sys/kernel/domainname",
    "sys/kernel/hostname",
    "sys/net/ipv4/ip_unprivileged_port_start",
    "sys/kernel/pid_max",
    "sys/kernel/shmall",
    "sys/kernel/shmmax",
    "sys/kernel/shmmni",
    "sys/kernel/threads-max",
    "sys/vm/max_map_count",
    "sys/vm/overcommit_memory",
    "sys/vm/swappiness",
    "sys/fs/file-max",
    "sys/fs/nr_open",
];

fn ino_of(kind: &Kind) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    match kind {
        Kind::Root => return 1,
        Kind::SelfLink => "self".hash(&mut h),
        Kind::Static(n) => ("s", n).hash(&mut h),
        Kind::SysDir(n) => ("d", n).hash(&mut h),
        Kind::PidDir(p) => ("p", p).hash(&mut h),
        Kind::PidFile(p, n) => ("pf", p, n).hash(&mut h),
        Kind::PidLink(p, n) => ("pl", p, n).hash(&mut h),
        Kind::FdDir(p) => ("fd", p).hash(&mut h),
        Kind::FdInfoDir(p) => ("fdi", p).hash(&mut h),
        Kind::FdInfo(p, f) => ("fdf", p, f).hash(&mut h),
        Kind::FdLink(p, f) => ("fl", p, f).hash(&mut h),
        Kind::TaskDir(p) => ("td", p).hash(&mut h),
        Kind::ThreadDir(p, t) => ("th", p, t).hash(&mut h),
        Kind::ThreadFile(p, t, n) => ("tf", p, t, n).hash(&mut h),
    }
    (h.finish() & 0xffff_ffff) | 2
}

/// What the sys/ tree holds: directories and files by path.
fn sys_dir(path: &str) -> Option<&'static [&'static str]> {
    Some(match path {
        "sys" => &["kernel", "vm", "fs", "net"],
        "sys/net" => &["ipv4"],
        "sys/net/ipv4" => &["ip_unprivileged_port_start"],
        "sys/kernel" => &[
            "cap_last_cap",
            "domainname",
            "hostname",
            "ngroups_max",
            "osrelease",
            "ostype",
            "pid_max",
            "shmall",
            "shmmax",
            "shmmni",
            "threads-max",
            "version",
        ],
        "sys/vm" => &["max_map_count", "overcommit_memory", "swappiness"],
        "sys/fs" => &["file-max", "nr_open"],
        // The sandbox's network (see `net_file`).
        "net" => &["dev", "if_inet6", "tcp", "tcp6", "udp", "udp6"],
        _ => return None,
    })
}

fn leak(s: String) -> &'static str {
    // The set of names is small and fixed (see sys_dir); interning them
    // keeps `Kind` Copy-like.
    Box::leak(s.into_boxed_str())
}

impl ProcNode {
    fn node(&self, kind: Kind) -> InodeRef {
        Arc::new(ProcNode { fs: self.fs.clone(), kind })
    }

    fn process(&self, pid: i32) -> KResult<Arc<Process>> {
        self.fs.kernel()?.process(pid).ok_or(Errno::ENOENT)
    }

    /// The process whose directory this node is in.
    fn pid(&self) -> Option<i32> {
        match &self.kind {
            Kind::PidDir(p)
            | Kind::PidFile(p, _)
            | Kind::PidLink(p, _)
            | Kind::FdDir(p)
            | Kind::FdInfoDir(p)
            | Kind::FdInfo(p, _)
            | Kind::FdLink(p, _)
            | Kind::TaskDir(p)
            | Kind::ThreadDir(p, _)
            | Kind::ThreadFile(p, _, _) => Some(*p),
            _ => None,
        }
    }

    fn owner(&self) -> (u32, u32) {
        let Some(pid) = self.pid() else { return (0, 0) };
        match self.process(pid) {
            Ok(p) => {
                let c = p.creds.lock();
                (c.euid, c.egid)
            }
            Err(_) => (0, 0),
        }
    }

    fn content(&self, cx: Caller<'_>) -> KResult<Vec<u8>> {
        let k = self.fs.kernel()?;
        match &self.kind {
            Kind::Static(name) => static_file(&k, name, cx),
            Kind::PidFile(pid, name) => pid_file(&k, &self.process(*pid)?, name),
            Kind::FdInfo(pid, fd) => {
                let p = self.process(*pid)?;
                let fds = p.fds();
                let (f, cloexec) = {
                    let t = fds.lock();
                    (t.get(*fd).map_err(|_| Errno::ENOENT)?, t.cloexec(*fd).unwrap_or(false))
                };
                let pos = *f.offset();
                let flags = f.flags() | if cloexec { O_CLOEXEC } else { 0 };
                let mnt = f.loc.as_ref().map_or(0, |l| l.mount.id);
                let ino = f.inode.as_ref().and_then(|i| i.attr().ok()).map_or(0, |a| a.ino);
                Ok(format!("pos:\t{pos}\nflags:\t0{flags:o}\nmnt_id:\t{mnt}\nino:\t{ino}\n").into_bytes())
            }
            Kind::ThreadFile(pid, tid, name) => {
                let p = self.process(*pid)?;
                // A thread's own name (PR_SET_NAME, pthread_setname_np).
                if *name == "comm" {
                    if let Some(th) = p.threads.lock().iter().find(|t| t.tid == *tid) {
                        let mut c = th.comm.lock().clone();
                        c.push(b'\n');
                        return Ok(c);
                    }
                }
                let mut data = pid_file(&k, &p, name)?;
                let gone = !p.threads.lock().iter().any(|t| t.tid == *tid);
                if gone && *name == "stat" {
                    if let Some(i) = data.iter().rposition(|b| *b == b')') {
                        if data.len() > i + 2 {
                            data[i + 2] = b'Z';
                        }
                    }
                }
                Ok(data)
            }
            _ => Err(Errno::EISDIR),
        }
    }
}

/// An opened /proc file: the snapshot taken at open (when opened for
/// reading), and what writes do.
struct Snapshot {
    data: Vec<u8>,
    sink: Sink,
}

impl FileOps for Snapshot {
    fn read(&self, _cx: Caller<'_>, buf: &mut [u8], off: u64) -> KResult<usize> {
        let Ok(off) = usize::try_from(off) else { return Ok(0) };
        if off >= self.data.len() {
            return Ok(0);
        }
        let n = buf.len().min(self.data.len() - off);
        buf[..n].copy_from_slice(&self.data[off..off + n]);
        Ok(n)
    }

    fn write(&self, cx: Caller<'_>, buf: &[u8], off: u64) -> KResult<usize> {
        self.sink.write(cx, buf, off)
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
}

impl Inode for ProcNode {
    fn attr(&self) -> KResult<InodeAttr> {
        let (mode, nlink) = match &self.kind {
            Kind::Root | Kind::PidDir(_) | Kind::SysDir(_) | Kind::TaskDir(_) | Kind::ThreadDir(..) => {
                (S_IFDIR | 0o555, 2)
            }
            Kind::FdDir(_) => (S_IFDIR | 0o500, 2),
            Kind::FdInfoDir(_) => (S_IFDIR | 0o500, 2),
            Kind::FdInfo(..) => (S_IFREG | 0o400, 1),
            Kind::SelfLink | Kind::PidLink(..) => (S_IFLNK | 0o777, 1),
            Kind::FdLink(..) => (S_IFLNK | 0o700, 1),
            Kind::Static(n) if SYS_WRITABLE_MODE.contains(n) => (S_IFREG | 0o644, 1),
            Kind::PidFile(_, n) | Kind::ThreadFile(_, _, n) if PID_WRITABLE.contains(n) => (S_IFREG | 0o644, 1),
            Kind::PidFile(_, "environ" | "io") | Kind::ThreadFile(_, _, "environ" | "io") => (S_IFREG | 0o400, 1),
            Kind::Static(_) | Kind::PidFile(..) | Kind::ThreadFile(..) => (S_IFREG | 0o444, 1),
        };
        if let Kind::PidDir(p) | Kind::PidFile(p, _) | Kind::PidLink(p, _) | Kind::FdDir(p) | Kind::TaskDir(p) =
            &self.kind
        {
            self.process(*p)?;
        }
        let (uid, gid) = self.owner();
        let t = self.fs.kernel.lock().upgrade().map(|k| k.start.elapsed()).unwrap_or_default();
        let now = now_realtime();
        let boot = Timespec { tv_sec: now.tv_sec - t.as_secs() as i64, tv_nsec: 0 };
        Ok(InodeAttr {
            dev: self.fs.dev,
            ino: ino_of(&self.kind),
            mode,
            nlink,
            uid,
            gid,
            rdev: 0,
            size: 0,
            blksize: 1024,
            blocks: 0,
            atime: boot,
            mtime: boot,
            ctime: boot,
        })
    }

    fn lookup(&self, name: &[u8]) -> KResult<InodeRef> {
        let name = std::str::from_utf8(name).map_err(|_| Errno::ENOENT)?;
        match &self.kind {
            Kind::Root => {
                if name == "self" || name == "thread-self" {
                    return Ok(self.node(Kind::SelfLink));
                }
                if let Ok(pid) = name.parse::<i32>() {
                    if pid > 0 && name == pid.to_string() {
                        self.process(pid)?;
                        return Ok(self.node(Kind::PidDir(pid)));
                    }
                }
                if let Some(d) = ROOT_DIRS.iter().find(|d| **d == name) {
                    return Ok(self.node(Kind::SysDir(d)));
                }
                ROOT_FILES.iter().find(|n| **n == name).map(|n| self.node(Kind::Static(n))).ok_or(Errno::ENOENT)
            }
            Kind::SysDir(dir) => {
                let entries = sys_dir(dir).ok_or(Errno::ENOENT)?;
                if !entries.contains(&name) {
                    return Err(Errno::ENOENT);
                }
                let path = leak(format!("{dir}/{name}"));
                if sys_dir(path).is_some() {
                    Ok(self.node(Kind::SysDir(path)))
                } else {
                    Ok(self.node(Kind::Static(path)))
                }
            }
            Kind::PidDir(pid) => {
                self.process(*pid)?;
                if name == "fd" {
                    return Ok(self.node(Kind::FdDir(*pid)));
                }
                if name == "fdinfo" {
                    return Ok(self.node(Kind::FdInfoDir(*pid)));
                }
                if name == "task" {
                    return Ok(self.node(Kind::TaskDir(*pid)));
                }
                if let Some(n) = PID_FILES.iter().find(|n| **n == name) {
                    return Ok(self.node(Kind::PidFile(*pid, n)));
                }
                if let Some(n) = PID_LINKS.iter().find(|n| **n == name) {
                    return Ok(self.node(Kind::PidLink(*pid, n)));
                }
                Err(Errno::ENOENT)
            }
            Kind::TaskDir(pid) => {
                // A thread's directory shows its process's files; an exited
                // leader stays listed (as a zombie) while the process lives.
                let tid: i32 = name.parse().map_err(|_| Errno::ENOENT)?;
                let p = self.process(*pid)?;
                if tid != *pid && !p.threads.lock().iter().any(|t| t.tid == tid) {
                    return Err(Errno::ENOENT);
                }
                Ok(self.node(Kind::ThreadDir(*pid, tid)))
            }
            Kind::ThreadDir(pid, tid) => {
                self.process(*pid)?;
                PID_FILES
                    .iter()
                    .find(|n| **n == name)
                    .map(|n| self.node(Kind::ThreadFile(*pid, *tid, n)))
                    .ok_or(Errno::ENOENT)
            }
            Kind::FdDir(pid) | Kind::FdInfoDir(pid) => {
                let fd: i32 = name.parse().map_err(|_| Errno::ENOENT)?;
                let p = self.process(*pid)?;
                p.fds().lock().get(fd).map_err(|_| Errno::ENOENT)?;
                Ok(self.node(if matches!(self.kind, Kind::FdDir(_)) {
                    Kind::FdLink(*pid, fd)
                } else {
                    Kind::FdInfo(*pid, fd)
                }))
            }
            _ => Err(Errno::ENOTDIR),
        }
    }

    fn readdir(&self) -> KResult<Vec<DirEntry>> {
        let mut out = Vec::new();
        let mut push = |kind: Kind, name: String, dt: u8| {
            out.push(DirEntry { ino: ino_of(&kind), kind: dt, name: name.into_bytes() })
        };
        match &self.kind {
            Kind::Root => {
                for n in ROOT_FILES {
                    if ROOT_DIRS.contains(n) {
                        push(Kind::SysDir(n), (*n).into(), DT_DIR);
                    } else {
                        push(Kind::Static(n), (*n).into(), DT_REG);
                    }
                }
                push(Kind::SelfLink, "self".into(), DT_LNK);
                for pid in self.fs.kernel()?.pids() {
                    push(Kind::PidDir(pid), pid.to_string(), DT_DIR);
                }
            }
            Kind::SysDir(dir) => {
                for n in sys_dir(dir).unwrap_or(&[]) {
                    let path = format!("{dir}/{n}");
                    let is_dir = sys_dir(&path).is_some();
                    push(Kind::Static("x"), (*n).into(), if is_dir { DT_DIR } else { DT_REG });
                }
            }
            Kind::PidDir(pid) => {
                for n in PID_FILES {
                    push(Kind::PidFile(*pid, n), (*n).into(), DT_REG);
                }
                for n in PID_LINKS {
                    push(Kind::PidLink(*pid, n), (*n).into(), DT_LNK);
                }
                push(Kind::FdDir(*pid), "fd".into(), DT_DIR);
                push(Kind::FdInfoDir(*pid), "fdinfo".into(), DT_DIR);
                push(Kind::TaskDir(*pid), "task".into(), DT_DIR);
            }
            Kind::TaskDir(pid) => {
                let p = self.process(*pid)?;
                let mut tids: Vec<i32> = p.threads.lock().iter().map(|t| t.tid).collect();
                if !tids.contains(pid) && !p.is_zombie() {
                    tids.insert(0, *pid);
                }
                for tid in tids {
                    push(Kind::ThreadDir(*pid, tid), tid.to_string(), DT_DIR);
                }
            }
            Kind::ThreadDir(pid, tid) => {
                for n in PID_FILES {
                    push(Kind::ThreadFile(*pid, *tid, n), (*n).into(), DT_REG);
                }
            }
            Kind::FdDir(pid) => {
                let p = self.process(*pid)?;
                let fds = p.fds().lock().fds();
                for fd in fds {
                    push(Kind::FdLink(*pid, fd), fd.to_string(), DT_LNK);
                }
            }
            Kind::FdInfoDir(pid) => {
                let p = self.process(*pid)?;
                let fds = p.fds().lock().fds();
                for fd in fds {
                    push(Kind::FdInfo(*pid, fd), fd.to_string(), DT_REG);
                }
            }
            _ => return Err(Errno::ENOTDIR),
        }
        Ok(out)
    }

    fn readlink(&self, cx: Caller<'_>) -> KResult<Vec<u8>> {
        match &self.kind {
            Kind::SelfLink => {
                let p = cx.process().ok_or(Errno::ENOENT)?;
                Ok(p.pid.to_string().into_bytes())
            }
            Kind::FdLink(pid, fd) => {
                let p = self.process(*pid)?;
                let f = p.fds().lock().get(*fd).map_err(|_| Errno::ENOENT)?;
                if let Some(n) = &f.anon_name {
                    return Ok(n.clone());
                }
                let loc = f.loc.clone().ok_or(Errno::ENOENT)?;
                let k = self.fs.kernel()?;
                let root = p.fs().lock().root.clone();
                Ok(k.vfs.shown_path(&loc, &root))
            }
            Kind::PidLink(..) => {
                let loc = self.magic_link().ok_or(Errno::ENOENT)?;
                let k = self.fs.kernel()?;
                let root = cx.root_or(|| k.vfs.root());
                Ok(k.vfs.shown_path(&loc, &root))
            }
            _ => Err(Errno::EINVAL),
        }
    }

    fn magic_link(&self) -> Option<Location> {
        match &self.kind {
            Kind::PidLink(pid, name) => {
                let p = self.process(*pid).ok()?;
                match *name {
                    "exe" => p.exe.lock().clone(),
                    "cwd" => Some(p.fs().lock().cwd.clone()),
                    "root" => Some(p.fs().lock().root.clone()),
                    _ => None,
                }
            }
            Kind::FdLink(pid, fd) => {
                let p = self.process(*pid).ok()?;
                let f = p.fds().lock().get(*fd).ok()?;
                Some(f.loc.clone().unwrap_or_else(|| reopen_target(&f)))
            }
            _ => None,
        }
    }

    fn open(&self, cx: Caller<'_>, flags: u32) -> KResult<FileRef> {
        match &self.kind {
            Kind::Root
            | Kind::PidDir(_)
            | Kind::SysDir(_)
            | Kind::FdDir(_)
            | Kind::FdInfoDir(_)
            | Kind::TaskDir(_)
            | Kind::ThreadDir(..) => Ok(Arc::new(crate::fs::DirFile)),
            Kind::Static(_) | Kind::PidFile(..) | Kind::ThreadFile(..) | Kind::FdInfo(..) => {
                let sink = if flags & O_ACCMODE == O_RDONLY {
                    Sink::Refuse(Errno::EBADF)
                } else {
                    let p = self.pid().map(|pid| self.process(pid)).transpose()?;
                    Sink::for_kind(&self.kind, &self.fs.kernel()?, p)?
                };
                let data = if flags & O_ACCMODE == O_WRONLY { Vec::new() } else { self.content(cx)? };
                Ok(Arc::new(Snapshot { data, sink }))
            }
            _ => Err(Errno::ELOOP),
        }
    }

    fn statfs(&self) -> KResult<crate::vfs::FsStat> {
        Ok(crate::vfs::FsStat {
            f_type: PROC_SUPER_MAGIC,
            f_bsize: 4096,
            f_namelen: 255,
            f_frsize: 4096,
            ..Default::default()
        })
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fs::pipe::{Pipe, PipeInode};
    use crate::vfs::FileDescription;

    #[test]
    fn fd_link_of_an_anonymous_inode_file_leads_to_an_inode_that_answers_enxio() {
        let f = FileDescription::new_anon(Arc::new(crate::fs::DirFile), None, O_RDWR, b"anon_inode:[eventfd]".to_vec());

        let loc = reopen_target(&f);

        assert_eq!(loc.dentry.name(), b"anon_inode:[eventfd]");
        assert_eq!(loc.inode().open(Caller::SENTRY, O_RDONLY).err(), Some(Errno::ENXIO));
    }

    #[test]
    fn fd_link_of_a_pipe_leads_to_the_pipe_and_reads_as_its_name() {
        let (r, w) = Pipe::pair();
        let inode: InodeRef = PipeInode::new(r.pipe(), 0, 0);
        let f = FileDescription::new_anon(w.clone(), Some(inode), O_WRONLY, b"pipe:[9]".to_vec());

        let loc = reopen_target(&f);
        let reader = loc.inode().open(Caller::SENTRY, O_RDONLY).expect("reopen");
        w.write(Caller::SENTRY, b"x", 0).expect("write");

        assert_eq!(reader.read(Caller::SENTRY, &mut [0u8; 2], 0), Ok(1));
        assert!(crate::vfs::anon::is_anon(&loc));
    }
}
