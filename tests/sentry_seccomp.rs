//! The sentry's own seccomp filter (sentry/src/seccomp.rs): installed on
//! every sentry thread before the program runs, inherited by the stubs
//! forked after it, and fatal, with boot's message, for a call outside it.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::process::Stdio;

use common::procs::descendants;
use common::{bulwark, run};

const KILLED: &str = "the sentry was killed by its seccomp filter (SIGSYS)";

/// A status line's value (`Seccomp:\t2` → "2").
fn status_field(status: &str, name: &str) -> Option<String> {
    status.lines().find_map(|l| l.strip_prefix(name)?.strip_prefix(':').map(|v| v.trim().to_owned()))
}

#[test]
fn a_forbidden_host_call_kills_the_sandbox_with_boots_message() {
    let mut cmd = std::process::Command::new(bulwark());
    cmd.args(["do", "--", "sh", "-c", "echo ran"]).env("BULWARK_DEBUG_FORBIDDEN_SYSCALL", "1").current_dir("/");
    let out = run(cmd);
    if !cfg!(debug_assertions) {
        // The hook is a debug build's only: a release build runs as usual.
        assert!(out.status.success(), "{}", out.stderr_str());
        assert_eq!(out.stdout_str(), "ran\n");
        return;
    }
    assert_eq!(out.status.code(), Some(125), "stderr: {}", out.stderr_str());
    assert!(out.stderr_str().contains(KILLED), "stderr: {}", out.stderr_str());
    // The program never ran: the call comes before its first instruction.
    assert_eq!(out.stdout_str(), "");
}

#[test]
fn without_the_hook_the_same_program_runs() {
    let mut cmd = std::process::Command::new(bulwark());
    cmd.args(["do", "--", "sh", "-c", "echo ran"]).current_dir("/");
    let out = run(cmd);
    assert!(out.status.success(), "{}", out.stderr_str());
    assert_eq!(out.stdout_str(), "ran\n");
    assert!(!out.stderr_str().contains(KILLED));
}

#[test]
fn every_sentry_thread_and_later_stub_is_filtered() {
    // The subshell is a fork: its stub is forked after the filter, so it
    // has the sentry's filter and its own.
    let mut child = std::process::Command::new(bulwark())
        .args(["do", "--", "sh", "-c", "(echo ready; read line; echo got $line)"])
        .current_dir("/")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn bulwark");
    let mut stdout = BufReader::new(child.stdout.take().expect("stdout"));
    let mut line = String::new();
    stdout.read_line(&mut line).expect("read ready");
    assert_eq!(line, "ready\n");

    let procs = descendants(child.id());
    // boot forks the sentry: the boot process whose parent is boot.
    let boots: Vec<_> = procs.iter().filter(|p| p.cmdline.contains(" boot ")).collect();
    let sentry = boots
        .iter()
        .find(|p| boots.iter().any(|b| b.pid == p.ppid))
        .unwrap_or_else(|| panic!("no sentry among {procs:?}"));
    let mut threads = 0;
    for task in std::fs::read_dir(format!("/proc/{}/task", sentry.pid)).expect("tasks") {
        let path = task.expect("task").path().join("status");
        let Ok(status) = std::fs::read_to_string(&path) else { continue };
        assert_eq!(status_field(&status, "Seccomp").as_deref(), Some("2"), "{}", path.display());
        assert_eq!(status_field(&status, "Seccomp_filters").as_deref(), Some("1"), "{}", path.display());
        threads += 1;
    }
    // The main thread and at least the timer and host-signal threads.
    assert!(threads >= 3, "{threads} sentry threads");
    let stub_filters: Vec<String> = procs
        .iter()
        .filter(|p| p.ppid == sentry.pid)
        .filter_map(|p| std::fs::read_to_string(format!("/proc/{}/status", p.pid)).ok())
        .filter_map(|s| status_field(&s, "Seccomp_filters"))
        .collect();
    // The first stub (forked while loading the program) has its own
    // filter only; the subshell's has both.
    assert!(stub_filters.iter().any(|f| f == "2"), "stubs' filters: {stub_filters:?}");

    child.stdin.take().expect("stdin").write_all(b"it\n").expect("write");
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut stdout, &mut rest).expect("read rest");
    assert_eq!(rest, "got it\n");
    assert!(child.wait().expect("wait").success());
}

#[test]
fn a_program_under_a_seccomp_profile_sees_filter_mode_as_on_linux() {
    let dir = common::fresh_dir("seccomp-status");
    let profile = dir.join("profile");
    std::fs::write(&profile, "default allow\n").expect("profile");
    let script = "grep -E '^Seccomp' /proc/self/status; python3 -c 'import ctypes; print(ctypes.CDLL(None).prctl(21, 0, 0, 0, 0))'";

    let filtered =
        common::run_sandboxed(&["sh", "-c", script], &["--seccomp-profile", profile.to_str().expect("utf-8")]);
    let plain = common::run_sandboxed(&["sh", "-c", script], &[]);

    assert_eq!(filtered.stdout_str(), "Seccomp:\t2\nSeccomp_filters:\t1\n2\n", "{}", filtered.stderr_str());
    assert_eq!(plain.stdout_str(), "Seccomp:\t0\nSeccomp_filters:\t0\n0\n", "{}", plain.stderr_str());
}
