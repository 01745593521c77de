//! The sandbox's own init: the program is pid 2 and
//! behaves as natively (signals it has no handler for kill it), orphans are
//! reaped, signals sent to `bulwark do` reach the program, and the sandbox
//! exits with the program's status. `--init=false` makes the program pid 1.

mod common;

use std::io::{BufRead, BufReader};
use std::process::Stdio;

use common::{finish, native_command, run_native, run_sandboxed, sandboxed_command};

#[test]
fn a_shell_that_kills_itself_dies_as_natively() {
    for sig in ["KILL", "TERM", "INT"] {
        let script = format!("kill -{sig} $$; echo survived");

        let native = run_native(&["sh", "-c", &script]);
        let sandboxed = run_sandboxed(&["sh", "-c", &script], &[]);

        assert_eq!((sandboxed.stdout_str(), sandboxed.status), (native.stdout_str(), native.status), "SIG{sig}");
    }
}

#[test]
fn the_program_is_pid_2_under_init_and_pid_1_without() {
    let with = run_sandboxed(&["sh", "-c", "echo $$ $PPID; cat /proc/1/comm"], &[]);
    let without = run_sandboxed(&["sh", "-c", "echo $$ $PPID; cat /proc/1/comm"], &["--init=false"]);

    assert_eq!(with.stdout_str(), "2 1\nbulwark-init\n");
    assert_eq!(without.stdout_str(), "1 0\nsh\n");
}

#[test]
fn orphans_are_reaped_by_init() {
    let script = "sh -c 'sleep 0.1 & sleep 0.1 &'; sleep 0.6; ps -e -o stat=,comm= | grep -c '^Z' ; ps -e -o comm=";

    let out = run_sandboxed(&["sh", "-c", script], &[]);

    assert_eq!(out.stdout_str(), "0\nbulwark-init\nsh\nps\n", "stderr: {}", out.stderr_str());
}

#[test]
fn the_sandbox_exits_with_the_programs_status_when_the_program_exits() {
    let out = run_sandboxed(&["sh", "-c", "sleep 30 & exit 7"], &[]);

    assert_eq!(out.status.code(), Some(7));
}

/// Start python with a SIGTERM handler, natively or sandboxed (it sleeps in
/// short steps: a signal caught just before one long `time.sleep` would
/// wait out the whole sleep, natively too); once it says
/// "ready", send SIGTERM to the process we started (bulwark itself, when
/// sandboxed); return what it printed and its status.
fn term_the_started_process(sandboxed: bool) -> (String, Option<i32>) {
    let argv = [
        "python3",
        "-c",
        "import os, signal, time\n\
         signal.signal(signal.SIGTERM, lambda s, f: (os.write(1, b'got signal %d\\n' % s), os._exit(3)))\n\
         os.write(1, b'ready\\n')\n\
         while True: time.sleep(0.05)",
    ];
    let mut cmd = if sandboxed { sandboxed_command(&argv, &[]) } else { native_command(&argv) };
    cmd.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("spawn");
    let mut stdout = BufReader::new(child.stdout.take().expect("stdout"));
    let mut first = String::new();
    stdout.read_line(&mut first).expect("read ready");
    assert_eq!(first, "ready\n");
    // SAFETY: kill takes plain integers; the child is ours and unreaped.
    unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGTERM) };
    child.stdout = Some(stdout.into_inner());
    let out = finish(child, "python waiting for SIGTERM");
    (format!("{first}{}", out.stdout_str()), out.status.code())
}

#[test]
fn sigterm_sent_to_bulwark_reaches_the_program() {
    let native = term_the_started_process(false);
    let sandboxed = term_the_started_process(true);

    assert_eq!(sandboxed, native);
    assert_eq!(native, ("ready\ngot signal 15\n".to_owned(), Some(3)));
}
