//! A gofer that dies under a running sandbox ends the sandbox with a clear
//! error: it is the sandbox's failure, not an `EIO` for the program to
//! carry on with.

mod common;

use std::process::Stdio;
use std::time::{Duration, Instant};

use common::{finish, sandboxed_command, spawn_piped};

/// The host pid of the gofer serving the root, a child of `bulwark do`
/// (`pid`) whose command line names `gofer --root`.
fn gofer_of(pid: u32) -> Option<i32> {
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        let children = std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children")).unwrap_or_default();
        for child in children.split_whitespace() {
            let cmdline = std::fs::read(format!("/proc/{child}/cmdline")).unwrap_or_default();
            let args: Vec<&[u8]> = cmdline.split(|&b| b == 0).collect();
            if args.windows(2).any(|w| w[0] == b"gofer" && w[1] == b"--root") {
                return child.parse().ok();
            }
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    None
}

#[test]
fn a_dead_gofer_ends_the_sandbox_with_an_error() {
    let mut cmd = sandboxed_command(&["/bin/sh", "-c", "read x; cat /etc/hostname; echo after=$?"], &[]);
    cmd.stdin(Stdio::piped());
    let mut child = spawn_piped(&mut cmd);
    let gofer = gofer_of(child.id()).expect("bulwark do starts a gofer");

    // SAFETY: kill takes plain integers; the pid is the gofer we found.
    let killed = unsafe { libc::kill(gofer, libc::SIGKILL) };
    assert_eq!(killed, 0, "kill the gofer");
    // Let the program go on to the file read that needs the gofer.
    drop(child.stdin.take());
    let out = finish(child, "bulwark do with its gofer killed");

    assert_eq!(out.status.code(), Some(125), "stdout: {}\nstderr: {}", out.stdout_str(), out.stderr_str());
    assert!(out.stderr_str().contains("bulwark: gofer: "), "{}", out.stderr_str());
    assert!(!out.stdout_str().contains("after="), "the program went on: {}", out.stdout_str());
}
