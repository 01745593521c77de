//! Bringing the sandbox up: memory, platform, mounts, the first task.

use std::os::fd::OwnedFd;
use std::sync::{Arc, OnceLock, Weak};

use abi::consts::*;
use abi::Errno;

use crate::fs::proc::ProcFs;
use crate::fs::{new_devfs, next_dev, DevPts, GoferFs, GoferFsOptions, HostInode, OverlayFs, Tmpfs};
use crate::kernel::{FsContext, Kernel, Task, TaskExit};
use crate::mm::MemoryFile;
use crate::vfs::Caller;
use crate::vfs::{CreateAttr, Creds, FdTable, FileDescription, InodeRef, Location, NodeKind, Vfs};
use crate::{Config, SandboxError};

/// The `PATH` used to find the program when the environment has none.
const DEFAULT_PATH: &[u8] = b"/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

fn gofer_err(what: &str, e: Errno) -> SandboxError {
    SandboxError::Gofer(format!("{what}: {e}"))
}

/// The directory `name` under `parent`, made (0755) if missing.
fn ensure_dir(vfs: &Vfs, parent: &Location, name: &[u8]) -> Result<Location, SandboxError> {
    ensure_dir_mode(vfs, parent, name, 0o755)
}

/// [`ensure_dir`], made with permission bits `mode` if missing.
fn ensure_dir_mode(vfs: &Vfs, parent: &Location, name: &[u8], mode: u32) -> Result<Location, SandboxError> {
    let d = match parent.dentry.child(name) {
        Ok(d) => d,
        Err(Errno::ENOENT) => {
            parent
                .inode()
                .create(name, NodeKind::Directory, CreateAttr { mode: S_IFDIR | mode, uid: 0, gid: 0 })
                .map_err(|e| gofer_err(&format!("creating /{}", String::from_utf8_lossy(name)), e))?;
            parent.dentry.invalidate(name);
            parent.dentry.child(name).map_err(|e| gofer_err("mount point", e))?
        }
        Err(e) => return Err(gofer_err(&format!("/{}", String::from_utf8_lossy(name)), e)),
    };
    Ok(vfs.cross_down(Location { mount: parent.mount.clone(), dentry: d }))
}

/// The directory at absolute `path`, each missing component made (0755)
/// as [`ensure_dir`] does.
fn ensure_path(vfs: &Vfs, path: &[u8]) -> Result<Location, SandboxError> {
    let root = vfs.root();
    let mut cur = root.clone();
    for comp in path.split(|b| *b == b'/').filter(|c| !c.is_empty()) {
        cur = match vfs.resolve(Caller::SENTRY, &root, &cur, comp, true, &Creds::root()) {
            Ok(loc) => loc,
            Err(Errno::ENOENT) => ensure_dir(vfs, &cur, comp)?,
            Err(e) => return Err(gofer_err(&format!("mount point {}", String::from_utf8_lossy(path)), e)),
        };
    }
    if !cur.inode().attr().is_ok_and(|a| a.is_dir()) {
        return Err(gofer_err(&format!("mount point {}", String::from_utf8_lossy(path)), Errno::ENOTDIR));
    }
    Ok(cur)
}

