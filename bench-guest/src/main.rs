//! `bulwark-bench-guest`: the system-call microbenchmarks of `bulwark bench`.
//!
//! A plain program (libc, `std::thread` only where a case is about threads)
//! that runs the same natively and under any sandbox. Each case runs for
//! about a time budget and prints one line on standard output:
//!
//! ```text
//! case getpid ns_per_op 52.3 iters 5734012
//! ```
//!
//! A case that cannot run (a call the sandbox does not implement, say)
//! prints `case NAME failed REASON` instead, and the program then exits 1.
//!
//! Usage: `bulwark-bench-guest [--budget-ms N] [--peer ADDR:PORT] [--list]
//! [CASE]...` (no case: all of them, in order; the `veth-` ones only with
//! `--peer`).
//!
//! The `veth-*` cases talk to a peer outside the sandbox, at `--peer`: the
//! TCP server `bulwark bench` runs on the host end of its veth pair. The
//! first byte a client sends picks the peer's mode, [`PEER_ECHO`] or
//! [`PEER_DRAIN`], and the peer answers it with the same byte when ready
//! (the bench's `veth.rs` has the same constants).
//!
//! The program has its own C `main` (`no_main`): the Rust runtime's start-up
//! (`poll` on the standard descriptors, signal handlers for stack overflow)
//! would measure, and depend on, more than the cases themselves.

#![no_main]

use std::ffi::CString;
use std::io::{Error, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

/// Outcome of one case: nanoseconds per operation and the iteration count.
type CaseResult = Result<(f64, u64), String>;

/// A case: runs for about the budget it is given.
type CaseFn = fn(Duration) -> CaseResult;

/// The cases, in the order `bulwark bench` reports them.
const CASES: &[(&str, CaseFn)] = &[
    ("getpid", getpid),
    ("clock_gettime", clock_gettime),
    ("read-4k", read_4k),
    ("write-4k", write_4k),
    ("open-close", open_close),
    ("stat", stat),
    ("mmap-64k", mmap_64k),
    ("pipe-pingpong", pipe_pingpong),
    ("futex-pingpong", futex_pingpong),
    ("thread-create", thread_create),
    ("fork-wait", fork_wait),
    ("fork-exec", fork_exec),
    ("pwrite-4k", pwrite_4k),
    ("pread-4k", pread_4k),
    ("tcp-rr", tcp_rr),
    ("tcp-stream-64k", tcp_stream_64k),
    ("veth-rr", veth_rr),
    ("veth-stream-64k", veth_stream_64k),
];

/// The peer of the `veth-*` cases (`--peer`).
static PEER: OnceLock<SocketAddr> = OnceLock::new();

/// First byte to the peer: echo what follows.
const PEER_ECHO: u8 = b'e';
/// First byte to the peer: read and drop what follows.
const PEER_DRAIN: u8 = b'd';

/// The file that `open-close` and `stat` use: present on every Linux root.
const SOME_FILE: &str = "/etc/passwd";

/// The C entry point. `std::env::args` still works: glibc hands the
/// arguments to Rust's `.init_array` hook before `main` runs.
#[no_mangle]
extern "C" fn main(_argc: libc::c_int, _argv: *const *const libc::c_char) -> libc::c_int {
    run();
    0
}

fn run() {
    let mut budget = Duration::from_millis(300);
    let mut names = Vec::new();
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--list" => {
                for (name, _) in CASES {
                    println!("{name}");
                }
                return;
            }
            "--budget-ms" => match args.next().and_then(|v| v.parse().ok()) {
                Some(ms) => budget = Duration::from_millis(ms),
                None => usage("--budget-ms needs a number of milliseconds"),
            },
            "--peer" => match args.next().and_then(|v| v.parse().ok()) {
                Some(addr) => {
                    let _ = PEER.set(addr);
                }
                None => usage("--peer needs an address, IP:PORT"),
            },
            _ if a.starts_with('-') => usage(&format!("unknown option {a}")),
            _ => names.push(a),
        }
    }
    let chosen: Vec<_> = if names.is_empty() {
        // All of them: the cases that talk to a peer only when given one.
        CASES.iter().filter(|(n, _)| PEER.get().is_some() || !n.starts_with("veth-")).collect()
    } else {
        names
            .iter()
            .map(|n| CASES.iter().find(|(c, _)| c == n).unwrap_or_else(|| usage(&format!("unknown case {n}"))))
            .collect()
    };
    let mut failed = false;
    for (name, run) in chosen {
        match run(budget) {
            Ok((ns, iters)) => println!("case {name} ns_per_op {ns:.1} iters {iters}"),
            Err(reason) => {
                failed = true;
                println!("case {name} failed {reason}");
            }
        }
    }
    std::process::exit(i32::from(failed));
}

