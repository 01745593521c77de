//! The gofer wire protocol: messages and their binary codec.
//!
//! The transport is a `SOCK_SEQPACKET` Unix socket, so the kernel keeps
//! message boundaries and a message needs no length prefix. The exchange is
//! strictly one request, then one reply, so there is no request id.
//!
//! Encoding (all integers little-endian):
//! - a message is a one-byte tag (request opcode or reply kind) followed by
//!   its fields in declaration order;
//! - `u8`/`u32`/`u64`/`i64` are fixed width; a handle is a `u64`;
//! - a byte string is a `u32` length then the bytes;
//! - a list is a `u32` count then the elements;
//! - an [`Attr`] is its fields in declaration order (116 bytes).
//!
//! No message may exceed [`MAX_MSG`] bytes; the server sizes its replies to
//! fit (readdir replies are paginated with a cookie). A message with trailing
//! bytes, a short field, an unknown tag or an over-long string does not
//! decode.
//!
//! A reply to `Open` or `Create` carries the opened descriptor as
//! `SCM_RIGHTS` ancillary data; no other message carries descriptors.

use crate::client::{Attr, DirEnt, Handle, SetAttr, SetTime, Time, WalkedDir};

/// The largest message either side sends or accepts, in bytes: room for a
/// directory batch or for the largest extended attribute value and its
/// name.
pub const MAX_MSG: usize = 72 * 1024;
/// The longest path component (`NAME_MAX`).
pub const MAX_NAME: usize = 255;
/// The longest symlink target (`PATH_MAX - 1`).
pub const MAX_TARGET: usize = 4095;
/// The most components one `Walk` request may name.
pub const MAX_WALK: usize = 256;
/// The longest extended attribute name (`XATTR_NAME_MAX`).
pub const MAX_XATTR_NAME: usize = 255;
/// The largest extended attribute value (`XATTR_SIZE_MAX`), and the
/// largest total of names a `ListXattr` reply carries (`XATTR_LIST_MAX`).
pub const MAX_XATTR_VALUE: usize = 64 * 1024;

/// Why a message failed to decode.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    #[error("message ends inside a field")]
    Short,
    #[error("{0} trailing bytes after the message")]
    Trailing(usize),
    #[error("unknown message tag {0}")]
    UnknownTag(u8),
    #[error("field length {0} exceeds the limit")]
    TooLong(usize),
    #[error("bad field value")]
    BadValue,
}

/// A request from the sentry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    /// A new handle on the root.
    Attach,
    /// Walk `names` one component at a time from `dir`.
    Walk {
        dir: Handle,
        names: Vec<Vec<u8>>,
    },
    GetAttr {
        h: Handle,
    },
    /// Open `h`; the reply carries the descriptor.
    Open {
        h: Handle,
        flags: u32,
    },
    /// Entries of `h` from position `cookie` (0: the start).
    ReadDir {
        h: Handle,
        cookie: u64,
    },
    ReadLink {
        h: Handle,
    },
    StatFs {
        h: Handle,
    },
    Close {
        h: Handle,
    },
    /// Create and open a regular file (`O_CREAT|O_EXCL`).
    Create {
        dir: Handle,
        name: Vec<u8>,
        mode: u32,
        flags: u32,
    },
    Mkdir {
        dir: Handle,
        name: Vec<u8>,
        mode: u32,
    },
    Symlink {
        dir: Handle,
        name: Vec<u8>,
        target: Vec<u8>,
    },
    /// Make `dir/name` a hard link to `target`.
    Link {
        dir: Handle,
        name: Vec<u8>,
        target: Handle,
    },
    /// `unlinkat(dir, name, flags)`; `flags` is 0 or `AT_REMOVEDIR`.
    Unlink {
        dir: Handle,
        name: Vec<u8>,
        flags: u32,
    },
    Rename {
        olddir: Handle,
        old: Vec<u8>,
        newdir: Handle,
        new: Vec<u8>,
    },
    SetAttr {
        h: Handle,
        attr: SetAttr,
    },
    /// The value of extended attribute `name` of `h`.
    GetXattr {
        h: Handle,
        name: Vec<u8>,
    },
    /// The names of the extended attributes of `h`.
    ListXattr {
        h: Handle,
    },
    /// `setxattr` with `XATTR_CREATE`/`XATTR_REPLACE` `flags`.
    SetXattr {
        h: Handle,
        name: Vec<u8>,
        value: Vec<u8>,
        flags: u32,
    },
    RemoveXattr {
        h: Handle,
        name: Vec<u8>,
    },
    /// Walk each of `names` (siblings, one component each) from `dir`, and
    /// read the whole listing of each that is a directory: the sentry asks
    /// for the subdirectories of a directory it listed, ahead of the walks
    /// and `readdir`s a tree traversal makes. The reply is `WalkedDirs`.
    WalkDirs {
        dir: Handle,
        names: Vec<Vec<u8>>,
    },
    /// Run the gofer on host CPU `cpu` (the one the sentry thread that
    /// calls it runs on): a request then wakes the gofer on the caller's
    /// own CPU, which sits idle while the caller waits, instead of
    /// another one. The reply is `Ok`, or the error of `sched_setaffinity`.
    Pin {
        cpu: u32,
    },
}