/// Where a single file is bind-mounted: the non-directory at absolute
/// `path`, or an empty regular file (0644, root's) made there as runc makes
/// one, its missing parent directories made as [`ensure_path`] makes them.
/// A directory there is `ENOTDIR`, as `mount(2)` answers a file bound on a
/// directory.
fn ensure_file(vfs: &Vfs, path: &[u8]) -> Result<Location, SandboxError> {
    let shown = String::from_utf8_lossy(path).into_owned();
    let fail = |e| gofer_err(&format!("mount point {shown}"), e);
    let cut = path.iter().rposition(|b| *b == b'/').ok_or_else(|| fail(Errno::EINVAL))?;
    let (dir, name) = (&path[..cut], &path[cut + 1..]);
    if name.is_empty() || name == b"." || name == b".." {
        return Err(fail(Errno::ENOTDIR));
    }
    let parent = ensure_path(vfs, dir)?;
    let at = match vfs.resolve(Caller::SENTRY, &vfs.root(), &parent, name, true, &Creds::root()) {
        Ok(loc) => loc,
        Err(Errno::ENOENT) => {
            let attr = CreateAttr { mode: S_IFREG | 0o644, uid: 0, gid: 0 };
            parent.inode().create(name, NodeKind::Regular, attr).map_err(fail)?;
            parent.dentry.invalidate(name);
            Location { mount: parent.mount.clone(), dentry: parent.dentry.child(name).map_err(fail)? }
        }
        Err(e) => return Err(fail(e)),
    };
    if at.inode().attr().map_err(fail)?.is_dir() {
        return Err(fail(Errno::ENOTDIR));
    }
    Ok(at)
}

/// Ends the sandbox when a gofer connection breaks (the gofer died or
/// spoke out of protocol): that is the sandbox's failure, not an error of
/// the application's, so every process is killed and [`run`] returns the
/// reason instead of the program's status.
#[derive(Default)]
struct Teardown {
    reason: OnceLock<String>,
    kernel: OnceLock<Weak<Kernel>>,
}

impl Teardown {
    fn fail(&self, why: &str) {
        let _ = self.reason.set(why.to_string());
        if let Some(k) = self.kernel.get().and_then(Weak::upgrade) {
            tracing::error!("{why}: ending the sandbox");
            for p in k.all_processes() {
                p.group_exit(TaskExit::Signal(SIGKILL as i32));
            }
        }
    }

    /// The sandbox error, once a gofer connection has broken.
    fn check(&self) -> Result<(), SandboxError> {
        match self.reason.get() {
            Some(why) => Err(SandboxError::Gofer(why.clone())),
            None => Ok(()),
        }
    }

    /// A client whose broken transport ends the sandbox.
    fn client(self: &Arc<Self>, sock: OwnedFd) -> Arc<gofer::GoferClient> {
        let client = Arc::new(gofer::GoferClient::new(sock));
        let t = self.clone();
        client.on_broken(move |why| t.fail(why));
        client
    }
}

/// The `--bind` and `--tmpfs` mounts, in order.
fn extra_mounts(vfs: &Vfs, binds: Vec<crate::Bind>, tmpfs: &[Vec<u8>], td: &Arc<Teardown>) -> Result<(), SandboxError> {
    for b in binds {
        let name = String::from_utf8_lossy(&b.dst).into_owned();
        let client = td.client(b.gofer);
        // The host may change a bind mount behind our back: revalidate.
        let opts = GoferFsOptions { writable: !b.readonly, revalidate: true };
        let fs = GoferFs::with_options(client, next_dev(), opts).map_err(|e| gofer_err(&format!("bind {name}"), e))?;
        let root = fs.root();
        // A gofer serving a single file has that file as its root.
        let is_dir = root.attr().map_err(|e| gofer_err(&format!("bind {name}"), e))?.is_dir();
        let at = if is_dir { ensure_path(vfs, &b.dst)? } else { ensure_file(vfs, &b.dst)? };
        vfs.mount(&at, root, "9p", &String::from_utf8_lossy(&b.src), b.readonly);
    }
    for dst in tmpfs {
        let at = ensure_path(vfs, dst)?;
        vfs.mount(&at, Tmpfs::new(next_dev(), S_IFDIR | 0o1777, 0, 0).root(), "tmpfs", "tmpfs", false);
    }
    Ok(())
}

