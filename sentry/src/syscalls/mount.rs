//! Mounts inside the sandbox: `mount` (tmpfs, proc, bind, remount, move,
//! propagation changes), `umount2`, `chroot`, `pivot_root`.
//!
//! Changing mounts takes `CAP_SYS_ADMIN`, changing the root directory
//! `CAP_SYS_CHROOT`.

use abi::consts::{MS_MGC_MSK, MS_MGC_VAL};
use std::sync::Arc;

use abi::consts::*;
use abi::Errno;

use abi::flags::{MountFlags as Ms, UmountFlags as Mnt};
use sentry_macros::syscall;

use super::args::{MountFlags, UmountFlags, UserCStr};
use super::resolve_at;
use crate::fs::proc::ProcFs;
use crate::fs::{next_dev, Tmpfs};
use crate::kernel::Task;
use crate::vfs::{is_mount_root, may_access, KResult, Location};

/// The propagation changes, which one mount namespace has nothing to do
/// with.
const MS_PROPAGATION: Ms = Ms::MS_SHARED.union(Ms::MS_PRIVATE).union(Ms::MS_SLAVE).union(Ms::MS_UNBINDABLE);

/// Most data a file system's options may take (one page, as Linux copies).
const MAX_DATA: usize = 4096;

fn require(t: &Task, cap: u32) -> KResult<()> {
    if !t.creds().capable(cap) {
        return Err(Errno::EPERM);
    }
    Ok(())
}

fn require_admin(t: &Task) -> KResult<()> {
    require(t, CAP_SYS_ADMIN)
}

fn read_opt_str(t: &Task, s: UserCStr) -> KResult<Option<Vec<u8>>> {
    if s.is_null() {
        return Ok(None);
    }
    s.read(t).map(Some)
}

fn must_be_dir(loc: &Location) -> KResult<()> {
    if !loc.inode().attr()?.is_dir() {
        return Err(Errno::ENOTDIR);
    }
    Ok(())
}

/// The options of a new tmpfs: root mode, owner, and what to show in
/// `/proc/mounts`. `size=` and `nr_inodes=` are accepted and not enforced.
fn tmpfs_options(data: &[u8]) -> KResult<(u32, u32, u32, String)> {
    let (mut mode, mut uid, mut gid) = (0o1777, 0, 0);
    let mut shown = Vec::new();
    let text = std::str::from_utf8(data).map_err(|_| Errno::EINVAL)?;
    for opt in text.split(',').filter(|o| !o.is_empty()) {
        let (k, v) = opt.split_once('=').unwrap_or((opt, ""));
        let num = |radix| u32::from_str_radix(v, radix).map_err(|_| Errno::EINVAL);
        match k {
            "mode" => mode = num(8)? & 0o7777,
            "uid" => uid = num(10)?,
            "gid" => gid = num(10)?,
            "size" | "nr_inodes" | "nr_blocks" => {
                let digits = v.trim_end_matches(|c: char| "kKmMgG%".contains(c));
                digits.parse::<u64>().map_err(|_| Errno::EINVAL)?;
            }
            // Generic options mount(8) may pass along.
            "rw" | "ro" | "nosuid" | "nodev" | "noexec" | "relatime" | "noatime" | "strictatime" | "inode64" => {}
            _ => return Err(Errno::EINVAL),
        }
        if k != "rw" && k != "ro" {
            shown.push(opt.to_owned());
        }
    }
    Ok((mode, uid, gid, shown.join(",")))
}

/// Mount a file system, bind or move a mount, or change a mount's flags.
/// The flags are an `unsigned long` to Linux, whose flags all lie in the
/// low half.
#[syscall]
pub fn mount(
    t: &mut Task,
    source: UserCStr,
    target: UserCStr,
    filesystemtype: UserCStr,
    mountflags: MountFlags,
    data: UserCStr,
) -> KResult<u64> {
    require_admin(t)?;
    let mut raw = mountflags.0;
    if raw & MS_MGC_MSK == MS_MGC_VAL {
        raw &= !MS_MGC_MSK;
    }
    let flags = Ms::from_bits_retain(raw);
    let target_path = target.read(t)?;
    let target = resolve_at(t, AT_FDCWD, &target_path, true, false)?;
    let vfs = t.k.vfs.clone();
    if flags.contains(Ms::MS_REMOUNT) {
        if !is_mount_root(&target) {
            return Err(Errno::EINVAL);
        }
        target.mount.set_readonly(flags.contains(Ms::MS_RDONLY));
        return Ok(0);
    }
    if flags.contains(Ms::MS_BIND) {
        let src_path = read_opt_str(t, source)?.ok_or(Errno::EFAULT)?;
        let src = resolve_at(t, AT_FDCWD, &src_path, true, false)?;
        if src.inode().attr()?.is_dir() != target.inode().attr()?.is_dir() {
            return Err(Errno::ENOTDIR);
        }
        vfs.bind(&src, &target, flags.contains(Ms::MS_REC));
        return Ok(0);
    }
    if flags.intersects(MS_PROPAGATION) {
        // One mount namespace, nothing to propagate to: accepted as is.
        return Ok(0);
    }
    if flags.contains(Ms::MS_MOVE) {
        let src_path = read_opt_str(t, source)?.ok_or(Errno::EFAULT)?;
        let src = resolve_at(t, AT_FDCWD, &src_path, true, false)?;
        vfs.move_mount(&src, &target)?;
        return Ok(0);
    }
    let fstype = read_opt_str(t, filesystemtype)?.ok_or(Errno::EFAULT)?;
    let source = read_opt_str(t, source)?.unwrap_or_else(|| b"none".to_vec());
    let source = String::from_utf8_lossy(&source).into_owned();
    let data = if data.is_null() { Vec::new() } else { data.read_max(t, MAX_DATA)? };
    must_be_dir(&target)?;
    let readonly = flags.contains(Ms::MS_RDONLY);
    match fstype.as_slice() {
        b"tmpfs" => {
            let (mode, uid, gid, shown) = tmpfs_options(&data)?;
            let fs = Tmpfs::new(next_dev(), S_IFDIR | mode, uid, gid);
            vfs.mount_dentry(&target, crate::vfs::Dentry::root(fs.root()), "tmpfs", &source, &shown, readonly);
        }
        b"proc" => {
            let fs = ProcFs::new(next_dev());
            fs.set_kernel(&t.k);
            vfs.mount(&target, fs.root(), "proc", &source, readonly);
        }
        _ => return Err(Errno::ENODEV),
    }
    Ok(0)
}

