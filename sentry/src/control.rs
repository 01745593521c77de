//! The OCI runtime's control socket: `bulwark create` leaves the sandbox
//! waiting here, `bulwark start` tells it to run the program, and `bulwark
//! exec` adds a process to it.
//!
//! Requests, one per connection:
//! - `start\n` → `ok\n` (the program starts), or `error: already started\n`;
//! - `state\n` → `created\n`, `running\n` or `paused\n`;
//! - `pause\n` → `ok\n` once no task runs application code (`bulwark
//!   pause`), `resume\n` → `ok\n` (`bulwark resume`); before `start`,
//!   `error: the container has not started\n`;
//! - `stats\n` → `stats pids=N pids_limit=L memory_bytes=N memory_limit=L\n`
//!   (L a number or `max`): the sandbox's tasks and the memory it holds for
//!   its programs, with their limits (`bulwark events --stats`; CPU
//!   time is the host processes', read from the host);
//! - `update [pids=L] [memory=L]\n` (L a number or `max`, for none) → `ok\n`:
//!   the sandbox's task and memory limits change (`bulwark update`);
//! - `exec N\n` followed by N bytes ([`ExecRequest::encode`]), sent with the
//!   process's standard input, output and error as `SCM_RIGHTS` in the
//!   first message → `ok PID\n` once the program runs (PID is the
//!   sandbox's), then `exit STATUS\n` when it ends (128+N for signal N);
//!   or `error: WHY\n`. While it runs, each `signal N\n` the client writes
//!   is signal N sent to the process, and a client gone (the connection
//!   closed) is SIGKILL.
//!
//! Anything else gets `error: unknown request\n`.

use std::io::{IoSliceMut, Read, Write};
use std::mem::MaybeUninit;
use std::os::fd::OwnedFd;
use std::os::unix::net::{UnixListener, UnixStream};

use rustix::net::{RecvAncillaryBuffer, RecvAncillaryMessage, RecvFlags};

/// The longest request header read.
const MAX_LINE: usize = 256;
/// The largest `exec` request (arguments and environment).
pub const MAX_EXEC: usize = 1 << 20;

/// A process `bulwark exec` asks the sandbox to run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecRequest {
    pub argv: Vec<Vec<u8>>,
    pub envp: Vec<Vec<u8>>,
    /// The working directory, inside the sandbox.
    pub cwd: Vec<u8>,
    pub uid: u32,
    pub gid: u32,
    /// Supplementary groups (`None`: the gid alone).
    pub groups: Option<Vec<u32>>,
    /// Capability sets before the program's `execve` (`None`: the
    /// container's).
    pub caps: Option<crate::caps::Capabilities>,
}

impl ExecRequest {
    /// The request's bytes: NUL-terminated fields uid, gid, groups (`-`,
    /// or gids joined by `,`), capabilities (`-`, or bounding, effective,
    /// inheritable, permitted and ambient in hex joined by `,`), cwd, the
    /// argument count, the arguments, then the environment.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        let mut field = |b: &[u8]| {
            out.extend_from_slice(b);
            out.push(0);
        };
        field(self.uid.to_string().as_bytes());
        field(self.gid.to_string().as_bytes());
        let groups = self.groups.as_ref().map(|g| g.iter().map(u32::to_string).collect::<Vec<_>>().join(","));
        field(groups.as_deref().unwrap_or("-").as_bytes());
        let caps = self.caps.map(|c| {
            [c.bounding, c.effective, c.inheritable, c.permitted, c.ambient].map(|m| format!("{m:x}")).join(",")
        });
        field(caps.as_deref().unwrap_or("-").as_bytes());
        field(&self.cwd);
        field(self.argv.len().to_string().as_bytes());
        for a in self.argv.iter().chain(&self.envp) {
            field(a);
        }
        out
    }

    /// Parse [`encode`](Self::encode)'s bytes.
    pub fn decode(b: &[u8]) -> Option<ExecRequest> {
        let body = b.strip_suffix(&[0])?;
        let mut fields = body.split(|&c| c == 0);
        let num = |f: Option<&[u8]>| std::str::from_utf8(f?).ok()?.parse::<u64>().ok();
        let uid = u32::try_from(num(fields.next())?).ok()?;
        let gid = u32::try_from(num(fields.next())?).ok()?;
        let groups = match std::str::from_utf8(fields.next()?).ok()? {
            "-" => None,
            "" => Some(Vec::new()),
            g => Some(g.split(',').map(|n| n.parse::<u32>().ok()).collect::<Option<Vec<u32>>>()?),
        };
        let caps = match std::str::from_utf8(fields.next()?).ok()? {
            "-" => None,
            c => {
                let m: Vec<u64> = c.split(',').map(|n| u64::from_str_radix(n, 16).ok()).collect::<Option<_>>()?;
                let [bounding, effective, inheritable, permitted, ambient] = <[u64; 5]>::try_from(m).ok()?;
                Some(crate::caps::Capabilities { bounding, effective, inheritable, permitted, ambient })
            }
        };
        let cwd = fields.next()?.to_vec();
        let argc = usize::try_from(num(fields.next())?).ok()?;
        let rest: Vec<Vec<u8>> = fields.map(<[u8]>::to_vec).collect();
        if argc == 0 || argc > rest.len() || !cwd.starts_with(b"/") {
            return None;
        }
        let (argv, envp) = rest.split_at(argc);
        Some(ExecRequest { argv: argv.to_vec(), envp: envp.to_vec(), cwd, uid, gid, groups, caps })
    }
}