/// The file systems of the sandbox: the root, /dev, /dev/pts, /dev/shm,
/// /proc, /tmp.
fn build_mounts(
    cfg_overlay: bool,
    gofer: OwnedFd,
    procfs: &Arc<ProcFs>,
    devpts: &DevPts,
    td: &Arc<Teardown>,
) -> Result<Arc<Vfs>, SandboxError> {
    let client = td.client(gofer);
    let (root, fstype): (InodeRef, &str) = if cfg_overlay {
        let lower = GoferFs::new(client, next_dev()).map_err(|e| gofer_err("attaching the root", e))?;
        let upper = Tmpfs::new(next_dev(), S_IFDIR | 0o755, 0, 0);
        let ov = OverlayFs::new(lower.root(), upper, next_dev()).map_err(|e| gofer_err("overlay", e))?;
        (ov.root(), "overlay")
    } else {
        // The root is the sandbox's alone: cached, written through.
        let opts = GoferFsOptions { writable: true, revalidate: false };
        let fs = GoferFs::with_options(client, next_dev(), opts).map_err(|e| gofer_err("attaching the root", e))?;
        (fs.root(), "9p")
    };
    let vfs = Vfs::new(root, fstype, "root");
    let r = vfs.root();
    let dev = ensure_dir(&vfs, &r, b"dev")?;
    let devfs = new_devfs(next_dev()).map_err(|e| gofer_err("/dev", e))?;
    vfs.mount(&dev, devfs.root(), "tmpfs", "none", false);
    let dev = ensure_dir(&vfs, &r, b"dev")?;
    let pts = ensure_dir(&vfs, &dev, b"pts")?;
    vfs.mount(&pts, devpts.root(), "devpts", "devpts", false);
    let shm = ensure_dir(&vfs, &dev, b"shm")?;
    vfs.mount(&shm, Tmpfs::new(next_dev(), S_IFDIR | 0o1777, 0, 0).root(), "tmpfs", "shm", false);
    let proc_ = ensure_dir(&vfs, &r, b"proc")?;
    vfs.mount(&proc_, procfs.root(), "proc", "proc", false);
    let sys = ensure_dir(&vfs, &r, b"sys")?;
    let sysfs = crate::fs::sys::new_sysfs().map_err(|e| gofer_err("/sys", e))?;
    vfs.mount(&sys, sysfs, "sysfs", "sysfs", true);
    Ok(vfs)
}

/// `/tmp`: the rootfs's own, as natively (host files under `/tmp` are
/// there, writes land where the root's do). A rootfs without one gets a
/// `1777` directory. With a read-only root, `/tmp` stays writable: it is
/// then a mount of its own, an in-memory layer over the rootfs's `/tmp`.
fn mount_tmp(vfs: &Vfs, readonly_root: bool) -> Result<(), SandboxError> {
    let tmp = ensure_dir_mode(vfs, &vfs.root(), b"tmp", 0o1777)?;
    if !readonly_root {
        return Ok(());
    }
    let upper = Tmpfs::new(next_dev(), S_IFDIR | 0o1777, 0, 0);
    let ov = OverlayFs::new(tmp.inode().clone(), upper, next_dev()).map_err(|e| gofer_err("/tmp overlay", e))?;
    vfs.mount(&tmp, ov.root(), "overlay", "tmp", false);
    Ok(())
}

/// What a donated host descriptor looks like in `/proc/<pid>/fd`.
fn host_fd_name(mode: u32, ino: u64, rdev: u64) -> Vec<u8> {
    match mode & S_IFMT {
        S_IFIFO => format!("pipe:[{ino}]").into_bytes(),
        S_IFSOCK => format!("socket:[{ino}]").into_bytes(),
        S_IFCHR => crate::fs::device_path(rdev),
        _ => format!("host:[{ino}]").into_bytes(),
    }
}