fn usage(msg: &str) -> ! {
    eprintln!("bulwark-bench-guest: {msg}");
    eprintln!("usage: bulwark-bench-guest [--budget-ms N] [--peer ADDR:PORT] [--list] [CASE]...");
    std::process::exit(2);
}

/// A libc return value: negative means failure, with `errno` set.
trait Ret: Copy {
    fn failed(self) -> bool;
}

impl Ret for i32 {
    fn failed(self) -> bool {
        self < 0
    }
}

impl Ret for isize {
    fn failed(self) -> bool {
        self < 0
    }
}

impl Ret for i64 {
    fn failed(self) -> bool {
        self < 0
    }
}

/// `Err("what: <errno text>")` when a libc call failed.
fn check<T: Ret>(ret: T, what: &str) -> Result<T, String> {
    if ret.failed() {
        Err(format!("{what}: {}", Error::last_os_error()))
    } else {
        Ok(ret)
    }
}

/// Run `op(n)` (n iterations of the case) with doubling `n` until one batch
/// takes a tenth of the budget, then once more sized to fill the budget.
fn measure(budget: Duration, mut op: impl FnMut(u64) -> Result<(), String>) -> CaseResult {
    let mut n: u64 = 1;
    loop {
        let t = Instant::now();
        op(n)?;
        let took = t.elapsed();
        if took >= budget / 2 {
            return Ok((per_op(took, n), n));
        }
        if took >= budget / 10 || n >= 1 << 40 {
            let each = took.as_secs_f64() / n as f64;
            let target = ((budget.as_secs_f64() / each.max(1e-9)) as u64).max(1);
            let t = Instant::now();
            op(target)?;
            return Ok((per_op(t.elapsed(), target), target));
        }
        n *= 2;
    }
}

fn per_op(took: Duration, n: u64) -> f64 {
    took.as_nanos() as f64 / n as f64
}

fn getpid(budget: Duration) -> CaseResult {
    measure(budget, |n| {
        for _ in 0..n {
            // SAFETY: a system call without arguments or memory.
            check(unsafe { libc::syscall(libc::SYS_getpid) }, "getpid")?;
        }
        Ok(())
    })
}

fn clock_gettime(budget: Duration) -> CaseResult {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    measure(budget, |n| {
        for _ in 0..n {
            // SAFETY: `ts` is a valid, writable timespec.
            check(unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) }, "clock_gettime")?;
        }
        Ok(())
    })
}

/// An owned descriptor, closed on drop.
struct Fd(i32);

impl Drop for Fd {
    fn drop(&mut self) {
        // SAFETY: we own the descriptor.
        unsafe { libc::close(self.0) };
    }
}

fn open(path: &str, flags: i32) -> Result<Fd, String> {
    let c = CString::new(path).map_err(|e| e.to_string())?;
    // SAFETY: `c` is a NUL-terminated path.
    let fd = check(unsafe { libc::open(c.as_ptr(), flags | libc::O_CLOEXEC, 0o600) }, &format!("open {path}"))?;
    Ok(Fd(fd))
}

fn read_full(fd: &Fd, buf: &mut [u8], what: &str) -> Result<(), String> {
    // SAFETY: `buf` is valid for `buf.len()` writable bytes.
    let got = check(unsafe { libc::read(fd.0, buf.as_mut_ptr().cast(), buf.len()) }, what)?;
    if got.unsigned_abs() != buf.len() {
        return Err(format!("{what}: short read of {got} bytes"));
    }
    Ok(())
}

fn write_full(fd: &Fd, buf: &[u8], what: &str) -> Result<(), String> {
    // SAFETY: `buf` is valid for `buf.len()` bytes.
    let put = check(unsafe { libc::write(fd.0, buf.as_ptr().cast(), buf.len()) }, what)?;
    if put.unsigned_abs() != buf.len() {
        return Err(format!("{what}: short write of {put} bytes"));
    }
    Ok(())
}

fn read_4k(budget: Duration) -> CaseResult {
    let fd = open("/dev/zero", libc::O_RDONLY)?;
    let mut buf = vec![1u8; 4096];
    measure(budget, |n| (0..n).try_for_each(|_| read_full(&fd, &mut buf, "read /dev/zero")))
}

