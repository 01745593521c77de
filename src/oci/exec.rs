//! `bulwark exec`: run another process in a running container, through the
//! sandbox's control socket (`sentry::control`): the request carries the
//! process (from `--process` or the container's config.json with the
//! command line's changes, as runc builds it) and its stdin, stdout and
//! stderr as `SCM_RIGHTS`; the sandbox answers `ok PID`, then `exit STATUS`
//! when the process ends.
//!
//! The exec'd process is a task of the sentry, not a host process. So that
//! a caller that waits for a host pid (conmon with `--detach --pid-file`)
//! still gets its exit status, `--detach` leaves a small host process behind
//! (`bulwark exec-wait`, holding the control connection) that exits with
//! the process's status; its pid is what `--pid-file` gets, and `ps` lists
//! it (recorded in the state directory's `waiters/`) so that containerd's
//! shim finds its exec among the container's processes.

use std::io::{BufRead, BufReader, IoSlice, Read};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::process::{Command, Stdio};

use anyhow::{bail, Context};
use nix::sys::socket::{sendmsg, ControlMessage, MsgFlags, UnixAddr};
use sentry::control::ExecRequest;

use super::log::Log;
use super::state::{connect_control, record_waiter, Container, Status};
use super::ExecArgs;

/// Run `bulwark exec`; returns the exit status (the process's, unless
/// detached).
pub fn exec(root: &Path, log: &Log, a: &ExecArgs) -> anyhow::Result<i32> {
    let c = Container::load(root, &a.id)?;
    if c.status() != Status::Running {
        bail!("cannot exec in a container that is not running (it is {})", c.status().as_str());
    }
    let (req, terminal) = request(&c, a)?;
    // A terminal: --tty, or process.terminal in --process (containerd's
    // shim passes no --tty, as runc takes it from the file).
    let tty = match (a.tty || terminal, &a.console_socket) {
        (true, Some(sock)) => Some(super::console::open_and_send(sock)?),
        (true, None) => bail!("a terminal (--tty or process.terminal) needs --console-socket"),
        (false, _) => None,
    };
    let stdio: [OwnedFd; 3] = match &tty {
        Some(t) => [t.try_clone()?, t.try_clone()?, t.try_clone()?],
        None => [
            std::io::stdin().as_fd().try_clone_to_owned().context("stdin")?,
            std::io::stdout().as_fd().try_clone_to_owned().context("stdout")?,
            std::io::stderr().as_fd().try_clone_to_owned().context("stderr")?,
        ],
    };
    let conn = send_request(connect_control(&c.dir)?, &req, &stdio)?;
    drop(stdio);
    drop(tty);
    // The first answer is read a byte at a time: what follows it (the exit
    // status of a quick process) must stay in the socket for the waiter.
    let first = read_line_unbuffered(&conn)?;
    match first.strip_prefix("ok ") {
        Some(pid) if pid.parse::<i32>().is_ok() => {}
        _ => bail!("the sandbox refused exec: {}", first.strip_prefix("error: ").unwrap_or(&first)),
    }
    if a.detach {
        // The waiter is born with the signals it passes on blocked (a mask
        // survives exec), so none sent before its handlers are in place
        // kills it: it unblocks them once they are.
        let old = forwarded().thread_swap_mask(nix::sys::signal::SigmaskHow::SIG_BLOCK).context("sigprocmask")?;
        let waiter = Command::new("/proc/self/exe")
            .arg("exec-wait")
            .stdin(Stdio::from(OwnedFd::from(conn)))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn();
        old.thread_set_mask().context("sigprocmask")?;
        let waiter = waiter.context("starting the exec waiter")?;
        if let Some(f) = &a.pid_file {
            write_pid(f, waiter.id())?;
        }
        // So that `ps` lists it with the container's processes (containerd
        // matches an exec's pid among them).
        if let Err(e) = i32::try_from(waiter.id()).map_err(anyhow::Error::from).and_then(|p| record_waiter(&c.dir, p)) {
            log.warn(&format!("exec: the waiter {} is not recorded for ps: {e:#}", waiter.id()));
        }
        return Ok(0);
    }
    if let Some(f) = &a.pid_file {
        write_pid(f, std::process::id())?;
    }
    pass_signals_on(&conn);
    wait_exit(&mut BufReader::new(conn))
}

/// Signals this process is sent go to the exec'd process, over `conn`.
fn pass_signals_on(conn: &impl AsRawFd) {
    if crate::forward::install().is_ok() {
        crate::forward::to_conn(conn.as_raw_fd());
    }
    // Blocked by the caller until now, for the waiter.
    let _ = forwarded().thread_unblock();
}

/// The signals passed on to the exec'd process.
fn forwarded() -> nix::sys::signal::SigSet {
    let mut set = nix::sys::signal::SigSet::empty();
    for s in sentry::kernel::host_signals::FORWARDED {
        set.add(s);
    }
    set
}

/// One line from `conn`, reading nothing past its newline.
fn read_line_unbuffered(mut conn: &UnixStream) -> anyhow::Result<String> {
    let mut line = Vec::new();
    let mut b = [0u8; 1];
    loop {
        match conn.read(&mut b).context("reading the control socket")? {
            0 if line.is_empty() => bail!("the sandbox ended before answering"),
            0 => break,
            _ if b[0] == b'\n' => break,
            _ => line.push(b[0]),
        }
        if line.len() > 4096 {
            bail!("the sandbox's answer is too long");
        }
    }
    Ok(String::from_utf8_lossy(&line).into_owned())
}