/// The application's descriptors 0, 1 and 2: the donated host ones. A
/// host pty among them becomes entry `/dev/pts/<its host number>` of
/// `devpts` (its `st_dev` then devpts's), so that the path
/// `/proc/self/fd/N` names leads to the same inode (`ttyname`).
fn stdio_table(stdio: [OwnedFd; 3], devpts: &DevPts) -> Result<FdTable, SandboxError> {
    let mut fds = FdTable::new();
    let dev = next_dev();
    for (n, fd) in stdio.into_iter().enumerate() {
        // The access mode the host gave the descriptor.
        let fl = nix::fcntl::fcntl(&fd, nix::fcntl::FcntlArg::F_GETFL).unwrap_or(-1);
        let acc = if fl < 0 {
            if n == 0 {
                O_RDONLY
            } else {
                O_WRONLY
            }
        } else {
            // The access mode and the status flags the host's description
            // has (`>>` gives O_APPEND), which F_GETFL shows.
            fl as u32 & (O_ACCMODE | O_APPEND | O_NONBLOCK)
        };
        let pty = nix::sys::stat::fstat(&fd)
            .ok()
            .filter(|st| st.st_mode & S_IFMT == S_IFCHR)
            .and_then(|st| crate::fs::devpts::pty_number(st.st_rdev));
        let inode_dev = if pty.is_some() { devpts.dev() } else { dev };
        let inode = HostInode::new(fd, inode_dev).map_err(|e| SandboxError::Gofer(format!("stdio {n}: {e}")))?;
        if let Some(number) = pty {
            devpts.add(number, inode.clone());
        }
        let attr = crate::vfs::Inode::attr(&*inode).unwrap_or_default();
        let name = host_fd_name(attr.mode, attr.ino, attr.rdev);
        let file = inode.file();
        let desc = FileDescription::new_anon(file, Some(inode as InodeRef), acc, name);
        fds.insert_at(n as i32, desc, false);
    }
    Ok(fds)
}

fn env_path(envp: &[Vec<u8>]) -> Vec<u8> {
    envp.iter().find_map(|e| e.strip_prefix(b"PATH=")).map_or_else(|| DEFAULT_PATH.to_vec(), <[u8]>::to_vec)
}

/// The directory `dir` of the sandbox, looked up with `creds`.
fn dir_in(vfs: &Vfs, dir: &[u8], creds: &Creds) -> Result<crate::vfs::Location, Errno> {
    let root = vfs.root();
    let loc = vfs.resolve(Caller::SENTRY, &root, &root, dir, true, creds)?;
    if loc.inode().attr()?.is_dir() {
        Ok(loc)
    } else {
        Err(Errno::ENOTDIR)
    }
}

/// The running sandbox, as its control socket sees it.
struct Controlled {
    k: Arc<Kernel>,
    vfs: Arc<Vfs>,
    devpts: DevPts,
    setup: crate::container::Setup,
}

impl crate::control::Sandbox for Controlled {
    fn exec(
        &self,
        req: crate::control::ExecRequest,
        stdio: [OwnedFd; 3],
    ) -> Result<(i32, crate::control::Wait), String> {
        exec_process(&self.k, &self.vfs, &self.devpts, &self.setup, req, stdio)
    }

    fn pause(&self) {
        self.k.freeze();
    }

    fn resume(&self) {
        self.k.thaw();
    }

    fn paused(&self) -> bool {
        self.k.frozen.load(std::sync::atomic::Ordering::SeqCst)
    }

    fn stats(&self) -> crate::control::Stats {
        crate::control::Stats {
            pids: self.k.pids.current(),
            pids_limit: self.k.pids.max(),
            memory_bytes: self.k.mf.used(),
            memory_limit: self.k.mf.limit(),
        }
    }

    fn signal(&self, pid: i32, sig: i32) {
        let Some(p) = self.k.process(pid) else { return };
        if let Ok(sig) = u32::try_from(sig) {
            if (1..=64).contains(&sig) {
                self.k.signal_process(&p, crate::kernel::signal::info_from(sig, crate::kernel::signal::SI_USER, 0, 0));
            }
        }
    }

