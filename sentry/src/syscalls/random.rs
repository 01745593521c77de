//! getrandom.

use abi::consts::*;
use abi::Errno;

use crate::kernel::Task;
use crate::vfs::KResult;

pub fn getrandom(t: &mut Task, a: &[u64; 6]) -> KResult<u64> {
    let flags = a[2] as u32;
    if flags & !(GRND_NONBLOCK | GRND_RANDOM | GRND_INSECURE) != 0
        || flags & (GRND_RANDOM | GRND_INSECURE) == GRND_RANDOM | GRND_INSECURE
    {
        return Err(Errno::EINVAL);
    }
    let n = (a[1] as usize).min(32 << 20);
    let mut buf = vec![0u8; n];
    crate::kernel::getrandom(&mut buf);
    t.write_bytes(a[0], &buf)?;
    Ok(n as u64)
}
