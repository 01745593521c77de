//! Networking. For now only Unix domain sockets (`unix.rs`); `AF_INET` and
//! `AF_INET6` sockets answer `EAFNOSUPPORT` until the network stack comes.

pub mod unix;

pub use abi::types::Ucred;
pub use unix::{Endpoint, SockType, SocketFile, UnixAddr};
