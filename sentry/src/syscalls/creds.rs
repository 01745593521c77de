//! Credentials: setuid and friends, groups, fsuid, capabilities.
//!
//! Privilege is a capability in the effective set: `CAP_SETUID` for any
//! uid, `CAP_SETGID` for any gid or group list; the rules are setuid(2)'s,
//! and a change of uid moves the capabilities as capabilities(7) says
//! (see `caps::Capabilities::setxuid`).

use abi::consts::{
    CAP_SETGID, CAP_SETUID, LINUX_CAPABILITY_VERSION_1 as CAP_V1, LINUX_CAPABILITY_VERSION_2 as CAP_V2,
    LINUX_CAPABILITY_VERSION_3 as CAP_V3,
};
use abi::types::{CapData, CapHeader};
use abi::Errno;
use sentry_macros::syscall;
use zerocopy::AsBytes;

use super::args::{UserAddr, UserPtr, UserType};
use crate::kernel::Task;
use crate::vfs::KResult;

const KEEP: u32 = u32::MAX;

/// Which ids an unprivileged caller may set a field to.
struct Allowed {
    real: &'static [usize],
    effective: &'static [usize],
    saved: &'static [usize],
}

/// `setreuid`: the real id from the old real or effective one, the
/// effective one from any of the three.
const RE: Allowed = Allowed { real: &[0, 1], effective: &[0, 1, 2], saved: &[] };
/// `setresuid`: each from any of the three.
const RES: Allowed = Allowed { real: &[0, 1, 2], effective: &[0, 1, 2], saved: &[0, 1, 2] };
/// An unprivileged `setuid`: the effective id from the real or saved one.
const ID: Allowed = Allowed { real: &[], effective: &[0, 2], saved: &[] };

/// The new real, effective and saved ids from `old` and the requested
/// `[r, e, s]` (`KEEP` for unchanged), `EPERM` if an unprivileged caller
/// asks for an id `allowed` does not give it. `follows`: `setreuid`'s
/// rule, the saved id following a new effective one.
fn new_ids(old: [u32; 3], want: [u32; 3], privileged: bool, allowed: &Allowed, follows: bool) -> KResult<[u32; 3]> {
    let from = |v: u32, fields: &[usize]| v == KEEP || privileged || fields.iter().any(|&i| old[i] == v);
    if !from(want[0], allowed.real) || !from(want[1], allowed.effective) || !from(want[2], allowed.saved) {
        return Err(Errno::EPERM);
    }
    let mut ids = old;
    for (id, v) in ids.iter_mut().zip(want) {
        if v != KEEP {
            *id = v;
        }
    }
    if follows && (want[0] != KEEP || (want[1] != KEEP && want[1] != old[0])) {
        ids[2] = ids[1];
    }
    Ok(ids)
}

/// Change the real, effective and saved uids to `want`; the fsuid follows
/// the effective one, and the capabilities the change.
fn set_uids(t: &Task, want: [u32; 3], allowed: &Allowed, follows: bool) -> KResult<u64> {
    let mut c = t.proc_.creds.lock();
    let old = [c.uid, c.euid, c.suid];
    let ids = new_ids(old, want, c.capable(CAP_SETUID), allowed, follows)?;
    [c.uid, c.euid, c.suid] = ids;
    c.fsuid = c.euid;
    c.caps = c.caps.setxuid(old, ids, t.proc_.keepcaps.load(std::sync::atomic::Ordering::Relaxed));
    Ok(0)
}

/// Change the real, effective and saved gids to `want`; the fsgid follows
/// the effective one.
fn set_gids(t: &Task, want: [u32; 3], allowed: &Allowed, follows: bool) -> KResult<u64> {
    let mut c = t.proc_.creds.lock();
    let old = [c.gid, c.egid, c.sgid];
    [c.gid, c.egid, c.sgid] = new_ids(old, want, c.capable(CAP_SETGID), allowed, follows)?;
    c.fsgid = c.egid;
    Ok(0)
}

super::args::named_arg!(/// A user or group id; `-1` (keep) prints as strace shows it.
    Id(u32), |v| if v == u32::MAX { "-1".into() } else { v.to_string() });

