//! The typed arguments and results of system calls.
//!
//! A handler is declared once with `#[syscall]` and typed parameters:
//!
//! ```ignore
//! #[syscall]
//! pub fn openat(t: &mut Task, dirfd: DirFd, path: UserCStr, flags: OpenFlags, mode: Mode) -> KResult<u64>
//! ```
//!
//! Each parameter's type says how its register is decoded ([`SysArg::decode`]:
//! a value the type does not admit is an errno before the handler runs) and
//! how `--strace` prints it ([`SysArg::strace`]); the result type says how the
//! return register is set and printed ([`SysRet`]). The attribute generates the
//! call's [`Entry`] from that one declaration; `table.rs` maps numbers to
//! entries.
//!
//! Application memory is reached only through the pointer types here
//! ([`UserPtr`], [`UserCStr`], [`InBuf`], [`OutBuf`], [`Iovecs`]), each read
//! capped.

use std::marker::PhantomData;

use abi::consts::*;
use abi::types::{Iovec, Rlimit, Stat, Timespec, Timeval, Winsize};
use abi::{flags, names, Errno};
use zerocopy::{AsBytes, FromBytes};

use crate::kernel::Task;
use crate::vfs::KResult;

/// How `--strace` prints argument `i` of a call; an empty string leaves the
/// argument out, as strace does for arguments a call ignores.
pub type Printer = fn(&Call<'_>, usize) -> String;

/// A system call as the dispatcher sees it: decoder and handler in one
/// function, the argument printers, and how the result is handled.
pub struct Entry {
    pub handler: fn(&mut Task, &[u64; 6]) -> KResult<u64>,
    pub args: &'static [Printer],
    pub ret: RetKind,
}

/// What the return register of a call is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RetKind {
    /// A number, printed in signed decimal.
    Value,
    /// An address, printed in hex.
    Addr,
    /// The call does not return (`exit`): printed `= ?`.
    NoReturn,
    /// A successful call replaced the image (`execve`): its registers are
    /// already the new program's; `rax` starts at 0.
    Exec,
    /// A successful call restored registers (`rt_sigreturn`): they are the
    /// result.
    SigReturn,
}

impl RetKind {
    /// Whether the strace line is formatted before the call: after it, the
    /// arguments' memory is gone or belongs to another image.
    pub fn prints_before(self) -> bool {
        matches!(self, RetKind::NoReturn | RetKind::Exec | RetKind::SigReturn)
    }
}

/// One call being printed: the task, its raw arguments, and the result when
/// the line is formatted after the call.
pub struct Call<'a> {
    pub t: &'a Task,
    pub raw: &'a [u64; 6],
    pub result: Option<KResult<u64>>,
}

impl Call<'_> {
    fn arg(&self, i: usize) -> u64 {
        self.raw.get(i).copied().unwrap_or(0)
    }
}

/// A system call argument type.
pub trait SysArg: Sized {
    /// The argument from its register; an errno for a value the call cannot
    /// take.
    fn decode(t: &Task, raw: u64) -> KResult<Self>;
    /// How strace prints it (hex unless the type knows better).
    fn strace(c: &Call<'_>, i: usize) -> String {
        format!("{:#x}", c.arg(i))
    }
}

/// A system call result type.
pub trait SysRet {
    const KIND: RetKind;
    fn into_raw(self) -> u64;
}

impl SysRet for u64 {
    const KIND: RetKind = RetKind::Value;
    fn into_raw(self) -> u64 {
        self
    }
}

/// An address result (`mmap`, `brk`, `mremap`, `shmat`), printed in hex.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Addr(pub u64);

impl SysRet for Addr {
    const KIND: RetKind = RetKind::Addr;
    fn into_raw(self) -> u64 {
        self.0
    }
}

/// The result of a call that ends the thread.
pub struct NoReturn;

impl SysRet for NoReturn {
    const KIND: RetKind = RetKind::NoReturn;
    fn into_raw(self) -> u64 {
        0
    }
}

/// The result of a successful `execve`: the new image's registers are set.
pub struct Exec;

impl SysRet for Exec {
    const KIND: RetKind = RetKind::Exec;
    fn into_raw(self) -> u64 {
        0
    }
}

/// The result of `rt_sigreturn`: the restored registers are the result;
/// strace shows the restored `rax`.
pub struct SigReturn(pub u64);

impl SysRet for SigReturn {
    const KIND: RetKind = RetKind::SigReturn;
    fn into_raw(self) -> u64 {
        self.0
    }
}

// ---- numbers ----

/// `int`: the upper half of the register is ignored, as the kernel does.
impl SysArg for i32 {
    fn decode(_: &Task, raw: u64) -> KResult<Self> {
        Ok(raw as u32 as i32)
    }
    fn strace(c: &Call<'_>, i: usize) -> String {
        format!("{}", c.arg(i) as u32 as i32)
    }
}

/// `unsigned int`.
impl SysArg for u32 {
    fn decode(_: &Task, raw: u64) -> KResult<Self> {
        Ok(raw as u32)
    }
    fn strace(c: &Call<'_>, i: usize) -> String {
        format!("{}", c.arg(i) as u32)
    }
}

/// `long`, `off_t`, `pid_t` passed whole.
impl SysArg for i64 {
    fn decode(_: &Task, raw: u64) -> KResult<Self> {
        Ok(raw as i64)
    }
    fn strace(c: &Call<'_>, i: usize) -> String {
        format!("{}", c.arg(i) as i64)
    }
}

/// `unsigned long`.
impl SysArg for u64 {
    fn decode(_: &Task, raw: u64) -> KResult<Self> {
        Ok(raw)
    }
    fn strace(c: &Call<'_>, i: usize) -> String {
        format!("{}", c.arg(i))
    }
}

