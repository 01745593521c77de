//! The client half, used by the sentry.
//!
//! Every method is one request and one reply over the socket, under a lock,
//! so a `GoferClient` can be shared by all sentry threads. Errors:
//! - the errno the host returned to the gofer (`ENOENT`, `EACCES`, `ELOOP`
//!   ...), or the gofer's own verdict on a bad request (`EINVAL` for a bad
//!   name or flag, `EBADF` for an unknown handle, `ESTALE` when a file was
//!   replaced between walk and open);
//! - a broken transport (the gofer died, closed the socket, or sent a reply
//!   that does not decode or does not answer the request) is not the
//!   application's error: the client marks itself broken, tells the hook
//!   the sentry installed ([`GoferClient::on_broken`], which ends the
//!   sandbox with a message), and answers `EIO` to this and every later
//!   call, without touching the socket again.

use std::os::fd::{AsFd, OwnedFd};
use std::sync::{Mutex, OnceLock};

use abi::Errno;

use crate::protocol::{self, Reply, Request, MAX_MSG, MAX_WALK};
use crate::sys;

/// What the client calls when its transport breaks, with the reason.
type BrokenHook = Box<dyn Fn(&str) + Send + Sync>;

/// A file the gofer holds open for the sentry (an index into its table).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Handle(pub u64);

/// A timestamp.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Time {
    pub sec: i64,
    pub nsec: i64,
}

/// File attributes as the host reports them (`fstat`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Attr {
    pub dev: u64,
    pub ino: u64,
    pub mode: u32,
    pub nlink: u64,
    pub uid: u32,
    pub gid: u32,
    pub rdev: u64,
    pub size: u64,
    pub blksize: u64,
    pub blocks: u64,
    pub atime: Time,
    pub mtime: Time,
    pub ctime: Time,
}

/// A new timestamp for [`GoferClient::setattr`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SetTime {
    /// The gofer's current time (`UTIME_NOW`).
    Now,
    At(Time),
}

/// The attributes [`GoferClient::setattr`] changes; `None` leaves one as it is.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SetAttr {
    /// Permission bits (`07777`); file type bits are rejected.
    pub mode: Option<u32>,
    pub uid: Option<u32>,
    pub gid: Option<u32>,
    /// Truncate or extend to this size (regular files only).
    pub size: Option<u64>,
    pub atime: Option<SetTime>,
    pub mtime: Option<SetTime>,
}

/// A directory entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DirEnt {
    pub ino: u64,
    /// `DT_*`.
    pub kind: u8,
    pub name: Vec<u8>,
}

/// One element of a `walk_dirs` answer: the walk of one name, and the
/// complete listing (without `.` and `..`) if it is a directory whose
/// listing fitted in the reply.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WalkedDir {
    /// The new handle and attributes, or the errno of the failed walk.
    pub walked: Result<(Handle, Attr), i32>,
    pub listing: Option<Vec<DirEnt>>,
}

/// A connection to the gofer. Safe to share between sentry threads: each
/// request and its reply are one exchange under a lock.
///
/// Handles: every handle that `attach`, `walk`, `walk_many`, `walk_dirs`, `create`,
/// `mkdir`, `symlink` or `link` returns is a new gofer-side table entry (an
/// `O_PATH` descriptor), even when it names a file another handle already
/// names. The sentry must `close` each one when its inode is forgotten;
/// closing a directory handle does not invalidate handles walked from it.
/// Handle numbers are never reused within a connection.
pub struct GoferClient {
    conn: Mutex<Conn>,
    /// Why the transport broke, once it has.
    broken: OnceLock<String>,
    /// Told once, when the transport breaks.
    hook: OnceLock<BrokenHook>,
}

/// The socket and what goes with it, under one lock.
struct Conn {
    sock: OwnedFd,
    /// Where replies are received (`MAX_MSG` bytes, reused).
    buf: Vec<u8>,
    /// The CPU the gofer was last asked to run on.
    pinned: Option<u32>,
}

impl GoferClient {
    /// Wrap a connected `SOCK_SEQPACKET` socket.
    pub fn new(sock: OwnedFd) -> GoferClient {
        GoferClient {
            conn: Mutex::new(Conn { sock, buf: vec![0u8; MAX_MSG], pinned: None }),
            broken: OnceLock::new(),
            hook: OnceLock::new(),
        }
    }