/// Set the user ids: all three with `CAP_SETUID`, else the effective one
/// to the real or saved one.
#[syscall]
pub fn setuid(t: &mut Task, uid: Id) -> KResult<u64> {
    let u = uid.0;
    if u == KEEP {
        return Err(Errno::EINVAL);
    }
    if t.creds().capable(CAP_SETUID) {
        set_uids(t, [u, u, u], &RES, false)
    } else {
        set_uids(t, [KEEP, u, KEEP], &ID, false)
    }
}

/// `setuid` for the group ids (`CAP_SETGID`).
#[syscall]
pub fn setgid(t: &mut Task, gid: Id) -> KResult<u64> {
    let g = gid.0;
    if g == KEEP {
        return Err(Errno::EINVAL);
    }
    if t.creds().capable(CAP_SETGID) {
        set_gids(t, [g, g, g], &RES, false)
    } else {
        set_gids(t, [KEEP, g, KEEP], &ID, false)
    }
}

/// Set the real and effective user ids (`-1` keeps one).
#[syscall]
pub fn setreuid(t: &mut Task, ruid: Id, euid: Id) -> KResult<u64> {
    set_uids(t, [ruid.0, euid.0, KEEP], &RE, true)
}

/// Set the real and effective group ids (`-1` keeps one).
#[syscall]
pub fn setregid(t: &mut Task, rgid: Id, egid: Id) -> KResult<u64> {
    set_gids(t, [rgid.0, egid.0, KEEP], &RE, true)
}

/// Set the real, effective and saved user ids (`-1` keeps one).
#[syscall]
pub fn setresuid(t: &mut Task, ruid: Id, euid: Id, suid: Id) -> KResult<u64> {
    set_uids(t, [ruid.0, euid.0, suid.0], &RES, false)
}

/// Set the real, effective and saved group ids (`-1` keeps one).
#[syscall]
pub fn setresgid(t: &mut Task, rgid: Id, egid: Id, sgid: Id) -> KResult<u64> {
    set_gids(t, [rgid.0, egid.0, sgid.0], &RES, false)
}

/// Set the file system user id (to one of the other three, or any with
/// `CAP_SETUID`; `-1` changes nothing); the result is the old one. Leaving
/// or coming back to 0 moves the file system capabilities.
#[syscall]
pub fn setfsuid(t: &mut Task, fsuid: Id) -> KResult<u64> {
    let mut c = t.proc_.creds.lock();
    let old = c.fsuid;
    let u = fsuid.0;
    if u != KEEP && ([c.uid, c.euid, c.suid, c.fsuid].contains(&u) || c.capable(CAP_SETUID)) {
        c.fsuid = u;
        c.caps = c.caps.setfsuid(old, u);
    }
    Ok(u64::from(old))
}

/// Set the file system group id (as `setfsuid`, with `CAP_SETGID`); the
/// result is the old one.
#[syscall]
pub fn setfsgid(t: &mut Task, fsgid: Id) -> KResult<u64> {
    let mut c = t.proc_.creds.lock();
    let old = c.fsgid;
    let g = fsgid.0;
    if g != KEEP && ([c.gid, c.egid, c.sgid, c.fsgid].contains(&g) || c.capable(CAP_SETGID)) {
        c.fsgid = g;
    }
    Ok(u64::from(old))
}

