//! The server half: the `bulwark gofer` process.
//!
//! [`run`] jails the process inside the root (see [`crate::jail`]'s steps in
//! [`run_with`]) and then [`serve`]s requests until the sentry closes the
//! socket. The server keeps a table of handles, each an `O_PATH` descriptor
//! plus the parent directory's descriptor and the name it was walked by
//! (needed to re-open a regular file: an `O_PATH` descriptor cannot be
//! upgraded without `/proc`, which the jail does not have).
//!
//! Every request gets exactly one reply. A request that does not decode gets
//! `EINVAL`; an unknown handle `EBADF`; a failed host call its errno. Only a
//! broken transport (EOF, reset, an empty message) ends the loop.

use std::collections::HashMap;
use std::ffi::{CStr, CString};
use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::Path;
use std::sync::Arc;

use abi::Errno;

use crate::client::{Attr, DirEnt, Handle, SetAttr, SetTime, Time, WalkedDir};
use crate::protocol::{
    self, Reply, Request, DIRENTS_OVERHEAD, DIRENT_OVERHEAD, MAX_MSG, MAX_WALK, MAX_XATTR_NAME, MAX_XATTR_VALUE,
    WALKED_DIRS_OVERHEAD, WALKED_DIR_SIZE,
};
use crate::{jail, seccomp, sys};

/// How to serve the root.
#[derive(Clone, Copy, Debug)]
pub struct Options {
    /// Bind-mount the root read-only (recursively), so no request can change
    /// the host. The write-side requests then fail with `EROFS`.
    pub read_only: bool,
}

impl Default for Options {
    /// Read-only: the safe choice, and what `bulwark do` wants (the sandbox
    /// writes to an in-memory upper layer).
    fn default() -> Options {
        Options { read_only: true }
    }
}

/// The `bulwark gofer` entry point: jail this process in `root`, read-only,
/// then serve `sock` until the sentry closes it. Same as
/// [`run_with`]`(root, sock, Options::default())`.
pub fn run(root: &Path, sock: OwnedFd) -> io::Result<()> {
    run_with(root, sock, Options::default())
}

/// Jail this process in `root`, then serve `sock` until the sentry closes
/// it (`Ok(())`), or the transport fails (`Err`).
///
/// Call it from a single-threaded process (the `bulwark gofer` subcommand,
/// right after argument parsing): `unshare(CLONE_NEWNS)` moves only the
/// calling thread into the new mount namespace. Requires `CAP_SYS_ADMIN`
/// (root, or root in a user namespace the caller set up); without it this
/// fails with an error that says so. The jail:
/// 1. `unshare(CLONE_NEWNS)` (required), then `CLONE_NEWNET` and
///    `CLONE_NEWIPC` (each if the host allows it);
/// 2. makes every mount private, so nothing propagates back to the host;
/// 3. bind-mounts `root` onto itself recursively; with `read_only`, makes the
///    whole tree under it read-only (`mount_setattr(AT_RECURSIVE)`, or a
///    remount of the top mount on kernels before 5.12), and always
///    `nosuid`/`nodev`. A `root` that is a regular file is bind-mounted
///    alone on an empty file in a read-only staging directory, and served
///    as [`serve_file`] does;
/// 4. `pivot_root` into it and detaches the old root, so no host path
///    outside `root` remains reachable;
/// 5. sets `no_new_privs`, and keeps only the capabilities serving files
///    needs;
/// 6. installs a seccomp filter that allows only the host system calls the
///    serving loop makes (see `seccomp::RULES`) and kills the process on
///    any other.
///
/// `sock` must be a connected `SOCK_SEQPACKET` Unix socket; it is closed on
/// return. All other descriptors of the process should be close-on-exec or
/// closed by the caller: they stay open in the jail.
pub fn run_with(root: &Path, sock: OwnedFd, opts: Options) -> io::Result<()> {
    let served = jail::enter(root, opts.read_only)?;
    // Serving files as their owner would: reading and writing any of them
    // (DAC_OVERRIDE, DAC_READ_SEARCH), their owner (CHOWN), mode and times
    // (FOWNER) and set-group-id bit (FSETID). The jail is built; no mount,
    // device, xattr namespace of the kernel's, or other user is the gofer's.
    use hostsys::process::CapabilitySet as Cap;
    let keep = Cap::CHOWN | Cap::DAC_OVERRIDE | Cap::DAC_READ_SEARCH | Cap::FOWNER | Cap::FSETID;
    hostsys::process::drop_capabilities(keep)?;
    seccomp::install()?;
    match served {
        jail::Served::Dir(root_fd) => serve(root_fd, sock),
        jail::Served::File(dir) => serve_file(dir, jail::FILE_NAME, sock),
    }
}

