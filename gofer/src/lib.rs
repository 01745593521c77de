//! The gofer: a separate, jailed process that owns the root filesystem and
//! serves the sentry over a `SOCK_SEQPACKET` socket. The sentry names files
//! by handles, one path component per walk; the gofer never follows a
//! symlink and never accepts a whole path. Opened files are donated to the
//! sentry with `SCM_RIGHTS`, and the sentry reads and writes them itself.
//!
//! - [`client`]: [`GoferClient`], used by the sentry.
//! - [`server`]: [`server::run`] (jail, then serve), used by `bulwark gofer`;
//!   [`server::serve`] (serve only), for tests.
//! - [`protocol`]: the messages and their binary codec.

#![deny(unsafe_code)]

pub mod client;
pub mod fuzzing;
mod jail;
pub mod protocol;
mod seccomp;
pub mod server;
mod sys;

pub use client::{Attr, DirEnt, GoferClient, Handle, SetAttr, SetTime, Time};
/// The sentry–gofer transport, `socketpair(AF_UNIX, SOCK_SEQPACKET |
/// SOCK_CLOEXEC)`, from the shared host layer.
pub use hostsys::socket::seqpacket_pair;
