//! Writes to /proc files: what each writable file does with what is
//! written, with Linux's parsing, range and permission checks.
//!
//! | file | a write |
//! |---|---|
//! | `<pid>/oom_score_adj` | -1000..=1000 (`EINVAL` outside); below the floor needs privilege (`EACCES`) |
//! | `<pid>/oom_adj` | -17..=15, scaled to `oom_score_adj`; lowering needs privilege |
//! | `<pid>/comm`, `<pid>/task/<tid>/comm` | the thread's name (15 bytes), own thread group only (`EINVAL`) |
//! | `sys/kernel/hostname`, `domainname` | the sandbox's UTS names (what `uname` shows) |
//! | `sys/net/ipv4/ip_unprivileged_port_start` | 0..=65535 (`EINVAL` outside), with `CAP_NET_ADMIN` (`EPERM`) |
//! | other `sys/` files | refused at open with `EACCES`: mode 0444 ones as on Linux, the rest belong to the host, as in a user-namespace container |
//! | other `<pid>/` files, `fdinfo` | `EINVAL` (open succeeds, as on Linux) |
//! | /proc's own files (`cpuinfo` ...) | `EIO` (`mounts`: `EINVAL`, it is `self/mounts` on Linux) |

use std::sync::{Arc, Weak};

use abi::Errno;

use super::Kind;
use crate::kernel::{Kernel, OomAdj, Process};
use crate::vfs::Caller;
use crate::vfs::KResult;

/// `OOM_SCORE_ADJ_MIN`, `OOM_SCORE_ADJ_MAX`.
const OOM_SCORE_ADJ: std::ops::RangeInclusive<i32> = -1000..=1000;
/// `OOM_DISABLE`, `OOM_ADJUST_MAX`: the legacy `oom_adj` range.
const OOM_ADJ: std::ops::RangeInclusive<i32> = -17..=15;
/// `PROC_NUMBUF - 1`: how much of a write a number is read from.
const NUMBUF: usize = 12;
/// `TASK_COMM_LEN - 1`.
const COMM_MAX: usize = 15;
/// `__NEW_UTS_LEN`.
const UTS_MAX: usize = 64;

/// What writes to an open /proc file do.
pub(super) enum Sink {
    /// Not writable: every write fails with this errno.
    Refuse(Errno),
    OomScoreAdj(Weak<Process>),
    OomAdj(Weak<Process>),
    /// A thread's name: the process and the thread id.
    Comm(Weak<Process>, i32),
    Hostname(Weak<Kernel>),
    Domainname(Weak<Kernel>),
    UnprivilegedPortStart(Weak<Kernel>),
}

impl Sink {
    /// What writing the file of `kind` does, decided when it is opened
    /// for writing; `EACCES` for a file no write may open.
    pub(super) fn for_kind(kind: &Kind, k: &Arc<Kernel>, p: Option<Arc<Process>>) -> KResult<Sink> {
        let proc_ = || p.as_ref().map(Arc::downgrade).ok_or(Errno::ESRCH);
        Ok(match kind {
            Kind::Static("sys/kernel/hostname") => Sink::Hostname(Arc::downgrade(k)),
            Kind::Static("sys/kernel/domainname") => Sink::Domainname(Arc::downgrade(k)),
            Kind::Static("sys/net/ipv4/ip_unprivileged_port_start") => Sink::UnprivilegedPortStart(Arc::downgrade(k)),
            Kind::Static(name) if name.starts_with("sys/") => return Err(Errno::EACCES),
            Kind::Static("mounts") => Sink::Refuse(Errno::EINVAL),
            Kind::Static(_) => Sink::Refuse(Errno::EIO),
            Kind::PidFile(_, "oom_score_adj") | Kind::ThreadFile(_, _, "oom_score_adj") => Sink::OomScoreAdj(proc_()?),
            Kind::PidFile(_, "oom_adj") | Kind::ThreadFile(_, _, "oom_adj") => Sink::OomAdj(proc_()?),
            Kind::PidFile(pid, "comm") => Sink::Comm(proc_()?, *pid),
            Kind::ThreadFile(_, tid, "comm") => Sink::Comm(proc_()?, *tid),
            _ => Sink::Refuse(Errno::EINVAL),
        })
    }