/// `size_t`.
impl SysArg for usize {
    fn decode(_: &Task, raw: u64) -> KResult<Self> {
        Ok(raw as usize)
    }
    fn strace(c: &Call<'_>, i: usize) -> String {
        format!("{}", c.arg(i))
    }
}

/// A word the handler interprets itself (its meaning depends on another
/// argument, as `fcntl`'s third), printed in hex.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Hex(pub u64);

impl SysArg for Hex {
    fn decode(_: &Task, raw: u64) -> KResult<Self> {
        Ok(Hex(raw))
    }
}

/// A file offset that must not be negative (`pread64`, `preadv`): `EINVAL`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Offset(pub u64);

impl SysArg for Offset {
    fn decode(_: &Task, raw: u64) -> KResult<Self> {
        if (raw as i64) < 0 {
            return Err(Errno::EINVAL);
        }
        Ok(Offset(raw))
    }
    fn strace(c: &Call<'_>, i: usize) -> String {
        format!("{}", c.arg(i) as i64)
    }
}

/// A file mode or permission bits, printed in octal as strace does (`0644`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Mode(pub u32);

impl SysArg for Mode {
    fn decode(_: &Task, raw: u64) -> KResult<Self> {
        Ok(Mode(raw as u32))
    }
    fn strace(c: &Call<'_>, i: usize) -> String {
        octal(c.arg(i) as u32)
    }
}

// ---- descriptors ----

/// A descriptor number; one no descriptor can have is `EBADF`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Fd(pub i32);

pub(crate) fn fd_number(raw: u64) -> KResult<i32> {
    i32::try_from(raw as i64).map_err(|_| Errno::EBADF)
}

impl SysArg for Fd {
    fn decode(_: &Task, raw: u64) -> KResult<Self> {
        fd_number(raw).map(Fd)
    }
    fn strace(c: &Call<'_>, i: usize) -> String {
        format!("{}", c.arg(i) as u32 as i32)
    }
}

/// The directory a relative path starts from: a descriptor or `AT_FDCWD`.
/// It is a C `int`: the upper half of the register is ignored, as Linux
/// does, so `AT_FDCWD` passed zero-extended (as `syscall(2)` does from an
/// `int` vararg) still names the working directory; a bad descriptor is
/// `EBADF` when the path walk starts, after the path is read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DirFd(pub i32);

impl SysArg for DirFd {
    fn decode(_: &Task, raw: u64) -> KResult<Self> {
        Ok(DirFd(raw as u32 as i32))
    }
    fn strace(c: &Call<'_>, i: usize) -> String {
        let v = c.arg(i) as u32 as i32;
        if v == AT_FDCWD {
            "AT_FDCWD".into()
        } else {
            format!("{v}")
        }
    }
}

/// The mode of `open`/`openat`, which strace shows only when the flags in
/// argument `FLAGS` create a file (`O_CREAT`, `O_TMPFILE`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OpenMode<const FLAGS: usize>(pub u32);

impl<const FLAGS: usize> SysArg for OpenMode<FLAGS> {
    fn decode(_: &Task, raw: u64) -> KResult<Self> {
        Ok(OpenMode(raw as u32))
    }
    fn strace(c: &Call<'_>, i: usize) -> String {
        let flags = c.arg(FLAGS) as u32;
        if flags & O_CREAT != 0 || flags & O_TMPFILE == O_TMPFILE {
            octal(c.arg(i) as u32)
        } else {
            String::new()
        }
    }
}

// ---- application memory ----

/// Longest string strace shows of a buffer or a path before `...`.
const SHOWN: usize = 32;
/// Longest path strace shows.
const SHOWN_PATH: usize = 256;

/// strace's quoting of bytes: C escapes, other bytes in octal (as short as
/// the next byte allows), `...` after `max` bytes or when `more`.
pub fn quote(bytes: &[u8], max: usize, more: bool) -> String {
    let shown = &bytes[..bytes.len().min(max)];
    let mut s = String::from("\"");
    for (i, &b) in shown.iter().enumerate() {
        match b {
            b'"' => s.push_str("\\\""),
            b'\\' => s.push_str("\\\\"),
            b'\n' => s.push_str("\\n"),
            b'\t' => s.push_str("\\t"),
            b'\r' => s.push_str("\\r"),
            0x0b => s.push_str("\\v"),
            0x0c => s.push_str("\\f"),
            0x20..=0x7e => s.push(b as char),
            _ => {
                let next_digit = shown.get(i + 1).is_some_and(|n| (b'0'..=b'7').contains(n));
                if next_digit {
                    s.push_str(&format!("\\{b:03o}"));
                } else {
                    s.push_str(&format!("\\{b:o}"));
                }
            }
        }
    }
    s.push('"');
    if more || bytes.len() > max {
        s.push_str("...");
    }
    s
}

fn null_or_hex(v: u64) -> String {
    if v == 0 {
        "NULL".into()
    } else {
        format!("{v:#x}")
    }
}

/// `len` bytes at `addr`, quoted, or the address when unreadable.
fn shown_bytes(c: &Call<'_>, addr: u64, len: u64) -> String {
    let want = usize::try_from(len).unwrap_or(usize::MAX).min(SHOWN);
    match c.t.read_vec(addr, want) {
        Ok(b) => quote(&b, SHOWN, len > SHOWN as u64),
        Err(_) => null_or_hex(addr),
    }
}

/// An address the call hands on without reading it through this type (a
/// hint, a stack, a `clone` TLS word), printed in hex or `NULL`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UserAddr(pub u64);

impl SysArg for UserAddr {
    fn decode(_: &Task, raw: u64) -> KResult<Self> {
        Ok(UserAddr(raw))
    }
    fn strace(c: &Call<'_>, i: usize) -> String {
        null_or_hex(c.arg(i))
    }
}

/// A NUL-terminated string in application memory (a path, a name).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UserCStr(u64);

