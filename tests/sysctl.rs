//! `bulwark do --sysctl`: the sysctls the sandbox has settings of its own
//! for, compared with Linux in a network namespace of the test's own.

mod common;

use common::{run, run_sandboxed};
use std::process::Command;

/// Binds port 80 on 127.0.0.1 and says how it went, after printing the
/// sysctl.
const BIND_80: &str = "\
import socket
print(open('/proc/sys/net/ipv4/ip_unprivileged_port_start').read().strip())
s = socket.socket()
try:
    s.bind(('127.0.0.1', 80))
    print('bound')
except OSError as e:
    print(e.strerror)
";

/// `script` with python3 as uid 1000 in a new network namespace (with
/// loopback up) whose ip_unprivileged_port_start is `start`.
fn native(start: &str, script: &str) -> Option<String> {
    let shell = format!(
        "ip link set lo up && sysctl -qw net.ipv4.ip_unprivileged_port_start={start} && \
         exec setpriv --reuid 1000 --regid 1000 --clear-groups python3 -c \"$0\""
    );
    let mut cmd = Command::new("unshare");
    cmd.args(["-n", "sh", "-c", &shell, script]);
    let out = run(cmd);
    if !out.status.success() {
        println!("skipping the native side: {}", out.stderr_str());
        return None;
    }
    Some(out.stdout_str())
}

#[test]
fn ip_unprivileged_port_start_lets_a_user_bind_a_low_port_as_on_linux() {
    if !nix::unistd::geteuid().is_root() {
        println!("skipping: needs root for a network namespace of its own");
        return;
    }
    for start in ["0", "1024"] {
        let sysctl = format!("net.ipv4.ip_unprivileged_port_start={start}");
        let sandboxed = run_sandboxed(&["python3", "-c", BIND_80], &["--user", "1000:1000", "--sysctl", &sysctl]);
        let want = if start == "0" { "0\nbound\n" } else { "1024\nPermission denied\n" };
        assert_eq!(sandboxed.stdout_str(), want, "stderr: {}", sandboxed.stderr_str());
        if let Some(native) = native(start, BIND_80) {
            assert_eq!(native, want, "natively with {sysctl}");
        }
    }
}

#[test]
fn domainname_and_hostname_sysctls_are_what_uname_says() {
    let out = run_sandboxed(
        &["sh", "-c", "cat /proc/sys/kernel/domainname; uname -n; hostname"],
        &["--sysctl", "kernel.domainname=example.org", "--sysctl", "kernel.hostname=box"],
    );

    assert_eq!(out.stdout_str(), "example.org\nbox\nbox\n", "stderr: {}", out.stderr_str());
}

#[test]
fn a_sysctl_the_sandbox_does_not_have_is_refused() {
    let out = run_sandboxed(&["true"], &["--sysctl", "net.core.somaxconn=10"]);

    assert_eq!(out.status.code(), Some(125), "stderr: {}", out.stderr_str());
    assert!(out.stderr_str().contains("the sandbox has no sysctl \"net.core.somaxconn\""), "{}", out.stderr_str());
}
