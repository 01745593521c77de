//! getrandom.

use abi::flags::GrndFlags as Grnd;
use abi::Errno;
use sentry_macros::syscall;

use super::args::{GrndFlags, OutBuf};
use crate::kernel::Task;
use crate::vfs::KResult;

/// Fill a buffer with random bytes (at most 32 MiB a call, as Linux).
#[syscall]
pub fn getrandom(t: &mut Task, buf: OutBuf, buflen: usize, flags: GrndFlags) -> KResult<u64> {
    let Some(flags) = Grnd::from_bits(flags.0) else { return Err(Errno::EINVAL) };
    if flags.contains(Grnd::GRND_RANDOM | Grnd::GRND_INSECURE) {
        return Err(Errno::EINVAL);
    }
    let mut bytes = vec![0u8; buflen.min(32 << 20)];
    let n = crate::host::getrandom(&mut bytes)?;
    buf.write(t, &bytes[..n])?;
    Ok(n as u64)
}