impl UserCStr {
    pub fn addr(self) -> u64 {
        self.0
    }
    pub fn is_null(self) -> bool {
        self.0 == 0
    }
    /// The string as a path: `ENAMETOOLONG` from `PATH_MAX` on, `EFAULT`
    /// where unreadable.
    pub fn read(self, t: &Task) -> KResult<Vec<u8>> {
        t.read_path(self.0)
    }
    /// The string, `ENAMETOOLONG` from `max` bytes on.
    pub fn read_max(self, t: &Task, max: usize) -> KResult<Vec<u8>> {
        t.mm.lock().read_cstring(self.0, max)
    }
}

impl SysArg for UserCStr {
    fn decode(_: &Task, raw: u64) -> KResult<Self> {
        Ok(UserCStr(raw))
    }
    fn strace(c: &Call<'_>, i: usize) -> String {
        let v = c.arg(i);
        match c.t.mm.lock().read_cstring(v, PATH_MAX) {
            Ok(s) => quote(&s, SHOWN_PATH, false),
            Err(_) => null_or_hex(v),
        }
    }
}

/// Bytes in application memory at an address: what the buffer types and
/// `iovec`s come to in the helpers that move data.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UserBytes(u64);

impl UserBytes {
    pub fn new(addr: u64) -> Self {
        UserBytes(addr)
    }
    pub fn addr(self) -> u64 {
        self.0
    }
    /// The bytes `n` on; `EFAULT` past the end of the address space.
    pub fn offset(self, n: usize) -> KResult<Self> {
        self.0.checked_add(n as u64).map(UserBytes).ok_or(Errno::EFAULT)
    }
    pub fn read(self, t: &Task, len: usize) -> KResult<Vec<u8>> {
        t.read_vec(self.0, len)
    }
    pub fn read_into(self, t: &Task, buf: &mut [u8]) -> KResult<()> {
        t.read_bytes(self.0, buf)
    }
    pub fn write(self, t: &Task, data: &[u8]) -> KResult<()> {
        t.write_bytes(self.0, data)
    }
    /// Up to `len` bytes (at most [`MAX_RW_COUNT`]), as many as are
    /// readable from the start: a short result where the bytes run into
    /// an unreadable page, `EFAULT` if the first one is. Callers bound
    /// `len` by what they can hold.
    pub fn read_prefix(self, t: &Task, len: usize) -> KResult<Vec<u8>> {
        let len = len.min(MAX_RW_COUNT);
        if let Ok(v) = self.read(t, len) {
            return Ok(v);
        }
        let mut v = Vec::new();
        for (off, n) in page_pieces(self.0, len) {
            match self.offset(off).and_then(|b| b.read(t, n)) {
                Ok(piece) => v.extend_from_slice(&piece),
                Err(e) if v.is_empty() => return Err(e),
                Err(_) => break,
            }
        }
        Ok(v)
    }
    /// Store as much of `data` as is writable from the start: how much,
    /// short where it runs into an unwritable page; `EFAULT` if the first
    /// byte is.
    pub fn write_prefix(self, t: &Task, data: &[u8]) -> KResult<usize> {
        if self.write(t, data).is_ok() {
            return Ok(data.len());
        }
        let mut done = 0;
        for (off, n) in page_pieces(self.0, data.len()) {
            match self.offset(off).and_then(|b| b.write(t, &data[off..off + n])) {
                Ok(()) => done += n,
                Err(e) if done == 0 => return Err(e),
                Err(_) => break,
            }
        }
        Ok(done)
    }
}

/// `len` bytes from `addr` cut at page boundaries: (offset, length) pairs.
fn page_pieces(addr: u64, len: usize) -> impl Iterator<Item = (usize, usize)> {
    const PAGE: usize = 4096;
    let first = (PAGE - (addr as usize % PAGE)).min(len);
    std::iter::successors(Some((0, first)), move |&(off, n)| {
        let next = off + n;
        (next < len).then(|| (next, (len - next).min(PAGE)))
    })
    .filter(|&(_, n)| n > 0)
}

/// A buffer the call reads, whose length is argument `LEN`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct InBuf<const LEN: usize>(u64);

impl<const LEN: usize> InBuf<LEN> {
    pub fn addr(self) -> u64 {
        self.0
    }
    /// `len` bytes of the buffer.
    pub fn read(self, t: &Task, len: usize) -> KResult<Vec<u8>> {
        t.read_vec(self.0, len)
    }
    pub fn bytes(self) -> UserBytes {
        UserBytes(self.0)
    }
}

impl<const LEN: usize> SysArg for InBuf<LEN> {
    fn decode(_: &Task, raw: u64) -> KResult<Self> {
        Ok(InBuf(raw))
    }
    fn strace(c: &Call<'_>, i: usize) -> String {
        shown_bytes(c, c.arg(i), c.arg(LEN))
    }
}

/// A buffer the call fills; printed after the call with as many bytes as it
/// returned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OutBuf(u64);

impl OutBuf {
    pub fn addr(self) -> u64 {
        self.0
    }
    /// Fill the start of the buffer with `data`.
    pub fn write(self, t: &Task, data: &[u8]) -> KResult<()> {
        t.write_bytes(self.0, data)
    }
    pub fn bytes(self) -> UserBytes {
        UserBytes(self.0)
    }
}

impl SysArg for OutBuf {
    fn decode(_: &Task, raw: u64) -> KResult<Self> {
        Ok(OutBuf(raw))
    }
    fn strace(c: &Call<'_>, i: usize) -> String {
        match c.result {
            Some(Ok(n)) => shown_bytes(c, c.arg(i), n),
            _ => null_or_hex(c.arg(i)),
        }
    }
}

/// A plain-data type that crosses the application boundary; `strace` says
/// how strace decodes it (`None`: the address is printed).
pub trait UserType: FromBytes + AsBytes {
    fn strace(&self) -> Option<String> {
        None
    }
}