/// Set the supplementary groups (`CAP_SETGID`).
#[syscall]
pub fn setgroups(t: &mut Task, size: i32, list: UserAddr) -> KResult<u64> {
    if !t.creds().capable(CAP_SETGID) {
        return Err(Errno::EPERM);
    }
    let n = usize::try_from(size).ok().filter(|&n| n <= 65536).ok_or(Errno::EINVAL)?;
    let mut g = vec![0u32; n];
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

/// How many `__user_cap_data_struct`s a header's version carries (1 for
/// version 1, 2 for versions 2 and 3); for another version, `EINVAL`
/// with the version the kernel prefers written back.
fn data_count(t: &Task, hdrp: UserPtr<CapHeader>, h: &mut CapHeader) -> KResult<usize> {
    match h.version {
        CAP_V1 => Ok(1),
        CAP_V2 | CAP_V3 => Ok(2),
        _ => {
            h.version = CAP_V3;
            hdrp.write(t, h)?;
            Err(Errno::EINVAL)
        }
    }
}

/// The capabilities of the caller or of process `pid` (its effective,
/// permitted and inheritable sets). A null `datap` only checks the
/// version (a probe: 0 even for an unknown one, which is written back).
#[syscall]
pub fn capget(t: &mut Task, hdrp: UserPtr<CapHeader>, datap: UserAddr) -> KResult<u64> {
    let mut h = hdrp.read(t)?;
    let n = match data_count(t, hdrp, &mut h) {
        Err(Errno::EINVAL) if datap.0 == 0 => return Ok(0),
        r => r?,
    };
    if datap.0 == 0 {
        return Ok(0);
    }
    let caps = match h.pid {
        p if p < 0 => return Err(Errno::EINVAL),
        0 => t.creds().caps,
        p if p == t.tid => t.creds().caps,
        p => {
            let target = t.k.task(p).and_then(|th| th.process.upgrade()).ok_or(Errno::ESRCH)?;
            let caps = target.creds.lock().caps;
            caps
        }
    };
    let half = |v: u64, high: bool| (if high { v >> 32 } else { v & 0xffff_ffff }) as u32;
    let d = [false, true].map(|high| CapData {
        effective: half(caps.effective, high),
        permitted: half(caps.permitted, high),
        inheritable: half(caps.inheritable, high),
    });
    t.write_bytes(datap.0, d[..n].as_bytes())?;
    Ok(0)
}

/// Set the caller's effective, permitted and inheritable capabilities, as
/// `caps::Capabilities::capset` allows (`EPERM` otherwise); only the
/// caller's own (`pid` 0 or its thread id). Version 1 sets only the low
/// 32 capabilities, clearing the others, as Linux does.
#[syscall]
pub fn capset(t: &mut Task, hdrp: UserPtr<CapHeader>, datap: UserAddr) -> KResult<u64> {
    let mut h = hdrp.read(t)?;
    let n = data_count(t, hdrp, &mut h)?;
    if h.pid != 0 && h.pid != t.tid {
        return Err(Errno::EPERM);
    }
    let mut d = [CapData::default(); 2];
    t.read_bytes(datap.0, d[..n].as_bytes_mut())?;
    let join = |f: fn(&CapData) -> u32| u64::from(f(&d[0])) | (u64::from(f(&d[1])) << 32);
    let (effective, permitted, inheritable) = (join(|c| c.effective), join(|c| c.permitted), join(|c| c.inheritable));
    let mut c = t.proc_.creds.lock();
    c.caps = c.caps.capset(effective, permitted, inheritable)?;
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unprivileged_setreuid_takes_the_real_id_only_from_the_real_or_effective_one() {
        let old = [1000, 1001, 1002];

        assert_eq!(new_ids(old, [1001, KEEP, KEEP], false, &RE, true), Ok([1001, 1001, 1001]));
        assert_eq!(new_ids(old, [1002, KEEP, KEEP], false, &RE, true), Err(Errno::EPERM));
        assert_eq!(new_ids(old, [KEEP, 1002, KEEP], false, &RE, true), Ok([1000, 1002, 1002]));
        assert_eq!(new_ids(old, [KEEP, 1000, KEEP], false, &RE, true), Ok([1000, 1000, 1002]));
    }

    #[test]
    fn unprivileged_setuid_picks_the_real_or_saved_id_and_privilege_any() {
        let old = [1000, 1001, 1002];

        assert_eq!(new_ids(old, [KEEP, 1002, KEEP], false, &ID, false), Ok([1000, 1002, 1002]));
        assert_eq!(new_ids(old, [KEEP, 1001, KEEP], false, &ID, false), Err(Errno::EPERM));
        assert_eq!(new_ids(old, [7, 7, 7], true, &RES, false), Ok([7, 7, 7]));
        assert_eq!(new_ids(old, [7, KEEP, KEEP], false, &RES, false), Err(Errno::EPERM));
    }
}
