//! The host layer shared by bulwark's processes: what the CLI, the gofer
//! and the platform each set up the same way (the sentry–gofer transport,
//! CPU pinning, the parent-death signal) and the seccomp policies, written
//! once as data and compiled with `seccompiler`.
//!
//! Everything here is safe to call. Unsafe code is allowed only where no
//! safe wrapper exists, each with the reason: terminal `ioctl`s paired
//! with their structures (`term`), signal dispositions that run no code
//! (`signal`), the time-stamp counter (`cpu::rdtsc`), and host socket calls
//! with addresses and options as raw bytes (`net`).

#![deny(unsafe_code)]

pub mod cpu;
pub mod mount;
pub mod net;
pub mod process;
pub mod seccomp;
pub mod signal;
pub mod socket;
pub mod term;
