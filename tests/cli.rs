//! The command line itself: help, and how bulwark reports its own failures.

mod common;

use std::process::Command;

use common::{bulwark, run};

#[test]
fn do_help_explains_every_option() {
    let out = run({
        let mut c = Command::new(bulwark());
        c.args(["do", "--help"]);
        c
    });
    let help = out.stdout_str();

    assert_eq!(out.status.code(), Some(0));
    for option in ["--platform", "--rootfs", "--cwd", "--env", "--hostname", "--strace", "--debug-log"] {
        assert!(help.contains(option), "{option} missing from:\n{help}");
    }
}

#[test]
fn top_level_help_lists_do_but_not_the_internal_commands() {
    let out = run({
        let mut c = Command::new(bulwark());
        c.arg("--help");
        c
    });
    let help = out.stdout_str();

    assert!(help.contains("do "), "{help}");
    assert!(!help.contains("boot") && !help.contains("gofer "), "{help}");
}

#[test]
fn bad_command_line_exits_125() {
    let out = run({
        let mut c = Command::new(bulwark());
        c.args(["do", "--env", "NO_EQUALS", "--", "/bin/true"]);
        c
    });

    assert_eq!(out.status.code(), Some(125), "{}", out.stderr_str());
}

#[test]
fn missing_rootfs_exits_125_with_a_message() {
    let out = run({
        let mut c = Command::new(bulwark());
        c.args(["do", "--rootfs", "/nonexistent/bulwark-rootfs", "--", "/bin/true"]);
        c
    });

    assert_eq!(out.status.code(), Some(125));
    assert!(out.stderr_str().starts_with("bulwark: "), "{}", out.stderr_str());
}