    /// Call `hook` with the reason when the transport breaks (once; a
    /// second hook is ignored).
    pub fn on_broken(&self, hook: impl Fn(&str) + Send + Sync + 'static) {
        let _ = self.hook.set(Box::new(hook));
    }

    /// Why the transport broke, if it has.
    pub fn broken(&self) -> Option<&str> {
        self.broken.get().map(String::as_str)
    }

    /// A reply of the wrong kind for its request: the protocol is broken.
    fn mismatch(&self) -> Errno {
        self.transport("the gofer's reply does not answer the request".into())
    }

    /// Record that the transport broke (`why`), tell the hook the first
    /// time, and give the errno the call answers.
    fn transport(&self, why: String) -> Errno {
        if self.broken.set(why).is_ok() {
            if let (Some(hook), Some(why)) = (self.hook.get(), self.broken.get()) {
                hook(why);
            }
        }
        Errno::EIO
    }

    /// One exchange: send `req`, wait for its reply and the descriptor that
    /// came with it, if any. A reply of kind `Error` becomes `Err`.
    ///
    /// When the calling thread runs on another CPU than the gofer was last
    /// asked to, a `Pin` request goes first, in the same exchange (its
    /// reply is read and ignored): waking the gofer on the caller's CPU,
    /// idle while the caller waits, costs a few microseconds, and waking it
    /// on another CPU tens (measured on a 2-vCPU VM: ~75 us per exchange).
    fn call(&self, req: &Request) -> Result<(Reply, Option<OwnedFd>), Errno> {
        if self.broken.get().is_some() {
            return Err(Errno::EIO);
        }
        let msg = req.encode();
        if msg.len() > MAX_MSG {
            return Err(Errno::EINVAL);
        }
        // A panic elsewhere while holding the lock cannot leave the socket
        // mid-exchange (no panic between a send and its receive), so a
        // poisoned lock is safe to reuse.
        let mut guard = self.conn.lock().unwrap_or_else(|e| e.into_inner());
        let conn = &mut *guard;
        let sock = conn.sock.as_fd();
        let pin =
            hostsys::cpu::current().and_then(|cpu| u32::try_from(cpu).ok()).filter(|&cpu| conn.pinned != Some(cpu));
        let pinning = match pin {
            Some(cpu) => {
                // Asked once per change of CPU, whatever the answer.
                conn.pinned = Some(cpu);
                sys::send_msg(sock, &Request::Pin { cpu }.encode(), None).is_ok()
            }
            None => false,
        };
        let sent = sys::send_msg(sock, &msg, None);
        if pinning {
            // The pin's reply comes first; what it says does not matter.
            sys::recv_msg(sock, &mut conn.buf).map_err(|e| self.transport(format!("receiving from the gofer: {e}")))?;
        }
        sent.map_err(|e| self.transport(format!("sending to the gofer: {e}")))?;
        let received =
            sys::recv_msg(sock, &mut conn.buf).map_err(|e| self.transport(format!("receiving from the gofer: {e}")))?;
        if received.len == 0 {
            return Err(self.transport("the gofer closed its connection".into()));
        }
        if received.truncated || received.fds_truncated {
            return Err(self.transport("the gofer sent a reply larger than the protocol allows".into()));
        }
        let mut fds = received.fds.into_iter();
        let fd = fds.next();
        if fds.next().is_some() {
            return Err(self.transport("the gofer sent more than one descriptor with a reply".into()));
        }
        match Reply::decode(&conn.buf[..received.len]) {
            Ok(Reply::Error(e)) => Err(Errno::from_i32(e).unwrap_or(Errno::EIO)),
            Ok(rep) => Ok((rep, fd)),
            Err(_) => Err(self.transport("the gofer sent a reply that does not decode".into())),
        }
    }

    /// A call whose reply carries no descriptor.
    fn call_nofd(&self, req: &Request) -> Result<Reply, Errno> {
        match self.call(req)? {
            (rep, None) => Ok(rep),
            (_, Some(_)) => Err(self.mismatch()),
        }
    }