/// Waits for an exec'd process; its wait status (the exit code, or 128+N
/// after signal N).
pub type Wait = Box<dyn FnOnce() -> i32 + Send>;

/// What the control socket asks of a running sandbox.
pub trait Sandbox: Send + Sync {
    /// Run an exec request, the program's standard streams given; its
    /// sandbox pid and how to wait for it, or why it could not start.
    fn exec(&self, req: ExecRequest, stdio: [OwnedFd; 3]) -> Result<(i32, Wait), String>;
    /// Stop every task running application code until [`Sandbox::resume`].
    fn pause(&self);
    fn resume(&self);
    fn paused(&self) -> bool;
    fn stats(&self) -> Stats;
    /// Change the limits given (`None` inside: no limit).
    fn update(&self, limits: &Limits);
    /// Send signal `sig` (1..=64) to process `pid` (one `exec` started), as
    /// `kill(2)` from outside the sandbox would; others are passed over.
    fn signal(&self, pid: i32, sig: i32);
}

/// Limits `bulwark update` changes; a field left `None` stays as it is.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Limits {
    /// Most tasks.
    pub pids: Option<Option<u64>>,
    /// Most application memory, in bytes.
    pub memory: Option<Option<u64>>,
}

impl Limits {
    /// The `update` request, without the newline.
    pub fn encode(&self) -> String {
        let show = |v: Option<u64>| v.map_or_else(|| "max".to_owned(), |n| n.to_string());
        let mut out = "update".to_owned();
        if let Some(p) = self.pids {
            out.push_str(&format!(" pids={}", show(p)));
        }
        if let Some(m) = self.memory {
            out.push_str(&format!(" memory={}", show(m)));
        }
        out
    }

    /// Parse the words after `update`.
    fn decode(words: &str) -> Option<Limits> {
        let mut l = Limits::default();
        for w in words.split_whitespace() {
            let (k, v) = w.split_once('=')?;
            let v = if v == "max" { None } else { Some(v.parse::<u64>().ok()?) };
            match k {
                "pids" => l.pids = Some(v),
                "memory" => l.memory = Some(v),
                _ => return None,
            }
        }
        Some(l)
    }
}

/// A running sandbox's figures, for `bulwark events --stats`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    /// Tasks (threads) alive.
    pub pids: u64,
    /// The task limit, if any.
    pub pids_limit: Option<u64>,
    /// Memory the sandbox holds for its programs, in bytes.
    pub memory_bytes: u64,
    /// The memory limit, if any.
    pub memory_limit: Option<u64>,
}

impl Stats {
    /// The `stats` answer, without the newline.
    pub fn encode(&self) -> String {
        let show = |v: Option<u64>| v.map_or_else(|| "max".to_owned(), |n| n.to_string());
        format!(
            "stats pids={} pids_limit={} memory_bytes={} memory_limit={}",
            self.pids,
            show(self.pids_limit),
            self.memory_bytes,
            show(self.memory_limit)
        )
    }

    /// Parse [`encode`](Self::encode)'s line.
    pub fn decode(line: &str) -> Option<Stats> {
        let mut s = Stats::default();
        let mut words = line.trim().split(' ');
        if words.next()? != "stats" {
            return None;
        }
        for w in words {
            let (k, v) = w.split_once('=')?;
            let limit = if v == "max" { None } else { Some(v.parse::<u64>().ok()?) };
            match k {
                "pids" => s.pids = limit?,
                "pids_limit" => s.pids_limit = limit,
                "memory_bytes" => s.memory_bytes = limit?,
                "memory_limit" => s.memory_limit = limit,
                _ => {}
            }
        }
        Some(s)
    }
}