/// A reply from the gofer. (No `PartialEq`: `abi::types::Statfs` has none;
/// compare encodings.)
#[derive(Debug, Clone)]
pub enum Reply {
    /// The request failed with this errno.
    Error(i32),
    /// New handles: one for `Attach`, `Mkdir`, `Symlink`, `Link`; one per
    /// component walked for `Walk`.
    Handles(Vec<(Handle, Attr)>),
    Attr(Attr),
    /// `Open` succeeded; the descriptor is attached.
    Opened,
    /// `Create` succeeded; the descriptor is attached.
    Created(Handle, Attr),
    /// A batch of entries; if `more`, ask again from `next`.
    Dirents {
        entries: Vec<DirEnt>,
        next: u64,
        more: bool,
    },
    Target(Vec<u8>),
    StatFs(abi::types::Statfs),
    Ok,
    /// An extended attribute's value.
    Xattr(Vec<u8>),
    /// Extended attribute names, in the host's order.
    XattrNames(Vec<Vec<u8>>),
    /// One element per name of a `WalkDirs` request, in order; fewer when
    /// the rest would not fit in a message (never none).
    WalkedDirs(Vec<WalkedDir>),
}

/// Whether `name` is one path component the gofer accepts: not empty, not
/// `.` or `..`, no `/` or NUL, at most [`MAX_NAME`] bytes.
pub fn valid_name(name: &[u8]) -> bool {
    !name.is_empty()
        && name.len() <= MAX_NAME
        && name != b"."
        && name != b".."
        && !name.iter().any(|&b| b == b'/' || b == 0)
}

/// Whether `target` is a symlink target the gofer accepts: not empty, no
/// NUL, at most [`MAX_TARGET`] bytes.
pub fn valid_target(target: &[u8]) -> bool {
    !target.is_empty() && target.len() <= MAX_TARGET && !target.contains(&0)
}

// Request opcodes.
const T_ATTACH: u8 = 1;
const T_WALK: u8 = 2;
const T_GETATTR: u8 = 3;
const T_OPEN: u8 = 4;
const T_READDIR: u8 = 5;
const T_READLINK: u8 = 6;
const T_STATFS: u8 = 7;
const T_CLOSE: u8 = 8;
const T_CREATE: u8 = 9;
const T_MKDIR: u8 = 10;
const T_SYMLINK: u8 = 11;
const T_LINK: u8 = 12;
const T_UNLINK: u8 = 13;
const T_RENAME: u8 = 14;
const T_SETATTR: u8 = 15;
const T_GETXATTR: u8 = 16;
const T_LISTXATTR: u8 = 17;
const T_SETXATTR: u8 = 18;
const T_REMOVEXATTR: u8 = 19;
const T_WALKDIRS: u8 = 20;
const T_PIN: u8 = 21;

// Reply kinds.
const R_ERROR: u8 = 0;
const R_HANDLES: u8 = 1;
const R_ATTR: u8 = 2;
const R_OPENED: u8 = 3;
const R_CREATED: u8 = 4;
const R_DIRENTS: u8 = 5;
const R_TARGET: u8 = 6;
const R_STATFS: u8 = 7;
const R_OK: u8 = 8;
const R_XATTR: u8 = 9;
const R_XATTR_NAMES: u8 = 10;
const R_WALKED_DIRS: u8 = 11;

// SetAttr field mask.
const SA_MODE: u8 = 1;
const SA_UID: u8 = 2;
const SA_GID: u8 = 4;
const SA_SIZE: u8 = 8;
const SA_ATIME: u8 = 16;
const SA_MTIME: u8 = 32;

/// Encoded size of an [`Attr`].
pub const ATTR_SIZE: usize = 116;
/// Encoded size of a directory entry with an empty name.
pub const DIRENT_OVERHEAD: usize = 8 + 1 + 4;
/// Encoded size of a `Dirents` reply with no entries.
pub const DIRENTS_OVERHEAD: usize = 1 + 8 + 1 + 4;
/// Encoded size of a `WalkedDirs` reply with no elements.
pub const WALKED_DIRS_OVERHEAD: usize = 1 + 4;
/// Encoded size of a successful `WalkedDirs` element without a listing (a
/// failed one is smaller); a listing adds 4 plus its entries.
pub const WALKED_DIR_SIZE: usize = 1 + 8 + ATTR_SIZE + 1;

