//! The OCI runtime's control socket: `bulwark create` leaves the sandbox
//! waiting here, `bulwark start` tells it to run the program, and `bulwark
//! exec` adds a process to it.
//!
//! Requests, one per connection:
//! - `start\n` → `ok\n` (the program starts), or `error: already started\n`;
//! - `state\n` → `created\n` or `running\n`;
//! - `exec N\n` followed by N bytes ([`ExecRequest::encode`]), sent with the
//!   process's standard input, output and error as `SCM_RIGHTS` in the
//!   first message → `ok PID\n` once the program runs (PID is the
//!   sandbox's), then `exit STATUS\n` when it ends (128+N for signal N);
//!   or `error: WHY\n`.
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
}

impl ExecRequest {
    /// The request's bytes: NUL-terminated fields uid, gid, cwd, the
    /// argument count, the arguments, then the environment.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        let mut field = |b: &[u8]| {
            out.extend_from_slice(b);
            out.push(0);
        };
        field(self.uid.to_string().as_bytes());
        field(self.gid.to_string().as_bytes());
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
        let cwd = fields.next()?.to_vec();
        let argc = usize::try_from(num(fields.next())?).ok()?;
        let rest: Vec<Vec<u8>> = fields.map(<[u8]>::to_vec).collect();
        if argc == 0 || argc > rest.len() || !cwd.starts_with(b"/") {
            return None;
        }
        let (argv, envp) = rest.split_at(argc);
        Some(ExecRequest { argv: argv.to_vec(), envp: envp.to_vec(), cwd, uid, gid })
    }
}

/// Waits for an exec'd process; its wait status (the exit code, or 128+N
/// after signal N).
pub type Wait = Box<dyn FnOnce() -> i32 + Send>;

/// Runs an exec request, the program's standard streams given; returns its
/// sandbox pid and how to wait for it, or why it could not start.
pub type Spawner = dyn Fn(ExecRequest, [OwnedFd; 3]) -> Result<(i32, Wait), String> + Send + Sync;

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
/// their own, running `exec` requests with `spawn`.
pub fn serve(listener: UnixListener, spawn: Box<Spawner>) -> std::io::Result<()> {
    let spawn: std::sync::Arc<Spawner> = spawn.into();
    std::thread::Builder::new().name("bulwark-control".into()).spawn(move || {
        for conn in listener.incoming().flatten() {
            let spawn = spawn.clone();
            // An exec connection lasts as long as its process.
            let _ = std::thread::Builder::new().name("bulwark-exec".into()).spawn(move || answer(conn, Some(&*spawn)));
        }
    })?;
    Ok(())
}

#[derive(Debug, PartialEq, Eq)]
enum Request {
    Start,
    State,
    Exec(usize),
    Unknown,
}

fn parse(line: &str) -> Request {
    let line = line.trim();
    match line.split_once(' ') {
        Some(("exec", n)) => n.parse().ok().filter(|&n| n <= MAX_EXEC).map_or(Request::Unknown, Request::Exec),
        _ => match line {
            "start" => Request::Start,
            "state" => Request::State,
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

/// Read one request from `conn` and answer it (`spawn`: the sandbox runs,
/// exec requests are taken); the request, if one came.
fn answer(mut conn: UnixStream, spawn: Option<&Spawner>) -> Option<Request> {
    let (line, rest, fds) = read_header(&conn)?;
    let req = parse(&line);
    let reply = match (&req, spawn) {
        (Request::Start, None) => "ok".to_owned(),
        (Request::Start, Some(_)) => "error: already started".to_owned(),
        (Request::State, None) => "created".to_owned(),
        (Request::State, Some(_)) => "running".to_owned(),
        (Request::Exec(_), None) => "error: the container has not started".to_owned(),
        (Request::Exec(n), Some(spawn)) => return exec(conn, *n, rest, fds, spawn).then_some(req),
        (Request::Unknown, _) => "error: unknown request".to_owned(),
    };
    let _ = conn.write_all(format!("{reply}\n").as_bytes());
    Some(req)
}

/// Run an exec request of `len` bytes (`rest` already read) on `conn`;
/// whether it was well formed.
fn exec(mut conn: UnixStream, len: usize, mut rest: Vec<u8>, fds: Vec<OwnedFd>, spawn: &Spawner) -> bool {
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
    match spawn(req, stdio) {
        Ok((pid, wait)) => {
            let _ = conn.write_all(format!("ok {pid}\n").as_bytes());
            let status = wait();
            let _ = conn.write_all(format!("exit {status}\n").as_bytes());
        }
        Err(why) => {
            let _ = conn.write_all(format!("error: {why}\n").as_bytes());
        }
    }
    true
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
    }

    #[test]
    fn exec_requests_round_trip_and_bad_ones_are_refused() {
        let r = ExecRequest {
            argv: vec![b"/bin/sh".to_vec(), b"-c".to_vec(), b"echo a\nb".to_vec()],
            envp: vec![b"PATH=/bin".to_vec()],
            cwd: b"/tmp".to_vec(),
            uid: 1000,
            gid: 100,
        };
        assert_eq!(ExecRequest::decode(&r.encode()), Some(r.clone()));
        let no_env = ExecRequest { envp: Vec::new(), ..r.clone() };
        assert_eq!(ExecRequest::decode(&no_env.encode()), Some(no_env));
        assert_eq!(ExecRequest::decode(b""), None);
        assert_eq!(ExecRequest::decode(b"0\x000\x00/\x000\x00"), None, "no program");
        assert_eq!(ExecRequest::decode(b"0\x000\x00rel\x001\x00sh\x00"), None, "relative cwd");
        assert_eq!(ExecRequest::decode(b"0\x000\x00/\x005\x00sh\x00"), None, "argc too large");
        assert_eq!(ExecRequest::decode(b"x\x000\x00/\x001\x00sh\x00"), None, "bad uid");
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
        let spawn: Box<Spawner> =
            Box::new(|req: ExecRequest, _stdio| Ok((7, Box::new(move || req.argv.len() as i32) as Wait)));
        serve(listener, spawn).expect("serve");
        assert_eq!(ask("state"), "running\n");
        assert_eq!(ask("start"), "error: already started\n");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