/// Serve requests on `sock` for the tree under directory `root` until the
/// peer closes the socket (`Ok(())`). No jail: this is the loop [`run_with`]
/// enters after jailing, exposed so tests can serve a temporary directory
/// without namespaces. `root` may be an `O_PATH` or an ordinary directory
/// descriptor.
pub fn serve(root: OwnedFd, sock: OwnedFd) -> io::Result<()> {
    serve_with(Server::new(root), sock)
}

/// Serve the regular file `name` in directory `dir` as the root, the way a
/// bind mount of a single file shows it: `Attach` gives the file, which
/// opens, reads, writes and takes attribute changes like any file of a
/// served tree; a walk from it is `ENOTDIR`. `dir` is only the way to
/// re-open the file: no handle ever names it or any other file in it.
/// (After the jail, `dir` is the jail's "/", which holds the file alone.)
pub fn serve_file(dir: OwnedFd, name: &CStr, sock: OwnedFd) -> io::Result<()> {
    let name = CString::from(name);
    let (fd, st) = lookup(dir.as_fd(), &name).map_err(|e| io::Error::from_raw_os_error(e.as_i32()))?;
    if file_type(&st) != libc::S_IFREG {
        return Err(io::Error::new(io::ErrorKind::InvalidInput, "gofer: the served file is not a regular file"));
    }
    let dir = Arc::new(dir);
    let root = Node { fd: Arc::new(fd), parent: Some((dir.clone(), name)) };
    serve_with(Server { root, home: dir, nodes: HashMap::new(), next: 1 }, sock)
}

fn serve_with(mut server: Server, sock: OwnedFd) -> io::Result<()> {
    let mut buf = vec![0u8; MAX_MSG];
    loop {
        let msg = match sys::recv_msg(sock.as_fd(), &mut buf) {
            Ok(m) => m,
            Err(e) if e.raw_os_error() == Some(libc::ECONNRESET) => return Ok(()),
            Err(e) => return Err(e),
        };
        // Descriptors the client sent (it never should) are closed here.
        drop(msg.fds);
        // End of stream. (An empty message reads the same; a client that
        // sends one loses the connection.)
        if msg.len == 0 && !msg.truncated {
            return Ok(());
        }
        let (reply, fd) = if msg.truncated {
            (Reply::Error(Errno::EINVAL.as_i32()), None)
        } else {
            match Request::decode(&buf[..msg.len]) {
                Ok(req) => server.handle(req),
                Err(_) => (Reply::Error(Errno::EINVAL.as_i32()), None),
            }
        };
        let out = reply.encode();
        debug_assert!(out.len() <= MAX_MSG);
        match sys::send_msg(sock.as_fd(), &out, fd.as_ref().map(|f| f.as_fd())) {
            Ok(()) => {}
            Err(e) if matches!(e.raw_os_error(), Some(libc::EPIPE | libc::ECONNRESET)) => return Ok(()),
            Err(e) => return Err(e),
        }
        // Our copy of a donated descriptor closes here.
        drop(fd);
    }
}

/// One table entry.
#[derive(Clone)]
struct Node {
    /// `O_PATH|O_NOFOLLOW` descriptor of the file itself.
    fd: Arc<OwnedFd>,
    /// The directory it was found in, and its name there; `None` for a
    /// directory root (a single-file root has its directory). Holding the directory's descriptor (not its handle) keeps this
    /// entry usable after the parent's handle is closed.
    parent: Option<(Arc<OwnedFd>, CString)>,
}

/// `open(2)` flags passed through to the host.
const OPEN_PASS: i32 = libc::O_ACCMODE
    | libc::O_APPEND
    | libc::O_NONBLOCK
    | libc::O_DSYNC
    | libc::O_SYNC
    | libc::O_DIRECT
    | libc::O_NOATIME
    | libc::O_DIRECTORY
    | libc::O_TRUNC;
