//! `futex(2)`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use abi::consts::*;
use abi::types::Timespec;
use abi::Errno;
use sentry_macros::syscall;

use super::args::{Call, FutexOp, SysArg, UserAddr, UserPtr};
use crate::kernel::futex::FutexKey;
use crate::kernel::Task;
use crate::vfs::KResult;

const BITSET_ANY: u32 = u32::MAX;

/// The wait-queue key of the futex word at `addr`: private futexes by
/// address space and address, shared ones by the MemoryFile page, so that
/// processes sharing memory meet on the same queue.
fn key(t: &Task, addr: u64, private: bool) -> KResult<FutexKey> {
    if !addr.is_multiple_of(4) {
        return Err(Errno::EINVAL);
    }
    let mut mm = t.mm.lock();
    // As in Linux, a futex in private memory has the same key whether the
    // call says private or shared; only MAP_SHARED memory is keyed by page.
    if private || !mm.find_vma(addr).is_some_and(|v| v.shared) {
        return Ok((Arc::as_ptr(&t.mm) as usize, addr));
    }
    Ok((0, mm.translate(addr)?))
}

fn read_u32(t: &Task, addr: u64) -> KResult<u32> {
    t.read_val::<u32>(addr)
}

fn realtime_now() -> Duration {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default()
}

fn monotonic_now() -> Duration {
    Duration::from_nanos(crate::host::monotonic_ns())
}

/// The deadline of a wait: `timeout` is relative for FUTEX_WAIT and absolute
/// (on the chosen clock) for FUTEX_WAIT_BITSET.
fn deadline(t: &Task, addr: u64, absolute: bool, realtime: bool) -> KResult<Option<Instant>> {
    if addr == 0 {
        return Ok(None);
    }
    let ts: Timespec = t.read_val(addr)?;
    if ts.tv_sec < 0 || !(0..1_000_000_000).contains(&ts.tv_nsec) {
        return Err(Errno::EINVAL);
    }
    let d = Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32);
    let rel = if absolute {
        let now = if realtime { realtime_now() } else { monotonic_now() };
        d.saturating_sub(now)
    } else {
        d
    };
    Ok(Some(Instant::now() + rel))
}

/// The command of the operation in argument 1 of a futex call being
/// printed.
fn printed_cmd(c: &Call<'_>) -> u32 {
    c.raw[1] as u32 & !(FUTEX_PRIVATE_FLAG | FUTEX_CLOCK_REALTIME)
}

fn futex_arg3_str(c: &Call<'_>, i: usize) -> String {
    match printed_cmd(c) {
        FUTEX_WAIT | FUTEX_WAIT_BITSET => <UserPtr<Timespec> as SysArg>::strace(c, i),
        FUTEX_REQUEUE | FUTEX_CMP_REQUEUE | FUTEX_WAKE_OP => (c.raw[i] as u32).to_string(),
        _ => String::new(),
    }
}

super::args::call_arg!(/// Argument 3 of `futex`: a timeout for the waits, a count (`val2`) for the
    /// requeues and `FUTEX_WAKE_OP`; strace shows it only where it is used.
    FutexArg3(u64), futex_arg3_str);

fn futex_uaddr2_str(c: &Call<'_>, i: usize) -> String {
    match printed_cmd(c) {
        FUTEX_REQUEUE | FUTEX_CMP_REQUEUE | FUTEX_WAKE_OP => <UserAddr as SysArg>::strace(c, i),
        _ => String::new(),
    }
}

super::args::call_arg!(/// Argument 4 of `futex`: the second futex word, of the requeues and
    /// `FUTEX_WAKE_OP`.
    FutexUaddr2(u64), futex_uaddr2_str);

fn futex_val3_str(c: &Call<'_>, i: usize) -> String {
    let v = c.raw[i] as u32;
    match printed_cmd(c) {
        FUTEX_WAIT_BITSET | FUTEX_WAKE_BITSET if v == BITSET_ANY => "FUTEX_BITSET_MATCH_ANY".into(),
        FUTEX_WAIT_BITSET | FUTEX_WAKE_BITSET | FUTEX_WAKE_OP => format!("{v:#x}"),
        FUTEX_CMP_REQUEUE => v.to_string(),
        _ => String::new(),
    }
}