fn write_4k(budget: Duration) -> CaseResult {
    let fd = open("/dev/null", libc::O_WRONLY)?;
    let buf = vec![1u8; 4096];
    measure(budget, |n| (0..n).try_for_each(|_| write_full(&fd, &buf, "write /dev/null")))
}

fn open_close(budget: Duration) -> CaseResult {
    measure(budget, |n| (0..n).try_for_each(|_| open(SOME_FILE, libc::O_RDONLY).map(drop)))
}

fn stat(budget: Duration) -> CaseResult {
    let c = CString::new(SOME_FILE).map_err(|e| e.to_string())?;
    // SAFETY: `stat` is plain data; all zeroes is a valid value.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    measure(budget, |n| {
        for _ in 0..n {
            // SAFETY: `c` is NUL-terminated and `st` is writable.
            check(unsafe { libc::stat(c.as_ptr(), &mut st) }, "stat")?;
        }
        Ok(())
    })
}

fn mmap_64k(budget: Duration) -> CaseResult {
    const LEN: usize = 64 << 10;
    measure(budget, |n| {
        for _ in 0..n {
            // SAFETY: a fresh anonymous mapping; no existing memory is named.
            let p = unsafe {
                libc::mmap(
                    std::ptr::null_mut(),
                    LEN,
                    libc::PROT_READ | libc::PROT_WRITE,
                    libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                    -1,
                    0,
                )
            };
            if p == libc::MAP_FAILED {
                return Err(format!("mmap: {}", Error::last_os_error()));
            }
            let base = p.cast::<u8>();
            for page in (0..LEN).step_by(4096) {
                // SAFETY: `page < LEN`, inside the writable mapping above.
                unsafe { base.add(page).write_volatile(1) };
            }
            // SAFETY: unmaps exactly the mapping made above.
            check(unsafe { libc::munmap(p, LEN) }, "munmap")?;
        }
        Ok(())
    })
}

/// Fork; the child runs `child` and exits 0 on `Ok`, 1 on `Err`.
fn fork_with(child: impl FnOnce() -> Result<(), String>) -> Result<i32, String> {
    // SAFETY: the guest is single-threaded when it forks (no case that forks
    // starts a thread), so the child may run ordinary code.
    let pid = check(unsafe { libc::fork() }, "fork")?;
    if pid == 0 {
        let code = i32::from(child().is_err());
        // SAFETY: ends the child without running the parent's exit handlers.
        unsafe { libc::_exit(code) };
    }
    Ok(pid)
}

/// Wait for `pid`; an error unless it exited 0.
fn wait_ok(pid: i32) -> Result<(), String> {
    let mut status = 0;
    // SAFETY: `status` is writable; `pid` is our child.
    check(unsafe { libc::waitpid(pid, &mut status, 0) }, "waitpid")?;
    if libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0 {
        Ok(())
    } else {
        Err(format!("child ended with wait status {status:#x}"))
    }
}

fn pipe() -> Result<(Fd, Fd), String> {
    let mut fds = [0i32; 2];
    // SAFETY: `fds` has room for the two descriptors.
    check(unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) }, "pipe2")?;
    Ok((Fd(fds[0]), Fd(fds[1])))
}

fn pipe_pingpong(budget: Duration) -> CaseResult {
    let (to_child_r, to_child_w) = pipe()?;
    let (to_parent_r, to_parent_w) = pipe()?;
    let pid = fork_with(|| {
        let mut b = [0u8; 1];
        loop {
            read_full(&to_child_r, &mut b, "child read")?;
            if b[0] == b'q' {
                return Ok(());
            }
            write_full(&to_parent_w, &b, "child write")?;
        }
    })?;
    let mut b = [0u8; 1];
    let result = measure(budget, |n| {
        (0..n).try_for_each(|_| {
            write_full(&to_child_w, b"p", "parent write")?;
            read_full(&to_parent_r, &mut b, "parent read")
        })
    });
    write_full(&to_child_w, b"q", "parent write")?;
    wait_ok(pid)?;
    result
}

fn futex(word: &AtomicU32, op: i32, val: u32) -> Result<(), String> {
    // SAFETY: `word` is a live, aligned u32; no timeout or second address.
    let r = unsafe {
        libc::syscall(libc::SYS_futex, word.as_ptr(), op | libc::FUTEX_PRIVATE_FLAG, val, 0usize, 0usize, 0u32)
    };
    if r < 0 {
        let e = Error::last_os_error();
        // EAGAIN: the word changed before we slept; EINTR: spurious wake.
        if !matches!(e.raw_os_error(), Some(libc::EAGAIN | libc::EINTR)) {
            return Err(format!("futex: {e}"));
        }
    }
    Ok(())
}