/// `open(2)` flags accepted and ignored (the gofer always adds them, or they
/// mean nothing on x86-64).
const OPEN_IGNORED: i32 = libc::O_LARGEFILE | libc::O_NOFOLLOW | libc::O_NOCTTY | libc::O_CLOEXEC;
/// What the gofer always adds to an open.
const OPEN_FORCED: i32 = libc::O_NOFOLLOW | libc::O_CLOEXEC | libc::O_NOCTTY;

/// Check `open(2)` flags from the sentry; the host flags to use.
fn open_flags(flags: u32) -> Result<i32, Errno> {
    let flags = i32::from_ne_bytes(flags.to_ne_bytes());
    if flags & !(OPEN_PASS | OPEN_IGNORED) != 0 || flags & libc::O_ACCMODE == libc::O_ACCMODE {
        return Err(Errno::EINVAL);
    }
    if flags & libc::O_TRUNC != 0 && flags & libc::O_ACCMODE == libc::O_RDONLY {
        return Err(Errno::EINVAL);
    }
    Ok(flags & OPEN_PASS)
}

fn to_cstring(name: &[u8]) -> Result<CString, Errno> {
    CString::new(name).map_err(|_| Errno::EINVAL)
}

/// `XATTR_CREATE | XATTR_REPLACE`.
const XATTR_FLAGS: u32 = 3;

/// An extended attribute name from the sentry: 1 to 255 bytes, no NUL.
fn xattr_name(name: &[u8]) -> Result<CString, Errno> {
    if name.is_empty() || name.len() > MAX_XATTR_NAME {
        return Err(Errno::ERANGE);
    }
    to_cstring(name)
}

fn checked_name(name: &[u8]) -> Result<CString, Errno> {
    if !protocol::valid_name(name) {
        return Err(Errno::EINVAL);
    }
    to_cstring(name)
}

fn attr_of(st: &libc::stat) -> Attr {
    // `stat` fields are the kernel's; the signed ones are never negative
    // except times, which keep their sign.
    let u = |v: i64| u64::try_from(v).unwrap_or(0);
    Attr {
        dev: st.st_dev,
        ino: st.st_ino,
        mode: st.st_mode,
        nlink: st.st_nlink,
        uid: st.st_uid,
        gid: st.st_gid,
        rdev: st.st_rdev,
        size: u(st.st_size),
        blksize: u(st.st_blksize),
        blocks: u(st.st_blocks),
        atime: Time { sec: st.st_atime, nsec: st.st_atime_nsec },
        mtime: Time { sec: st.st_mtime, nsec: st.st_mtime_nsec },
        ctime: Time { sec: st.st_ctime, nsec: st.st_ctime_nsec },
    }
}

fn file_type(st: &libc::stat) -> u32 {
    st.st_mode & libc::S_IFMT
}

fn same_file(a: &libc::stat, b: &libc::stat) -> bool {
    a.st_dev == b.st_dev && a.st_ino == b.st_ino
}

/// `openat(dir, name, O_PATH|O_NOFOLLOW)` and its attributes.
fn lookup(dir: BorrowedFd<'_>, name: &CString) -> Result<(OwnedFd, libc::stat), Errno> {
    let fd = sys::openat(dir, name, libc::O_PATH | libc::O_NOFOLLOW | libc::O_CLOEXEC, 0)?;
    let st = sys::fstat(fd.as_fd())?;
    Ok((fd, st))
}

/// Bytes of `getdents64` records read per call.
const DIRENTS_BUF: usize = 32 * 1024;

/// The encoded size of `entries` as a listing (count and entries).
fn listing_size(entries: &[DirEnt]) -> usize {
    4 + entries.iter().map(|e| DIRENT_OVERHEAD + e.name.len()).sum::<usize>()
}

