//! getcwd, as Linux's fs/d_path.c.

use abi::Errno;
use sentry_macros::syscall;

use super::args::OutBuf;
use crate::kernel::Task;
use crate::vfs::KResult;

/// The working directory's path, NUL-terminated; the result is its length
/// with the NUL.
#[syscall]
pub fn getcwd(t: &mut Task, buf: OutBuf, size: u64) -> KResult<u64> {
    let fs = t.fs();
    let mut p = t.k.vfs.path_of(&fs.cwd, &fs.root);
    p.push(0);
    if p.len() as u64 > size {
        return Err(Errno::ERANGE);
    }
    buf.write(t, &p)?;
    Ok(p.len() as u64)
}