/// Wait on `sock` (listening) until a `start` request arrives; the
/// listener, for [`serve`].
pub fn wait_for_start(sock: OwnedFd) -> std::io::Result<UnixListener> {
    let listener = UnixListener::from(sock);
    loop {
        let (conn, _) = match listener.accept() {
            Ok(c) => c,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if answer(conn, None) == Some(Request::Start) {
            return Ok(listener);
        }
    }
}

/// Answer requests on `listener` for the sandbox's life, on threads of
/// their own, asking `sandbox`.
pub fn serve(listener: UnixListener, sandbox: Box<dyn Sandbox>) -> std::io::Result<()> {
    let sandbox: std::sync::Arc<dyn Sandbox> = sandbox.into();
    std::thread::Builder::new().name("bulwark-control".into()).spawn(move || {
        for conn in listener.incoming().flatten() {
            let sandbox = sandbox.clone();
            // An exec connection lasts as long as its process.
            let _ =
                std::thread::Builder::new().name("bulwark-exec".into()).spawn(move || answer(conn, Some(&*sandbox)));
        }
    })?;
    Ok(())
}

#[derive(Debug, PartialEq, Eq)]
enum Request {
    Start,
    State,
    Pause,
    Resume,
    Stats,
    Update(Limits),
    Exec(usize),
    Unknown,
}

fn parse(line: &str) -> Request {
    let line = line.trim();
    match line.split_once(' ') {
        Some(("exec", n)) => n.parse().ok().filter(|&n| n <= MAX_EXEC).map_or(Request::Unknown, Request::Exec),
        Some(("update", w)) => Limits::decode(w).map_or(Request::Unknown, Request::Update),
        _ => match line {
            "start" => Request::Start,
            "state" => Request::State,
            "pause" => Request::Pause,
            "resume" => Request::Resume,
            "stats" => Request::Stats,
            _ => Request::Unknown,
        },
    }
}

/// The header line of a request (up to the newline) and what came after
/// it in the same reads, with any descriptors sent along.
fn read_header(conn: &UnixStream) -> Option<(String, Vec<u8>, Vec<OwnedFd>)> {
    let mut got = Vec::new();
    let mut fds = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        // rustix hands received descriptors over as `OwnedFd`s (nix gives
        // raw numbers) and closes any left unread.
        let mut space = [MaybeUninit::<u8>::uninit(); rustix::cmsg_space!(ScmRights(3))];
        let mut control = RecvAncillaryBuffer::new(&mut space);
        let mut iov = [IoSliceMut::new(&mut buf)];
        let msg = match rustix::net::recvmsg(conn, &mut iov, &mut control, RecvFlags::CMSG_CLOEXEC) {
            Ok(m) => m,
            Err(rustix::io::Errno::INTR) => continue,
            Err(_) => return None,
        };
        for m in control.drain() {
            if let RecvAncillaryMessage::ScmRights(rights) = m {
                fds.extend(rights);
            }
        }
        let n = msg.bytes;
        if n == 0 {
            return None;
        }
        got.extend_from_slice(&buf[..n]);
        if let Some(i) = got.iter().position(|&c| c == b'\n') {
            let line = String::from_utf8_lossy(&got[..i]).into_owned();
            return Some((line, got[i + 1..].to_vec(), fds));
        }
        if got.len() > MAX_LINE {
            return None;
        }
    }
}

/// Read one request from `conn` and answer it (`sandbox`: it runs, and
/// takes requests); the request, if one came.
fn answer(mut conn: UnixStream, sandbox: Option<&dyn Sandbox>) -> Option<Request> {
    let (line, rest, fds) = read_header(&conn)?;
    let req = parse(&line);
    let not_started = "error: the container has not started".to_owned();
    let reply = match (&req, sandbox) {
        (Request::Start, None) => "ok".to_owned(),
        (Request::Start, Some(_)) => "error: already started".to_owned(),
        (Request::State, None) => "created".to_owned(),
        (Request::State, Some(s)) => if s.paused() { "paused" } else { "running" }.to_owned(),
        (Request::Pause, Some(s)) => {
            s.pause();
            "ok".to_owned()
        }
        (Request::Resume, Some(s)) => {
            s.resume();
            "ok".to_owned()
        }
        (Request::Stats, Some(s)) => s.stats().encode(),
        (Request::Update(l), Some(s)) => {
            s.update(l);
            "ok".to_owned()
        }
        (Request::Exec(_), Some(s)) if s.paused() => "error: the container is paused".to_owned(),
        (Request::Exec(n), Some(s)) => return exec(conn, *n, rest, fds, s).then_some(req),
        (Request::Pause | Request::Resume | Request::Stats | Request::Update(_) | Request::Exec(_), None) => {
            not_started
        }
        (Request::Unknown, _) => "error: unknown request".to_owned(),
    };
    let _ = conn.write_all(format!("{reply}\n").as_bytes());
    Some(req)
}

