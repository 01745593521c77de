//! process.terminal: a host pty pair whose master goes to the caller over
//! `--console-socket` (as runc sends it: one message on a fresh connection
//! to the socket, the descriptor as `SCM_RIGHTS`), and whose slave is the
//! sandbox's stdin, stdout and stderr.

use std::io::IoSlice;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::path::Path;

use anyhow::Context;
use nix::sys::socket::{sendmsg, ControlMessage, MsgFlags, UnixAddr};

/// Open a pty pair, send the master to `socket`; returns the slave.
pub fn open_and_send(socket: &Path) -> anyhow::Result<OwnedFd> {
    let pty = nix::pty::openpty(None, None).context("openpty")?;
    let conn = UnixStream::connect(socket).with_context(|| format!("console socket {}", socket.display()))?;
    // runc sends the terminal's name as the message's data; conmon reads
    // only the descriptor.
    let name = b"/dev/ptmx";
    let fds = [pty.master.as_raw_fd()];
    sendmsg::<UnixAddr>(
        conn.as_fd().as_raw_fd(),
        &[IoSlice::new(name)],
        &[ControlMessage::ScmRights(&fds)],
        MsgFlags::empty(),
        None,
    )
    .with_context(|| format!("sending the terminal to {}", socket.display()))?;
    Ok(pty.slave)
}

/// This process's stdio, saved while a terminal takes their place.
pub struct SavedStdio([OwnedFd; 3]);

/// Make `tty` this process's stdin, stdout and stderr (so that the sandbox
/// started next inherits it); returns what they were.
pub fn stdio_onto(tty: &OwnedFd) -> anyhow::Result<SavedStdio> {
    let saved = SavedStdio([
        std::io::stdin().as_fd().try_clone_to_owned().context("saving stdin")?,
        std::io::stdout().as_fd().try_clone_to_owned().context("saving stdout")?,
        std::io::stderr().as_fd().try_clone_to_owned().context("saving stderr")?,
    ]);
    set_stdio(tty, tty, tty)?;
    Ok(saved)
}

/// Put back the stdio [`stdio_onto`] saved.
pub fn restore(saved: SavedStdio) -> anyhow::Result<()> {
    let [i, o, e] = &saved.0;
    set_stdio(i, o, e)
}

fn set_stdio(i: &OwnedFd, o: &OwnedFd, e: &OwnedFd) -> anyhow::Result<()> {
    nix::unistd::dup2_stdin(i).context("dup2 onto stdin")?;
    nix::unistd::dup2_stdout(o).context("dup2 onto stdout")?;
    nix::unistd::dup2_stderr(e).context("dup2 onto stderr")?;
    Ok(())
}