/// A pointer to a `T` in application memory (`NULL` allowed; the handler
/// decides what it means).
pub struct UserPtr<T>(u64, PhantomData<fn() -> T>);

impl<T> Clone for UserPtr<T> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<T> Copy for UserPtr<T> {}

impl<T> std::fmt::Debug for UserPtr<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "UserPtr({:#x})", self.0)
    }
}

impl<T: UserType> UserPtr<T> {
    pub fn new(addr: u64) -> Self {
        UserPtr(addr, PhantomData)
    }
    pub fn addr(self) -> u64 {
        self.0
    }
    pub fn is_null(self) -> bool {
        self.0 == 0
    }
    /// The value, `EFAULT` where unreadable.
    pub fn read(self, t: &Task) -> KResult<T> {
        t.read_val(self.0)
    }
    /// The value, or `None` for `NULL`.
    pub fn read_opt(self, t: &Task) -> KResult<Option<T>> {
        if self.is_null() {
            return Ok(None);
        }
        self.read(t).map(Some)
    }
    /// Store `v`, `EFAULT` where unwritable.
    pub fn write(self, t: &Task, v: &T) -> KResult<()> {
        t.write_val(self.0, v)
    }
    /// Store `v` unless the pointer is `NULL`.
    pub fn write_opt(self, t: &Task, v: &T) -> KResult<()> {
        if self.is_null() {
            return Ok(());
        }
        self.write(t, v)
    }
    /// The `n`th `T` of an array starting here.
    pub fn at(self, n: usize) -> KResult<Self> {
        let off = (n as u64).checked_mul(std::mem::size_of::<T>() as u64).ok_or(Errno::EFAULT)?;
        Ok(UserPtr::new(self.0.checked_add(off).ok_or(Errno::EFAULT)?))
    }
}

impl<T: UserType> SysArg for UserPtr<T> {
    fn decode(_: &Task, raw: u64) -> KResult<Self> {
        Ok(UserPtr::new(raw))
    }
    fn strace(c: &Call<'_>, i: usize) -> String {
        let v = c.arg(i);
        // After a failed call an output struct holds nothing worth showing.
        if v == 0 || matches!(c.result, Some(Err(_))) {
            return null_or_hex(v);
        }
        match c.t.read_val::<T>(v).ok().and_then(|x| x.strace()) {
            Some(s) => s,
            None => format!("{v:#x}"),
        }
    }
}

/// Most entries strace shows of an array.
pub const SHOWN_ENTRIES: u64 = 8;

/// An array of `count` `T`s at `addr` as strace prints it, its first
/// [`SHOWN_ENTRIES`] each by `each`: `[a, b, ...]`; `None` when unreadable.
pub fn array_str<T: FromBytes + AsBytes + Clone>(
    c: &Call<'_>,
    addr: u64,
    count: u64,
    each: impl Fn(&T) -> String,
) -> Option<String> {
    let mut v = vec![T::new_zeroed(); count.min(SHOWN_ENTRIES) as usize];
    c.t.read_bytes(addr, v.as_bytes_mut()).ok()?;
    let parts: Vec<String> = v.iter().map(each).collect();
    let more = if count > SHOWN_ENTRIES { ", ..." } else { "" };
    Some(format!("[{}{more}]", parts.join(", ")))
}

/// The numbers of the bits set in `bytes` below `limit`, as strace prints
/// a CPU mask or an `fd_set`: `[0 3]`.
pub fn bits_str(bytes: &[u8], limit: usize) -> String {
    let set: Vec<String> = (0..(bytes.len() * 8).min(limit))
        .filter(|&b| bytes[b / 8] & (1 << (b % 8)) != 0)
        .map(|b| b.to_string())
        .collect();
    format!("[{}]", set.join(" "))
}

/// Most `iovec`s one call takes (`UIO_MAXIOV`).
pub const UIO_MAXIOV: u64 = 1024;

/// Most bytes one read or write moves (`MAX_RW_COUNT`: `INT_MAX &
/// PAGE_MASK`); longer requests are cut to it.
pub const MAX_RW_COUNT: usize = 0x7fff_f000;

/// The end of the user address space (`TASK_SIZE_MAX`).
pub const TASK_SIZE_MAX: u64 = (1 << 47) - 4096;

/// Linux's `access_ok`: `len` bytes at `addr` lie below [`TASK_SIZE_MAX`]
/// (whether they are mapped is found out when they are copied).
pub fn access_ok(addr: u64, len: u64) -> bool {
    len <= TASK_SIZE_MAX && addr <= TASK_SIZE_MAX - len
}

/// An array of `struct iovec` whose length is argument `CNT`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Iovecs<const CNT: usize>(u64);

impl<const CNT: usize> Iovecs<CNT> {
    pub fn new(addr: u64) -> Self {
        Iovecs(addr)
    }
    pub fn addr(self) -> u64 {
        self.0
    }
    /// The `cnt` entries as Linux's `import_iovec` takes them:
    /// `too_many` for more than `UIO_MAXIOV` (sendmsg says `EMSGSIZE`, the
    /// rest `EINVAL`), `EINVAL` for a negative length, `EFAULT` for a
    /// segment past the user address space (one segment alone is checked
    /// after the cut below, several before it), and lengths cut so that
    /// the total is at most [`MAX_RW_COUNT`]: what callers allocate from
    /// them is bounded.
    pub fn read(self, t: &Task, cnt: u64, too_many: Errno) -> KResult<Vec<Iovec>> {
        if cnt > UIO_MAXIOV {
            return Err(too_many);
        }
        let mut v = vec![Iovec::default(); cnt as usize];
        t.read_bytes(self.0, v.as_bytes_mut())?;
        if v.iter().any(|io| (io.iov_len as i64) < 0) {
            return Err(Errno::EINVAL);
        }
        let single = v.len() == 1;
        let mut total: u64 = 0;
        for io in &mut v {
            if !single && !access_ok(io.iov_base, io.iov_len) {
                return Err(Errno::EFAULT);
            }
            io.iov_len = io.iov_len.min(MAX_RW_COUNT as u64 - total);
            if single && !access_ok(io.iov_base, io.iov_len) {
                return Err(Errno::EFAULT);
            }
            total += io.iov_len;
        }
        Ok(v)
    }
}