/// Detach the mount at `target`.
#[syscall]
pub fn umount2(t: &mut Task, target: UserCStr, flags: UmountFlags) -> KResult<u64> {
    require_admin(t)?;
    let Some(flags) = Mnt::from_bits(flags.0) else { return Err(Errno::EINVAL) };
    if flags.contains(Mnt::MNT_EXPIRE) && flags.intersects(Mnt::MNT_FORCE | Mnt::MNT_DETACH) {
        return Err(Errno::EINVAL);
    }
    let p = target.read(t)?;
    let loc = resolve_at(t, AT_FDCWD, &p, !flags.contains(Mnt::UMOUNT_NOFOLLOW), false)?;
    // The topmost mount here: `umount2(".")` after `pivot_root(".", ".")`
    // takes away the old root stacked on the working directory.
    let loc = t.k.vfs.cross_down(loc);
    t.k.vfs.umount(&loc, flags.contains(Mnt::MNT_DETACH))?;
    Ok(0)
}

/// Change the root directory of the calling process.
#[syscall]
pub fn chroot(t: &mut Task, path: UserCStr) -> KResult<u64> {
    let p = path.read(t)?;
    let loc = resolve_at(t, AT_FDCWD, &p, true, false)?;
    let attr = loc.inode().attr()?;
    if !attr.is_dir() {
        return Err(Errno::ENOTDIR);
    }
    may_access(&attr, &t.creds(), X_OK)?;
    require(t, CAP_SYS_CHROOT)?;
    t.fsc.lock().root = loc;
    Ok(0)
}

fn same(a: &Location, b: &Location) -> bool {
    Arc::ptr_eq(&a.mount, &b.mount) && Arc::ptr_eq(&a.dentry, &b.dentry)
}

/// Make `new_root` the root mount and put the old one at `put_old`.
#[syscall]
pub fn pivot_root(t: &mut Task, new_root: UserCStr, put_old: UserCStr) -> KResult<u64> {
    require_admin(t)?;
    let (n, o) = (new_root.read(t)?, put_old.read(t)?);
    let new_root = resolve_at(t, AT_FDCWD, &n, true, false)?;
    let put_old = resolve_at(t, AT_FDCWD, &o, true, false)?;
    must_be_dir(&new_root)?;
    must_be_dir(&put_old)?;
    let old_root = t.fs().root;
    t.k.vfs.pivot_root(&new_root, &put_old, &old_root)?;
    // As Linux does: every root and working directory at the old root
    // moves to the new one.
    for p in t.k.all_processes() {
        let fsc = p.fs();
        let mut fs = fsc.lock();
        if same(&fs.root, &old_root) {
            fs.root = new_root.clone();
        }
        if same(&fs.cwd, &old_root) {
            fs.cwd = new_root.clone();
        }
    }
    let mut fs = t.fsc.lock();
    if same(&fs.root, &old_root) {
        fs.root = new_root.clone();
    }
    if same(&fs.cwd, &old_root) {
        fs.cwd = new_root;
    }
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tmpfs_options_take_mode_in_octal_and_accept_size() {
        let (mode, uid, gid, shown) = tmpfs_options(b"size=64m,mode=755,uid=5").expect("valid options");

        assert_eq!((mode, uid, gid, shown.as_str()), (0o755, 5, 0, "size=64m,mode=755,uid=5"));
    }

    #[test]
    fn tmpfs_options_reject_unknown_keys() {
        assert_eq!(tmpfs_options(b"bogus=1").err(), Some(Errno::EINVAL));
    }
}