    /// A call whose reply is exactly one new handle.
    fn call_one(&self, req: &Request) -> Result<(Handle, Attr), Errno> {
        match self.call_nofd(req)? {
            Reply::Handles(v) if v.len() == 1 => Ok(v[0]),
            _ => Err(self.mismatch()),
        }
    }

    /// A call whose reply is `Ok`.
    fn call_ok(&self, req: &Request) -> Result<(), Errno> {
        match self.call_nofd(req)? {
            Reply::Ok => Ok(()),
            _ => Err(self.mismatch()),
        }
    }

    /// The root of the served tree.
    pub fn attach(&self) -> Result<(Handle, Attr), Errno> {
        self.call_one(&Request::Attach)
    }

    /// Walk one component `name` from directory `dir` (never follows a
    /// symlink; `name` has no `/` and is not `.` or `..`).
    pub fn walk(&self, dir: Handle, name: &[u8]) -> Result<(Handle, Attr), Errno> {
        if !protocol::valid_name(name) {
            return Err(Errno::EINVAL);
        }
        self.call_one(&Request::Walk { dir, names: vec![name.to_vec()] })
    }

    /// Walk several components from `dir` in as few round trips as possible
    /// (one per [`MAX_WALK`] names). Returns one `(Handle, Attr)` per
    /// component walked, in order. The walk stops early, returning what it
    /// has, after a component that is not a directory (a symlink, to be
    /// resolved by the caller, or a file with more names after it), or before
    /// a component that fails (missing, no permission...). If the very first
    /// component fails, that error is returned. Any invalid name (see
    /// [`walk`](Self::walk)) fails the whole call with `EINVAL` before anything
    /// is walked.
    pub fn walk_many(&self, dir: Handle, names: &[&[u8]]) -> Result<Vec<(Handle, Attr)>, Errno> {
        if names.iter().any(|n| !protocol::valid_name(n)) {
            return Err(Errno::EINVAL);
        }
        let mut out: Vec<(Handle, Attr)> = Vec::with_capacity(names.len());
        let mut from = dir;
        for chunk in names.chunks(MAX_WALK) {
            let req = Request::Walk { dir: from, names: chunk.iter().map(|n| n.to_vec()).collect() };
            let got = match self.call_nofd(&req) {
                Ok(Reply::Handles(v)) if !v.is_empty() && v.len() <= chunk.len() => v,
                Ok(_) => return Err(self.mismatch()),
                Err(e) if out.is_empty() => return Err(e),
                Err(_) => return Ok(out),
            };
            let complete = got.len() == chunk.len();
            out.extend_from_slice(&got);
            match out.last() {
                Some((h, a)) if complete && a.mode & libc::S_IFMT == libc::S_IFDIR => from = *h,
                _ => break,
            }
        }
        Ok(out)
    }

    /// Walk each of `names` (siblings: one component each, none `.`, `..`
    /// or with a `/`) from `dir` in one round trip, with the complete
    /// listing of each that is a directory. Returns one element per name,
    /// in order, or fewer (at least one) when the rest did not fit in the
    /// reply; a directory whose listing did not fit comes without one.
    /// Every successful element's handle is new, as for `walk`.
    pub fn walk_dirs(&self, dir: Handle, names: &[&[u8]]) -> Result<Vec<WalkedDir>, Errno> {
        if names.is_empty() || names.len() > MAX_WALK || names.iter().any(|n| !protocol::valid_name(n)) {
            return Err(Errno::EINVAL);
        }
        let req = Request::WalkDirs { dir, names: names.iter().map(|n| n.to_vec()).collect() };
        match self.call_nofd(&req)? {
            Reply::WalkedDirs(v) if !v.is_empty() && v.len() <= names.len() => Ok(v),
            _ => Err(self.mismatch()),
        }
    }

    /// Current attributes of `h`.
    pub fn getattr(&self, h: Handle) -> Result<Attr, Errno> {
        match self.call_nofd(&Request::GetAttr { h })? {
            Reply::Attr(a) => Ok(a),
            _ => Err(self.mismatch()),
        }
    }