/// All entries of directory `fd` (an `O_PATH` descriptor) but `.` and `..`,
/// or `None` if they would take more than `room` bytes encoded as a listing.
fn list_all(fd: BorrowedFd<'_>, room: usize) -> Result<Option<Vec<DirEnt>>, Errno> {
    let dir = sys::openat(fd, c".", libc::O_RDONLY | libc::O_DIRECTORY | libc::O_CLOEXEC, 0)?;
    let mut entries = Vec::new();
    let mut size = 4;
    let mut buf = Vec::with_capacity(DIRENTS_BUF);
    let mut dirents = sys::Dirents::new(dir.as_fd(), &mut buf);
    while let Some(d) = dirents.next_entry() {
        let d = d?;
        if d.name != b"." && d.name != b".." {
            size += DIRENT_OVERHEAD + d.name.len();
            if size > room {
                return Ok(None);
            }
            entries.push(DirEnt { ino: d.ino, kind: d.kind, name: d.name });
        }
    }
    Ok(Some(entries))
}

/// Re-open by `parent/name` with host `flags` and check it is still the file
/// `want` describes. Opens non-blocking (a FIFO swapped in cannot hang the
/// gofer), then clears `O_NONBLOCK` unless the caller asked for it.
fn reopen_checked(parent: BorrowedFd<'_>, name: &CString, flags: i32, want: &libc::stat) -> Result<OwnedFd, Errno> {
    let host = (flags & !libc::O_TRUNC) | OPEN_FORCED | libc::O_NONBLOCK;
    let fd = sys::openat(parent, name, host, 0)?;
    let st = sys::fstat(fd.as_fd())?;
    if !same_file(&st, want) {
        return Err(Errno::ESTALE);
    }
    if flags & libc::O_NONBLOCK == 0 {
        sys::clear_nonblock(fd.as_fd())?;
    }
    if flags & libc::O_TRUNC != 0 {
        sys::ftruncate(fd.as_fd(), 0)?;
    }
    Ok(fd)
}

pub(crate) struct Server {
    /// What `Attach` gives: the served directory, or the single served file.
    root: Node,
    /// Where the working directory returns after a call made relative to
    /// it: the served directory, or the single file's.
    home: Arc<OwnedFd>,
    nodes: HashMap<u64, Node>,
    next: u64,
}

type Outcome = Result<(Reply, Option<OwnedFd>), Errno>;

impl Server {
    pub(crate) fn new(root: OwnedFd) -> Server {
        let root = Arc::new(root);
        Server { root: Node { fd: root.clone(), parent: None }, home: root, nodes: HashMap::new(), next: 1 }
    }

    /// Answer one request.
    pub(crate) fn handle(&mut self, req: Request) -> (Reply, Option<OwnedFd>) {
        match self.dispatch(req) {
            Ok(r) => r,
            Err(e) => (Reply::Error(e.as_i32()), None),
        }
    }

    fn node(&self, h: Handle) -> Result<&Node, Errno> {
        self.nodes.get(&h.0).ok_or(Errno::EBADF)
    }

    fn insert(&mut self, fd: OwnedFd, parent: Option<(Arc<OwnedFd>, CString)>) -> Handle {
        let h = self.next;
        self.next += 1;
        self.nodes.insert(h, Node { fd: Arc::new(fd), parent });
        Handle(h)
    }

    /// Look `name` up in `dir` and give it a handle.
    fn insert_lookup(&mut self, dir: &Arc<OwnedFd>, name: CString) -> Result<(Handle, Attr), Errno> {
        let (fd, st) = lookup(dir.as_fd(), &name)?;
        Ok((self.insert(fd, Some((dir.clone(), name))), attr_of(&st)))
    }

