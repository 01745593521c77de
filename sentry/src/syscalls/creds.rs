//! Credentials: setuid and friends, groups, fsuid, capabilities.
//!
//! Privilege is uid 0 (the sandbox's root has every capability over the
//! sandbox's own objects); the rules are setuid(2)'s.

use abi::consts::{
    LINUX_CAPABILITY_VERSION_1 as CAP_V1, LINUX_CAPABILITY_VERSION_2 as CAP_V2, LINUX_CAPABILITY_VERSION_3 as CAP_V3,
};
use abi::types::{CapData, CapHeader};
use abi::Errno;
use sentry_macros::syscall;
use zerocopy::AsBytes;

use super::args::{UserAddr, UserPtr, UserType};
use crate::kernel::Task;
use crate::vfs::{Creds, KResult};

const KEEP: u32 = u32::MAX;

fn privileged(c: &Creds) -> bool {
    c.euid == 0
}

/// Apply a change of the real/effective/saved uids, checking that an
/// unprivileged caller only picks among its current ids.
fn set_uids(t: &Task, r: u32, e: u32, s: u32, saved_follows_effective: bool) -> KResult<u64> {
    let mut c = t.proc_.creds.lock();
    let ids = [c.uid, c.euid, c.suid];
    if !privileged(&c) {
        for v in [r, e, s] {
            if v != KEEP && !ids.contains(&v) {
                return Err(Errno::EPERM);
            }
        }
    }
    let old_r = c.uid;
    if r != KEEP {
        c.uid = r;
    }
    if e != KEEP {
        c.euid = e;
    }
    if s != KEEP {
        c.suid = s;
    } else if saved_follows_effective && (r != KEEP || (e != KEEP && e != old_r)) {
        c.suid = c.euid;
    }
    c.fsuid = c.euid;
    Ok(0)
}

fn set_gids(t: &Task, r: u32, e: u32, s: u32, saved_follows_effective: bool) -> KResult<u64> {
    let mut c = t.proc_.creds.lock();
    let ids = [c.gid, c.egid, c.sgid];
    if !privileged(&c) {
        for v in [r, e, s] {
            if v != KEEP && !ids.contains(&v) {
                return Err(Errno::EPERM);
            }
        }
    }
    let old_r = c.gid;
    if r != KEEP {
        c.gid = r;
    }
    if e != KEEP {
        c.egid = e;
    }
    if s != KEEP {
        c.sgid = s;
    } else if saved_follows_effective && (r != KEEP || (e != KEEP && e != old_r)) {
        c.sgid = c.egid;
    }
    c.fsgid = c.egid;
    Ok(0)
}

super::args::named_arg!(/// A user or group id; `-1` (keep) prints as strace shows it.
    Id(u32), |v| if v == u32::MAX { "-1".into() } else { v.to_string() });

/// Set the user ids: all three for a privileged caller, else the
/// effective one to the real or saved one.
#[syscall]
pub fn setuid(t: &mut Task, uid: Id) -> KResult<u64> {
    let u = uid.0;
    if u == KEEP {
        return Err(Errno::EINVAL);
    }
    let privileged = privileged(&t.proc_.creds.lock());
    if privileged {
        set_uids(t, u, u, u, false)
    } else {
        set_uids(t, KEEP, u, KEEP, false)
    }
}

/// `setuid` for the group ids.
#[syscall]
pub fn setgid(t: &mut Task, gid: Id) -> KResult<u64> {
    let g = gid.0;
    if g == KEEP {
        return Err(Errno::EINVAL);
    }
    let privileged = privileged(&t.proc_.creds.lock());
    if privileged {
        set_gids(t, g, g, g, false)
    } else {
        set_gids(t, KEEP, g, KEEP, false)
    }
}

/// Set the real and effective user ids (`-1` keeps one).
#[syscall]
pub fn setreuid(t: &mut Task, ruid: Id, euid: Id) -> KResult<u64> {
    set_uids(t, ruid.0, euid.0, KEEP, true)
}

/// Set the real and effective group ids (`-1` keeps one).
#[syscall]
pub fn setregid(t: &mut Task, rgid: Id, egid: Id) -> KResult<u64> {
    set_gids(t, rgid.0, egid.0, KEEP, true)
}

/// Set the real, effective and saved user ids (`-1` keeps one).
#[syscall]
pub fn setresuid(t: &mut Task, ruid: Id, euid: Id, suid: Id) -> KResult<u64> {
    set_uids(t, ruid.0, euid.0, suid.0, false)
}