    fn update(&self, limits: &crate::control::Limits) {
        if let Some(p) = limits.pids {
            self.k.pids.set_max(p);
        }
        if let Some(m) = limits.memory {
            self.k.mf.set_limit(m);
        }
        let (pids, memory) = (self.k.pids.max(), self.k.mf.limit());
        if let Err(e) = crate::fs::sys::cgroup_limit_files(&self.vfs, pids, memory) {
            tracing::warn!("update: the cgroup files inside: {e}");
        }
    }
}

/// `bulwark exec`: run `req` in the sandbox as a process of its own (no
/// parent, leading its own session, as a process `runc exec` starts), on a
/// sentry thread of its own. Returns its pid and how to wait for its wait
/// status (the exit code, or 128+N after signal N).
fn exec_process(
    k: &Arc<Kernel>,
    vfs: &Arc<Vfs>,
    devpts: &DevPts,
    setup: &crate::container::Setup,
    req: crate::control::ExecRequest,
    stdio: [OwnedFd; 3],
) -> Result<(i32, crate::control::Wait), String> {
    let (tx, rx) = std::sync::mpsc::channel();
    let (k, vfs, devpts, setup) = (k.clone(), vfs.clone(), devpts.clone(), setup.clone());
    let thread = std::thread::Builder::new().name("bulwark-task".into()).spawn(move || {
        let started = (|| -> Result<Task, String> {
            // A terminal of its own (`exec --tty`): the controlling terminal
            // of the session the process leads.
            let tty = nix::sys::stat::fstat(&stdio[0])
                .ok()
                .filter(|_| nix::unistd::isatty(&stdio[0]).unwrap_or(false))
                .map(|st| st.st_rdev)
                .filter(|&r| {
                    k.host_tty.get().and_then(|h| nix::sys::stat::fstat(h).ok()).is_none_or(|h| h.st_rdev != r)
                });
            let fds = stdio_table(stdio, &devpts).map_err(|e| e.to_string())?;
            let caps = req.caps.unwrap_or_else(|| setup.caps_for(req.uid));
            let groups = req.groups.clone().unwrap_or_else(|| vec![req.gid]);
            let creds = Creds::of(req.uid, req.gid, groups, caps);
            let cwd = dir_in(&vfs, &req.cwd, &creds)
                .map_err(|e| format!("working directory {}: {}", String::from_utf8_lossy(&req.cwd), e.message()))?;
            let fs = FsContext { root: vfs.root(), cwd, umask: 0o022 };
            let prog = req.argv.first().cloned().unwrap_or_default();
            let name = String::from_utf8_lossy(&prog).into_owned();
            let mut task = Task::new_init(k.clone(), fds, fs, creds).map_err(|e| format!("{name}: {}", e.message()))?;
            let pid = task.pid();
            setup.apply_to(&task.proc_);
            task.proc_.pgid.store(pid, std::sync::atomic::Ordering::Relaxed);
            task.proc_.sid.store(pid, std::sync::atomic::Ordering::Relaxed);
            if let Some(rdev) = tty {
                k.set_exec_tty(rdev, pid);
            }
            let started = find_program(&task, &prog, &req.envp).and_then(|path| task.execve(&path, req.argv, req.envp));
            if let Err(e) = started {
                // The process exists: it ends as any process does, closing
                // its descriptors and leaving the process table.
                task.proc_.group_exit(TaskExit::Code(127));
                task.run();
                return Err(format!("{name}: {}", e.message()));
            }
            Ok(task)
        })();
        match started {
            Ok(mut task) => {
                let _ = tx.send(Ok((task.pid(), k.process(task.pid()))));
                let exit = task.run();
                drop(task);
                exit
            }
            Err(e) => {
                let _ = tx.send(Err(e));
                TaskExit::Code(127)
            }
        }
    });
    let thread = thread.map_err(|e| format!("thread: {e}"))?;
    let (pid, proc_) = rx.recv().map_err(|_| "the sandbox is ending".to_owned())??;
    let wait = move || {
        let exit = thread.join().unwrap_or(TaskExit::Code(255));
        // The first thread may end before its process (pthread_exit).
        let exit = proc_.map_or(exit, |p| {
            let w = crate::kernel::waiter::Waiter::new();
            if let Ok(w) = w {
                loop {
                    p.exit_wq.add(&w);
                    if p.is_zombie() {
                        break;
                    }
                    w.wait(&[], None);
                }
            }
            p.exit.lock().group_exit.unwrap_or(exit)
        });
        match exit {
            TaskExit::Code(c) => c,
            TaskExit::Signal(s) => 128 + s,
        }
    };
    Ok((pid, Box::new(wait)))
}