impl<const CNT: usize> SysArg for Iovecs<CNT> {
    fn decode(_: &Task, raw: u64) -> KResult<Self> {
        Ok(Iovecs(raw))
    }
    fn strace(c: &Call<'_>, i: usize) -> String {
        let addr = c.arg(i);
        array_str(c, addr, c.arg(CNT), |io: &Iovec| {
            format!("{{iov_base={}, iov_len={}}}", shown_bytes(c, io.iov_base, io.iov_len), io.iov_len)
        })
        .unwrap_or_else(|| null_or_hex(addr))
    }
}

// ---- structures strace decodes ----

impl UserType for u32 {}
impl UserType for i32 {}
impl UserType for u64 {}
impl UserType for Iovec {}

impl UserType for Timespec {
    fn strace(&self) -> Option<String> {
        Some(format!("{{tv_sec={}, tv_nsec={}}}", self.tv_sec, self.tv_nsec))
    }
}

impl UserType for Timeval {
    fn strace(&self) -> Option<String> {
        Some(format!("{{tv_sec={}, tv_usec={}}}", self.tv_sec, self.tv_usec))
    }
}

impl UserType for Rlimit {
    fn strace(&self) -> Option<String> {
        let lim = |v: u64| match v {
            u64::MAX => "RLIM64_INFINITY".to_string(),
            v if v > 1024 && v % 1024 == 0 => format!("{}*1024", v / 1024),
            v => v.to_string(),
        };
        Some(format!("{{rlim_cur={}, rlim_max={}}}", lim(self.rlim_cur), lim(self.rlim_max)))
    }
}

impl UserType for Winsize {
    fn strace(&self) -> Option<String> {
        Some(format!(
            "{{ws_row={}, ws_col={}, ws_xpixel={}, ws_ypixel={}}}",
            self.ws_row, self.ws_col, self.ws_xpixel, self.ws_ypixel
        ))
    }
}

/// Octal as strace prints modes (C's `%#03o`: `0644`, `022`, `000`).
pub fn octal(m: u32) -> String {
    let digits = if m == 0 { String::new() } else { format!("{m:o}") };
    format!("{:0>3}", format!("0{digits}"))
}

/// `S_IFREG|0644`, as strace prints a mode with its type.
pub fn file_mode(mode: u32) -> String {
    let kind = match mode & S_IFMT {
        S_IFREG => "S_IFREG",
        S_IFDIR => "S_IFDIR",
        S_IFLNK => "S_IFLNK",
        S_IFCHR => "S_IFCHR",
        S_IFBLK => "S_IFBLK",
        S_IFIFO => "S_IFIFO",
        S_IFSOCK => "S_IFSOCK",
        _ => return octal(mode),
    };
    format!("{kind}|{}", octal(mode & !S_IFMT))
}

impl UserType for Stat {
    fn strace(&self) -> Option<String> {
        Some(format!("{{st_mode={}, st_size={}, ...}}", file_mode(self.st_mode), self.st_size))
    }
}

// ---- flags and named values ----