    /// Open `h` with `open(2)` flags (`O_RDONLY`, `O_RDWR` ...; never
    /// `O_CREAT`) and receive the host descriptor.
    ///
    /// Accepted: the access mode, `O_APPEND`, `O_NONBLOCK`, `O_DSYNC`,
    /// `O_SYNC`, `O_DIRECT`, `O_NOATIME`, `O_DIRECTORY`, `O_TRUNC` (only with
    /// `O_WRONLY`/`O_RDWR`), and the ignored `O_LARGEFILE`, `O_NOFOLLOW`,
    /// `O_NOCTTY`, `O_CLOEXEC`. Anything else (`O_CREAT`, `O_EXCL`, `O_PATH`,
    /// `O_TMPFILE`, `O_ASYNC`, unknown bits, access mode 3) is `EINVAL`.
    /// Only regular files and directories can be opened: a symlink gives
    /// `ELOOP`, a FIFO, socket or device `EOPNOTSUPP`. The descriptor is
    /// close-on-exec. `ESTALE` means the name now names another file.
    pub fn open(&self, h: Handle, flags: u32) -> Result<OwnedFd, Errno> {
        match self.call(&Request::Open { h, flags })? {
            (Reply::Opened, Some(fd)) => Ok(fd),
            _ => Err(self.mismatch()),
        }
    }

    /// All entries of directory `h`, without `.` and `..`.
    pub fn readdir(&self, h: Handle) -> Result<Vec<DirEnt>, Errno> {
        let mut out = Vec::new();
        let mut cookie = 0;
        loop {
            match self.call_nofd(&Request::ReadDir { h, cookie })? {
                Reply::Dirents { entries, next, more } => {
                    let stuck = entries.is_empty() && next == cookie;
                    out.extend(entries);
                    if !more {
                        return Ok(out);
                    }
                    if stuck {
                        return Err(self.transport("the gofer's directory listing does not advance".into()));
                    }
                    cookie = next;
                }
                _ => return Err(self.mismatch()),
            }
        }
    }

    /// The target of symlink `h`.
    pub fn readlink(&self, h: Handle) -> Result<Vec<u8>, Errno> {
        match self.call_nofd(&Request::ReadLink { h })? {
            Reply::Target(t) => Ok(t),
            _ => Err(self.mismatch()),
        }
    }

    /// `fstatfs` of the file system holding `h`.
    pub fn statfs(&self, h: Handle) -> Result<abi::types::Statfs, Errno> {
        match self.call_nofd(&Request::StatFs { h })? {
            Reply::StatFs(s) => Ok(s),
            _ => Err(self.mismatch()),
        }
    }

    /// Forget `h`.
    pub fn close(&self, h: Handle) {
        // Nothing useful to do on failure: an unknown handle is already
        // forgotten, and a dead gofer shows up on the next real request.
        let _ = self.call_ok(&Request::Close { h });
    }

    /// Create and open regular file `name` in `dir` (always `O_CREAT|O_EXCL`:
    /// an existing name, even a symlink, is `EEXIST`). `flags` are as for
    /// [`open`](Self::open), without `O_DIRECTORY`; `mode` is the permission
    /// bits (the gofer's umask is 0).
    pub fn create(&self, dir: Handle, name: &[u8], mode: u32, flags: u32) -> Result<(Handle, Attr, OwnedFd), Errno> {
        if !protocol::valid_name(name) {
            return Err(Errno::EINVAL);
        }
        match self.call(&Request::Create { dir, name: name.to_vec(), mode, flags })? {
            (Reply::Created(h, a), Some(fd)) => Ok((h, a, fd)),
            _ => Err(self.mismatch()),
        }
    }

    /// Make directory `name` in `dir`.
    pub fn mkdir(&self, dir: Handle, name: &[u8], mode: u32) -> Result<(Handle, Attr), Errno> {
        if !protocol::valid_name(name) {
            return Err(Errno::EINVAL);
        }
        self.call_one(&Request::Mkdir { dir, name: name.to_vec(), mode })
    }

    /// Make symlink `name` in `dir` pointing at `target` (stored verbatim).
    pub fn symlink(&self, dir: Handle, name: &[u8], target: &[u8]) -> Result<(Handle, Attr), Errno> {
        if !protocol::valid_name(name) || !protocol::valid_target(target) {
            return Err(Errno::EINVAL);
        }
        self.call_one(&Request::Symlink { dir, name: name.to_vec(), target: target.to_vec() })
    }

