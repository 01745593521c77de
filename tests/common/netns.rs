//! A network namespace made for a test, with a veth pair to the host.

use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};

use super::{bulwark, SANDBOX_PATH};

/// A network namespace with a veth pair: the host's end `h` at
/// 10.<a>.<b>.1/24 (and fd77:<a>:<b>::1/64), the namespace's end at .2,
/// default routes through the host's end.
pub struct Netns {
    pub name: String,
    pub host_if: String,
    pub ns_if: String,
    pub v4: (String, String),
    pub v6: (String, String),
}

fn ip(args: &[&str]) -> bool {
    Command::new("ip").args(args).stdout(Stdio::null()).stderr(Stdio::null()).status().is_ok_and(|s| s.success())
}

fn must_ip(args: &[&str]) {
    assert!(ip(args), "ip {}", args.join(" "));
}

impl Netns {
    /// A fresh namespace, or `None` (with the reason printed) where this
    /// host cannot make one.
    pub fn new() -> Option<Netns> {
        static N: AtomicU32 = AtomicU32::new(0);
        if !nix_root() || !ip(&["-V"]) {
            eprintln!("skipped: needs root and iproute2 to make a network namespace");
            return None;
        }
        let n = N.fetch_add(1, Ordering::Relaxed);
        let id = std::process::id() % 200 + n;
        let (a, b) = (77 + n / 200, id % 250);
        let name = format!("bwt{}-{n}", std::process::id());
        let host_if = format!("bwh{}", id);
        let ns_if = format!("bws{}", id);
        let _ = ip(&["netns", "del", &name]);
        let _ = ip(&["link", "del", &host_if]);
        must_ip(&["netns", "add", &name]);
        let ns = Netns {
            name: name.clone(),
            host_if: host_if.clone(),
            ns_if: ns_if.clone(),
            v4: (format!("10.{a}.{b}.1"), format!("10.{a}.{b}.2")),
            v6: (format!("fd77:{a}:{b}::1"), format!("fd77:{a}:{b}::2")),
        };
        must_ip(&["link", "add", &host_if, "type", "veth", "peer", "name", &ns_if]);
        must_ip(&["link", "set", &ns_if, "netns", &name]);
        must_ip(&["addr", "add", &format!("{}/24", ns.v4.0), "dev", &host_if]);
        must_ip(&["addr", "add", &format!("{}/64", ns.v6.0), "dev", &host_if, "nodad"]);
        must_ip(&["link", "set", &host_if, "up"]);
        must_ip(&["-n", &name, "addr", "add", &format!("{}/24", ns.v4.1), "dev", &ns_if]);
        must_ip(&["-n", &name, "addr", "add", &format!("{}/64", ns.v6.1), "dev", &ns_if, "nodad"]);
        must_ip(&["-n", &name, "link", "set", &ns_if, "up"]);
        must_ip(&["-n", &name, "link", "set", "lo", "up"]);
        must_ip(&["-n", &name, "route", "add", "default", "via", &ns.v4.0]);
        Some(ns)
    }

    /// `ip netns exec` this namespace `argv`, with the tests' environment.
    pub fn command(&self, argv: &[&str]) -> Command {
        let mut cmd = Command::new("ip");
        cmd.args(["netns", "exec", &self.name]).args(argv).env_clear().env("PATH", SANDBOX_PATH).current_dir("/");
        cmd
    }

    /// `bulwark do --network sandbox -- argv` in this namespace.
    pub fn sandboxed(&self, argv: &[&str]) -> Command {
        let exe = bulwark();
        let mut all = vec![exe.to_str().expect("utf-8 path"), "do", "--network", "sandbox", "--"];
        all.extend_from_slice(argv);
        self.command(&all)
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = ip(&["netns", "del", &self.name]);
        let _ = ip(&["link", "del", &self.host_if]);
    }
}

fn nix_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .is_ok_and(|s| s.lines().any(|l| l.starts_with("Uid:") && l.split_whitespace().nth(1) == Some("0")))
}
