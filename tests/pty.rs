//! Terminals allocated inside the sandbox (`/dev/ptmx`): `script`,
//! python's `pty` module and job control on the new terminal, each run
//! natively and under `bulwark do` with the same output expected. Pty
//! numbers differ between the two (the host has its own), so the scripts
//! print `/dev/pts/N`.

mod common;

use common::{assert_same, run_native};

/// What the pty scripts share: reading the master `m` until `want`.
const READ_UNTIL: &str = r#"
import os
def read_until(want):
    out = b""
    while want not in out:
        d = os.read(m, 1000)
        if not d:
            break
        out += d
    return out
"#;

/// `python3 -c SCRIPT` (after [`READ_UNTIL`]), natively and sandboxed: the
/// same output.
fn same_python(script: &str) -> String {
    let script = format!("{READ_UNTIL}{script}");
    let out = assert_same(&["python3", "-c", &script]);
    assert!(out.status.success(), "stderr: {}", out.stderr_str());
    out.stdout_str()
}

#[test]
fn script_runs_its_command_on_a_terminal_of_its_own() {
    if !run_native(&["sh", "-c", "command -v script"]).status.success() {
        println!("skipping: no script(1) (bsdutils)");
        return;
    }
    let cmd = "script -qc 'tty; stty size; stty -a | grep -o \"icanon\\|-icanon\"; echo hi' /dev/null \
               | sed 's#/dev/pts/[0-9]*#/dev/pts/N#'";
    let out = assert_same(&["sh", "-c", cmd]);

    assert_eq!(out.stdout_str(), "/dev/pts/N\r\n0 0\r\nicanon\r\nhi\r\n");
}

/// A pair from `pty.openpty()`: its name, echo and canonical editing
/// (backspace, ^U, ^D), ONLCR, raw mode, FIONREAD, a non-blocking read of
/// an empty master (EAGAIN) and the master's EIO after the slave closes.
const OPENPTY: &str = r#"
import os, pty, tty, re, fcntl, termios, struct, errno, time
m, s = pty.openpty()
print(re.sub(r"\d+$", "N", os.ttyname(s)), os.isatty(m), os.isatty(s))
os.write(m, b"hello\r")
print(os.read(s, 100), os.read(m, 100))
os.write(s, b"out\nmore\n")
print(os.read(m, 100))
os.write(m, b"abx\x7fc\x15def\x04")
print(os.read(s, 100), os.read(m, 100))
os.write(m, b"\x04")
print("eof", os.read(s, 100))
tty.setraw(s)
os.write(m, b"r\x03\x7f\n")
# Linux moves what the master wrote to the slave's buffer from a worker.
time.sleep(0.2)
print("fionread", struct.unpack("i", fcntl.ioctl(s, termios.FIONREAD, b"\0" * 4))[0])
print(os.read(s, 100))
os.write(s, b"raw\n")
print(os.read(m, 100))
fcntl.fcntl(m, fcntl.F_SETFL, os.O_NONBLOCK)
try:
    os.read(m, 10)
except OSError as e:
    print("empty master", errno.errorcode[e.errno])
os.write(s, b"last")
os.close(s)
print(os.read(m, 10))
try:
    os.read(m, 10)
except OSError as e:
    print("closed slave", errno.errorcode[e.errno])
"#;

#[test]
fn openpty_pairs_have_a_line_discipline_as_on_linux() {
    let out = same_python(OPENPTY);

    assert!(out.starts_with("/dev/pts/N True True\n"), "{out}");
    assert!(out.contains("empty master EAGAIN\n") && out.contains("closed slave EIO\n"), "{out}");
}

/// `pty.fork()`: the child leads a session whose controlling terminal is
/// the slave (TIOCSCTTY), in its foreground group; ^C written to the
/// master is SIGINT to it.
const SPAWN_INTR: &str = r#"
import os, pty, sys, time, signal
pid, m = pty.fork()
if pid == 0:
    signal.signal(signal.SIGINT, lambda *a: (os.write(1, b"got SIGINT\n"), os._exit(3)))
    print("child", os.getsid(0) == os.getpid(), os.tcgetpgrp(0) == os.getpgrp(), flush=True)
    sys.stdin.readline()
    time.sleep(30)
    os._exit(0)
print(read_until(b"child True True\r\n"))
os.write(m, b"line\n")
print(read_until(b"line\r\n"))
time.sleep(0.2)
os.write(m, b"\x03")
print(read_until(b"got SIGINT\r\n"))
print("exit", os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]))
"#;

#[test]
fn control_c_on_a_pty_interrupts_its_foreground_process() {
    let out = same_python(SPAWN_INTR);

    assert!(out.ends_with("b'^Cgot SIGINT\\r\\n'\nexit 3\n"), "{out}");
}

/// Job control on a pty: `/dev/tty` is the session's terminal, a window
/// size change is SIGWINCH to the foreground group, a background read is
/// EIO with SIGTTIN ignored and stops the reader otherwise, and closing
/// the master hangs the session leader up (SIGHUP; a read is then end of
/// file).
const JOB_CONTROL: &str = r#"
import os, pty, sys, time, signal, fcntl, termios, struct, errno
pid, m = pty.fork()
if pid == 0:
    got = []
    signal.signal(signal.SIGWINCH, lambda *a: got.append("WINCH"))
    fd = os.open("/dev/tty", os.O_RDWR)
    os.write(fd, b"via /dev/tty\n")
    sid = struct.unpack("i", fcntl.ioctl(fd, 0x5429, b"\0" * 4))[0]
    print("sid", os.getsid(0) == os.getpid(), sid == os.getpid(), flush=True)
    sys.stdin.readline()
    print("winch", got, struct.unpack("HHHH", fcntl.ioctl(0, termios.TIOCGWINSZ, b"\0" * 8)), flush=True)
    c = os.fork()
    if c == 0:
        os.setpgid(0, 0)
        signal.signal(signal.SIGTTIN, signal.SIG_IGN)
        try:
            os.read(0, 1)
        except OSError as e:
            print("background read", errno.errorcode[e.errno], flush=True)
        os._exit(0)
    os.waitpid(c, 0)
    c = os.fork()
    if c == 0:
        os.setpgid(0, 0)
        os.read(0, 1)
        os._exit(0)
    _, st = os.waitpid(c, os.WUNTRACED)
    print("stopped by SIGTTIN", os.WIFSTOPPED(st) and os.WSTOPSIG(st) == signal.SIGTTIN, flush=True)
    os.kill(c, signal.SIGKILL)
    os.waitpid(c, 0)
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    print("ready", flush=True)
    time.sleep(0.5)
    # After the hang-up a read is end of file.
    os._exit(9 if os.read(0, 10) == b"" else 8)
print(read_until(b"sid True True\r\n"))
fcntl.ioctl(m, termios.TIOCSWINSZ, struct.pack("HHHH", 30, 100, 0, 0))
time.sleep(0.2)
os.write(m, b"go\n")
print(read_until(b"ready\r\n"))
os.close(m)
print("exit", os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]))
"#;

#[test]
fn a_pty_is_its_sessions_controlling_terminal_with_job_control_and_hangup() {
    let out = same_python(JOB_CONTROL);

    assert!(out.contains("winch ['WINCH'] (30, 100, 0, 0)"), "{out}");
    assert!(out.contains("background read EIO") && out.contains("stopped by SIGTTIN True"), "{out}");
    assert!(out.ends_with("exit 9\n"), "{out}");
}
