//! Networking: Unix domain sockets (`unix`), and Internet sockets on an
//! in-sentry loopback (`inet`) that share the Unix sockets' queues and
//! connections but are named by address and port.

pub mod addr;
pub mod host;
pub mod inet;
pub mod netlink;
pub mod stack;
pub mod unix;

pub use abi::types::Ucred;
pub use addr::{Addr, Domain};
pub use stack::Nic;
pub use unix::{Endpoint, SockType, SocketFile};