struct Writer(Vec<u8>);

impl Writer {
    fn new(tag: u8) -> Writer {
        let mut v = Vec::with_capacity(64);
        v.push(tag);
        Writer(v)
    }
    fn u8(&mut self, v: u8) {
        self.0.push(v);
    }
    fn u32(&mut self, v: u32) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    fn u64(&mut self, v: u64) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    fn i64(&mut self, v: i64) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    fn len(&mut self, n: usize) {
        // Every caller bounds `n` far below 4 GiB (MAX_MSG); saturate rather
        // than wrap so a bug cannot produce a decodable lie.
        self.u32(u32::try_from(n).unwrap_or(u32::MAX));
    }
    fn bytes(&mut self, b: &[u8]) {
        self.len(b.len());
        self.0.extend_from_slice(b);
    }
    fn time(&mut self, t: Time) {
        self.i64(t.sec);
        self.i64(t.nsec);
    }
    fn attr(&mut self, a: &Attr) {
        self.u64(a.dev);
        self.u64(a.ino);
        self.u32(a.mode);
        self.u64(a.nlink);
        self.u32(a.uid);
        self.u32(a.gid);
        self.u64(a.rdev);
        self.u64(a.size);
        self.u64(a.blksize);
        self.u64(a.blocks);
        self.time(a.atime);
        self.time(a.mtime);
        self.time(a.ctime);
    }
    fn dirents(&mut self, entries: &[DirEnt]) {
        self.len(entries.len());
        for e in entries {
            self.u64(e.ino);
            self.u8(e.kind);
            self.bytes(&e.name);
        }
    }
    fn set_time(&mut self, t: SetTime) {
        match t {
            SetTime::Now => self.u8(0),
            SetTime::At(t) => {
                self.u8(1);
                self.time(t);
            }
        }
    }
}

struct Reader<'a> {
    buf: &'a [u8],
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], DecodeError> {
        if self.buf.len() < n {
            return Err(DecodeError::Short);
        }
        let (head, tail) = self.buf.split_at(n);
        self.buf = tail;
        Ok(head)
    }
    fn array<const N: usize>(&mut self) -> Result<[u8; N], DecodeError> {
        let mut a = [0u8; N];
        a.copy_from_slice(self.take(N)?);
        Ok(a)
    }
    fn u8(&mut self) -> Result<u8, DecodeError> {
        Ok(self.array::<1>()?[0])
    }
    fn u32(&mut self) -> Result<u32, DecodeError> {
        Ok(u32::from_le_bytes(self.array()?))
    }
    fn u64(&mut self) -> Result<u64, DecodeError> {
        Ok(u64::from_le_bytes(self.array()?))
    }
    fn i64(&mut self) -> Result<i64, DecodeError> {
        Ok(i64::from_le_bytes(self.array()?))
    }
    fn i32(&mut self) -> Result<i32, DecodeError> {
        Ok(i32::from_le_bytes(self.array()?))
    }
    fn handle(&mut self) -> Result<Handle, DecodeError> {
        Ok(Handle(self.u64()?))
    }
    fn bool(&mut self) -> Result<bool, DecodeError> {
        match self.u8()? {
            0 => Ok(false),
            1 => Ok(true),
            _ => Err(DecodeError::BadValue),
        }
    }
    /// A byte string of at most `max` bytes.
    fn bytes(&mut self, max: usize) -> Result<Vec<u8>, DecodeError> {
        let n = self.u32()? as usize;
        if n > max {
            return Err(DecodeError::TooLong(n));
        }
        Ok(self.take(n)?.to_vec())
    }
    /// A list count, checked against `max` and against what the remaining
    /// bytes can hold at `min_elem` bytes each (so a lying count cannot make
    /// us allocate).
    fn count(&mut self, max: usize, min_elem: usize) -> Result<usize, DecodeError> {
        let n = self.u32()? as usize;
        if n > max {
            return Err(DecodeError::TooLong(n));
        }
        if n.saturating_mul(min_elem) > self.buf.len() {
            return Err(DecodeError::Short);
        }
        Ok(n)
    }
    fn time(&mut self) -> Result<Time, DecodeError> {
        Ok(Time { sec: self.i64()?, nsec: self.i64()? })
    }
    fn attr(&mut self) -> Result<Attr, DecodeError> {
        Ok(Attr {
            dev: self.u64()?,
            ino: self.u64()?,
            mode: self.u32()?,
            nlink: self.u64()?,
            uid: self.u32()?,
            gid: self.u32()?,
            rdev: self.u64()?,
            size: self.u64()?,
            blksize: self.u64()?,
            blocks: self.u64()?,
            atime: self.time()?,
            mtime: self.time()?,
            ctime: self.time()?,
        })
    }
    fn dirents(&mut self) -> Result<Vec<DirEnt>, DecodeError> {
        let n = self.count(MAX_MSG, DIRENT_OVERHEAD)?;
        let mut entries = Vec::with_capacity(n);
        for _ in 0..n {
            entries.push(DirEnt { ino: self.u64()?, kind: self.u8()?, name: self.bytes(MAX_NAME)? });
        }
        Ok(entries)
    }
    fn set_time(&mut self) -> Result<SetTime, DecodeError> {
        match self.u8()? {
            0 => Ok(SetTime::Now),
            1 => Ok(SetTime::At(self.time()?)),
            _ => Err(DecodeError::BadValue),
        }
    }
    fn finish(&self) -> Result<(), DecodeError> {
        if self.buf.is_empty() {
            Ok(())
        } else {
            Err(DecodeError::Trailing(self.buf.len()))
        }
    }
}