/// Set the real, effective and saved group ids (`-1` keeps one).
#[syscall]
pub fn setresgid(t: &mut Task, rgid: Id, egid: Id, sgid: Id) -> KResult<u64> {
    set_gids(t, rgid.0, egid.0, sgid.0, false)
}

/// Set the file system user id; the result is the old one.
#[syscall]
pub fn setfsuid(t: &mut Task, fsuid: Id) -> KResult<u64> {
    let mut c = t.proc_.creds.lock();
    let old = c.fsuid;
    let u = fsuid.0;
    if privileged(&c) || [c.uid, c.euid, c.suid, c.fsuid].contains(&u) {
        c.fsuid = u;
    }
    Ok(u64::from(old))
}

/// Set the file system group id; the result is the old one.
#[syscall]
pub fn setfsgid(t: &mut Task, fsgid: Id) -> KResult<u64> {
    let mut c = t.proc_.creds.lock();
    let old = c.fsgid;
    let g = fsgid.0;
    if privileged(&c) || [c.gid, c.egid, c.sgid, c.fsgid].contains(&g) {
        c.fsgid = g;
    }
    Ok(u64::from(old))
}

/// Set the supplementary groups.
#[syscall]
pub fn setgroups(t: &mut Task, size: i32, list: UserAddr) -> KResult<u64> {
    let n = size;
    if !(0..=65536).contains(&n) {
        return Err(Errno::EINVAL);
    }
    if !privileged(&t.proc_.creds.lock()) {
        return Err(Errno::EPERM);
    }
    let mut g = vec![0u32; n as usize];
    t.read_bytes(list.0, g.as_bytes_mut())?;
    t.proc_.creds.lock().groups = g.into();
    Ok(0)
}

impl UserType for CapHeader {
    fn strace(&self) -> Option<String> {
        let version = match self.version {
            CAP_V3 => "_LINUX_CAPABILITY_VERSION_3".to_string(),
            CAP_V2 => "_LINUX_CAPABILITY_VERSION_2".to_string(),
            CAP_V1 => "_LINUX_CAPABILITY_VERSION_1".to_string(),
            v => format!("{v:#x}"),
        };
        Some(format!("{{version={version}, pid={}}}", self.pid))
    }
}

/// All 41 capabilities Linux 6.x defines.
const ALL_CAPS: u64 = (1 << 41) - 1;

/// The capabilities of a process (all of them for root, none otherwise);
/// a version the kernel does not know is answered with the one it prefers.
#[syscall]
pub fn capget(t: &mut Task, hdrp: UserPtr<CapHeader>, datap: UserAddr) -> KResult<u64> {
    let mut h = hdrp.read(t)?;
    if h.version != CAP_V3 && h.version != CAP_V2 && h.version != CAP_V1 {
        h.version = CAP_V3;
        hdrp.write(t, &h)?;
        return Err(Errno::EINVAL);
    }
    if h.pid != 0 && t.k.process(h.pid).is_none() {
        return Err(Errno::ESRCH);
    }
    if datap.0 == 0 {
        return Ok(0);
    }
    let caps = if t.proc_.creds.lock().euid == 0 { ALL_CAPS } else { 0 };
    let d = [
        CapData { effective: caps as u32, permitted: caps as u32, inheritable: 0 },
        CapData { effective: (caps >> 32) as u32, permitted: (caps >> 32) as u32, inheritable: 0 },
    ];
    let n = if h.version == CAP_V1 { 1 } else { 2 };
    t.write_bytes(datap.0, d[..n].as_bytes())?;
    Ok(0)
}

/// Set capabilities: only to the ones already held.
#[syscall]
pub fn capset(t: &mut Task, hdrp: UserPtr<CapHeader>, datap: UserAddr) -> KResult<u64> {
    let h = hdrp.read(t)?;
    if h.version != CAP_V3 && h.version != CAP_V2 {
        return Err(Errno::EINVAL);
    }
    if h.pid != 0 && h.pid != t.pid() {
        return Err(Errno::EPERM);
    }
    // Capabilities follow the uid here: dropping them is accepted only
    // when they are not held (a non-root process), else EPERM rather than
    // pretending they were dropped.
    let mut d = [CapData::default(); 2];
    t.read_bytes(datap.0, d.as_bytes_mut())?;
    let want = u64::from(d[0].permitted) | (u64::from(d[1].permitted) << 32);
    let have = if t.proc_.creds.lock().euid == 0 { ALL_CAPS } else { 0 };
    if want & !have != 0 {
        return Err(Errno::EPERM);
    }
    if want != have {
        return Err(Errno::EPERM);
    }
    Ok(0)
}