    /// Write `buf` at `off`; the count written, as Linux reports it.
    pub(super) fn write(&self, cx: Caller<'_>, buf: &[u8], off: u64) -> KResult<usize> {
        let privileged = cx.process().is_some_and(|w| w.creds.lock().capable(abi::consts::CAP_SYS_RESOURCE));
        match self {
            Sink::Refuse(e) => Err(*e),
            Sink::OomScoreAdj(p) => {
                let (n, v) = read_number(buf)?;
                if !OOM_SCORE_ADJ.contains(&v) {
                    return Err(Errno::EINVAL);
                }
                set_oom(&mut alive(p)?.oom.lock(), v, false, privileged)?;
                Ok(n)
            }
            Sink::OomAdj(p) => {
                let (n, v) = read_number(buf)?;
                if !OOM_ADJ.contains(&v) {
                    return Err(Errno::EINVAL);
                }
                let adj = if v == *OOM_ADJ.end() { *OOM_SCORE_ADJ.end() } else { v * 1000 / 17 };
                set_oom(&mut alive(p)?.oom.lock(), adj, true, privileged)?;
                Ok(n)
            }
            Sink::Comm(p, tid) => {
                let p = alive(p)?;
                if cx.process().is_none_or(|w| w.pid != p.pid) {
                    return Err(Errno::EINVAL);
                }
                let name = until_nul(&buf[..buf.len().min(COMM_MAX)]).to_vec();
                if let Some(th) = p.threads.lock().iter().find(|t| t.tid == *tid) {
                    *th.comm.lock() = name.clone();
                }
                if *tid == p.pid {
                    *p.comm.lock() = name;
                }
                Ok(buf.len())
            }
            Sink::Hostname(k) => write_uts(&alive(k)?.hostname, buf, off),
            Sink::Domainname(k) => write_uts(&alive(k)?.domainname, buf, off),
            Sink::UnprivilegedPortStart(k) => {
                if !cx.process().is_some_and(|w| w.creds.lock().capable(abi::consts::CAP_NET_ADMIN)) {
                    return Err(Errno::EPERM);
                }
                let (n, v) = read_number(buf)?;
                let v = u32::try_from(v).ok().filter(|&v| v <= 65535).ok_or(Errno::EINVAL)?;
                alive(k)?.unprivileged_port_start.store(v, std::sync::atomic::Ordering::Relaxed);
                Ok(n)
            }
        }
    }
}

fn alive<T>(w: &Weak<T>) -> KResult<Arc<T>> {
    w.upgrade().ok_or(Errno::ESRCH)
}

fn until_nul(b: &[u8]) -> &[u8] {
    b.iter().position(|c| *c == 0).map_or(b, |i| &b[..i])
}

/// A number written to an `oom_*` file: the first [`NUMBUF`] bytes, as
/// `kstrtoint(strstrip(..), 0)` reads them. Returns the count the write
/// reports and the value.
fn read_number(buf: &[u8]) -> KResult<(usize, i32)> {
    let n = buf.len().min(NUMBUF);
    Ok((n, parse_int(until_nul(&buf[..n]).trim_ascii())?))
}

/// Linux's `kstrtoint(s, 0)`: an optional sign, then decimal, `0x` hex or
/// `0` octal digits and at most one trailing newline; `EINVAL` for anything
/// else, `ERANGE` for a value outside `i32`.
fn parse_int(s: &[u8]) -> KResult<i32> {
    let (neg, s) = match s {
        [b'-', rest @ ..] => (true, rest),
        [b'+', rest @ ..] => (false, rest),
        _ => (false, s),
    };
    let (radix, digits) = match s {
        [b'0', b'x' | b'X', d, ..] if d.is_ascii_hexdigit() => (16, &s[2..]),
        [b'0', ..] => (8, s),
        _ => (10, s),
    };
    let end = digits.iter().position(|c| !char::from(*c).is_digit(radix)).unwrap_or(digits.len());
    if end == 0 {
        return Err(Errno::EINVAL);
    }
    let mut v: u64 = 0;
    for c in &digits[..end] {
        let d = u64::from(char::from(*c).to_digit(radix).ok_or(Errno::EINVAL)?);
        v = v.checked_mul(u64::from(radix)).and_then(|v| v.checked_add(d)).ok_or(Errno::ERANGE)?;
    }
    if !matches!(&digits[end..], [] | [b'\n']) {
        return Err(Errno::EINVAL);
    }
    let v = i64::try_from(v).map_err(|_| Errno::ERANGE)?;
    i32::try_from(if neg { -v } else { v }).map_err(|_| Errno::ERANGE)
}

/// Linux's `__set_oom_adj`: lowering `oom_adj` below the current value, or
/// `oom_score_adj` below its floor, needs `CAP_SYS_RESOURCE`; a privileged `oom_score_adj` write moves the floor.
fn set_oom(o: &mut OomAdj, adj: i32, legacy: bool, privileged: bool) -> KResult<()> {
    let adj = i16::try_from(adj).map_err(|_| Errno::EINVAL)?;
    let floor = if legacy { o.adj } else { o.min };
    if adj < floor && !privileged {
        return Err(Errno::EACCES);
    }
    o.adj = adj;
    if !legacy && privileged {
        o.min = adj;
    }
    Ok(())
}

/// A write to a UTS name sysctl, as `proc_dostring` in strict mode: the
/// value keeps its first `off` bytes and takes the written bytes up to a
/// newline or NUL, at most [`UTS_MAX`] in all; a write past the end of the
/// value changes nothing. Every byte counts as written.
fn write_uts(field: &parking_lot::Mutex<Vec<u8>>, buf: &[u8], off: u64) -> KResult<usize> {
    let mut v = field.lock();
    let keep = usize::try_from(off).unwrap_or(usize::MAX);
    if keep > v.len().min(UTS_MAX) {
        return Ok(buf.len());
    }
    v.truncate(keep);
    let take = buf.iter().position(|c| *c == 0 || *c == b'\n').unwrap_or(buf.len());
    let room = UTS_MAX - keep;
    v.extend_from_slice(&buf[..take.min(room)]);
    Ok(buf.len())
}