impl Request {
    /// The wire form of this request.
    pub fn encode(&self) -> Vec<u8> {
        let mut w;
        match self {
            Request::Attach => w = Writer::new(T_ATTACH),
            Request::Walk { dir, names } => {
                w = Writer::new(T_WALK);
                w.u64(dir.0);
                w.len(names.len());
                for n in names {
                    w.bytes(n);
                }
            }
            Request::GetAttr { h } => {
                w = Writer::new(T_GETATTR);
                w.u64(h.0);
            }
            Request::Open { h, flags } => {
                w = Writer::new(T_OPEN);
                w.u64(h.0);
                w.u32(*flags);
            }
            Request::ReadDir { h, cookie } => {
                w = Writer::new(T_READDIR);
                w.u64(h.0);
                w.u64(*cookie);
            }
            Request::ReadLink { h } => {
                w = Writer::new(T_READLINK);
                w.u64(h.0);
            }
            Request::StatFs { h } => {
                w = Writer::new(T_STATFS);
                w.u64(h.0);
            }
            Request::Close { h } => {
                w = Writer::new(T_CLOSE);
                w.u64(h.0);
            }
            Request::Create { dir, name, mode, flags } => {
                w = Writer::new(T_CREATE);
                w.u64(dir.0);
                w.bytes(name);
                w.u32(*mode);
                w.u32(*flags);
            }
            Request::Mkdir { dir, name, mode } => {
                w = Writer::new(T_MKDIR);
                w.u64(dir.0);
                w.bytes(name);
                w.u32(*mode);
            }
            Request::Symlink { dir, name, target } => {
                w = Writer::new(T_SYMLINK);
                w.u64(dir.0);
                w.bytes(name);
                w.bytes(target);
            }
            Request::Link { dir, name, target } => {
                w = Writer::new(T_LINK);
                w.u64(dir.0);
                w.bytes(name);
                w.u64(target.0);
            }
            Request::Unlink { dir, name, flags } => {
                w = Writer::new(T_UNLINK);
                w.u64(dir.0);
                w.bytes(name);
                w.u32(*flags);
            }
            Request::Rename { olddir, old, newdir, new } => {
                w = Writer::new(T_RENAME);
                w.u64(olddir.0);
                w.bytes(old);
                w.u64(newdir.0);
                w.bytes(new);
            }
            Request::SetAttr { h, attr } => {
                w = Writer::new(T_SETATTR);
                w.u64(h.0);
                let mut mask = 0;
                for (present, bit) in [
                    (attr.mode.is_some(), SA_MODE),
                    (attr.uid.is_some(), SA_UID),
                    (attr.gid.is_some(), SA_GID),
                    (attr.size.is_some(), SA_SIZE),
                    (attr.atime.is_some(), SA_ATIME),
                    (attr.mtime.is_some(), SA_MTIME),
                ] {
                    if present {
                        mask |= bit;
                    }
                }
                w.u8(mask);
                if let Some(m) = attr.mode {
                    w.u32(m);
                }
                if let Some(u) = attr.uid {
                    w.u32(u);
                }
                if let Some(g) = attr.gid {
                    w.u32(g);
                }
                if let Some(s) = attr.size {
                    w.u64(s);
                }
                if let Some(t) = attr.atime {
                    w.set_time(t);
                }
                if let Some(t) = attr.mtime {
                    w.set_time(t);
                }
            }
            Request::GetXattr { h, name } => {
                w = Writer::new(T_GETXATTR);
                w.u64(h.0);
                w.bytes(name);
            }
            Request::ListXattr { h } => {
                w = Writer::new(T_LISTXATTR);
                w.u64(h.0);
            }
            Request::SetXattr { h, name, value, flags } => {
                w = Writer::new(T_SETXATTR);
                w.u64(h.0);
                w.bytes(name);
                w.bytes(value);
                w.u32(*flags);
            }
            Request::RemoveXattr { h, name } => {
                w = Writer::new(T_REMOVEXATTR);
                w.u64(h.0);
                w.bytes(name);
            }
            Request::Pin { cpu } => {
                w = Writer::new(T_PIN);
                w.u32(*cpu);
            }
            Request::WalkDirs { dir, names } => {
                w = Writer::new(T_WALKDIRS);
                w.u64(dir.0);
                w.len(names.len());
                for n in names {
                    w.bytes(n);
                }
            }
        }
        w.0
    }

