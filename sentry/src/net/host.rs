//! `--network host`: Internet and netlink sockets that are host sockets.
//! The sentry makes the application's socket calls on them (in the
//! sandbox's network namespace, the host's for `do --network host`), while
//! descriptors, blocking, readiness and signals stay the sentry's: every
//! host socket is non-blocking, and a blocking call waits for readiness in
//! the sentry, interruptible by signals, then tries again.

use std::any::Any;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};

use abi::Errno;
use hostsys::net as hnet;

use crate::kernel::Task;
use crate::vfs::{Caller, FileOps, KResult};

/// A host socket.
pub struct HostSocket {
    fd: OwnedFd,
    /// `SOCK_STREAM`: a blocking write goes on until all is written.
    stream: bool,
}

fn errno(e: std::io::Error) -> Errno {
    Errno::from_io(&e)
}

impl HostSocket {
    /// A new host socket (`socket(2)` arguments, flags removed).
    pub fn new(domain: i32, ty: i32, protocol: i32) -> KResult<HostSocket> {
        let fd = hnet::socket(domain, ty, protocol).map_err(errno)?;
        Ok(HostSocket { fd, stream: ty == libc::SOCK_STREAM })
    }

    /// The host socket behind `file`, if it is one.
    pub fn of(file: &dyn FileOps) -> Option<&HostSocket> {
        file.as_any().downcast_ref::<HostSocket>()
    }

    pub fn fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }

    /// Run `op` until it stops answering `EAGAIN`, waiting for `events`
    /// on the host socket between tries, unless `nonblock`.
    pub fn block<T>(&self, t: &Task, nonblock: bool, events: i16, mut op: impl FnMut() -> KResult<T>) -> KResult<T> {
        loop {
            match op() {
                Err(Errno::EAGAIN) if !nonblock => t.wait_host(self.fd.as_raw_fd(), events)?,
                r => return r,
            }
        }
    }

    pub fn bind(&self, addr: &[u8]) -> KResult<()> {
        hnet::bind(self.fd(), addr).map_err(errno)
    }

    pub fn listen(&self, backlog: i32) -> KResult<()> {
        hnet::listen(self.fd(), backlog).map_err(errno)
    }

    /// `connect`: a blocking one waits for the connection and reports how
    /// it ended; a non-blocking one reports `EINPROGRESS` as the host does.
    pub fn connect(&self, t: &Task, addr: &[u8], nonblock: bool) -> KResult<()> {
        match hnet::connect(self.fd(), addr).map_err(errno) {
            Err(Errno::EINPROGRESS) if !nonblock => {
                t.wait_host(self.fd.as_raw_fd(), libc::POLLOUT)?;
                let mut v = [0u8; 4];
                hnet::get_option(self.fd(), libc::SOL_SOCKET, libc::SO_ERROR, &mut v).map_err(errno)?;
                match i32::from_ne_bytes(v) {
                    0 => {
                        // The host socket is connected but still marked
                        // connecting: a second connect settles it, so the
                        // application's next one gets EISCONN, as after a
                        // blocking connect.
                        let _ = hnet::connect(self.fd(), addr);
                        Ok(())
                    }
                    e => Err(Errno::from_i32(e).unwrap_or(Errno::EIO)),
                }
            }
            r => r,
        }
    }

    /// `accept`: the new host socket and its peer's address.
    pub fn accept(&self, t: &Task, nonblock: bool) -> KResult<(HostSocket, Vec<u8>)> {
        let (fd, peer) = self.block(t, nonblock, libc::POLLIN, || hnet::accept(self.fd()).map_err(errno))?;
        Ok((HostSocket { fd, stream: self.stream }, peer))
    }

    pub fn name(&self, peer: bool) -> KResult<Vec<u8>> {
        hnet::name(self.fd(), peer).map_err(errno)
    }

    pub fn send(&self, t: &Task, data: &[u8], flags: i32, to: Option<&[u8]>, nonblock: bool) -> KResult<usize> {
        let flags = flags | libc::MSG_DONTWAIT | libc::MSG_NOSIGNAL;
        let mut done = 0;
        loop {
            let r = self.block(t, nonblock, libc::POLLOUT, || {
                hnet::send_to(self.fd(), &data[done..], flags, to).map_err(errno)
            });
            match r {
                Ok(n) => {
                    done += n;
                    if !self.stream || nonblock || done >= data.len() {
                        return Ok(done);
                    }
                }
                Err(_) if done > 0 => return Ok(done),
                Err(e) => return Err(e),
            }
        }
    }

    pub fn recv(&self, t: &Task, buf: &mut [u8], flags: i32, nonblock: bool) -> KResult<(usize, Vec<u8>)> {
        let flags = flags | libc::MSG_DONTWAIT;
        self.block(t, nonblock, libc::POLLIN, || hnet::recv_from(self.fd(), buf, flags).map_err(errno))
    }

    pub fn set_option(&self, level: i32, name: i32, value: &[u8]) -> KResult<()> {
        hnet::set_option(self.fd(), level, name, value).map_err(errno)
    }

    pub fn get_option(&self, level: i32, name: i32, value: &mut [u8]) -> KResult<usize> {
        hnet::get_option(self.fd(), level, name, value).map_err(errno)
    }

    pub fn shutdown(&self, how: i32) -> KResult<()> {
        hnet::shutdown(self.fd(), how).map_err(errno)
    }
}

impl FileOps for HostSocket {
    fn read(&self, _cx: Caller<'_>, buf: &mut [u8], _off: u64) -> KResult<usize> {
        hnet::recv_from(self.fd(), buf, libc::MSG_DONTWAIT).map(|(n, _)| n).map_err(errno)
    }

    fn write(&self, _cx: Caller<'_>, buf: &[u8], _off: u64) -> KResult<usize> {
        hnet::send_to(self.fd(), buf, libc::MSG_DONTWAIT | libc::MSG_NOSIGNAL, None).map_err(errno)
    }

    fn seekable(&self) -> bool {
        false
    }

    fn is_stream(&self) -> bool {
        self.stream
    }

    fn host_fd(&self) -> Option<BorrowedFd<'_>> {
        Some(self.fd())
    }

    fn readable_bytes(&self) -> Option<u64> {
        hostsys::term::readable(self.fd()).ok().and_then(|n| u64::try_from(n).ok())
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}
