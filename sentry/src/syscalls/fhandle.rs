//! name_to_handle_at, open_by_handle_at.

use abi::Errno;

use crate::kernel::Task;
use crate::vfs::KResult;

/// `name_to_handle_at` and `open_by_handle_at`: no file system here can
/// export handles.
pub fn no_handles(_t: &mut Task, _a: &[u64; 6]) -> KResult<u64> {
    Err(Errno::EOPNOTSUPP)
}