/// Run an exec request of `len` bytes (`rest` already read) on `conn`;
/// whether it was well formed.
fn exec(mut conn: UnixStream, len: usize, mut rest: Vec<u8>, fds: Vec<OwnedFd>, sandbox: &dyn Sandbox) -> bool {
    if rest.len() < len {
        let mut more = vec![0u8; len - rest.len()];
        if conn.read_exact(&mut more).is_err() {
            return false;
        }
        rest.extend(more);
    }
    let Some(req) = ExecRequest::decode(&rest[..len.min(rest.len())]) else {
        let _ = conn.write_all(b"error: malformed exec request\n");
        return false;
    };
    let Ok(stdio) = <[OwnedFd; 3]>::try_from(fds) else {
        let _ = conn.write_all(b"error: exec needs three descriptors (stdin, stdout, stderr)\n");
        return false;
    };
    match sandbox.exec(req, stdio) {
        Ok((pid, wait)) => {
            let _ = conn.write_all(format!("ok {pid}\n").as_bytes());
            let reader = conn.try_clone().ok();
            let exited = std::sync::atomic::AtomicBool::new(false);
            std::thread::scope(|scope| {
                // Signals for the process come on the same connection
                // while it runs (`bulwark exec` and its waiter pass on
                // what they are sent).
                if let Some(r) = reader {
                    let exited = &exited;
                    scope.spawn(move || pass_signals(r, pid, sandbox, exited));
                }
                let status = wait();
                exited.store(true, std::sync::atomic::Ordering::SeqCst);
                let _ = conn.write_all(format!("exit {status}\n").as_bytes());
                let _ = conn.shutdown(std::net::Shutdown::Read);
            });
        }
        Err(why) => {
            let _ = conn.write_all(format!("error: {why}\n").as_bytes());
        }
    }
    true
}

