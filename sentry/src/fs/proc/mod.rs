//! `/proc`: the sandbox's processes and the system figures common tools read.
//!
//! Files are generated when opened (a snapshot, as Linux's seq files are
//! for small reads) and report size 0, as on Linux.

use std::any::Any;
use std::sync::{Arc, Mutex, Weak};

use abi::consts::*;
use abi::types::Timespec;
use abi::Errno;

use crate::kernel::{current, Kernel, Process};
use write::Sink;

mod write;
use crate::vfs::anon::{anon_location, AnonInode};
use crate::vfs::{lock, DirEntry, FileDescription, FileOps, FileRef, Inode, InodeAttr, InodeRef, KResult, Location};

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
        *lock(&self.kernel) = Arc::downgrade(k);
    }

    fn kernel(&self) -> KResult<Arc<Kernel>> {
        lock(&self.kernel).upgrade().ok_or(Errno::ESRCH)
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
    &["cpuinfo", "filesystems", "loadavg", "meminfo", "mounts", "stat", "uptime", "version", "sys"];
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
/// The sys/ files Linux gives mode 0644 (only hostname and domainname are
/// the sandbox's to change; `write` refuses the rest).
const SYS_WRITABLE_MODE: &[&str] = &[
    "sys/kernel/domainname",
    "sys/kernel/hostname",
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
        "sys" => &["kernel", "vm", "fs"],
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
                let c = lock(&p.creds);
                (c.euid, c.egid)
            }
            Err(_) => (0, 0),
        }
    }

    fn content(&self) -> KResult<Vec<u8>> {
        let k = self.fs.kernel()?;
        match &self.kind {
            Kind::Static(name) => static_file(&k, name),
            Kind::PidFile(pid, name) => pid_file(&k, &self.process(*pid)?, name),
            Kind::FdInfo(pid, fd) => {
                let p = self.process(*pid)?;
                let fds = p.fds();
                let (f, cloexec) = {
                    let t = lock(&fds);
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
                    if let Some(th) = lock(&p.threads).iter().find(|t| t.tid == *tid) {
                        let mut c = lock(&th.comm).clone();
                        c.push(b'\n');
                        return Ok(c);
                    }
                }
                let mut data = pid_file(&k, &p, name)?;
                let gone = !lock(&p.threads).iter().any(|t| t.tid == *tid);
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

fn static_file(k: &Arc<Kernel>, name: &str) -> KResult<Vec<u8>> {
    let up = k.start.elapsed();
    Ok(match name {
        "cpuinfo" => {
            let n = crate::kernel::ncpus();
            let mut s = String::new();
            for i in 0..n {
                s += &format!(
                    "processor\t: {i}\nvendor_id\t: GenuineIntel\ncpu family\t: 6\nmodel\t\t: 85\nmodel name\t: bulwark virtual CPU\nstepping\t: 0\ncpu MHz\t\t: 2000.000\ncache size\t: 16384 KB\nphysical id\t: 0\nsiblings\t: {n}\ncore id\t\t: {i}\ncpu cores\t: {n}\nfpu\t\t: yes\nflags\t\t: fpu vme de pse tsc msr pae mce cx8 apic sep mtrr pge mca cmov pat pse36 clflush mmx fxsr sse sse2 syscall nx lm rep_good nopl cpuid pni ssse3 cx16 sse4_1 sse4_2 popcnt aes xsave avx hypervisor\nbogomips\t: 4000.00\naddress sizes\t: 46 bits physical, 48 bits virtual\n\n"
                );
            }
            s.into_bytes()
        }
        "filesystems" => b"nodev\tsysfs\nnodev\ttmpfs\nnodev\tproc\nnodev\toverlay\n\text4\n".to_vec(),
        "loadavg" => {
            format!("0.00 0.00 0.00 1/{} {}\n", k.pids().len(), k.pids().last().copied().unwrap_or(1)).into_bytes()
        }
        "meminfo" => {
            // SAFETY-free: the sentry reads its host's totals for itself.
            let total = crate::kernel::limits::mem_total_kb(k, host_mem_kb().0);
            let used =
                k.pids().iter().filter_map(|p| k.process(*p)).map(|p| lock(&p.mm()).resident()).sum::<u64>() / 1024;
            let free = total.saturating_sub(used);
            format!(
                "MemTotal:       {total:8} kB\nMemFree:        {free:8} kB\nMemAvailable:   {free:8} kB\nBuffers:               0 kB\nCached:                0 kB\nSwapCached:            0 kB\nActive:         {used:8} kB\nInactive:              0 kB\nSwapTotal:             0 kB\nSwapFree:              0 kB\nDirty:                 0 kB\nShmem:                 0 kB\nHugePages_Total:       0\nHugePagesize:       2048 kB\n"
            )
            .into_bytes()
        }
        "mounts" => mounts(k, &current().map_or_else(|| k.vfs.root(), |p| lock(&p.fs()).root.clone()), false),
        "stat" => {
            let boot = now_realtime().tv_sec - up.as_secs() as i64;
            let t = up.as_millis() as u64 / 10;
            format!("cpu  {t} 0 0 {t} 0 0 0 0 0 0\ncpu0 {t} 0 0 {t} 0 0 0 0 0 0\nintr 0\nctxt 0\nbtime {boot}\nprocesses {}\nprocs_running 1\nprocs_blocked 0\n", k.pids().len()).into_bytes()
        }
        "uptime" => {
            format!("{}.{:02} {}.{:02}\n", up.as_secs(), up.subsec_millis() / 10, up.as_secs(), up.subsec_millis() / 10)
                .into_bytes()
        }
        "version" => format!(
            "Linux version {} (bulwark) {}\n",
            String::from_utf8_lossy(&lock(&k.release)),
            String::from_utf8_lossy(crate::syscalls::sys::VERSION)
        )
        .into_bytes(),
        "sys/kernel/hostname" => {
            let mut h = lock(&k.hostname).clone();
            h.push(b'\n');
            h
        }
        "sys/kernel/domainname" => {
            let mut h = lock(&k.domainname).clone();
            h.push(b'\n');
            h
        }
        "sys/kernel/osrelease" => {
            let mut r = lock(&k.release).clone();
            r.push(b'\n');
            r
        }
        "sys/kernel/ostype" => b"Linux\n".to_vec(),
        "sys/kernel/pid_max" => b"4194304\n".to_vec(),
        "sys/kernel/ngroups_max" => b"65536\n".to_vec(),
        "sys/vm/overcommit_memory" => b"0\n".to_vec(),
        "sys/vm/swappiness" => b"60\n".to_vec(),
        "sys/kernel/cap_last_cap" => b"40\n".to_vec(),
        "sys/kernel/shmall" => b"18446744073692774399\n".to_vec(),
        "sys/kernel/shmmax" => b"18446744073692774399\n".to_vec(),
        "sys/kernel/shmmni" => b"4096\n".to_vec(),
        "sys/kernel/threads-max" => b"126774\n".to_vec(),
        "sys/kernel/version" => {
            let mut v = crate::syscalls::sys::VERSION.to_vec();
            v.push(b'\n');
            v
        }
        "sys/vm/max_map_count" => b"65530\n".to_vec(),
        "sys/fs/file-max" => b"9223372036854775807\n".to_vec(),
        "sys/fs/nr_open" => b"1048576\n".to_vec(),
        _ => return Err(Errno::ENOENT),
    })
}

/// The host's total memory and swap, in KiB.
fn host_mem_kb() -> (u64, u64) {
    // SAFETY: zeroed sysinfo is valid; the call fills it.
    #[allow(unsafe_code)]
    let s = unsafe {
        let mut s: libc::sysinfo = std::mem::zeroed();
        libc::sysinfo(&mut s);
        s
    };
    let unit = u64::from(s.mem_unit);
    (s.totalram * unit / 1024, s.totalswap * unit / 1024)
}

fn now_realtime() -> Timespec {
    let d = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    Timespec { tv_sec: d.as_secs() as i64, tv_nsec: i64::from(d.subsec_nanos()) }
}

/// `/proc/<pid>/mounts` (`info` false) or `mountinfo` (true) as seen from
/// `root`: mounts outside it are left out.
fn mounts(k: &Arc<Kernel>, root: &Location, info: bool) -> Vec<u8> {
    let mut s = Vec::new();
    for m in k.vfs.mounts() {
        let loc = Location { mount: m.clone(), dentry: m.root.clone() };
        let (path, under) = k.vfs.path_from(&loc, root);
        if !under {
            continue;
        }
        let rw = if m.readonly() { "ro" } else { "rw" };
        let opts = if m.options.is_empty() { String::new() } else { format!(",{}", m.options) };
        if info {
            let parent = m.parent().map_or(m.id, |(pm, _)| pm.id);
            let dev = m.root.inode.attr().map_or(0, |a| a.dev);
            let (major, minor) = (crate::fs::major(dev), crate::fs::minor(dev));
            // The mount's root within its file system (not "/" for a bind
            // mount of a subdirectory).
            let mut fs_root = Vec::new();
            let mut d = Some(m.root.clone());
            while let Some(cur) = d {
                if cur.parent().is_some() {
                    fs_root.splice(0..0, [b"/".as_slice(), &cur.name()].concat());
                }
                d = cur.parent();
            }
            if fs_root.is_empty() {
                fs_root.push(b'/');
            }
            s.extend_from_slice(format!("{} {parent} {major}:{minor} ", m.id).as_bytes());
            s.extend_from_slice(&fs_root);
            s.push(b' ');
            s.extend_from_slice(&path);
            s.extend_from_slice(format!(" {rw},relatime - {} {} {rw}{opts}\n", m.fstype, m.source).as_bytes());
        } else {
            s.extend_from_slice(m.source.as_bytes());
            s.push(b' ');
            s.extend_from_slice(&path);
            s.extend_from_slice(format!(" {} {rw}{opts},relatime 0 0\n", m.fstype).as_bytes());
        }
    }
    s
}

fn pid_file(k: &Arc<Kernel>, p: &Arc<Process>, name: &str) -> KResult<Vec<u8>> {
    let comm = String::from_utf8_lossy(&lock(&p.comm)).into_owned();
    let ppid = p.ppid();
    Ok(match name {
        "cmdline" | "environ" => {
            let mmr = p.mm();
            let mut mm = lock(&mmr);
            let (s, e) = if name == "cmdline" { (mm.arg_start, mm.arg_end) } else { (mm.env_start, mm.env_end) };
            let mut v = vec![0u8; e.saturating_sub(s).min(1 << 20) as usize];
            mm.read_bytes(s, &mut v)?;
            v
        }
        "comm" => format!("{comm}\n").into_bytes(),
        "cgroup" => b"0::/\n".to_vec(),
        "io" => b"rchar: 0\nwchar: 0\nsyscr: 0\nsyscw: 0\nread_bytes: 0\nwrite_bytes: 0\ncancelled_write_bytes: 0\n"
            .to_vec(),
        "oom_score_adj" => format!("{}\n", lock(&p.oom).adj).into_bytes(),
        "oom_adj" => format!("{}\n", write::oom_adj_of(lock(&p.oom).adj)).into_bytes(),
        "oom_score" => {
            let resident = lock(&p.mm()).resident() / PAGE_SIZE;
            let (ram, swap) = host_mem_kb();
            let total = (ram + swap) * 1024 / PAGE_SIZE;
            format!("{}\n", write::oom_score(lock(&p.oom).adj, resident, total)).into_bytes()
        }
        "limits" => limits(&lock(&p.rlimits)),
        "smaps_rollup" => {
            let mmr = p.mm();
            let mm = lock(&mmr);
            let lo = mm.vmas().map(|v| v.start).min().unwrap_or(0);
            let hi = mm.vmas().map(|v| v.end).max().unwrap_or(0);
            let rss = mm.resident() / 1024;
            format!(
                "{lo:08x}-{hi:08x} ---p 00000000 00:00 0                          [rollup]\nRss:            {rss:8} kB\nPss:            {rss:8} kB\nPss_Anon:       {rss:8} kB\nPss_File:              0 kB\nPss_Shmem:             0 kB\nShared_Clean:          0 kB\nShared_Dirty:          0 kB\nPrivate_Clean:         0 kB\nPrivate_Dirty:  {rss:8} kB\nReferenced:     {rss:8} kB\nAnonymous:      {rss:8} kB\nSwap:                  0 kB\nSwapPss:               0 kB\nLocked:                0 kB\n"
            )
            .into_bytes()
        }
        "maps" => {
            let mmr = p.mm();
            let mm = lock(&mmr);
            let mut s = Vec::new();
            for v in mm.vmas() {
                let perms = format!(
                    "{}{}{}{}",
                    if v.prot & PROT_READ != 0 { 'r' } else { '-' },
                    if v.prot & PROT_WRITE != 0 { 'w' } else { '-' },
                    if v.prot & PROT_EXEC != 0 { 'x' } else { '-' },
                    if v.shared { 's' } else { 'p' }
                );
                let (dev, ino) = v.dev_ino;
                let line = format!(
                    "{:08x}-{:08x} {perms} {:08x} {:02x}:{:02x} {ino}",
                    v.start,
                    v.end,
                    v.offset(),
                    (dev >> 8) & 0xfff,
                    dev & 0xff
                );
                s.extend_from_slice(line.as_bytes());
                if !v.name.is_empty() {
                    let pad = 73usize.saturating_sub(line.len());
                    s.extend(std::iter::repeat_n(b' ', pad.max(1)));
                    s.extend_from_slice(&v.name);
                }
                s.push(b'\n');
            }
            s
        }
        "mounts" | "mountinfo" => mounts(k, &lock(&p.fs()).root.clone(), name == "mountinfo"),
        "stat" | "statm" => {
            let mmr = p.mm();
            let mm = lock(&mmr);
            let vsize: u64 = mm.vmas().map(|v| v.end - v.start).sum();
            let rss = mm.resident() / PAGE_SIZE;
            if name == "statm" {
                return Ok(format!("{} {rss} 0 0 0 0 0\n", vsize / PAGE_SIZE).into_bytes());
            }
            let start = p.start.duration_since(k.start).as_millis() as u64 / 10;
            format!(
                "{} ({comm}) {state} {ppid} {} {} 0 -1 4194304 0 0 0 0 0 0 0 0 20 0 1 0 {start} {vsize} {rss} 18446744073709551615 0 0 0 0 0 0 0 0 0 0 0 0 17 0 0 0 0 0 0 0 0 0 0 0 0 0 0\n",
                p.pid,
                p.pgid.load(std::sync::atomic::Ordering::Relaxed),
                p.sid.load(std::sync::atomic::Ordering::Relaxed),
                state = p.state_letter(),
            )
            .into_bytes()
        }
        "status" => {
            let c = lock(&p.creds).clone();
            let mmr = p.mm();
            let mm = lock(&mmr);
            let vsize: u64 = mm.vmas().map(|v| v.end - v.start).sum::<u64>() / 1024;
            let rss = mm.resident() / 1024;
            let umask = lock(&p.fs()).umask;
            let groups: Vec<String> = c.groups.iter().map(|g| g.to_string()).collect();
            format!(
                "Name:\t{comm}\nUmask:\t{umask:04o}\nState:\t{state}\nTgid:\t{pid}\nNgid:\t0\nPid:\t{pid}\nPPid:\t{ppid}\nTracerPid:\t0\nUid:\t{}\t{}\t{}\t{}\nGid:\t{}\t{}\t{}\t{}\nFDSize:\t64\nGroups:\t{}\nVmPeak:\t{vsize:8} kB\nVmSize:\t{vsize:8} kB\nVmRSS:\t{rss:8} kB\nThreads:\t{threads}\nSigQ:\t0/63432\nSigPnd:\t0000000000000000\nShdPnd:\t0000000000000000\nSigBlk:\t0000000000000000\nSigIgn:\t0000000000000000\nSigCgt:\t0000000000000000\nCapInh:\t0000000000000000\nCapPrm:\t000001ffffffffff\nCapEff:\t000001ffffffffff\nCapBnd:\t000001ffffffffff\nCapAmb:\t0000000000000000\nNoNewPrivs:\t1\nSeccomp:\t0\nCpus_allowed_list:\t0-{}\n",
                c.uid,
                c.euid,
                c.suid,
                c.fsuid,
                c.gid,
                c.egid,
                c.sgid,
                c.fsgid,
                groups.join(" "),
                crate::kernel::ncpus() - 1,
                pid = p.pid,
                state = match p.state_letter() {
                    'Z' => "Z (zombie)",
                    'T' => "T (stopped)",
                    _ => "S (sleeping)",
                },
                threads = lock(&p.threads).len(),
            )
            .into_bytes()
        }
        _ => return Err(Errno::ENOENT),
    })
}

/// An opened /proc file: the snapshot taken at open (when opened for
/// reading), and what writes do.
struct Snapshot {
    data: Vec<u8>,
    sink: Sink,
}

impl FileOps for Snapshot {
    fn read(&self, buf: &mut [u8], off: u64) -> KResult<usize> {
        let Ok(off) = usize::try_from(off) else { return Ok(0) };
        if off >= self.data.len() {
            return Ok(0);
        }
        let n = buf.len().min(self.data.len() - off);
        buf[..n].copy_from_slice(&self.data[off..off + n]);
        Ok(n)
    }

    fn write(&self, buf: &[u8], off: u64) -> KResult<usize> {
        self.sink.write(buf, off)
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
        let t = lock(&self.fs.kernel).upgrade().map(|k| k.start.elapsed()).unwrap_or_default();
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
                if name == "sys" {
                    return Ok(self.node(Kind::SysDir("sys")));
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
                if tid != *pid && !lock(&p.threads).iter().any(|t| t.tid == tid) {
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
                lock(&p.fds()).get(fd).map_err(|_| Errno::ENOENT)?;
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
                    if *n == "sys" {
                        push(Kind::SysDir("sys"), "sys".into(), DT_DIR);
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
                let mut tids: Vec<i32> = lock(&p.threads).iter().map(|t| t.tid).collect();
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
                let fds = lock(&p.fds()).fds();
                for fd in fds {
                    push(Kind::FdLink(*pid, fd), fd.to_string(), DT_LNK);
                }
            }
            Kind::FdInfoDir(pid) => {
                let p = self.process(*pid)?;
                let fds = lock(&p.fds()).fds();
                for fd in fds {
                    push(Kind::FdInfo(*pid, fd), fd.to_string(), DT_REG);
                }
            }
            _ => return Err(Errno::ENOTDIR),
        }
        Ok(out)
    }

    fn readlink(&self) -> KResult<Vec<u8>> {
        match &self.kind {
            Kind::SelfLink => {
                let p = current().ok_or(Errno::ENOENT)?;
                Ok(p.pid.to_string().into_bytes())
            }
            Kind::FdLink(pid, fd) => {
                let p = self.process(*pid)?;
                let f = lock(&p.fds()).get(*fd).map_err(|_| Errno::ENOENT)?;
                if let Some(n) = &f.anon_name {
                    return Ok(n.clone());
                }
                let loc = f.loc.clone().ok_or(Errno::ENOENT)?;
                let k = self.fs.kernel()?;
                let root = lock(&p.fs()).root.clone();
                Ok(k.vfs.shown_path(&loc, &root))
            }
            Kind::PidLink(..) => {
                let loc = self.magic_link().ok_or(Errno::ENOENT)?;
                let k = self.fs.kernel()?;
                let root = current().map(|p| lock(&p.fs()).root.clone()).unwrap_or_else(|| k.vfs.root());
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
                    "exe" => lock(&p.exe).clone(),
                    "cwd" => Some(lock(&p.fs()).cwd.clone()),
                    "root" => Some(lock(&p.fs()).root.clone()),
                    _ => None,
                }
            }
            Kind::FdLink(pid, fd) => {
                let p = self.process(*pid).ok()?;
                let f = lock(&p.fds()).get(*fd).ok()?;
                Some(f.loc.clone().unwrap_or_else(|| reopen_target(&f)))
            }
            _ => None,
        }
    }

    fn open(&self, flags: u32) -> KResult<FileRef> {
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
                let data = if flags & O_ACCMODE == O_WRONLY { Vec::new() } else { self.content()? };
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

/// Where `/proc/<pid>/fd/N` leads for a description with no path: its
/// inode (a pipe re-opens as a new end, a socket answers `ENXIO`, a memfd
/// opens again), or for an anonymous-inode file Linux's shared anon inode
/// (`ENXIO`; a pidfd re-opens as itself, as pidfs does).
fn reopen_target(f: &FileDescription) -> Location {
    let name = f.anon_name.clone().unwrap_or_default();
    anon_location(name, description_inode(f))
}

/// The inode of open file `f`: its own, or for an anonymous-inode file
/// (eventfd, epoll, signalfd, timerfd, inotify, pidfd) Linux's shared anon
/// inode, which `fstat` and `/proc/<pid>/fd/N` show.
pub fn description_inode(f: &FileDescription) -> InodeRef {
    f.inode.clone().unwrap_or_else(|| {
        if crate::syscalls::pidfd::process_of(f).is_some() {
            AnonInode::new(0o700, Some(f.file.clone()))
        } else {
            AnonInode::new(0o600, None)
        }
    })
}

/// `/proc/<pid>/limits`.
fn limits(r: &[abi::types::Rlimit; 16]) -> Vec<u8> {
    const NAMES: [(&str, &str); 16] = [
        ("Max cpu time", "seconds"),
        ("Max file size", "bytes"),
        ("Max data size", "bytes"),
        ("Max stack size", "bytes"),
        ("Max core file size", "bytes"),
        ("Max resident set", "bytes"),
        ("Max processes", "processes"),
        ("Max open files", "files"),
        ("Max locked memory", "bytes"),
        ("Max address space", "bytes"),
        ("Max file locks", "locks"),
        ("Max pending signals", "signals"),
        ("Max msgqueue size", "bytes"),
        ("Max nice priority", ""),
        ("Max realtime priority", ""),
        ("Max realtime timeout", "us"),
    ];
    let v = |x: u64| if x == RLIM_INFINITY { "unlimited".to_string() } else { x.to_string() };
    let mut s = format!("{:<25} {:<20} {:<20} {:<10}\n", "Limit", "Soft Limit", "Hard Limit", "Units");
    for (i, (name, unit)) in NAMES.iter().enumerate() {
        s += &format!("{:<25} {:<20} {:<20} {:<10}\n", name, v(r[i].rlim_cur), v(r[i].rlim_max), unit);
    }
    s.into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fs::pipe::{Pipe, PipeInode};

    #[test]
    fn fd_link_of_an_anonymous_inode_file_leads_to_an_inode_that_answers_enxio() {
        let f = FileDescription::new_anon(Arc::new(crate::fs::DirFile), None, O_RDWR, b"anon_inode:[eventfd]".to_vec());

        let loc = reopen_target(&f);

        assert_eq!(loc.dentry.name(), b"anon_inode:[eventfd]");
        assert_eq!(loc.inode().open(O_RDONLY).err(), Some(Errno::ENXIO));
    }

    #[test]
    fn fd_link_of_a_pipe_leads_to_the_pipe_and_reads_as_its_name() {
        let (r, w) = Pipe::pair();
        let inode: InodeRef = PipeInode::new(r.pipe(), 0, 0);
        let f = FileDescription::new_anon(w.clone(), Some(inode), O_WRONLY, b"pipe:[9]".to_vec());

        let loc = reopen_target(&f);
        let reader = loc.inode().open(O_RDONLY).expect("reopen");
        w.write(b"x", 0).expect("write");

        assert_eq!(reader.read(&mut [0u8; 2], 0), Ok(1));
        assert!(crate::vfs::anon::is_anon(&loc));
    }
}
