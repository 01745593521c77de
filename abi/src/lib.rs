//! The Linux x86-64 ABI as bulwark's sentry implements it: system call
//! numbers, errno values, flag constants and the structures as they are laid
//! out in application memory. No logic lives here.

pub mod consts;
pub mod errno;
pub mod flags;
pub mod names;
pub mod sysno;
pub mod types;

pub use errno::Errno;
