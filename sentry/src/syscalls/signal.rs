//! Signal state: actions, the mask, the alternate stack. Delivery comes with
//! the process model; here the calls keep and report state as Linux does.

use abi::consts::*;
use abi::types::{KernelSigaction, StackT};
use abi::Errno;

use super::int_arg;
use crate::kernel::Task;
use crate::vfs::{lock, KResult};

fn sigbit(sig: u32) -> u64 {
    1u64 << (sig - 1)
}

const UNBLOCKABLE: u64 = (1 << (SIGKILL - 1)) | (1 << (SIGSTOP - 1));

pub fn rt_sigaction(t: &mut Task, a: &[u64; 6]) -> KResult<u64> {
    let sig = int_arg(a[0]);
    if a[3] != 8 || !(1..=NSIG as i32).contains(&sig) {
        return Err(Errno::EINVAL);
    }
    let sig = sig as u32;
    let new: Option<KernelSigaction> = if a[1] != 0 { Some(t.read_val(a[1])?) } else { None };
    if new.is_some() && (sig == SIGKILL || sig == SIGSTOP) {
        return Err(Errno::EINVAL);
    }
    let mut s = lock(&t.sig);
    let old = s.actions[(sig - 1) as usize];
    if let Some(mut n) = new {
        n.mask &= !UNBLOCKABLE;
        s.actions[(sig - 1) as usize] = n;
    }
    drop(s);
    if a[2] != 0 {
        t.write_val(a[2], &old)?;
    }
    Ok(0)
}

pub fn rt_sigprocmask(t: &mut Task, a: &[u64; 6]) -> KResult<u64> {
    if a[3] != 8 {
        return Err(Errno::EINVAL);
    }
    let old = t.sigmask;
    if a[1] != 0 {
        let set: u64 = t.read_val(a[1])?;
        let how = int_arg(a[0]) as u32;
        t.sigmask = match how {
            SIG_BLOCK => old | set,
            SIG_UNBLOCK => old & !set,
            SIG_SETMASK => set,
            _ => return Err(Errno::EINVAL),
        } & !UNBLOCKABLE;
    }
    if a[2] != 0 {
        t.write_val(a[2], &old)?;
    }
    let _ = sigbit;
    Ok(0)
}

pub fn sigaltstack(t: &mut Task, a: &[u64; 6]) -> KResult<u64> {
    let old = t.altstack;
    if a[0] != 0 {
        let ss: StackT = t.read_val(a[0])?;
        if ss.ss_flags & !(SS_DISABLE | (1 << 31)) != 0 {
            return Err(Errno::EINVAL);
        }
        if ss.ss_flags & SS_DISABLE != 0 {
            t.altstack = StackT { ss_flags: SS_DISABLE, ..Default::default() };
        } else {
            if ss.ss_size < MINSIGSTKSZ {
                return Err(Errno::ENOMEM);
            }
            t.altstack = ss;
        }
    }
    if a[1] != 0 {
        t.write_val(a[1], &old)?;
    }
    Ok(0)
}