    fn dispatch(&mut self, req: Request) -> Outcome {
        let none = |r: Reply| Ok((r, None));
        match req {
            Request::Attach => {
                let st = sys::fstat(self.root.fd.as_fd())?;
                let h = self.next;
                self.next += 1;
                self.nodes.insert(h, self.root.clone());
                none(Reply::Handles(vec![(Handle(h), attr_of(&st))]))
            }
            Request::Walk { dir, names } => self.walk(dir, &names),
            Request::WalkDirs { dir, names } => self.walk_dirs(dir, &names),
            Request::Pin { cpu } => {
                // A CPU past the host's CPU set is `EINVAL`.
                let cpu = usize::try_from(cpu).map_err(|_| Errno::EINVAL)?;
                hostsys::cpu::pin(None, cpu).map_err(|e| Errno::from_io(&e))?;
                none(Reply::Ok)
            }
            Request::GetAttr { h } => none(Reply::Attr(attr_of(&sys::fstat(self.node(h)?.fd.as_fd())?))),
            Request::Open { h, flags } => {
                let fd = self.open(h, open_flags(flags)?)?;
                Ok((Reply::Opened, Some(fd)))
            }
            Request::ReadDir { h, cookie } => none(self.readdir(h, cookie)?),
            Request::ReadLink { h } => {
                let fd = self.node(h)?.fd.as_fd();
                if file_type(&sys::fstat(fd)?) != libc::S_IFLNK {
                    return Err(Errno::EINVAL);
                }
                none(Reply::Target(sys::readlink(fd)?))
            }
            Request::StatFs { h } => none(Reply::StatFs(sys::fstatfs(self.node(h)?.fd.as_fd())?)),
            Request::Close { h } => {
                self.nodes.remove(&h.0).ok_or(Errno::EBADF)?;
                none(Reply::Ok)
            }
            Request::Create { dir, name, mode, flags } => self.create(dir, &name, mode, flags),
            Request::Mkdir { dir, name, mode } => {
                let name = checked_name(&name)?;
                let dirfd = self.node(dir)?.fd.clone();
                sys::mkdirat(dirfd.as_fd(), &name, mode & 0o7777)?;
                none(Reply::Handles(vec![self.insert_lookup(&dirfd, name)?]))
            }
            Request::Symlink { dir, name, target } => {
                let name = checked_name(&name)?;
                if !protocol::valid_target(&target) {
                    return Err(Errno::EINVAL);
                }
                let target = to_cstring(&target)?;
                let dirfd = self.node(dir)?.fd.clone();
                sys::symlinkat(&target, dirfd.as_fd(), &name)?;
                none(Reply::Handles(vec![self.insert_lookup(&dirfd, name)?]))
            }
            Request::Link { dir, name, target } => self.link(dir, &name, target),
            Request::Unlink { dir, name, flags } => {
                let name = checked_name(&name)?;
                let is_dir = match flags {
                    0 => false,
                    f if f == libc::AT_REMOVEDIR as u32 => true,
                    _ => return Err(Errno::EINVAL),
                };
                sys::unlinkat(self.node(dir)?.fd.as_fd(), &name, is_dir)?;
                none(Reply::Ok)
            }
            Request::Rename { olddir, old, newdir, new } => {
                self.rename(olddir, old, newdir, new)?;
                none(Reply::Ok)
            }
            Request::SetAttr { h, attr } => {
                self.setattr(h, &attr)?;
                none(Reply::Ok)
            }
            Request::GetXattr { h, name } => {
                let name = xattr_name(&name)?;
                let mut buf = vec![0u8; MAX_XATTR_VALUE];
                let n = self.with_xattr_target(h, |at| sys::getxattr(at, &name, &mut buf))?;
                buf.truncate(n);
                none(Reply::Xattr(buf))
            }
            Request::ListXattr { h } => {
                let mut buf = vec![0u8; MAX_XATTR_VALUE];
                let n = self.with_xattr_target(h, |at| sys::listxattr(at, &mut buf))?;
                let names = buf[..n].split(|&b| b == 0).filter(|n| !n.is_empty()).map(<[u8]>::to_vec).collect();
                none(Reply::XattrNames(names))
            }
            Request::SetXattr { h, name, value, flags } => {
                let name = xattr_name(&name)?;
                if flags & !XATTR_FLAGS != 0 || value.len() > MAX_XATTR_VALUE {
                    return Err(Errno::EINVAL);
                }
                self.with_xattr_target(h, |at| sys::setxattr(at, &name, &value, flags))?;
                none(Reply::Ok)
            }
            Request::RemoveXattr { h, name } => {
                let name = xattr_name(&name)?;
                self.with_xattr_target(h, |at| sys::removexattr(at, &name))?;
                none(Reply::Ok)
            }
        }
    }

    fn walk(&mut self, dir: Handle, names: &[Vec<u8>]) -> Outcome {
        if names.is_empty() || names.len() > MAX_WALK {
            return Err(Errno::EINVAL);
        }
        let names = names.iter().map(|n| checked_name(n)).collect::<Result<Vec<_>, _>>()?;
        let mut cur = self.node(dir)?.fd.clone();
        let mut out = Vec::with_capacity(names.len());
        for name in names {
            match self.insert_lookup(&cur, name) {
                Ok((h, attr)) => {
                    out.push((h, attr));
                    if attr.mode & libc::S_IFMT != libc::S_IFDIR {
                        break;
                    }
                    cur = self.nodes[&h.0].fd.clone();
                }
                Err(e) if out.is_empty() => return Err(e),
                Err(_) => break,
            }
        }
        Ok((Reply::Handles(out), None))
    }