super::args::call_arg!(/// Argument 5 of `futex`: the bitset of the `_BITSET` operations, the
    /// expected value of `FUTEX_CMP_REQUEUE`, the encoded operation of
    /// `FUTEX_WAKE_OP`.
    FutexVal3(u32), futex_val3_str);

/// Wait on, wake, or requeue waiters of the futex word at `uaddr`.
#[syscall]
pub fn futex(
    t: &mut Task,
    uaddr: UserAddr,
    futex_op: FutexOp,
    val: u32,
    timeout: FutexArg3,
    uaddr2: FutexUaddr2,
    val3: FutexVal3,
) -> KResult<u64> {
    let (uaddr, op, timeout, uaddr2, val3) = (uaddr.0, futex_op.0 as u32, timeout.0, uaddr2.0, val3.0);
    let cmd = op & !(FUTEX_PRIVATE_FLAG | FUTEX_CLOCK_REALTIME);
    let private = op & FUTEX_PRIVATE_FLAG != 0;
    let key = |t: &Task, addr: u64| key(t, addr, private);
    let realtime = op & FUTEX_CLOCK_REALTIME != 0;
    match cmd {
        FUTEX_WAIT | FUTEX_WAIT_BITSET => {
            let bitset = if cmd == FUTEX_WAIT { BITSET_ANY } else { val3 };
            let k = key(t, uaddr)?;
            let dl = deadline(t, timeout, cmd == FUTEX_WAIT_BITSET, realtime)?;
            let k2 = t.k.clone();
            let tt: &Task = t;
            k2.futexes.wait(k, bitset, dl, &tt.waiter, || tt.signal_pending(), || Ok(read_u32(tt, uaddr)? == val))?;
            Ok(0)
        }
        FUTEX_WAKE | FUTEX_WAKE_BITSET => {
            let bitset = if cmd == FUTEX_WAKE { BITSET_ANY } else { val3 };
            let k = key(t, uaddr)?;
            t.k.futexes.wake(k, val, bitset)
        }
        FUTEX_REQUEUE | FUTEX_CMP_REQUEUE => {
            if cmd == FUTEX_CMP_REQUEUE && read_u32(t, uaddr)? != val3 {
                return Err(Errno::EAGAIN);
            }
            let (k1, k2) = (key(t, uaddr)?, key(t, uaddr2)?);
            Ok(t.k.futexes.requeue(k1, k2, val, timeout as u32))
        }
        FUTEX_WAKE_OP => {
            let (k1, k2) = (key(t, uaddr)?, key(t, uaddr2)?);
            let oparg_raw = (val3 >> 12) & 0xfff;
            let cmparg = val3 & 0xfff;
            let opnum = (val3 >> 28) & 7;
            let shift = (val3 >> 28) & 8 != 0;
            let cmp = (val3 >> 24) & 15;
            let oparg = if shift { 1u32.checked_shl(oparg_raw).unwrap_or(0) } else { oparg_raw };
            let old = read_u32(t, uaddr2)?;
            let new = match opnum {
                0 => oparg,
                1 => old.wrapping_add(oparg),
                2 => old | oparg,
                3 => old & !oparg,
                4 => old ^ oparg,
                _ => return Err(Errno::ENOSYS),
            };
            t.write_val(uaddr2, &new)?;
            let mut n = t.k.futexes.wake(k1, val, BITSET_ANY)?;
            let (o, c) = (old as i32, cmparg as i32);
            let hit = match cmp {
                0 => o == c,
                1 => o != c,
                2 => o < c,
                3 => o <= c,
                4 => o > c,
                5 => o >= c,
                _ => return Err(Errno::ENOSYS),
            };
            if hit {
                n += t.k.futexes.wake(k2, timeout as u32, BITSET_ANY)?;
            }
            Ok(n)
        }
        // Priority-inheritance futexes are not supported.
        _ => Err(Errno::ENOSYS),
    }
}
