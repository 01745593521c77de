//! Signals sent and caught by shells, and how a death by signal reaches
//! `bulwark do`'s exit status.

mod common;

use std::os::unix::process::ExitStatusExt;

use common::{assert_same, run_native, run_sandboxed};

#[test]
fn bash_trap_catches_a_term_it_sends_itself_and_goes_on() {
    let out = assert_same(&["/bin/bash", "-c", "trap \"echo caught\" TERM; kill -TERM $$; echo after"]);

    assert_eq!((out.stdout_str().as_str(), out.status.code()), ("caught\nafter\n", Some(0)));
}

#[test]
fn child_killed_by_sigkill_gives_status_137_to_bulwark_do() {
    // The shell's status is its child's, 128 + 9. Not `kill -KILL $$`: the
    // first program is the pid namespace's init, which Linux protects from
    // signals sent from inside the namespace, SIGKILL included.
    let out = assert_same(&["/bin/bash", "-c", "sleep 10 & kill -KILL $!; wait $!"]);

    assert_eq!(out.status.code(), Some(137));
}

#[test]
fn first_program_dying_of_a_fault_makes_bulwark_die_of_the_same_signal() {
    // A fault is forced on the task, so even init dies of it; bulwark then
    // dies of it too (as sudo does), so the caller sees what it would
    // natively.
    let argv = ["/usr/bin/python3", "-c", "import ctypes; ctypes.string_at(0)"];

    let native = run_native(&argv);
    let sandboxed = run_sandboxed(&argv, &[]);

    assert_eq!(native.status.signal(), Some(libc::SIGSEGV));
    assert_eq!(sandboxed.status.signal(), Some(libc::SIGSEGV), "{}", sandboxed.stderr_str());
    assert!(!sandboxed.status.core_dumped(), "bulwark left a core file");
}

#[test]
fn init_survives_sigkill_it_sends_itself() {
    // Linux: init of a pid namespace ignores signals from inside it for
    // which it has no handler. Natively, the shell is run as such an init;
    // in the sandbox, with --init=false, it is pid 1.
    let script = "kill -KILL $$; echo still here $$";

    let native = run_native(&["/usr/bin/unshare", "--pid", "--fork", "/bin/bash", "-c", script]);
    let sandboxed = run_sandboxed(&["/bin/bash", "-c", script], &["--init=false"]);

    assert_eq!((native.stdout_str().as_str(), native.status.code()), ("still here 1\n", Some(0)));
    assert_eq!(
        (sandboxed.stdout_str(), sandboxed.status.code()),
        (native.stdout_str(), native.status.code()),
        "{}",
        sandboxed.stderr_str()
    );
}

#[test]
fn shell_sees_its_child_killed_by_sigkill_as_137() {
    let out = assert_same(&["/bin/bash", "-c", "sleep 10 & kill -KILL $!; wait $!; echo $?"]);

    assert_eq!(out.stdout_str(), "137\n");
}

#[test]
fn shell_sees_its_child_terminated_by_sigterm_as_143() {
    // Not SIGINT: a non-interactive bash ignores it in background jobs.
    let out = assert_same(&["/bin/bash", "-c", "sleep 10 & kill -TERM $!; wait $!; echo $?"]);

    assert_eq!(out.stdout_str(), "143\n");
}

#[test]
fn stopped_and_continued_child_runs_to_completion() {
    let out = assert_same(&["/bin/bash", "-c", "sleep 0.3 & kill -STOP $!; kill -CONT $!; wait $!; echo $?"]);

    assert_eq!(out.stdout_str(), "0\n");
}

#[test]
fn timeout_kills_a_long_sleep_and_exits_124() {
    let out = assert_same(&["/usr/bin/timeout", "1", "/bin/sleep", "10"]);

    assert_eq!(out.status.code(), Some(124));
}

#[test]
fn writer_to_a_closed_pipe_dies_of_sigpipe() {
    let out = assert_same(&["/bin/bash", "-c", "yes | head -2; echo ${PIPESTATUS[*]}"]);

    assert_eq!(out.stdout_str(), "y\ny\n141 0\n");
}

#[test]
fn sigchld_trap_runs_when_a_background_child_exits() {
    let script = "set -m; trap 'echo chld' CHLD; sleep 0.1 & wait; echo done";

    let out = assert_same(&["/bin/bash", "-c", script]);

    assert_eq!(out.stdout_str(), "chld\ndone\n");
}