/// What `/proc/<pid>/oom_adj` reads: `oom_score_adj` scaled to -17..=15.
pub(super) fn oom_adj_of(adj: i16) -> i32 {
    let adj = i32::from(adj);
    if adj == *OOM_SCORE_ADJ.end() {
        *OOM_ADJ.end()
    } else {
        adj * 17 / 1000
    }
}

/// What `/proc/<pid>/oom_score` reads, as Linux's `proc_oom_score`: the
/// badness (resident pages plus the adjustment in thousandths of memory)
/// scaled into 0..=2000; 0 for a process the OOM killer never picks.
pub(super) fn oom_score(adj: i16, resident_pages: u64, total_pages: u64) -> u64 {
    if i32::from(adj) == *OOM_SCORE_ADJ.start() {
        return 0;
    }
    let total = i128::from(total_pages.max(1));
    let badness = i128::from(resident_pages) + i128::from(adj) * (total / 1000);
    u64::try_from((1000 + badness * 1000 / total) * 2 / 3).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use parking_lot::Mutex;

    #[test]
    fn number_is_read_as_kstrtoint_reads_it() {
        assert_eq!(read_number(b"500\n"), Ok((4, 500)));
        assert_eq!(read_number(b" 0x10 \n"), Ok((7, 16)));
        assert_eq!(read_number(b"010"), Ok((3, 8)));
        assert_eq!(read_number(b"+5"), Ok((2, 5)));
        assert_eq!(read_number(b"-1000"), Ok((5, -1000)));
        assert_eq!(read_number(b"7\0junk"), Ok((6, 7)));
    }

    #[test]
    fn malformed_number_returns_einval() {
        for bad in [&b""[..], b"abc", b"5 6", b"08", b"0x", b"-+5", b"--5"] {
            assert_eq!(read_number(bad), Err(Errno::EINVAL), "{:?}", String::from_utf8_lossy(bad));
        }
    }

    #[test]
    fn number_outside_i32_returns_erange() {
        assert_eq!(read_number(b"99999999999999999999"), Err(Errno::ERANGE));
        assert_eq!(read_number(b"-3000000000"), Err(Errno::ERANGE));
    }

    #[test]
    fn unprivileged_oom_score_adj_may_not_go_below_its_floor() {
        let mut o = OomAdj { adj: 0, min: 0 };

        assert_eq!(set_oom(&mut o, 500, false, false), Ok(()));
        assert_eq!(set_oom(&mut o, 100, false, false), Ok(()));
        assert_eq!(set_oom(&mut o, -1, false, false), Err(Errno::EACCES));
        assert_eq!(o, OomAdj { adj: 100, min: 0 });
    }

    #[test]
    fn privileged_oom_score_adj_write_moves_the_floor() {
        let mut o = OomAdj::default();

        set_oom(&mut o, -500, false, true).expect("privileged");

        assert_eq!(o, OomAdj { adj: -500, min: -500 });
        assert_eq!(set_oom(&mut o, -600, false, false), Err(Errno::EACCES));
    }

    #[test]
    fn unprivileged_legacy_oom_adj_may_not_lower_the_value() {
        let mut o = OomAdj { adj: 1000, min: 0 };

        assert_eq!(set_oom(&mut o, 176, true, false), Err(Errno::EACCES));
        assert_eq!(o.adj, 1000);
    }

    #[test]
    fn oom_adj_reads_oom_score_adj_scaled() {
        assert_eq!(oom_adj_of(500), 8);
        assert_eq!(oom_adj_of(1000), 15);
        assert_eq!(oom_adj_of(-1000), -17);
        assert_eq!(oom_adj_of(-100), -1);
    }

    #[test]
    fn oom_score_follows_the_adjustment() {
        assert_eq!(oom_score(0, 0, 2_000_000), 666);
        assert_eq!(oom_score(500, 0, 2_000_000), 1000);
        assert_eq!(oom_score(-1000, 5000, 2_000_000), 0);
    }

    #[test]
    fn uts_write_replaces_up_to_a_newline_and_keeps_the_count() {
        let name = Mutex::new(b"old-name".to_vec());

        assert_eq!(write_uts(&name, b"new\nignored", 0), Ok(11));
        assert_eq!(*name.lock(), b"new");
    }

    #[test]
    fn uts_write_at_an_offset_appends_and_past_the_end_changes_nothing() {
        let name = Mutex::new(b"abc".to_vec());

        write_uts(&name, b"XY", 2).expect("append");
        assert_eq!(*name.lock(), b"abXY");
        assert_eq!(write_uts(&name, b"Z", 9), Ok(1));
        assert_eq!(*name.lock(), b"abXY");
    }

    #[test]
    fn uts_write_is_cut_at_64_bytes() {
        let name = Mutex::new(Vec::new());

        write_uts(&name, &[b'h'; 100], 0).expect("write");

        assert_eq!(name.lock().len(), 64);
    }
}