    /// `WalkDirs`: each name walked from `dir`, directories with their
    /// listing, as many as fit in one reply (at least the first).
    fn walk_dirs(&mut self, dir: Handle, names: &[Vec<u8>]) -> Outcome {
        if names.is_empty() || names.len() > MAX_WALK {
            return Err(Errno::EINVAL);
        }
        let names = names.iter().map(|n| checked_name(n)).collect::<Result<Vec<_>, _>>()?;
        let dirfd = self.node(dir)?.fd.clone();
        let mut out = Vec::with_capacity(names.len());
        let mut size = WALKED_DIRS_OVERHEAD;
        for name in names {
            let (fd, st) = match lookup(dirfd.as_fd(), &name) {
                Ok(found) => found,
                Err(e) => {
                    out.push(WalkedDir { walked: Err(e.as_i32()), listing: None });
                    size += WALKED_DIR_SIZE;
                    continue;
                }
            };
            let room = MAX_MSG.saturating_sub(size + WALKED_DIR_SIZE);
            // A directory that cannot be listed comes without its listing
            // (its own `ReadDir` reports why).
            let is_dir = file_type(&st) == libc::S_IFDIR;
            let listing = if is_dir { list_all(fd.as_fd(), room).ok().flatten() } else { None };
            let need = WALKED_DIR_SIZE + listing.as_ref().map_or(0, |l| listing_size(l));
            if size + need > MAX_MSG || (listing.is_none() && is_dir && !out.is_empty()) {
                // Full: what is left is asked for again (the descriptor
                // just opened is dropped, never made a handle).
                break;
            }
            size += need;
            let h = self.insert(fd, Some((dirfd.clone(), name)));
            out.push(WalkedDir { walked: Ok((h, attr_of(&st))), listing });
        }
        Ok((Reply::WalkedDirs(out), None))
    }

    /// Open `h` with checked host `flags`.
    fn open(&self, h: Handle, flags: i32) -> Result<OwnedFd, Errno> {
        let node = self.node(h)?;
        let st = sys::fstat(node.fd.as_fd())?;
        match file_type(&st) {
            libc::S_IFDIR => {
                // "." from the directory's own descriptor is exactly this
                // directory: no name to race on.
                let fd = sys::openat(node.fd.as_fd(), c".", flags | OPEN_FORCED | libc::O_DIRECTORY, 0)?;
                Ok(fd)
            }
            libc::S_IFREG => {
                if flags & libc::O_DIRECTORY != 0 {
                    return Err(Errno::ENOTDIR);
                }
                let (parent, name) = node.parent.as_ref().ok_or(Errno::ESTALE)?;
                reopen_checked(parent.as_fd(), name, flags, &st)
            }
            libc::S_IFLNK => Err(Errno::ELOOP),
            _ => Err(Errno::EOPNOTSUPP),
        }
    }

    fn readdir(&self, h: Handle, cookie: u64) -> Result<Reply, Errno> {
        let node = self.node(h)?;
        let dir = sys::openat(node.fd.as_fd(), c".", libc::O_RDONLY | libc::O_DIRECTORY | libc::O_CLOEXEC, 0)?;
        // Cookies are the host's `d_off` values, carried bit for bit.
        sys::seek_set(dir.as_fd(), i64::from_ne_bytes(cookie.to_ne_bytes()))?;
        let mut entries = Vec::new();
        let mut size = DIRENTS_OVERHEAD;
        let mut pos = cookie;
        let mut buf = Vec::with_capacity(DIRENTS_BUF);
        let mut dirents = sys::Dirents::new(dir.as_fd(), &mut buf);
        while let Some(d) = dirents.next_entry() {
            let d = d?;
            if d.name != b"." && d.name != b".." {
                let need = DIRENT_OVERHEAD + d.name.len();
                if size + need > MAX_MSG {
                    return Ok(Reply::Dirents { entries, next: pos, more: true });
                }
                size += need;
                entries.push(DirEnt { ino: d.ino, kind: d.kind, name: d.name });
            }
            pos = d.off;
        }
        Ok(Reply::Dirents { entries, next: pos, more: false })
    }