    /// Parse one request message. Never panics, whatever `buf` holds.
    pub fn decode(buf: &[u8]) -> Result<Request, DecodeError> {
        let mut r = Reader { buf };
        let req = match r.u8()? {
            T_ATTACH => Request::Attach,
            T_WALK => {
                let dir = r.handle()?;
                let n = r.count(MAX_WALK, 4)?;
                let mut names = Vec::with_capacity(n);
                for _ in 0..n {
                    names.push(r.bytes(MAX_NAME)?);
                }
                Request::Walk { dir, names }
            }
            T_GETATTR => Request::GetAttr { h: r.handle()? },
            T_OPEN => Request::Open { h: r.handle()?, flags: r.u32()? },
            T_READDIR => Request::ReadDir { h: r.handle()?, cookie: r.u64()? },
            T_READLINK => Request::ReadLink { h: r.handle()? },
            T_STATFS => Request::StatFs { h: r.handle()? },
            T_CLOSE => Request::Close { h: r.handle()? },
            T_CREATE => Request::Create { dir: r.handle()?, name: r.bytes(MAX_NAME)?, mode: r.u32()?, flags: r.u32()? },
            T_MKDIR => Request::Mkdir { dir: r.handle()?, name: r.bytes(MAX_NAME)?, mode: r.u32()? },
            T_SYMLINK => Request::Symlink { dir: r.handle()?, name: r.bytes(MAX_NAME)?, target: r.bytes(MAX_TARGET)? },
            T_LINK => Request::Link { dir: r.handle()?, name: r.bytes(MAX_NAME)?, target: r.handle()? },
            T_UNLINK => Request::Unlink { dir: r.handle()?, name: r.bytes(MAX_NAME)?, flags: r.u32()? },
            T_RENAME => Request::Rename {
                olddir: r.handle()?,
                old: r.bytes(MAX_NAME)?,
                newdir: r.handle()?,
                new: r.bytes(MAX_NAME)?,
            },
            T_SETATTR => {
                let h = r.handle()?;
                let mask = r.u8()?;
                if mask & !(SA_MODE | SA_UID | SA_GID | SA_SIZE | SA_ATIME | SA_MTIME) != 0 {
                    return Err(DecodeError::BadValue);
                }
                let mut attr = SetAttr::default();
                if mask & SA_MODE != 0 {
                    attr.mode = Some(r.u32()?);
                }
                if mask & SA_UID != 0 {
                    attr.uid = Some(r.u32()?);
                }
                if mask & SA_GID != 0 {
                    attr.gid = Some(r.u32()?);
                }
                if mask & SA_SIZE != 0 {
                    attr.size = Some(r.u64()?);
                }
                if mask & SA_ATIME != 0 {
                    attr.atime = Some(r.set_time()?);
                }
                if mask & SA_MTIME != 0 {
                    attr.mtime = Some(r.set_time()?);
                }
                Request::SetAttr { h, attr }
            }
            T_GETXATTR => Request::GetXattr { h: r.handle()?, name: r.bytes(MAX_XATTR_NAME)? },
            T_LISTXATTR => Request::ListXattr { h: r.handle()? },
            T_SETXATTR => Request::SetXattr {
                h: r.handle()?,
                name: r.bytes(MAX_XATTR_NAME)?,
                value: r.bytes(MAX_XATTR_VALUE)?,
                flags: r.u32()?,
            },
            T_REMOVEXATTR => Request::RemoveXattr { h: r.handle()?, name: r.bytes(MAX_XATTR_NAME)? },
            T_PIN => Request::Pin { cpu: r.u32()? },
            T_WALKDIRS => {
                let dir = r.handle()?;
                let n = r.count(MAX_WALK, 4)?;
                let mut names = Vec::with_capacity(n);
                for _ in 0..n {
                    names.push(r.bytes(MAX_NAME)?);
                }
                Request::WalkDirs { dir, names }
            }
            t => return Err(DecodeError::UnknownTag(t)),
        };
        r.finish()?;
        Ok(req)
    }
}