/// A flags or named-value argument: the handler reads `.0`; strace prints
/// it symbolically through the formatter the macro names.
macro_rules! named_arg {
    ($(#[$m:meta])* $name:ident($repr:ty), $print:expr) => {
        $crate::syscalls::args::call_arg!($(#[$m])* $name($repr), |c, i| $name::print(c.raw[i] as $repr));

        impl $name {
            /// How strace prints the value `v`.
            pub fn print(v: $repr) -> String {
                let f: fn($repr) -> String = $print;
                f(v)
            }
        }
    };
}
pub(crate) use named_arg;

/// An argument kept as its register whose strace form depends on more than
/// its own value (other arguments, application memory, the result): the
/// handler reads `.0`; the function the macro names prints it.
macro_rules! call_arg {
    ($(#[$m:meta])* $name:ident($repr:ty), $print:expr) => {
        $(#[$m])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        pub struct $name(pub $repr);

        impl $crate::syscalls::args::SysArg for $name {
            fn decode(_: &$crate::kernel::Task, raw: u64) -> $crate::vfs::KResult<Self> {
                Ok($name(raw as $repr))
            }
            fn strace(c: &$crate::syscalls::args::Call<'_>, i: usize) -> String {
                let f: fn(&$crate::syscalls::args::Call<'_>, usize) -> String = $print;
                f(c, i)
            }
        }
    };
}
pub(crate) use call_arg;

/// strace's form of a flag set: the names of the set flags joined by `|`,
/// bits no flag names after them in hex, `zero` when no bit is set.
pub fn flag_str<F: bitflags::Flags>(bits: F::Bits, zero: &str) -> String
where
    F::Bits: std::fmt::LowerHex,
{
    use bitflags::Bits;
    let mut parts: Vec<String> = F::from_bits_retain(bits).iter_names().map(|(n, _)| n.to_string()).collect();
    let rest = bits & !F::all().bits();
    if rest != F::Bits::EMPTY {
        parts.push(format!("{rest:#x}"));
    }
    if parts.is_empty() {
        return zero.into();
    }
    parts.join("|")
}

/// The name `table` gives `v`, or `v` in decimal.
pub fn value_str<V: Copy + PartialEq + std::fmt::Display>(v: V, table: &[(V, &str)]) -> String {
    table.iter().find(|(k, _)| *k == v).map_or_else(|| v.to_string(), |(_, n)| (*n).to_string())
}

/// A signal number as strace prints it: `SIGINT`, `SIGRTMIN`, `SIGRT_2`,
/// `0` for the probe.
pub fn signal_str(sig: i32) -> String {
    match sig {
        32 => "SIGRTMIN".into(),
        33..=64 => format!("SIGRT_{}", sig - 32),
        _ => usize::try_from(sig)
            .ok()
            .and_then(|s| s.checked_sub(1))
            .and_then(|i| names::SIGNALS.get(i))
            .map_or_else(|| sig.to_string(), |n| (*n).to_string()),
    }
}

/// `open` flags: the access mode by name, then the other flags.
pub fn open_flags_str(v: u32) -> String {
    let mode = match v & O_ACCMODE {
        0 => "O_RDONLY",
        1 => "O_WRONLY",
        2 => "O_RDWR",
        _ => "O_ACCMODE",
    };
    match v & !O_ACCMODE {
        0 => mode.into(),
        rest => format!("{mode}|{}", flag_str::<flags::OpenFlags>(rest, "0")),
    }
}

/// `mmap` flags: the mapping type (the low two bits, 3 being
/// `MAP_SHARED_VALIDATE`), then the other flags.
pub(crate) fn map_flags_str(v: u32) -> String {
    let kind = match v & 3 {
        1 => "MAP_SHARED",
        2 => "MAP_PRIVATE",
        3 => "MAP_SHARED_VALIDATE",
        _ => "",
    };
    match (kind, v & !3) {
        ("", rest) => flag_str::<flags::MapFlags>(rest, "0"),
        (kind, 0) => kind.into(),
        (kind, rest) => format!("{kind}|{}", flag_str::<flags::MapFlags>(rest, "0")),
    }
}

/// A socket type with its flags: `SOCK_STREAM|SOCK_CLOEXEC`.
pub(crate) fn sock_type_str(v: u32) -> String {
    let kind = value_str((v & 0xf) as i32, names::SOCK_TYPES);
    match v & !0xf {
        0 => kind,
        rest => format!("{kind}|{}", flag_str::<flags::SockFlags>(rest, "0")),
    }
}

/// A futex operation: the command, `_PRIVATE` when private, and
/// `|FUTEX_CLOCK_REALTIME`.
pub(crate) fn futex_op_str(v: i32) -> String {
    const PRIVATE: i32 = 128;
    const CLOCK_REALTIME: i32 = 256;
    let mut s = value_str(v & !(PRIVATE | CLOCK_REALTIME), names::FUTEX_CMDS);
    if v & PRIVATE != 0 {
        s.push_str("_PRIVATE");
    }
    if v & CLOCK_REALTIME != 0 {
        s.push_str("|FUTEX_CLOCK_REALTIME");
    }
    s
}

/// `clone` flags and, in the low byte, the signal sent at exit.
pub(crate) fn clone_flags_str(v: u64) -> String {
    match (v & !0xff, v & 0xff) {
        (flags, 0) => flag_str::<flags::CloneFlags>(flags, "0"),
        (0, sig) => signal_str(sig as i32),
        (flags, sig) => format!("{}|{}", flag_str::<flags::CloneFlags>(flags, "0"), signal_str(sig as i32)),
    }
}

named_arg!(/// `open(2)` flags (`O_*`).
    OpenFlags(u32), open_flags_str);
named_arg!(/// `AT_*` flags of the `*at` calls.
    AtFlags(u32), |v| flag_str::<flags::AtFlags>(v, "0"));
named_arg!(/// `mmap` flags (`MAP_*`).
    MapFlags(u32), map_flags_str);
named_arg!(/// Memory protection (`PROT_*`).
    Prot(u32), |v| flag_str::<flags::Prot>(v, "PROT_NONE"));
named_arg!(/// `mremap` flags (`MREMAP_*`).
    MremapFlags(u32), |v| flag_str::<flags::MremapFlags>(v, "0"));
named_arg!(/// `mount` flags (`MS_*`).
    MountFlags(u32), |v| flag_str::<flags::MountFlags>(v, "0"));
named_arg!(/// `umount2` flags (`MNT_*`, `UMOUNT_NOFOLLOW`).
    UmountFlags(u32), |v| flag_str::<flags::UmountFlags>(v, "0"));
named_arg!(/// `renameat2` flags (`RENAME_*`).
    RenameFlags(u32), |v| flag_str::<flags::RenameFlags>(v, "0"));
named_arg!(/// `statx` mask (`STATX_*`).
    StatxMask(u32), |v| flag_str::<flags::StatxMask>(v, "0"));
named_arg!(/// `O_CLOEXEC`/`O_NONBLOCK`-style creation flags (`pipe2`, `dup3`).
    PipeFlags(u32), |v| flag_str::<flags::PipeFlags>(v, "0"));
named_arg!(/// `eventfd2` flags (`EFD_*`).
    EventfdFlags(u32), |v| flag_str::<flags::EventfdFlags>(v, "0"));
named_arg!(/// `epoll_create1` flags (`EPOLL_CLOEXEC`).
    EpollCreateFlags(u32), |v| flag_str::<flags::EpollCreateFlags>(v, "0"));
named_arg!(/// `inotify_init1` flags (`IN_CLOEXEC`, `IN_NONBLOCK`).
    InotifyFlags(u32), |v| flag_str::<flags::InotifyFlags>(v, "0"));
named_arg!(/// An inotify event mask (`IN_*`).
    InotifyMask(u32), |v| flag_str::<flags::InotifyMask>(v, "0"));
named_arg!(/// `signalfd4` flags (`SFD_*`).
    SignalfdFlags(u32), |v| flag_str::<flags::SignalfdFlags>(v, "0"));
named_arg!(/// `timerfd_create` flags (`TFD_CLOEXEC`, `TFD_NONBLOCK`).
    TimerfdFlags(u32), |v| flag_str::<flags::TimerfdFlags>(v, "0"));
named_arg!(/// `timerfd_settime` flags (`TFD_TIMER_ABSTIME`, `TFD_TIMER_CANCEL_ON_SET`).
    TimerSetFlags(u32), |v| flag_str::<flags::TimerfdSetFlags>(v, "0"));
named_arg!(/// `timer_settime` and `clock_nanosleep` flags (`TIMER_ABSTIME`).
    TimerFlags(u32), |v| flag_str::<flags::TimerFlags>(v, "0"));
named_arg!(/// A socket type with its `SOCK_NONBLOCK`/`SOCK_CLOEXEC` flags.
    SockType(u32), sock_type_str);
named_arg!(/// `send`/`recv` flags (`MSG_*`).
    MsgFlags(u32), |v| flag_str::<flags::MsgFlags>(v, "0"));
named_arg!(/// `wait4`/`waitid` options (`WNOHANG`, ...).
    WaitOptions(u32), |v| flag_str::<flags::WaitOptions>(v, "0"));
named_arg!(/// `memfd_create` flags (`MFD_*`).
    MemfdFlags(u32), |v| flag_str::<flags::MemfdFlags>(v, "0"));
named_arg!(/// `setxattr` flags (`XATTR_CREATE`, `XATTR_REPLACE`).
    XattrFlags(u32), |v| flag_str::<flags::XattrFlags>(v, "0"));
named_arg!(/// `splice`/`tee`/`vmsplice` flags (`SPLICE_F_*`).
    SpliceFlags(u32), |v| flag_str::<flags::SpliceFlags>(v, "0"));
named_arg!(/// `getrandom` flags (`GRND_*`).
    GrndFlags(u32), |v| flag_str::<flags::GrndFlags>(v, "0"));
named_arg!(/// `close_range` flags (`CLOSE_RANGE_*`).
    CloseRangeFlags(u32), |v| flag_str::<flags::CloseRangeFlags>(v, "0"));
named_arg!(/// An `access` mode (`F_OK` or `R_OK|W_OK|X_OK`).
    AccessMode(u32), |v| flag_str::<flags::AccessMode>(v, "F_OK"));
named_arg!(/// `clone` flags with the exit signal in the low byte.
    CloneFlags(u64), clone_flags_str);
named_arg!(/// `lseek` whence (`SEEK_*`).
    Whence(i32), |v| value_str(v, names::WHENCE));
named_arg!(/// An `fcntl` command (`F_*`).
    FcntlCmd(i32), |v| value_str(v, names::FCNTL_CMDS));
named_arg!(/// `sigprocmask` how (`SIG_BLOCK`, ...).
    SigHow(i32), |v| value_str(v, names::SIG_HOW));
named_arg!(/// A clock (`CLOCK_*`).
    ClockId(i32), |v| value_str(v, names::CLOCKS));
named_arg!(/// An `epoll_ctl` operation (`EPOLL_CTL_*`).
    EpollOp(i32), |v| value_str(v, names::EPOLL_OPS));
named_arg!(/// A futex operation with its `FUTEX_PRIVATE_FLAG`/`FUTEX_CLOCK_REALTIME` bits.
    FutexOp(i32), futex_op_str);
named_arg!(/// A `prctl` option (`PR_*`).
    PrctlOption(i32), |v| value_str(v, names::PRCTL_OPTIONS));
named_arg!(/// An `arch_prctl` code (`ARCH_*`).
    ArchPrctlCode(i32), |v| value_str(v, names::ARCH_PRCTL_CODES));
named_arg!(/// A resource limit (`RLIMIT_*`).
    Resource(i32), |v| value_str(v, names::RLIMITS));
named_arg!(/// An address family (`AF_*`).
    Family(i32), |v| value_str(v, names::FAMILIES));
named_arg!(/// A signal number (`SIGINT`, ...; 0 probes).
    Signal(i32), signal_str);
named_arg!(/// `madvise` advice (`MADV_*`).
    Madvice(i32), |v| value_str(v, names::MADVICE));
named_arg!(/// `fadvise64` advice (`POSIX_FADV_*`).
    Fadvice(i32), |v| value_str(v, names::FADVICE));
named_arg!(/// `shutdown` how (`SHUT_*`).
    ShutdownHow(i32), |v| value_str(v, names::SHUTDOWN_HOW));
named_arg!(/// An `ioctl` request (`TCGETS`, `FIONBIO`, ...).
    IoctlReq(u32), |v| names::IOCTLS.iter().find(|(k, _)| *k == v).map_or_else(|| format!("{v:#x}"), |(_, n)| (*n).to_string()));
named_arg!(/// A socket option level (`SOL_SOCKET`, `IPPROTO_TCP`, ...).
    SockLevel(i32), |v| value_str(v, names::SOCK_LEVELS));
call_arg!(/// A socket option name (`SO_*`, `TCP_*`, ...), named for the
/// level that is argument 1.
SockOpt(i32), |c, i| {
    let table = match c.raw[1] as i32 {
        1 => names::SOL_SOCKET_OPTS,
        6 => names::TCP_OPTS,
        0 => names::IP_OPTS,
        41 => names::IPV6_OPTS,
        270 => names::NETLINK_OPTS,
        _ => &[],
    };
    value_str(c.raw[i] as i32, table)
});
call_arg!(/// `socket`'s protocol, named for the family that is argument 0.
SockProto(i32), |c, i| {
    let table = match c.raw[0] as i32 {
        2 | 10 => names::IP_PROTOCOLS,
        16 => names::NETLINK_PROTOCOLS,
        _ => &[],
    };
    value_str(c.raw[i] as i32, table)
});
call_arg!(/// `setsockopt`'s value: `[n]` for an int (a 4-byte value).
SetOptVal(u64), |c, i| match (c.raw[4], UserPtr::<i32>::new(c.raw[i]).read(c.t)) {
    (4, Ok(v)) => format!("[{v}]"),
    _ => format!("{:#x}", c.raw[i]),
});
call_arg!(/// `getsockopt`'s value, after the call: `[n]` for an int.
GetOptVal(u64), |c, i| {
    let len = UserPtr::<u32>::new(c.raw[4]).read(c.t);
    match (&c.result, len, UserPtr::<i32>::new(c.raw[i]).read(c.t)) {
        (Some(Ok(_)), Ok(4), Ok(v)) => format!("[{v}]"),
        _ => format!("{:#x}", c.raw[i]),
    }
});
named_arg!(/// An interval timer (`ITIMER_*`).
    Which(i32), |v| value_str(v, names::ITIMERS));
named_arg!(/// A SysV IPC command (`IPC_*`, `SHM_*`, `SEM_*`, `MSG_*`).
    IpcCmd(i32), |v| value_str(v, names::IPC_CMDS));

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quote_escapes_as_strace_does() {
        let elf = b"\x7fELF\x02\x01\x01\x03\x00\x00";
        assert_eq!(quote(elf, 32, false), r#""\177ELF\2\1\1\3\0\0""#);
    }

    #[test]
    fn quote_uses_three_octal_digits_before_a_digit() {
        assert_eq!(quote(b"\x01\x32", 32, false), r#""\0012""#);
    }

    #[test]
    fn quote_marks_a_cut_buffer_with_dots() {
        assert_eq!(quote(b"abcdef", 3, false), r#""abc"..."#);
        assert_eq!(quote(b"ab", 3, true), r#""ab"..."#);
    }

    #[test]
    fn quote_names_the_c_escapes() {
        assert_eq!(quote(b"a\"\\\n\t\r\x0b\x0c", 32, false), r#""a\"\\\n\t\r\v\f""#);
    }

    #[test]
    fn octal_prints_like_c_percent_hash_03o() {
        assert_eq!(
            (octal(0o644), octal(0o22), octal(0), octal(0o7)),
            ("0644".into(), "022".into(), "000".into(), "007".into())
        );
    }

    #[test]
    fn file_mode_names_the_type_and_the_permissions() {
        assert_eq!(file_mode(S_IFREG | 0o644), "S_IFREG|0644");
        assert_eq!(file_mode(S_IFDIR | 0o1777), "S_IFDIR|01777");
    }

    #[test]
    fn flags_print_by_name_with_unknown_bits_in_hex() {
        assert_eq!(
            flag_str::<flags::AtFlags>(AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH, "0"),
            "AT_SYMLINK_NOFOLLOW|AT_EMPTY_PATH"
        );
        assert_eq!(flag_str::<flags::AtFlags>(0x0010_0000, "0"), "0x100000");
        assert_eq!(flag_str::<flags::Prot>(0, "PROT_NONE"), "PROT_NONE");
        assert_eq!(flag_str::<flags::AccessMode>(R_OK | X_OK, "F_OK"), "R_OK|X_OK");
        assert_eq!(
            flag_str::<flags::StatxMask>(STATX_BASIC_STATS | STATX_MNT_ID, "0"),
            "STATX_BASIC_STATS|STATX_MNT_ID"
        );
    }

    #[test]
    fn open_flags_name_the_access_mode_first() {
        assert_eq!(open_flags_str(O_RDONLY | O_CLOEXEC), "O_RDONLY|O_CLOEXEC");
        assert_eq!(open_flags_str(O_WRONLY | O_CREAT | O_TRUNC), "O_WRONLY|O_CREAT|O_TRUNC");
        assert_eq!(open_flags_str(O_RDWR | O_TMPFILE), "O_RDWR|O_TMPFILE");
        assert_eq!(
            open_flags_str(O_RDONLY | O_DIRECTORY | O_NONBLOCK | O_CLOEXEC),
            "O_RDONLY|O_NONBLOCK|O_CLOEXEC|O_DIRECTORY"
        );
    }

    #[test]
    fn map_flags_name_the_mapping_type() {
        assert_eq!(map_flags_str(MAP_PRIVATE | MAP_ANONYMOUS), "MAP_PRIVATE|MAP_ANONYMOUS");
        assert_eq!(map_flags_str(MAP_PRIVATE | MAP_FIXED | MAP_DENYWRITE), "MAP_PRIVATE|MAP_FIXED|MAP_DENYWRITE");
        assert_eq!(map_flags_str(3), "MAP_SHARED_VALIDATE");
    }

    #[test]
    fn compound_values_print_as_strace_does() {
        assert_eq!(sock_type_str(1 | O_CLOEXEC), "SOCK_STREAM|SOCK_CLOEXEC");
        assert_eq!(futex_op_str(128 | 9), "FUTEX_WAIT_BITSET_PRIVATE");
        assert_eq!(futex_op_str(9 | 256), "FUTEX_WAIT_BITSET|FUTEX_CLOCK_REALTIME");
        assert_eq!(clone_flags_str(0x0120_0000 | 17), "CLONE_CHILD_CLEARTID|CLONE_CHILD_SETTID|SIGCHLD");
        assert_eq!(
            (signal_str(2), signal_str(32), signal_str(34), signal_str(0)),
            ("SIGINT".into(), "SIGRTMIN".into(), "SIGRT_2".into(), "0".into())
        );
        assert_eq!(value_str(1, names::SIG_HOW), "SIG_UNBLOCK");
        assert_eq!(value_str(99, names::SIG_HOW), "99");
    }

    #[test]
    fn ret_kinds_that_leave_no_arguments_print_before_the_call() {
        let before: Vec<bool> = [RetKind::Value, RetKind::Addr, RetKind::NoReturn, RetKind::Exec, RetKind::SigReturn]
            .iter()
            .map(|k| k.prints_before())
            .collect();
        assert_eq!(before, [false, false, true, true, true]);
    }
}
