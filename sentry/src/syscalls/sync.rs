//! sync, syncfs.

use super::{fd_arg, file_of};
use crate::kernel::Task;
use crate::vfs::KResult;

pub fn sync(_t: &mut Task, _a: &[u64; 6]) -> KResult<u64> {
    Ok(0)
}

pub fn syncfs(t: &mut Task, a: &[u64; 6]) -> KResult<u64> {
    file_of(t, fd_arg(a[0])?)?;
    Ok(0)
}