    fn create(&mut self, dir: Handle, name: &[u8], mode: u32, flags: u32) -> Outcome {
        let name = checked_name(name)?;
        let flags = open_flags(flags & !(libc::O_TRUNC as u32))?;
        if flags & libc::O_DIRECTORY != 0 {
            return Err(Errno::EINVAL);
        }
        let dirfd = self.node(dir)?.fd.clone();
        let host = flags | OPEN_FORCED | libc::O_CREAT | libc::O_EXCL;
        let fd = sys::openat(dirfd.as_fd(), &name, host, mode & 0o7777)?;
        let st = sys::fstat(fd.as_fd())?;
        let (path, pst) = lookup(dirfd.as_fd(), &name)?;
        if !same_file(&st, &pst) {
            return Err(Errno::ESTALE);
        }
        let h = self.insert(path, Some((dirfd, name)));
        Ok((Reply::Created(h, attr_of(&pst)), Some(fd)))
    }

    fn link(&mut self, dir: Handle, name: &[u8], target: Handle) -> Outcome {
        let name = checked_name(name)?;
        let dirfd = self.node(dir)?.fd.clone();
        let node = self.node(target)?;
        let want = sys::fstat(node.fd.as_fd())?;
        let (tparent, tname) = node.parent.clone().ok_or(Errno::EPERM)?;
        sys::linkat(tparent.as_fd(), &tname, dirfd.as_fd(), &name)?;
        let (fd, st) = lookup(dirfd.as_fd(), &name)?;
        if !same_file(&st, &want) {
            // The name we linked by now names another file: undo.
            let _ = sys::unlinkat(dirfd.as_fd(), &name, false);
            return Err(Errno::ESTALE);
        }
        let h = self.insert(fd, Some((dirfd, name)));
        Ok((Reply::Handles(vec![(h, attr_of(&st))]), None))
    }

    /// `renameat`, then point the table entries of the moved file at its
    /// new parent and name, so its handles keep opening.
    fn rename(&mut self, olddir: Handle, old: Vec<u8>, newdir: Handle, new: Vec<u8>) -> Result<(), Errno> {
        let (old, new) = (checked_name(&old)?, checked_name(&new)?);
        let oldfd = self.node(olddir)?.fd.clone();
        let newfd = self.node(newdir)?.fd.clone();
        let (_, moved) = lookup(oldfd.as_fd(), &old)?;
        let olddir_st = sys::fstat(oldfd.as_fd())?;
        sys::renameat(oldfd.as_fd(), &old, newfd.as_fd(), &new)?;
        for node in self.nodes.values_mut() {
            let Some((parent, name)) = &node.parent else {
                continue;
            };
            if *name != old {
                continue;
            }
            let is_moved = sys::fstat(node.fd.as_fd()).is_ok_and(|st| same_file(&st, &moved));
            let in_olddir = sys::fstat(parent.as_fd()).is_ok_and(|st| same_file(&st, &olddir_st));
            if is_moved && in_olddir {
                node.parent = Some((newfd.clone(), new.clone()));
            }
        }
        Ok(())
    }

