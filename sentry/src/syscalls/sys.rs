//! System information and per-process settings, as Linux's kernel/sys.c:
//! uname, sethostname, sysinfo, umask.

use abi::types::{Sysinfo, Utsname};
use abi::Errno;
use sentry_macros::syscall;
use zerocopy::FromZeroes;

use super::args::{quote, InBuf, Mode, UserPtr, UserType};
use crate::kernel::Task;
use crate::vfs::KResult;

/// The kernel release the sandbox reports unless told another
/// ([`crate::Config::release`]: `bulwark do` gives the host's).
pub const RELEASE: &[u8] = b"6.1.0-bulwark";
/// The kernel version string.
pub const VERSION: &[u8] = b"#1 SMP PREEMPT_DYNAMIC bulwark";

fn fill(dst: &mut [u8; 65], src: &[u8]) {
    let n = src.len().min(64);
    dst[..n].copy_from_slice(&src[..n]);
}

/// A `utsname` field up to its NUL.
fn field(f: &[u8; 65]) -> String {
    let n = f.iter().position(|&b| b == 0).unwrap_or(f.len());
    quote(&f[..n], 64, false)
}

/// strace's `struct utsname`: the first two fields.
impl UserType for Utsname {
    fn strace(&self) -> Option<String> {
        Some(format!("{{sysname={}, nodename={}, ...}}", field(&self.sysname), field(&self.nodename)))
    }
}

impl UserType for Sysinfo {}

/// The system's name, release and machine.
#[syscall]
pub fn uname(t: &mut Task, buf: UserPtr<Utsname>) -> KResult<u64> {
    let mut u = Utsname::new_zeroed();
    fill(&mut u.sysname, b"Linux");
    fill(&mut u.nodename, &t.k.hostname.lock());
    fill(&mut u.release, &t.k.release.lock());
    fill(&mut u.version, VERSION);
    fill(&mut u.machine, b"x86_64");
    fill(&mut u.domainname, &t.k.domainname.lock());
    buf.write(t, &u)?;
    Ok(0)
}

/// Set the host name of the sandbox's UTS namespace (`CAP_SYS_ADMIN`,
/// asked before the length).
#[syscall]
pub fn sethostname(t: &mut Task, name: InBuf<1>, len: usize) -> KResult<u64> {
    if !t.creds().capable(abi::consts::CAP_SYS_ADMIN) {
        return Err(Errno::EPERM);
    }
    if len > 64 {
        return Err(Errno::EINVAL);
    }
    *t.k.hostname.lock() = name.read(t, len)?;
    Ok(0)
}

/// Uptime, memory and process figures.
#[syscall]
pub fn sysinfo(t: &mut Task, info: UserPtr<Sysinfo>) -> KResult<u64> {
    // The host's figures (read by the sentry, not the application),
    // capped by the memory limit as /proc/meminfo is; in bytes (mem_unit 1).
    let (total, free, _) = crate::host::memory();
    let (totalram, freeram) = match t.k.mf.limit() {
        Some(l) => (total.min(l), free.min(l.saturating_sub(t.k.mf.used()))),
        None => (total, free),
    };
    let s = Sysinfo {
        uptime: t.k.start.elapsed().as_secs() as i64,
        totalram,
        freeram,
        sharedram: 0,
        bufferram: 0,
        totalswap: 0,
        freeswap: 0,
        procs: t.k.pids().len() as u16,
        mem_unit: 1,
        ..Default::default()
    };
    info.write(t, &s)?;
    Ok(0)
}

/// Set the file mode creation mask; the result is the old one.
#[syscall]
pub fn umask(t: &mut Task, mask: Mode) -> KResult<u64> {
    let mut fs = t.fsc.lock();
    let old = fs.umask;
    fs.umask = mask.0 & 0o777;
    Ok(u64::from(old))
}