impl Reply {
    /// The wire form of this reply.
    pub fn encode(&self) -> Vec<u8> {
        let mut w;
        match self {
            Reply::Error(e) => {
                w = Writer::new(R_ERROR);
                w.0.extend_from_slice(&e.to_le_bytes());
            }
            Reply::Handles(v) => {
                w = Writer::new(R_HANDLES);
                w.len(v.len());
                for (h, a) in v {
                    w.u64(h.0);
                    w.attr(a);
                }
            }
            Reply::Attr(a) => {
                w = Writer::new(R_ATTR);
                w.attr(a);
            }
            Reply::Opened => w = Writer::new(R_OPENED),
            Reply::Created(h, a) => {
                w = Writer::new(R_CREATED);
                w.u64(h.0);
                w.attr(a);
            }
            Reply::Dirents { entries, next, more } => {
                w = Writer::new(R_DIRENTS);
                w.u64(*next);
                w.u8(u8::from(*more));
                w.dirents(entries);
            }
            Reply::Target(t) => {
                w = Writer::new(R_TARGET);
                w.bytes(t);
            }
            Reply::StatFs(s) => {
                w = Writer::new(R_STATFS);
                for v in [s.f_type, s.f_bsize] {
                    w.i64(v);
                }
                for v in [s.f_blocks, s.f_bfree, s.f_bavail, s.f_files, s.f_ffree] {
                    w.u64(v);
                }
                for v in s.f_fsid {
                    w.0.extend_from_slice(&v.to_le_bytes());
                }
                for v in [s.f_namelen, s.f_frsize, s.f_flags] {
                    w.i64(v);
                }
            }
            Reply::Ok => w = Writer::new(R_OK),
            Reply::Xattr(v) => {
                w = Writer::new(R_XATTR);
                w.bytes(v);
            }
            Reply::XattrNames(names) => {
                w = Writer::new(R_XATTR_NAMES);
                w.len(names.len());
                for n in names {
                    w.bytes(n);
                }
            }
            Reply::WalkedDirs(v) => {
                w = Writer::new(R_WALKED_DIRS);
                w.len(v.len());
                for d in v {
                    match d.walked {
                        Err(e) => {
                            w.u8(0);
                            w.0.extend_from_slice(&e.to_le_bytes());
                        }
                        Ok((h, a)) => {
                            w.u8(1);
                            w.u64(h.0);
                            w.attr(&a);
                            match &d.listing {
                                None => w.u8(0),
                                Some(entries) => {
                                    w.u8(1);
                                    w.dirents(entries);
                                }
                            }
                        }
                    }
                }
            }
        }
        w.0
    }

