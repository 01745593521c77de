//! What each host process of a sandbox may do, read from the host while it
//! runs: the gofer keeps only the capabilities serving files needs
//! (CHOWN, DAC_OVERRIDE, DAC_READ_SEARCH, FOWNER, FSETID), boot, the
//! sentry and the stubs keep none, and all have no_new_privs.

mod common;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::bulwark;

/// CAP_CHOWN, CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH, CAP_FOWNER, CAP_FSETID.
const GOFER_CAPS: u64 = 0x1f;

/// The children of `pid`.
fn children(pid: u32) -> Vec<u32> {
    let mut out = Vec::new();
    for task in std::fs::read_dir(format!("/proc/{pid}/task")).into_iter().flatten().flatten() {
        let list = std::fs::read_to_string(task.path().join("children")).unwrap_or_default();
        out.extend(list.split_whitespace().filter_map(|p| p.parse::<u32>().ok()));
    }
    out
}

/// `/proc/PID/status` field `key`.
fn status(pid: u32, key: &str) -> Option<String> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    text.lines().find_map(|l| l.strip_prefix(key)?.strip_prefix(':').map(|v| v.trim().to_owned()))
}

fn caps(pid: u32, set: &str) -> Option<u64> {
    u64::from_str_radix(&status(pid, set)?, 16).ok()
}

/// The sub-command a bulwark process runs (`gofer`, `boot`), from its
/// command line.
fn role(pid: u32) -> String {
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
    cmdline.split(|b| *b == 0).nth(1).map(|w| String::from_utf8_lossy(w).into_owned()).unwrap_or_default()
}

#[test]
fn the_gofer_keeps_five_capabilities_and_boot_sentry_and_stubs_none() {
    if !nix::unistd::geteuid().is_root() {
        println!("skipping: the capabilities to drop are root's");
        return;
    }
    let mut child = Command::new(bulwark())
        .args(["do", "--", "/bin/sh", "-c", "sleep 30 & sleep 30"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .spawn()
        .expect("bulwark do");
    // The tree: bulwark do -> gofer, boot -> sentry -> stubs (one per
    // application process: sh and its sleeps).
    let deadline = Instant::now() + Duration::from_secs(30);
    let (gofers, boot, sentry, stubs) = loop {
        let top = children(child.id());
        let gofers: Vec<u32> = top.iter().copied().filter(|&p| role(p) == "gofer").collect();
        let boot = top.iter().copied().find(|&p| role(p) == "boot");
        let sentry = boot.and_then(|b| children(b).first().copied());
        let stubs = sentry.map(children).unwrap_or_default();
        if let (Some(b), Some(s)) = (boot, sentry) {
            if !gofers.is_empty() && stubs.len() >= 2 {
                break (gofers, b, s, stubs);
            }
        }
        assert!(Instant::now() < deadline, "the sandbox's processes never appeared: {top:?}");
        std::thread::sleep(Duration::from_millis(50));
    };
    let read = |pid: u32| (caps(pid, "CapEff"), caps(pid, "CapPrm"), caps(pid, "CapBnd"), status(pid, "NoNewPrivs"));
    let seen: Vec<(String, u32, _)> = gofers
        .iter()
        .map(|&p| ("gofer".to_owned(), p, read(p)))
        .chain([("boot".to_owned(), boot, read(boot)), ("sentry".to_owned(), sentry, read(sentry))])
        .chain(stubs.iter().map(|&p| ("stub".to_owned(), p, read(p))))
        .collect();
    let _ = child.kill();
    let _ = child.wait();

    for (who, pid, (eff, prm, bnd, nnp)) in seen {
        let want = if who == "gofer" { GOFER_CAPS } else { 0 };
        assert_eq!(
            (eff, prm, bnd),
            (Some(want), Some(want), Some(want)),
            "{who} {pid}: effective, permitted, bounding"
        );
        assert_eq!(nnp.as_deref(), Some("1"), "{who} {pid}: no_new_privs");
    }
}