/// Find `prog` as a shell would: as given when it has a `/`, else in `PATH`.
fn find_program(task: &Task, prog: &[u8], envp: &[Vec<u8>]) -> Result<Vec<u8>, Errno> {
    if prog.contains(&b'/') {
        return Ok(prog.to_vec());
    }
    let mut first_err = Errno::ENOENT;
    for dir in env_path(envp).split(|b| *b == b':') {
        let mut p = if dir.is_empty() { b".".to_vec() } else { dir.to_vec() };
        p.push(b'/');
        p.extend_from_slice(prog);
        match task.open_exec(&p) {
            Ok(_) => return Ok(p),
            Err(Errno::EACCES) => first_err = Errno::EACCES,
            Err(_) => {}
        }
    }
    Err(first_err)
}

/// Run the sandbox described by `cfg` to completion, on the calling thread
/// (which must be allowed to ptrace and fork). Returns how the program
/// ended: its exit code, or the signal that killed it.
pub fn run(cfg: Config) -> Result<TaskExit, SandboxError> {
    // The sentry's own writes to a closed pipe must come back as EPIPE.
    crate::kernel::host_signals::ignore_sigpipe();
    cfg.container.validate().map_err(SandboxError::Config)?;
    // Before any thread starts, so that every thread blocks them.
    let host_signals =
        crate::kernel::host_signals::take().map_err(|err| SandboxError::Host { call: "signalfd", err })?;
    crate::kernel::ncpus();
    let mf = Arc::new(MemoryFile::new().map_err(|err| SandboxError::Host { call: "memfd_create", err })?);
    mf.set_limit(cfg.memory_limit);
    let platform = platform::new(&cfg.platform, mf.fd())?;
    let procfs = ProcFs::new(next_dev());
    let teardown = Arc::new(Teardown::default());
    let devpts = DevPts::new(next_dev());
    let vfs = build_mounts(cfg.overlay, cfg.gofer, &procfs, &devpts, &teardown)?;
    mount_tmp(&vfs, cfg.readonly)?;
    extra_mounts(&vfs, cfg.binds, &cfg.tmpfs, &teardown)?;
    cfg.container
        .apply_paths(&vfs)
        .map_err(|(path, e)| gofer_err(&format!("masking {}", String::from_utf8_lossy(&path)), e))?;
    crate::fs::sys::cgroup_limit_files(&vfs, cfg.pids_limit, cfg.memory_limit)
        .map_err(|e| gofer_err("/sys/fs/cgroup", e))?;
    if cfg.readonly {
        vfs.root().mount.set_readonly(true);
    }
    let strace = if cfg.strace {
        match cfg.strace_out {
            Some(f) => Some(f),
            None => {
                let fd = cfg.stdio[2].try_clone().map_err(|err| SandboxError::Host { call: "dup", err })?;
                Some(std::fs::File::from(fd))
            }
        }
    } else {
        None
    };
    if let Some(nic) = cfg.nic {
        crate::net::stack::start(nic).map_err(|err| SandboxError::Host { call: "network stack", err })?;
    }
    let kernel = Kernel::new(mf, platform, vfs.clone(), &cfg.hostname, strace, cfg.host_network);
    let _ = teardown.kernel.set(Arc::downgrade(&kernel));
    if let Some(text) = &cfg.app_seccomp {
        let filter = crate::syscalls::filter::AppFilter::parse(text).map_err(SandboxError::Config)?;
        let _ = kernel.app_filter.set(filter);
    }
    kernel.pids.set_max(cfg.pids_limit);
    cfg.container.apply_sysctls(&kernel);
    procfs.set_kernel(&kernel);
    crate::fs::pty::install(devpts.ptys(), &kernel);
    if let Some(release) = cfg.release {
        *kernel.release.lock() = release.into_bytes();
    }
    crate::kernel::host_signals::start(&kernel, host_signals)
        .map_err(|err| SandboxError::Host { call: "spawn", err })?;
    if let Ok(stdin) = cfg.stdio[0].try_clone() {
        if nix::unistd::isatty(&stdin).unwrap_or(false) {
            let _ = kernel.host_tty.set(stdin);
        }
    }
    let fds = stdio_table(cfg.stdio, &devpts)?;
    let root = vfs.root();
    let creds = cfg.container.creds(cfg.user);
    let dir_at = |dir: &[u8]| dir_in(&vfs, dir, &creds);
    let cwd = match &cfg.cwd {
        crate::Cwd::Required(dir) => {
            dir_at(dir).map_err(|e| SandboxError::Cwd { dir: String::from_utf8_lossy(dir).into_owned(), err: e })?
        }
        crate::Cwd::Preferred(dir) => dir_at(dir).unwrap_or_else(|_| root.clone()),
    };
    let fs = FsContext { root: root.clone(), cwd, umask: 0o022 };
    let control = match cfg.control {
        Some(sock) => Some(
            crate::control::wait_for_start(sock).map_err(|err| SandboxError::Host { call: "control socket", err })?,
        ),
        None => None,
    };
    let mut task = Task::new_first(kernel.clone(), fds, fs, creds, cfg.init).map_err(|e| SandboxError::Exec {
        program: String::from_utf8_lossy(cfg.argv.first().map_or(&b""[..], |v| v)).into_owned(),
        err: e,
    })?;
    let prog = cfg.argv.first().cloned().unwrap_or_default();
    let path = find_program(&task, &prog, &cfg.envp);
    let started = path.and_then(|p| task.execve(&p, cfg.argv.clone(), cfg.envp.clone()));
    if let Err(e) = started {
        // The program could not start because the gofer is gone: that is
        // the sandbox's failure, as it is once the program runs.
        teardown.check()?;
        let name = String::from_utf8_lossy(&prog);
        eprintln!("bulwark: cannot run {name}: {}", e.message());
        tracing::warn!("cannot run {name}: {e}");
        return Ok(TaskExit::Code(if e == Errno::ENOENT { 127 } else { 126 }));
    }
    cfg.container.apply_to(&task.proc_);
    let main = kernel.process(task.pid());
    if let Some(listener) = control {
        let sandbox =
            Box::new(Controlled { k: kernel.clone(), vfs: vfs.clone(), devpts, setup: cfg.container.clone() });
        crate::control::serve(listener, sandbox).map_err(|err| SandboxError::Host { call: "spawn", err })?;
    }
    // The last start-up step is done: from here on the sentry makes only
    // the host calls its policy lists, on every thread.
    crate::seccomp::install(cfg.host_network)?;
    let exit = task.run();
    drop(task);
    // The first thread may end before its process (pthread_exit in main):
    // the sandbox lasts until the program's process itself has exited.
    let status = match main {
        Some(p) => {
            let w = crate::kernel::waiter::Waiter::new().map_err(|e| SandboxError::Gofer(format!("waiter: {e}")))?;
            loop {
                p.exit_wq.add(&w);
                if p.is_zombie() {
                    break;
                }
                w.wait(&[], None);
            }
            p.exit.lock().group_exit.unwrap_or(exit)
        }
        None => exit,
    };
    teardown.check()?;
    Ok(status)
}