    /// Parse one reply message. Never panics, whatever `buf` holds.
    pub fn decode(buf: &[u8]) -> Result<Reply, DecodeError> {
        let mut r = Reader { buf };
        let rep = match r.u8()? {
            R_ERROR => Reply::Error(r.i32()?),
            R_HANDLES => {
                let n = r.count(MAX_WALK, 8 + ATTR_SIZE)?;
                let mut v = Vec::with_capacity(n);
                for _ in 0..n {
                    v.push((r.handle()?, r.attr()?));
                }
                Reply::Handles(v)
            }
            R_ATTR => Reply::Attr(r.attr()?),
            R_OPENED => Reply::Opened,
            R_CREATED => Reply::Created(r.handle()?, r.attr()?),
            R_DIRENTS => {
                let next = r.u64()?;
                let more = r.bool()?;
                let entries = r.dirents()?;
                Reply::Dirents { entries, next, more }
            }
            R_TARGET => Reply::Target(r.bytes(MAX_TARGET)?),
            R_STATFS => Reply::StatFs(abi::types::Statfs {
                f_type: r.i64()?,
                f_bsize: r.i64()?,
                f_blocks: r.u64()?,
                f_bfree: r.u64()?,
                f_bavail: r.u64()?,
                f_files: r.u64()?,
                f_ffree: r.u64()?,
                f_fsid: [r.i32()?, r.i32()?],
                f_namelen: r.i64()?,
                f_frsize: r.i64()?,
                f_flags: r.i64()?,
                f_spare: [0; 4],
            }),
            R_OK => Reply::Ok,
            R_XATTR => Reply::Xattr(r.bytes(MAX_XATTR_VALUE)?),
            R_XATTR_NAMES => {
                let n = r.count(MAX_XATTR_VALUE, 4)?;
                let mut names = Vec::with_capacity(n);
                for _ in 0..n {
                    names.push(r.bytes(MAX_XATTR_NAME)?);
                }
                Reply::XattrNames(names)
            }
            R_WALKED_DIRS => {
                let n = r.count(MAX_WALK, 5)?;
                let mut v = Vec::with_capacity(n);
                for _ in 0..n {
                    let d = match r.u8()? {
                        0 => WalkedDir { walked: Err(r.i32()?), listing: None },
                        1 => {
                            let walked = Ok((r.handle()?, r.attr()?));
                            let listing = if r.bool()? { Some(r.dirents()?) } else { None };
                            WalkedDir { walked, listing }
                        }
                        _ => return Err(DecodeError::BadValue),
                    };
                    v.push(d);
                }
                Reply::WalkedDirs(v)
            }
            t => return Err(DecodeError::UnknownTag(t)),
        };
        r.finish()?;
        Ok(rep)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample_attr() -> Attr {
        Attr {
            dev: 1,
            ino: 2,
            mode: 0o100644,
            nlink: 3,
            uid: 4,
            gid: 5,
            rdev: 6,
            size: 7,
            blksize: 8,
            blocks: 9,
            atime: Time { sec: 10, nsec: 11 },
            mtime: Time { sec: -12, nsec: 13 },
            ctime: Time { sec: 14, nsec: 15 },
        }
    }

    fn sample_requests() -> Vec<Request> {
        let h = Handle(7);
        vec![
            Request::Attach,
            Request::Walk { dir: h, names: vec![b"a".to_vec(), b"\xff\x01b".to_vec()] },
            Request::GetAttr { h },
            Request::Open { h, flags: 2 },
            Request::ReadDir { h, cookie: u64::MAX },
            Request::ReadLink { h },
            Request::StatFs { h },
            Request::Close { h },
            Request::Create { dir: h, name: b"f".to_vec(), mode: 0o644, flags: 2 },
            Request::Mkdir { dir: h, name: b"d".to_vec(), mode: 0o755 },
            Request::Symlink { dir: h, name: b"l".to_vec(), target: b"/etc/passwd".to_vec() },
            Request::Link { dir: h, name: b"l".to_vec(), target: Handle(9) },
            Request::Unlink { dir: h, name: b"x".to_vec(), flags: 0x200 },
            Request::Rename { olddir: h, old: b"a".to_vec(), newdir: Handle(8), new: b"b".to_vec() },
            Request::SetAttr {
                h,
                attr: SetAttr {
                    mode: Some(0o600),
                    uid: None,
                    gid: Some(3),
                    size: Some(0),
                    atime: Some(SetTime::Now),
                    mtime: Some(SetTime::At(Time { sec: 1, nsec: 2 })),
                },
            },
            Request::GetXattr { h, name: b"user.a".to_vec() },
            Request::ListXattr { h },
            Request::SetXattr { h, name: b"user.a".to_vec(), value: vec![0, 1, 2], flags: 1 },
            Request::RemoveXattr { h, name: b"user.a".to_vec() },
            Request::WalkDirs { dir: h, names: vec![b"a".to_vec(), b"b".to_vec()] },
            Request::Pin { cpu: 3 },
        ]
    }

    fn sample_replies() -> Vec<Reply> {
        vec![
            Reply::Error(2),
            Reply::Handles(vec![(Handle(1), sample_attr()), (Handle(2), Attr::default())]),
            Reply::Attr(sample_attr()),
            Reply::Opened,
            Reply::Created(Handle(3), sample_attr()),
            Reply::Dirents { entries: vec![DirEnt { ino: 5, kind: 4, name: b"sub".to_vec() }], next: 99, more: true },
            Reply::Target(b"../x".to_vec()),
            Reply::StatFs(abi::types::Statfs {
                f_type: 0xef53,
                f_bsize: 4096,
                f_blocks: 1,
                f_bfree: 2,
                f_bavail: 3,
                f_files: 4,
                f_ffree: 5,
                f_fsid: [6, -7],
                f_namelen: 255,
                f_frsize: 4096,
                f_flags: 1,
                f_spare: [0; 4],
            }),
            Reply::Ok,
            Reply::Xattr(b"v\0".to_vec()),
            Reply::XattrNames(vec![b"user.a".to_vec(), b"security.selinux".to_vec()]),
            Reply::WalkedDirs(vec![
                WalkedDir {
                    walked: Ok((Handle(4), sample_attr())),
                    listing: Some(vec![DirEnt { ino: 6, kind: 8, name: b"f".to_vec() }]),
                },
                WalkedDir { walked: Ok((Handle(5), Attr::default())), listing: None },
                WalkedDir { walked: Err(2), listing: None },
            ]),
        ]
    }

    #[test]
    fn every_request_round_trips() {
        for req in sample_requests() {
            assert_eq!(Request::decode(&req.encode()), Ok(req));
        }
    }

    #[test]
    fn every_reply_round_trips() {
        for rep in sample_replies() {
            let got = Reply::decode(&rep.encode()).expect("decodes");
            // Statfs has no PartialEq; compare the encodings.
            assert_eq!(got.encode(), rep.encode());
        }
    }

    #[test]
    fn attr_encodes_to_attr_size_bytes() {
        assert_eq!(Reply::Attr(sample_attr()).encode().len(), 1 + ATTR_SIZE);
    }

    #[test]
    fn every_truncation_of_a_valid_message_fails_to_decode() {
        for req in sample_requests() {
            let buf = req.encode();
            for cut in 0..buf.len() {
                assert!(Request::decode(&buf[..cut]).is_err(), "{req:?} cut at {cut}");
            }
        }
        for rep in sample_replies() {
            let buf = rep.encode();
            for cut in 0..buf.len() {
                assert!(Reply::decode(&buf[..cut]).is_err(), "{rep:?} cut at {cut}");
            }
        }
    }

    #[test]
    fn trailing_bytes_fail_to_decode() {
        let mut buf = Request::GetAttr { h: Handle(1) }.encode();
        buf.push(0);
        assert_eq!(Request::decode(&buf), Err(DecodeError::Trailing(1)));
    }

    #[test]
    fn unknown_tag_fails_to_decode() {
        assert_eq!(Request::decode(&[200]), Err(DecodeError::UnknownTag(200)));
        assert_eq!(Reply::decode(&[200]).err(), Some(DecodeError::UnknownTag(200)));
    }

    #[test]
    fn huge_list_count_is_rejected_without_allocating() {
        let mut buf = vec![T_WALK];
        buf.extend_from_slice(&1u64.to_le_bytes());
        buf.extend_from_slice(&u32::MAX.to_le_bytes());
        assert_eq!(Request::decode(&buf), Err(DecodeError::TooLong(u32::MAX as usize)));
        let mut buf = vec![R_DIRENTS];
        buf.extend_from_slice(&0u64.to_le_bytes());
        buf.push(0);
        buf.extend_from_slice(&60_000u32.to_le_bytes());
        assert_eq!(Reply::decode(&buf).err(), Some(DecodeError::Short));
    }

    #[test]
    fn largest_xattr_value_with_longest_name_fits_in_a_message() {
        let req = Request::SetXattr {
            h: Handle(1),
            name: vec![b'n'; MAX_XATTR_NAME],
            value: vec![0; MAX_XATTR_VALUE],
            flags: 0,
        };
        assert!(req.encode().len() <= MAX_MSG);
        assert!(Reply::Xattr(vec![0; MAX_XATTR_VALUE]).encode().len() <= MAX_MSG);
    }

    #[test]
    fn over_long_xattr_value_is_rejected() {
        let rep = Reply::Xattr(vec![0; MAX_XATTR_VALUE + 1]);
        assert_eq!(Reply::decode(&rep.encode()).err(), Some(DecodeError::TooLong(MAX_XATTR_VALUE + 1)));
    }

    #[test]
    fn over_long_name_is_rejected() {
        let req = Request::Mkdir { dir: Handle(1), name: vec![b'a'; MAX_NAME + 1], mode: 0 };
        assert_eq!(Request::decode(&req.encode()), Err(DecodeError::TooLong(MAX_NAME + 1)));
    }

    #[test]
    fn valid_name_rejects_dot_dotdot_slash_nul_and_empty() {
        for bad in [&b""[..], b".", b"..", b"a/b", b"/", b"a\0b", &[b'x'; 256]] {
            assert!(!valid_name(bad), "{bad:?}");
        }
        for good in [&b"a"[..], b"...", b".hidden", b"\xff\xfe", &[b'x'; 255]] {
            assert!(valid_name(good), "{good:?}");
        }
    }

    /// A small xorshift generator: deterministic, no dependency.
    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }
    }

    #[test]
    fn random_and_mutated_bytes_never_panic_the_decoders() {
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        let mut seeds: Vec<Vec<u8>> = sample_requests().iter().map(Request::encode).collect();
        seeds.extend(sample_replies().iter().map(Reply::encode));
        for i in 0..200_000 {
            let buf: Vec<u8> = if i % 2 == 0 {
                let len = (rng.next() % 300) as usize;
                let mut b: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
                if let Some(first) = b.first_mut() {
                    *first %= 22;
                }
                b
            } else {
                let mut b = seeds[(rng.next() as usize) % seeds.len()].clone();
                for _ in 0..1 + rng.next() % 4 {
                    if b.is_empty() {
                        break;
                    }
                    let at = (rng.next() as usize) % b.len();
                    b[at] = rng.next() as u8;
                }
                let cut = (rng.next() as usize) % (b.len() + 1);
                b.truncate(cut.max(b.len().saturating_sub(3)));
                b
            };
            let _ = Request::decode(&buf);
            let _ = Reply::decode(&buf);
        }
    }
}
