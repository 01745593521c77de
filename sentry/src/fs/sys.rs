//! `/sys`: a small, read-only tree of the files runtimes and tools probe
//! (CPU topology, the cgroup2 root with the sandbox's limits).

use abi::consts::*;
use abi::Errno;

use super::{next_dev, Tmpfs};
use crate::vfs::Caller;
use crate::vfs::{CreateAttr, Creds, InodeRef, NodeKind, SetAttr, Vfs};

/// A minimal, read-only `/sys`: the CPU topology files and an empty
/// cgroup2 root, which runtimes and tools probe.
pub fn new_sysfs() -> Result<InodeRef, Errno> {
    let fs = Tmpfs::new(next_dev(), S_IFDIR | 0o555, 0, 0);
    let root = fs.root();
    let n = crate::kernel::ncpus();
    let cpus = if n == 1 { "0\n".to_string() } else { format!("0-{}\n", n - 1) };
    let dir = |at: &InodeRef, name: &[u8]| -> Result<InodeRef, Errno> {
        at.create(name, NodeKind::Directory, CreateAttr { mode: S_IFDIR | 0o755, uid: 0, gid: 0 })
    };
    let file = |at: &InodeRef, name: &[u8], data: &[u8]| -> Result<(), Errno> {
        let f = at.create(name, NodeKind::Regular, CreateAttr { mode: S_IFREG | 0o444, uid: 0, gid: 0 })?;
        f.open(Caller::SENTRY, O_WRONLY)?.write(Caller::SENTRY, data, 0)?;
        Ok(())
    };
    let devices = dir(&root, b"devices")?;
    let system = dir(&devices, b"system")?;
    let cpu = dir(&system, b"cpu")?;
    for name in [&b"online"[..], b"possible", b"present"] {
        file(&cpu, name, cpus.as_bytes())?;
    }
    for i in 0..n {
        dir(&cpu, format!("cpu{i}").as_bytes())?;
    }
    let fsdir = dir(&root, b"fs")?;
    let cg = dir(&fsdir, b"cgroup")?;
    file(&cg, b"cgroup.controllers", b"\n")?;
    file(&cg, b"cgroup.subtree_control", b"\n")?;
    file(&cg, b"cgroup.procs", b"")?;
    dir(&root, b"kernel")?;
    dir(&root, b"class")?;
    dir(&root, b"block")?;
    dir(&root, b"bus")?;
    Ok(root)
}

/// The limits in the cgroup2 root of `/sys`, where programs look for
/// them: `pids.max` and `memory.max` ("max" when unlimited), with both
/// controllers listed as enabled.
pub fn cgroup_limit_files(vfs: &Vfs, pids: Option<u64>, memory: Option<u64>) -> Result<(), Errno> {
    let root = vfs.root();
    let cg = vfs.resolve(Caller::SENTRY, &root, &root, b"/sys/fs/cgroup", true, &Creds::root())?;
    let show = |v: Option<u64>| v.map_or_else(|| "max\n".to_owned(), |n| format!("{n}\n"));
    cg.inode().lookup(b"cgroup.controllers")?.open(Caller::SENTRY, O_WRONLY)?.write(
        Caller::SENTRY,
        b"memory pids\n",
        0,
    )?;
    for (name, value) in [(&b"pids.max"[..], show(pids)), (b"memory.max", show(memory))] {
        // Written again by `bulwark update`.
        let f = match cg.inode().lookup(name) {
            Ok(f) => {
                f.set_attr(&SetAttr { size: Some(0), ..Default::default() })?;
                f
            }
            Err(Errno::ENOENT) => {
                cg.inode().create(name, NodeKind::Regular, CreateAttr { mode: S_IFREG | 0o444, uid: 0, gid: 0 })?
            }
            Err(e) => return Err(e),
        };
        f.open(Caller::SENTRY, O_WRONLY)?.write(Caller::SENTRY, value.as_bytes(), 0)?;
        cg.dentry.invalidate(name);
    }
    Ok(())
}