/// `bulwark exec-wait`: read the control connection on stdin until the
/// exec'd process's `exit STATUS`; that status (255 if the sandbox went
/// away first).
pub fn exec_wait() -> i32 {
    // `ctr task kill --exec-id` and conmon signal the waiter: the process
    // gets it.
    pass_signals_on(&std::io::stdin());
    let mut r = BufReader::new(std::io::stdin().lock());
    wait_exit(&mut r).unwrap_or(255)
}

fn wait_exit(r: &mut impl BufRead) -> anyhow::Result<i32> {
    let line = read_line(r)?;
    match line.strip_prefix("exit ").and_then(|s| s.parse::<i32>().ok()) {
        Some(status) => Ok(status),
        None => bail!("unexpected answer from the sandbox: {line:?}"),
    }
}

fn read_line(r: &mut impl BufRead) -> anyhow::Result<String> {
    let mut line = String::new();
    r.read_line(&mut line).context("reading the control socket")?;
    if line.is_empty() {
        bail!("the sandbox ended before answering");
    }
    Ok(line.trim_end().to_owned())
}

fn write_pid(path: &Path, pid: u32) -> anyhow::Result<()> {
    std::fs::write(path, pid.to_string()).with_context(|| format!("pid file {}", path.display()))
}

/// The process to run: `--process FILE` as given, else the container's own
/// process with the command line's arguments, `--env` added, `--cwd` and
/// `--user` if given (as runc); and whether `--process` asks for a
/// terminal.
fn request(c: &Container, a: &ExecArgs) -> anyhow::Result<(ExecRequest, bool)> {
    let process = match &a.process {
        Some(f) => {
            let text = std::fs::read_to_string(f).with_context(|| format!("process file {}", f.display()))?;
            serde_json::from_str::<oci_spec::runtime::Process>(&text)
                .with_context(|| format!("process file {}: not an OCI process", f.display()))?
        }
        None => {
            if a.command.is_empty() {
                bail!("exec needs a command (or --process FILE)");
            }
            let spec = super::config::load(&c.saved.bundle)?;
            let mut p = spec.process().clone().unwrap_or_default();
            p.set_args(Some(a.command.clone()));
            p
        }
    };
    let mut envp: Vec<Vec<u8>> = process.env().iter().flatten().map(|e| e.clone().into_bytes()).collect();
    envp.extend(a.env.iter().map(|e| e.clone().into_bytes()));
    let argv: Vec<Vec<u8>> = process.args().iter().flatten().map(|s| s.clone().into_bytes()).collect();
    if argv.is_empty() {
        bail!("the process has no args");
    }
    let cwd = a.cwd.clone().unwrap_or_else(|| process.cwd().to_string_lossy().into_owned());
    let (uid, gid) = match &a.user {
        Some(u) => parse_user(u)?,
        None => (process.user().uid(), process.user().gid()),
    };
    let terminal = a.process.is_some() && process.terminal() == Some(true);
    let groups = process.user().additional_gids().clone();
    // The process's own sets, as runc exec sets them (conmon passes the
    // container's; `podman exec --privileged` more).
    let sets = super::config::capability_sets(process.capabilities().as_ref())?;
    let caps = crate::caps::sets(&[], &[], &sets, uid);
    Ok((ExecRequest { argv, envp, cwd: cwd.into_bytes(), uid, gid, groups, caps }, terminal))
}

/// `UID[:GID]` (numbers only: the sandbox's /etc/passwd is not read here).
fn parse_user(u: &str) -> anyhow::Result<(u32, u32)> {
    let (uid, gid) = u.split_once(':').unwrap_or((u, "0"));
    let num = |s: &str| s.parse::<u32>().with_context(|| format!("--user {u}: expected UID[:GID] as numbers"));
    Ok((num(uid)?, num(gid)?))
}

/// Send `req` with `stdio` on `conn`, a connection to the control socket.
fn send_request(conn: UnixStream, req: &ExecRequest, stdio: &[OwnedFd; 3]) -> anyhow::Result<UnixStream> {
    let body = req.encode();
    if body.len() > sentry::control::MAX_EXEC {
        bail!("the process's arguments and environment are too large ({} bytes)", body.len());
    }
    let head = format!("exec {}\n", body.len());
    let fds = [stdio[0].as_raw_fd(), stdio[1].as_raw_fd(), stdio[2].as_raw_fd()];
    let parts = [IoSlice::new(head.as_bytes()), IoSlice::new(&body)];
    let mut sent =
        sendmsg::<UnixAddr>(conn.as_raw_fd(), &parts, &[ControlMessage::ScmRights(&fds)], MsgFlags::empty(), None)
            .context("sending the exec request")?;
    // A stream socket may take a large request in parts.
    let all: Vec<u8> = [head.as_bytes(), &body].concat();
    while sent < all.len() {
        let n = nix::sys::socket::send(conn.as_raw_fd(), &all[sent..], MsgFlags::empty())
            .context("sending the exec request")?;
        sent += n;
    }
    Ok(conn)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn users() {
        assert_eq!(parse_user("1000:100").ok(), Some((1000, 100)));
        assert_eq!(parse_user("7").ok(), Some((7, 0)));
        assert!(parse_user("root").is_err());
    }

    #[test]
    fn wait_reads_the_exit_status() {
        let mut r = std::io::Cursor::new(b"exit 3\n".to_vec());
        assert_eq!(wait_exit(&mut r).ok(), Some(3));
        let mut r = std::io::Cursor::new(Vec::new());
        assert!(wait_exit(&mut r).is_err());
    }
}
