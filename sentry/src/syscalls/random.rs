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
    // Linux cuts the length at MAX_RW_COUNT and fills what is writable
    // from the start (a short count at the first unwritable page); the
    // sentry moves at most 32 MiB a call, in pieces.
    let want = buflen.min(32 << 20);
    let mut done = 0;
    while done < want {
        let mut bytes = vec![0u8; (want - done).min(PIECE)];
        let got = crate::host::getrandom(&mut bytes)?;
        let n = match buf.bytes().offset(done).and_then(|b| b.write_prefix(t, &bytes[..got])) {
            Ok(n) => n,
            Err(e) if done == 0 => return Err(e),
            Err(_) => break,
        };
        done += n;
        if n < bytes.len() {
            break;
        }
    }
    Ok(done as u64)
}

/// The most random bytes the sentry holds at once.
const PIECE: usize = 64 * 1024;
