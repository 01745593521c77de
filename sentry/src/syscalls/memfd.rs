//! memfd_create and file seals (F_ADD_SEALS, F_GET_SEALS).

use abi::consts::{F_ADD_SEALS, MFD_ALLOW_SEALING, MFD_CLOEXEC, MFD_EXEC, MFD_HUGETLB, MFD_NAME_MAX, MFD_NOEXEC_SEAL};
use std::sync::{Arc, OnceLock};

use abi::consts::*;
use abi::Errno;

use sentry_macros::syscall;

use super::args::{MemfdFlags, UserCStr};
use super::file_of;
use crate::fs::{next_dev, Tmpfs, TmpfsInode};
use crate::kernel::Task;
use crate::vfs::Caller;
use crate::vfs::{CreateAttr, FileDescription, InodeRef, KResult};

pub(super) const F_GET_SEALS: u32 = 1034;

/// The tmpfs instance memfd inodes come from (none of them is linked).
fn memfd_fs() -> &'static Arc<Tmpfs> {
    static FS: OnceLock<Arc<Tmpfs>> = OnceLock::new();
    FS.get_or_init(|| Tmpfs::new(next_dev(), S_IFDIR | 0o1777, 0, 0))
}

/// An anonymous tmpfs file named `memfd:name`, sealable with
/// `MFD_ALLOW_SEALING`.
#[syscall]
pub fn memfd_create(t: &mut Task, name: UserCStr, flags: MemfdFlags) -> KResult<u64> {
    let flags = flags.0;
    if flags & !(MFD_CLOEXEC | MFD_ALLOW_SEALING | MFD_HUGETLB | MFD_NOEXEC_SEAL | MFD_EXEC) != 0
        || flags & (MFD_NOEXEC_SEAL | MFD_EXEC) == MFD_NOEXEC_SEAL | MFD_EXEC
        || flags & MFD_HUGETLB != 0
    {
        return Err(Errno::EINVAL);
    }
    let name = name.read_max(t, MFD_NAME_MAX + 1).map_err(|e| match e {
        Errno::ENAMETOOLONG => Errno::EINVAL,
        e => e,
    })?;
    if name.len() > MFD_NAME_MAX {
        return Err(Errno::EINVAL);
    }
    let creds = t.creds();
    let perm = if flags & MFD_NOEXEC_SEAL != 0 { 0o666 } else { 0o777 };
    let root = memfd_fs().root();
    let inode: InodeRef =
        root.create_tmpfile(CreateAttr { mode: S_IFREG | perm, uid: creds.fsuid, gid: creds.fsgid }, false)?;
    if flags & (MFD_ALLOW_SEALING | MFD_NOEXEC_SEAL) != 0 {
        if let Some(ti) = inode.as_any().downcast_ref::<TmpfsInode>() {
            ti.allow_sealing();
        }
    }
    let file = inode.open(Caller::of(t), O_RDWR)?;
    let mut shown = b"/memfd:".to_vec();
    shown.extend_from_slice(&name);
    shown.extend_from_slice(b" (deleted)");
    let fd = FileDescription::new_anon(file, Some(inode), O_RDWR | O_LARGEFILE, shown);
    t.fds.lock().insert_from(0, fd, flags & MFD_CLOEXEC != 0, super::fd_limit(t)).map(super::fd_result)
}

/// Whether `cmd` is `F_ADD_SEALS` or `F_GET_SEALS`.
pub fn is_seal_cmd(cmd: u32) -> bool {
    matches!(cmd, F_ADD_SEALS | F_GET_SEALS)
}

/// `fcntl(fd, F_ADD_SEALS | F_GET_SEALS, seals)`.
pub fn fcntl_seals(t: &Task, fd: i32, cmd: u32, seals_to_add: u32) -> KResult<u64> {
    let f = file_of(t, fd)?;
    let seals = f.file.seals().ok_or(Errno::EINVAL)?;
    if cmd == F_GET_SEALS {
        return Ok(u64::from(seals));
    }
    if !f.writable() {
        return Err(Errno::EPERM);
    }
    f.file.add_seals(seals_to_add).map(|_| 0)
}
