//! rseq.

use abi::Errno;
use sentry_macros::syscall;

use super::args::{Hex, UserAddr};
use crate::kernel::Task;
use crate::vfs::KResult;

/// Restartable sequences are not offered: `ENOSYS`, which glibc probes for
/// at start-up and does without (as on kernels before 4.18).
#[syscall]
pub fn rseq(_t: &mut Task, rseq: UserAddr, rseq_len: Hex, flags: i32, sig: Hex) -> KResult<u64> {
    let _ = (rseq, rseq_len, flags, sig);
    Err(Errno::ENOSYS)
}
