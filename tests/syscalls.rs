//! How the sentry answers bad and unknown system calls, and what it reports
//! about them.

mod common;

use common::{assert_same, c_program, fresh_dir, run_sandboxed};

#[test]
fn invalid_pointers_get_efault_and_the_sandbox_survives() {
    let prog = c_program("efault", &[]);
    let prog = prog.to_str().expect("utf-8 path");

    let out = assert_same(&[prog]);

    assert_eq!(out.status.code(), Some(0));
    assert!(out.stdout_str().contains("syscall(999) = -1 ENOSYS"));
}

#[test]
fn strace_prints_one_decoded_line_per_call() {
    let out = run_sandboxed(&["/bin/echo", "hi"], &["--strace"]);
    let stderr = out.stderr_str();

    assert_eq!((out.stdout_str().as_str(), out.status.code()), ("hi\n", Some(0)), "{stderr}");
    assert!(stderr.lines().any(|l| l.contains(r#"write(1, "hi\n", 3) = 3"#)), "no write line in:\n{stderr}");
    assert!(stderr.lines().any(|l| call_of(l).starts_with("exit_group(0)")), "no exit_group line in:\n{stderr}");
    let malformed: Vec<&str> = stderr.lines().filter(|l| !is_strace_line(l)).collect();
    assert!(malformed.is_empty(), "not `name(args) = result`: {malformed:#?}");
}

/// The call part of a line, after an optional `[pid N] ` prefix.
fn call_of(line: &str) -> &str {
    match line.strip_prefix("[pid ") {
        Some(rest) => rest.split_once("] ").map_or(line, |(_, call)| call),
        None => line,
    }
}

/// `name(args) = result`; calls that do not return end in `= ?`. strace's
/// own `+++ exited with N +++` and `--- SIG... ---` lines are allowed too.
fn is_strace_line(line: &str) -> bool {
    let call = call_of(line);
    if call.starts_with("+++ ") || call.starts_with("--- ") {
        return true;
    }
    let name_len =
        call.find('(').filter(|&i| i > 0 && call[..i].bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_'));
    name_len.is_some() && call.contains(") = ")
}

#[test]
fn unknown_call_is_reported_once_in_the_debug_log() {
    let prog = c_program("unsupported", &[]);
    let log = fresh_dir("debug-log").join("log");
    let log_arg = log.to_str().expect("utf-8 path");

    let out = run_sandboxed(&[&prog], &["--debug-log", log_arg]);

    assert_eq!(out.stdout_str(), "syscall(999) = -1 ENOSYS\n".repeat(2), "{}", out.stderr_str());
    let text = std::fs::read_to_string(&log).expect("debug log written");
    let reports: Vec<&str> = text.lines().filter(|l| l.contains("999")).collect();
    assert_eq!(reports.len(), 1, "debug log:\n{text}");
}

#[test]
fn the_debug_log_writes_json_events_with_levels_and_fields() {
    let prog = c_program("unsupported", &[]);
    let log = fresh_dir("debug-log-json").join("log");
    let log_arg = log.to_str().expect("utf-8 path");

    let out = run_sandboxed(&[&prog], &["--debug-log", log_arg, "--debug-log-format", "json", "--log-level", "warn"]);

    assert_eq!(out.stdout_str(), "syscall(999) = -1 ENOSYS\n".repeat(2), "{}", out.stderr_str());
    let text = std::fs::read_to_string(&log).expect("debug log written");
    let events: Vec<serde_json::Value> =
        text.lines().map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}"))).collect();
    // Boot's start-up events are info, below the chosen level.
    assert!(events.iter().all(|e| e["level"] == "WARN" || e["level"] == "ERROR"), "{text}");
    let reports: Vec<&serde_json::Value> = events.iter().filter(|e| e["fields"]["nr"] == 999).collect();
    assert_eq!(reports.len(), 1, "{text}");
    assert_eq!(reports[0]["fields"]["message"], "unsupported system call");
    assert_eq!(reports[0]["fields"]["syscall"], "unknown");
    assert_eq!(reports[0]["level"], "WARN");
}