    /// Make `name` in `dir` a hard link to the file of handle `target`
    /// (which must not be the root or a directory).
    pub fn link(&self, dir: Handle, name: &[u8], target: Handle) -> Result<(Handle, Attr), Errno> {
        if !protocol::valid_name(name) {
            return Err(Errno::EINVAL);
        }
        self.call_one(&Request::Link { dir, name: name.to_vec(), target })
    }

    /// Remove `name` from `dir`; `flags` is 0 or `AT_REMOVEDIR`. Handles on
    /// the removed file stay valid (they hold it open) until closed.
    pub fn unlink(&self, dir: Handle, name: &[u8], flags: u32) -> Result<(), Errno> {
        if !protocol::valid_name(name) {
            return Err(Errno::EINVAL);
        }
        self.call_ok(&Request::Unlink { dir, name: name.to_vec(), flags })
    }

    /// Rename `olddir/old` to `newdir/new`. Handles on the moved file stay
    /// valid, including for `open` (the gofer re-points them at the new
    /// name). Handles on a file the rename replaced keep `getattr` etc., but
    /// `open` of a replaced regular file gives `ESTALE`. A rename done behind
    /// the gofer's back (on the host) likewise leaves `open` of a regular
    /// file `ENOENT` or `ESTALE`: walk it again.
    pub fn rename(&self, olddir: Handle, old: &[u8], newdir: Handle, new: &[u8]) -> Result<(), Errno> {
        if !protocol::valid_name(old) || !protocol::valid_name(new) {
            return Err(Errno::EINVAL);
        }
        self.call_ok(&Request::Rename { olddir, old: old.to_vec(), newdir, new: new.to_vec() })
    }

    /// The value of extended attribute `name` (with its namespace prefix)
    /// of `h`, as the host answers (`ENODATA` when not set, `EOPNOTSUPP`
    /// where the host file system keeps none).
    pub fn getxattr(&self, h: Handle, name: &[u8]) -> Result<Vec<u8>, Errno> {
        match self.call_nofd(&Request::GetXattr { h, name: name.to_vec() })? {
            Reply::Xattr(v) => Ok(v),
            _ => Err(self.mismatch()),
        }
    }

    /// The names of the extended attributes of `h`, in the host's order.
    pub fn listxattr(&self, h: Handle) -> Result<Vec<Vec<u8>>, Errno> {
        match self.call_nofd(&Request::ListXattr { h })? {
            Reply::XattrNames(v) => Ok(v),
            _ => Err(self.mismatch()),
        }
    }

    /// Set extended attribute `name` of `h` (`flags`: `XATTR_CREATE`,
    /// `XATTR_REPLACE`). `EROFS` on a read-only root.
    pub fn setxattr(&self, h: Handle, name: &[u8], value: &[u8], flags: u32) -> Result<(), Errno> {
        if value.len() > protocol::MAX_XATTR_VALUE {
            return Err(Errno::E2BIG);
        }
        self.call_ok(&Request::SetXattr { h, name: name.to_vec(), value: value.to_vec(), flags })
    }

    /// Remove extended attribute `name` of `h`.
    pub fn removexattr(&self, h: Handle, name: &[u8]) -> Result<(), Errno> {
        self.call_ok(&Request::RemoveXattr { h, name: name.to_vec() })
    }

    /// Change attributes of `h`; see [`SetAttr`]. Applied in the order
    /// uid/gid, mode, size, times; the first failure stops and is returned.
    pub fn setattr(&self, h: Handle, attr: &SetAttr) -> Result<(), Errno> {
        self.call_ok(&Request::SetAttr { h, attr: *attr })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    #[test]
    fn a_closed_connection_breaks_the_client_once_and_for_all() {
        let (ours, theirs) = crate::seqpacket_pair().expect("socketpair");
        drop(theirs);
        let client = GoferClient::new(ours);
        let told = Arc::new(AtomicUsize::new(0));
        let t = told.clone();
        client.on_broken(move |_| {
            t.fetch_add(1, Ordering::Relaxed);
        });

        let first = client.attach().err();
        let second = client.getattr(Handle(0)).err();

        assert_eq!((first, second), (Some(Errno::EIO), Some(Errno::EIO)));
        assert!(client.broken().is_some_and(|why| why.contains("gofer")), "{:?}", client.broken());
        assert_eq!(told.load(Ordering::Relaxed), 1);
    }
}