/// Deliver each `signal N` line read from `conn` to process `pid`, until
/// the connection ends. If it ends before the process has `exited`, the
/// client (whose pid stood for the process's: conmon and containerd's shim
/// wait for it and signal it) is gone, SIGKILLed say: so is the process.
fn pass_signals(conn: UnixStream, pid: i32, sandbox: &dyn Sandbox, exited: &std::sync::atomic::AtomicBool) {
    use std::io::BufRead;
    let mut lines = std::io::BufReader::new(conn.take(1 << 20)).lines();
    while let Some(Ok(line)) = lines.next() {
        if let Some(sig) = line.trim().strip_prefix("signal ").and_then(|n| n.parse::<i32>().ok()) {
            sandbox.signal(pid, sig);
        }
    }
    if !exited.load(std::sync::atomic::Ordering::SeqCst) {
        sandbox.signal(pid, 9);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests() {
        assert_eq!(parse("start\n"), Request::Start);
        assert_eq!(parse(" state "), Request::State);
        assert_eq!(parse("exec 12"), Request::Exec(12));
        assert_eq!(parse("exec 99999999999"), Request::Unknown);
        assert_eq!(parse("exec"), Request::Unknown);
        let l = Limits { pids: Some(None), memory: Some(Some(1 << 20)) };
        assert_eq!(parse(&l.encode()), Request::Update(l));
        assert_eq!(parse("update pids=5"), Request::Update(Limits { pids: Some(Some(5)), memory: None }));
        assert_eq!(parse("update cpu=5"), Request::Unknown);
        assert_eq!(parse("update pids=-1"), Request::Unknown);
    }

    #[test]
    fn exec_requests_round_trip_and_bad_ones_are_refused() {
        let r = ExecRequest {
            argv: vec![b"/bin/sh".to_vec(), b"-c".to_vec(), b"echo a\nb".to_vec()],
            envp: vec![b"PATH=/bin".to_vec()],
            cwd: b"/tmp".to_vec(),
            uid: 1000,
            gid: 100,
            groups: None,
            caps: None,
        };
        assert_eq!(ExecRequest::decode(&r.encode()), Some(r.clone()));
        let no_env = ExecRequest { envp: Vec::new(), ..r.clone() };
        assert_eq!(ExecRequest::decode(&no_env.encode()), Some(no_env));
        let caps = crate::caps::Capabilities { bounding: 0xff, effective: 1, inheritable: 0, permitted: 3, ambient: 0 };
        let full = ExecRequest { groups: Some(vec![10, 20]), caps: Some(caps), ..r.clone() };
        assert_eq!(ExecRequest::decode(&full.encode()), Some(full));
        let no_groups = ExecRequest { groups: Some(Vec::new()), ..r.clone() };
        assert_eq!(ExecRequest::decode(&no_groups.encode()), Some(no_groups));
        assert_eq!(ExecRequest::decode(b""), None);
        assert_eq!(ExecRequest::decode(b"0\x000\x00-\x00-\x00/\x000\x00"), None, "no program");
        assert_eq!(ExecRequest::decode(b"0\x000\x00-\x00-\x00rel\x001\x00sh\x00"), None, "relative cwd");
        assert_eq!(ExecRequest::decode(b"0\x000\x00-\x00-\x00/\x005\x00sh\x00"), None, "argc too large");
        assert_eq!(ExecRequest::decode(b"x\x000\x00-\x00-\x00/\x001\x00sh\x00"), None, "bad uid");
        assert_eq!(ExecRequest::decode(b"0\x000\x00x\x00-\x00/\x001\x00sh\x00"), None, "bad groups");
        assert_eq!(ExecRequest::decode(b"0\x000\x00-\x001,2\x00/\x001\x00sh\x00"), None, "three sets short");
    }

    struct Fake(std::sync::atomic::AtomicBool);

    impl Sandbox for Fake {
        fn exec(&self, req: ExecRequest, _stdio: [OwnedFd; 3]) -> Result<(i32, Wait), String> {
            Ok((7, Box::new(move || req.argv.len() as i32)))
        }
        fn pause(&self) {
            self.0.store(true, std::sync::atomic::Ordering::Relaxed);
        }
        fn resume(&self) {
            self.0.store(false, std::sync::atomic::Ordering::Relaxed);
        }
        fn paused(&self) -> bool {
            self.0.load(std::sync::atomic::Ordering::Relaxed)
        }
        fn stats(&self) -> Stats {
            Stats { pids: 2, pids_limit: None, memory_bytes: 4, memory_limit: Some(5) }
        }
        fn update(&self, _limits: &Limits) {}
        fn signal(&self, _pid: i32, _sig: i32) {}
    }

    #[test]
    fn stats_round_trip() {
        let s = Stats { pids: 5, pids_limit: Some(9), memory_bytes: 1 << 40, memory_limit: None };
        assert_eq!(Stats::decode(&s.encode()), Some(s));
        assert_eq!(Stats::decode("error: x"), None);
        assert_eq!(Stats::decode("stats pids=x"), None);
    }

    #[test]
    fn start_releases_the_waiter_and_state_follows() {
        let dir = std::env::temp_dir().join(format!("bulwark-control-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("dir");
        let path = dir.join("control.sock");
        let l = UnixListener::bind(&path).expect("bind");
        let ask = |req: &str| {
            let mut c = UnixStream::connect(&path).expect("connect");
            c.write_all(format!("{req}\n").as_bytes()).expect("write");
            let mut out = String::new();
            c.read_to_string(&mut out).expect("read");
            out
        };
        let waiter = std::thread::spawn(move || wait_for_start(OwnedFd::from(l)));
        assert_eq!(ask("state"), "created\n");
        assert_eq!(ask("exec 3"), "error: the container has not started\n");
        assert_eq!(ask("start"), "ok\n");
        let listener = waiter.join().expect("join").expect("started");
        serve(listener, Box::new(Fake(std::sync::atomic::AtomicBool::new(false)))).expect("serve");
        assert_eq!(ask("state"), "running\n");
        assert_eq!(ask("start"), "error: already started\n");
        assert_eq!(ask("pause"), "ok\n");
        assert_eq!(ask("state"), "paused\n");
        assert_eq!(ask("exec 3"), "error: the container is paused\n");
        assert_eq!(ask("resume"), "ok\n");
        assert_eq!(ask("state"), "running\n");
        assert_eq!(ask("stats"), "stats pids=2 pids_limit=max memory_bytes=4 memory_limit=5\n");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