/// Wait until `word` is no longer `val`.
fn futex_wait_while(word: &AtomicU32, val: u32) -> Result<u32, String> {
    loop {
        let now = word.load(Ordering::Acquire);
        if now != val {
            return Ok(now);
        }
        futex(word, libc::FUTEX_WAIT, val)?;
    }
}

fn futex_pingpong(budget: Duration) -> CaseResult {
    // 0: the main thread's turn; 1: the other thread's; 2: stop.
    let turn = Arc::new(AtomicU32::new(0));
    let other = {
        let turn = turn.clone();
        std::thread::Builder::new()
            .stack_size(64 << 10)
            .spawn(move || -> Result<(), String> {
                loop {
                    if futex_wait_while(&turn, 0)? == 2 {
                        return Ok(());
                    }
                    turn.store(0, Ordering::Release);
                    futex(&turn, libc::FUTEX_WAKE, 1)?;
                }
            })
            .map_err(|e| format!("thread create: {e}"))?
    };
    let result = measure(budget, |n| {
        (0..n).try_for_each(|_| {
            turn.store(1, Ordering::Release);
            futex(&turn, libc::FUTEX_WAKE, 1)?;
            futex_wait_while(&turn, 1).map(drop)
        })
    });
    turn.store(2, Ordering::Release);
    futex(&turn, libc::FUTEX_WAKE, 1)?;
    other.join().map_err(|_| "thread panicked".to_owned())??;
    result
}

fn thread_create(budget: Duration) -> CaseResult {
    measure(budget, |n| {
        (0..n).try_for_each(|_| {
            let t = std::thread::Builder::new()
                .stack_size(64 << 10)
                .spawn(|| ())
                .map_err(|e| format!("thread create: {e}"))?;
            t.join().map_err(|_| "thread panicked".to_owned())
        })
    })
}

fn fork_wait(budget: Duration) -> CaseResult {
    measure(budget, |n| (0..n).try_for_each(|_| wait_ok(fork_with(|| Ok(()))?)))
}

fn fork_exec(budget: Duration) -> CaseResult {
    let prog = CString::new("/bin/true").map_err(|e| e.to_string())?;
    let argv = [prog.as_ptr(), std::ptr::null()];
    let envp = [std::ptr::null()];
    measure(budget, |n| {
        (0..n).try_for_each(|_| {
            let pid = fork_with(|| {
                // SAFETY: `prog`, `argv` and `envp` are NUL-terminated and
                // outlive the call; it returns only on failure.
                unsafe { libc::execve(prog.as_ptr(), argv.as_ptr(), envp.as_ptr()) };
                Err(format!("execve: {}", Error::last_os_error()))
            })?;
            wait_ok(pid)
        })
    })
}

/// An anonymous (already unlinked) 4 KiB file in `/tmp`.
fn temp_file() -> Result<Fd, String> {
    let mut template = *b"/tmp/bulwark-bench-XXXXXX\0";
    // SAFETY: `template` is a writable, NUL-terminated mkstemp template.
    let fd = Fd(check(unsafe { libc::mkstemp(template.as_mut_ptr().cast()) }, "mkstemp in /tmp")?);
    // SAFETY: `template` now holds the created file's NUL-terminated name.
    check(unsafe { libc::unlink(template.as_ptr().cast()) }, "unlink")?;
    Ok(fd)
}

fn pwrite_once(fd: &Fd, buf: &[u8]) -> Result<(), String> {
    // SAFETY: `buf` is valid for `buf.len()` bytes.
    let put = check(unsafe { libc::pwrite(fd.0, buf.as_ptr().cast(), buf.len(), 0) }, "pwrite")?;
    if put.unsigned_abs() != buf.len() {
        return Err(format!("pwrite: short write of {put} bytes"));
    }
    Ok(())
}

fn pwrite_4k(budget: Duration) -> CaseResult {
    let fd = temp_file()?;
    let buf = vec![7u8; 4096];
    measure(budget, |n| (0..n).try_for_each(|_| pwrite_once(&fd, &buf)))
}

fn pread_4k(budget: Duration) -> CaseResult {
    let fd = temp_file()?;
    let mut buf = vec![7u8; 4096];
    pwrite_once(&fd, &buf)?;
    measure(budget, |n| {
        (0..n).try_for_each(|_| {
            // SAFETY: `buf` is valid for `buf.len()` writable bytes.
            let got = check(unsafe { libc::pread(fd.0, buf.as_mut_ptr().cast(), buf.len(), 0) }, "pread")?;
            if got.unsigned_abs() != buf.len() {
                return Err(format!("pread: short read of {got} bytes"));
            }
            Ok(())
        })
    })
}

