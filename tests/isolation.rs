//! The sandbox changes nothing on the host and holds no host path.

mod common;

use std::collections::BTreeSet;
use std::fs;
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use common::procs::{descendants, Proc};
use common::{finish, fresh_dir, run_sandboxed, sandboxed_command, spawn_piped};

#[test]
fn writes_and_deletes_stay_inside_the_sandbox() {
    let dir = fresh_dir("writes-stay-inside");
    let victim = dir.join("victim.txt");
    fs::write(&victim, "precious\n").expect("write victim");
    assert!(!Path::new("/etc/bulwark-probe").exists(), "stale /etc/bulwark-probe on the host");
    let script = format!(
        "import os\n\
         open('/etc/bulwark-probe', 'w').write('probe\\n')\n\
         print(open('/etc/bulwark-probe').read(), end='')\n\
         os.unlink({victim:?})\n\
         print(os.path.exists({victim:?}), os.path.exists('/etc/bulwark-probe'))\n"
    );

    let out = run_sandboxed(&["/usr/bin/python3", "-c", &script], &[]);

    assert_eq!(
        (out.stdout_str().as_str(), out.status.code()),
        ("probe\nFalse True\n", Some(0)),
        "{}",
        out.stderr_str()
    );
    assert!(!Path::new("/etc/bulwark-probe").exists(), "the probe reached the host");
    assert_eq!(fs::read_to_string(&victim).expect("victim still on the host"), "precious\n");
}

/// Why the descriptor `fd` of `pid` is not allowed in the sandbox, if it
/// is not: it must be a socket, pipe, anonymous inode or memfd, the donated
/// stdio, or a regular file opened read-only (what the gofer donates).
fn forbidden(pid: u32, fd: &str, target: &Path) -> Option<String> {
    let t = target.to_string_lossy();
    let anonymous = ["socket:", "pipe:", "anon_inode:", "/memfd:", "/dev/null"];
    if anonymous.iter().any(|a| t.starts_with(a)) {
        return None;
    }
    let fdinfo = fs::read_to_string(format!("/proc/{pid}/fdinfo/{fd}")).unwrap_or_default();
    let flags =
        fdinfo.lines().find_map(|l| l.strip_prefix("flags:")).and_then(|f| u32::from_str_radix(f.trim(), 8).ok());
    let meta = fs::metadata(format!("/proc/{pid}/fd/{fd}"));
    match (meta, flags) {
        (Ok(m), Some(f)) if m.is_file() && f & 0o3 == 0 => None,
        (Ok(m), Some(f)) => Some(format!("fd {fd} of {pid} -> {t}: mode {:o}, flags {f:o}", m.permissions().mode())),
        _ => None, // closed meanwhile
    }
}

#[test]
fn sandbox_holds_no_host_path_and_gofer_is_jailed_to_the_rootfs() {
    // A root holding only a static busybox: the gofer's view must be it.
    let rootfs = fresh_dir("jail-rootfs");
    fs::create_dir(rootfs.join("bin")).expect("mkdir bin");
    fs::copy("/bin/busybox", rootfs.join("bin/busybox")).expect("copy busybox");
    let rootfs_arg = rootfs.to_str().expect("utf-8 path").to_owned();
    let mut cmd = sandboxed_command(&["/bin/busybox", "sh", "-c", "read x; echo got $x"], &["--rootfs", &rootfs_arg]);
    cmd.stdin(Stdio::piped());
    let mut child = spawn_piped(&mut cmd);
    let mut stdin = child.stdin.take().expect("piped stdin");

    // Wait until the application runs: boot, the sentry (its child, pid 1
    // inside) and a stub holding the application's address space.
    let deadline = Instant::now() + Duration::from_secs(30);
    let procs = loop {
        let procs = descendants(child.id());
        let started = procs.iter().filter(|p| !p.cmdline.contains(" gofer ")).count() >= 3;
        let exited = child.try_wait().ok().flatten().is_some();
        if started || exited || Instant::now() > deadline {
            break procs;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    std::thread::sleep(Duration::from_millis(300));
    let gofer: Vec<&Proc> = procs.iter().filter(|p| p.cmdline.contains(" gofer ")).collect();
    let sandbox: Vec<&Proc> = procs.iter().filter(|p| !p.cmdline.contains(" gofer ")).collect();

    let mut problems = Vec::new();
    for p in &sandbox {
        let Ok(fds) = fs::read_dir(format!("/proc/{}/fd", p.pid)) else {
            continue;
        };
        for fd in fds.filter_map(Result::ok) {
            let name = fd.file_name().to_string_lossy().into_owned();
            if let Ok(target) = fs::read_link(fd.path()) {
                problems.extend(forbidden(p.pid, &name, &target));
            }
        }
        let root: Option<BTreeSet<String>> = fs::read_dir(format!("/proc/{}/root", p.pid))
            .ok()
            .map(|d| d.filter_map(|e| Some(e.ok()?.file_name().to_string_lossy().into_owned())).collect());
        if root.as_ref().is_some_and(|r| !r.is_empty()) {
            problems.push(format!("{} ({}) sees a root with {root:?}", p.pid, p.cmdline));
        }
    }
    let gofer_roots: Vec<BTreeSet<String>> = gofer
        .iter()
        .filter_map(|g| fs::read_dir(format!("/proc/{}/root", g.pid)).ok())
        .map(|d| d.filter_map(|e| Some(e.ok()?.file_name().to_string_lossy().into_owned())).collect())
        .collect();
    let host_mnt = fs::read_link("/proc/self/ns/mnt").expect("own mount namespace");
    let gofer_mnts: Vec<PathBuf> =
        gofer.iter().filter_map(|g| fs::read_link(format!("/proc/{}/ns/mnt", g.pid)).ok()).collect();

    // The sandbox may be gone already; its output then says why.
    let _ = stdin.write_all(b"ok\n");
    drop(stdin);
    let out = finish(child, "bulwark do busybox sh -c 'read x'");

    assert_eq!((out.stdout_str().as_str(), out.status.code()), ("got ok\n", Some(0)), "{}", out.stderr_str());
    assert!(sandbox.len() >= 3, "expected boot, sentry and a stub: {sandbox:#?}");
    assert!(problems.is_empty(), "{problems:#?}");
    assert_eq!(gofer_roots, [BTreeSet::from(["bin".to_owned()])], "gofer root");
    assert!(gofer_mnts.len() == 1 && gofer_mnts[0] != host_mnt, "gofer shares the host mount namespace");
}
