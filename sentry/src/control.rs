//! The OCI runtime's control socket: `bulwark create` leaves the sandbox
//! waiting here, `bulwark start` tells it to run the program.
//!
//! The protocol is one line per connection, answered with one line:
//! - `start` → `ok` (the program starts), or `error: already started`;
//! - `state` → `created` or `running`.
//!
//! Anything else gets `error: unknown request`.

use std::io::{BufRead, BufReader, Read, Write};
use std::os::fd::OwnedFd;
use std::os::unix::net::{UnixListener, UnixStream};

/// The longest request line read.
const MAX_LINE: u64 = 256;

/// Wait on `sock` (listening) until a `start` request arrives; then go on
/// answering requests on a thread of its own, for the sandbox's life.
pub fn wait_for_start(sock: OwnedFd) -> std::io::Result<()> {
    let listener = UnixListener::from(sock);
    loop {
        let (conn, _) = match listener.accept() {
            Ok(c) => c,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if answer(conn, false) == Some(Request::Start) {
            break;
        }
    }
    std::thread::Builder::new().name("bulwark-control".into()).spawn(move || {
        for conn in listener.incoming().flatten() {
            let _ = answer(conn, true);
        }
    })?;
    Ok(())
}

#[derive(Debug, PartialEq, Eq)]
enum Request {
    Start,
    State,
    Unknown,
}

fn parse(line: &str) -> Request {
    match line.trim() {
        "start" => Request::Start,
        "state" => Request::State,
        _ => Request::Unknown,
    }
}

/// Read one request from `conn` and answer it; the request, if one came.
fn answer(conn: UnixStream, started: bool) -> Option<Request> {
    let mut line = String::new();
    let mut r = BufReader::new((&conn).take(MAX_LINE));
    r.read_line(&mut line).ok()?;
    let req = parse(&line);
    let reply = match (&req, started) {
        (Request::Start, false) => "ok",
        (Request::Start, true) => "error: already started",
        (Request::State, false) => "created",
        (Request::State, true) => "running",
        (Request::Unknown, _) => "error: unknown request",
    };
    let _ = (&conn).write_all(format!("{reply}\n").as_bytes());
    Some(req)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests() {
        assert_eq!(parse("start\n"), Request::Start);
        assert_eq!(parse(" state "), Request::State);
        assert_eq!(parse("exec"), Request::Unknown);
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
            BufReader::new(c).read_line(&mut out).expect("read");
            out
        };
        let waiter = std::thread::spawn(move || wait_for_start(OwnedFd::from(l)));
        assert_eq!(ask("state"), "created\n");
        assert_eq!(ask("start"), "ok\n");
        waiter.join().expect("join").expect("started");
        assert_eq!(ask("state"), "running\n");
        assert_eq!(ask("start"), "error: already started\n");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