/// A connected loopback TCP pair: (client, the accepted server end).
fn tcp_pair() -> Result<(TcpStream, TcpStream), String> {
    let l = TcpListener::bind("127.0.0.1:0").map_err(|e| format!("bind: {e}"))?;
    let addr = l.local_addr().map_err(|e| format!("getsockname: {e}"))?;
    let c = TcpStream::connect(addr).map_err(|e| format!("connect: {e}"))?;
    let (s, _) = l.accept().map_err(|e| format!("accept: {e}"))?;
    c.set_nodelay(true).map_err(|e| format!("TCP_NODELAY: {e}"))?;
    s.set_nodelay(true).map_err(|e| format!("TCP_NODELAY: {e}"))?;
    Ok((c, s))
}

/// One byte to an echoing thread and back over loopback TCP: a request
/// and response round trip.
fn tcp_rr(budget: Duration) -> CaseResult {
    let (mut c, mut s) = tcp_pair()?;
    let echo = std::thread::Builder::new()
        .stack_size(64 << 10)
        .spawn(move || {
            let mut b = [0u8; 1];
            while s.read_exact(&mut b).is_ok() && s.write_all(&b).is_ok() {}
        })
        .map_err(|e| format!("thread create: {e}"))?;
    let mut b = [7u8; 1];
    let r = measure(budget, |n| {
        (0..n).try_for_each(|_| {
            c.write_all(&b).map_err(|e| format!("send: {e}"))?;
            c.read_exact(&mut b).map_err(|e| format!("recv: {e}"))
        })
    });
    drop(c);
    echo.join().map_err(|_| "thread panicked".to_owned())?;
    r
}

/// 64 KiB through loopback TCP to a draining thread: bulk throughput (ns
/// per 64 KiB; 64 KiB / ns-per-op is the rate).
fn tcp_stream_64k(budget: Duration) -> CaseResult {
    let (mut c, mut s) = tcp_pair()?;
    let sink = std::thread::Builder::new()
        .stack_size(256 << 10)
        .spawn(move || {
            let mut b = vec![0u8; 64 << 10];
            while s.read(&mut b).is_ok_and(|n| n > 0) {}
        })
        .map_err(|e| format!("thread create: {e}"))?;
    let buf = vec![7u8; 64 << 10];
    let r = measure(budget, |n| (0..n).try_for_each(|_| c.write_all(&buf).map_err(|e| format!("send: {e}"))));
    drop(c);
    sink.join().map_err(|_| "thread panicked".to_owned())?;
    r
}

/// A connection to the peer (`--peer`) in `mode`, answered: set up before
/// the clock starts.
fn peer_connection(mode: u8) -> Result<TcpStream, String> {
    let addr = PEER.get().ok_or("needs --peer ADDR:PORT, the peer outside the sandbox")?;
    let mut c = TcpStream::connect(addr).map_err(|e| format!("connect {addr}: {e}"))?;
    c.set_nodelay(true).map_err(|e| format!("TCP_NODELAY: {e}"))?;
    c.write_all(&[mode]).map_err(|e| format!("send the mode: {e}"))?;
    let mut answer = [0u8; 1];
    c.read_exact(&mut answer).map_err(|e| format!("recv the mode's answer: {e}"))?;
    if answer[0] != mode {
        return Err(format!("the peer answered {:#04x} to mode {mode:#04x}", answer[0]));
    }
    Ok(c)
}

/// One byte to the echoing peer outside the sandbox and back: a request
/// and response round trip through the sandbox's network (its stack and
/// the veth, in `--network sandbox`).
fn veth_rr(budget: Duration) -> CaseResult {
    let mut c = peer_connection(PEER_ECHO)?;
    let mut b = [7u8; 1];
    measure(budget, |n| {
        (0..n).try_for_each(|_| {
            c.write_all(&b).map_err(|e| format!("send: {e}"))?;
            c.read_exact(&mut b).map_err(|e| format!("recv: {e}"))
        })
    })
}

/// 64 KiB writes to the draining peer outside the sandbox: bulk throughput
/// out of the sandbox (ns per 64 KiB).
fn veth_stream_64k(budget: Duration) -> CaseResult {
    let mut c = peer_connection(PEER_DRAIN)?;
    let buf = vec![7u8; 64 << 10];
    measure(budget, |n| (0..n).try_for_each(|_| c.write_all(&buf).map_err(|e| format!("send: {e}"))))
}