    /// Run an extended-attribute call on the file of `h`. The host's
    /// `*xattr` calls need a real descriptor or a path (an `O_PATH`
    /// descriptor gives `EBADF`): directories are opened by `.`, regular
    /// files re-opened read-only through their parent (as `open` does);
    /// anything else (symlinks, devices, FIFOs, sockets, which must not be
    /// opened) is named from its parent directory, made the current
    /// directory for the call, with the non-following `l*xattr` calls.
    fn with_xattr_target<T>(
        &self,
        h: Handle,
        f: impl FnOnce(sys::XattrAt<'_>) -> Result<T, Errno>,
    ) -> Result<T, Errno> {
        let node = self.node(h)?;
        let st = sys::fstat(node.fd.as_fd())?;
        match file_type(&st) {
            libc::S_IFDIR => {
                let flags = libc::O_RDONLY | libc::O_DIRECTORY | libc::O_CLOEXEC | libc::O_NOFOLLOW;
                let fd = sys::openat(node.fd.as_fd(), c".", flags, 0)?;
                f(sys::XattrAt::Fd(fd.as_fd()))
            }
            libc::S_IFREG => {
                let (parent, name) = node.parent.as_ref().ok_or(Errno::ESTALE)?;
                let fd = reopen_checked(parent.as_fd(), name, libc::O_RDONLY, &st)?;
                f(sys::XattrAt::Fd(fd.as_fd()))
            }
            _ => {
                let (parent, name) = node.parent.as_ref().ok_or(Errno::ESTALE)?;
                let (_, now) = lookup(parent.as_fd(), name)?;
                if !same_file(&now, &st) {
                    return Err(Errno::ESTALE);
                }
                sys::fchdir(parent.as_fd())?;
                let r = f(sys::XattrAt::Name(name));
                // The gofer has no other use for its working directory.
                let _ = sys::fchdir(self.home.as_fd());
                r
            }
        }
    }

    fn setattr(&self, h: Handle, attr: &SetAttr) -> Result<(), Errno> {
        let node = self.node(h)?;
        let st = sys::fstat(node.fd.as_fd())?;
        if attr.mode.is_some_and(|m| m & !0o7777 != 0) {
            return Err(Errno::EINVAL);
        }
        let times = [attr.atime, attr.mtime].map(timespec);
        if times.iter().any(|t| t.tv_nsec < 0) {
            return Err(Errno::EINVAL);
        }
        if attr.uid.is_some() || attr.gid.is_some() {
            sys::fchown(node.fd.as_fd(), attr.uid, attr.gid)?;
        }
        let needs_fd = attr.mode.is_some() || attr.size.is_some() || attr.atime.is_some() || attr.mtime.is_some();
        if !needs_fd {
            return Ok(());
        }
        // fchmod, ftruncate and futimens need a real descriptor.
        let fd = match file_type(&st) {
            libc::S_IFDIR => {
                if attr.size.is_some() {
                    return Err(Errno::EISDIR);
                }
                self.open(h, libc::O_RDONLY)?
            }
            libc::S_IFREG => {
                let mode = if attr.size.is_some() { libc::O_WRONLY } else { libc::O_RDONLY };
                self.open(h, mode)?
            }
            _ => return Err(if attr.size.is_some() { Errno::EINVAL } else { Errno::EOPNOTSUPP }),
        };
        if let Some(m) = attr.mode {
            sys::fchmod(fd.as_fd(), m)?;
        }
        if let Some(s) = attr.size {
            sys::ftruncate(fd.as_fd(), s)?;
        }
        if attr.atime.is_some() || attr.mtime.is_some() {
            sys::futimens(fd.as_fd(), &times)?;
        }
        Ok(())
    }
}

/// A `futimens` time; `tv_nsec == -1` marks an out-of-range request.
fn timespec(t: Option<SetTime>) -> libc::timespec {
    match t {
        None => libc::timespec { tv_sec: 0, tv_nsec: libc::UTIME_OMIT },
        Some(SetTime::Now) => libc::timespec { tv_sec: 0, tv_nsec: libc::UTIME_NOW },
        Some(SetTime::At(t)) if (0..1_000_000_000).contains(&t.nsec) => {
            libc::timespec { tv_sec: t.sec, tv_nsec: t.nsec }
        }
        Some(SetTime::At(_)) => libc::timespec { tv_sec: 0, tv_nsec: -1 },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn open_flags_reject_creat_excl_path_tmpfile_and_accmode_3() {
        for f in [libc::O_CREAT, libc::O_EXCL, libc::O_PATH, libc::O_TMPFILE, libc::O_ASYNC, 3] {
            assert_eq!(open_flags(f as u32), Err(Errno::EINVAL), "{f:#o}");
        }
    }

    #[test]
    fn open_flags_reject_trunc_with_rdonly() {
        assert_eq!(open_flags(libc::O_TRUNC as u32), Err(Errno::EINVAL));
    }

    #[test]
    fn open_flags_pass_access_mode_and_drop_ignored_bits() {
        let f = libc::O_RDWR | libc::O_APPEND | libc::O_CLOEXEC | libc::O_LARGEFILE;
        assert_eq!(open_flags(f as u32), Ok(libc::O_RDWR | libc::O_APPEND));
    }
}
