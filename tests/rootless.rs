//! bulwark as an unprivileged user: `bulwark do` and the OCI runtime's
//! `run` make a user namespace of their own (the program is root inside
//! it, as with `unshare -r`), and need nothing of the host's root. The
//! tests drop to `nobody` with setpriv(1), so they need root to start.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use std::process::Command;

use common::{bulwark, run, Output};

const NOBODY: &str = "65534";

/// A directory every user may enter holding a copy of the binary (the
/// build tree may be closed to others).
fn public_copy(name: &str) -> Option<(PathBuf, PathBuf)> {
    if !nix::unistd::geteuid().is_root() {
        println!("skipping {name}: needs root to drop to nobody");
        return None;
    }
    if Command::new("setpriv").arg("--version").output().is_err() {
        println!("skipping {name}: no setpriv");
        return None;
    }
    let dir = std::env::temp_dir().join(format!("bulwark-rootless-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("dir");
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o777)).expect("chmod");
    let bin = dir.join("bulwark");
    std::fs::copy(bulwark(), &bin).expect("copy the binary");
    std::fs::set_permissions(&bin, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    Some((dir, bin))
}

/// `setpriv` to nobody, running `bin ARGS` from `cwd`.
fn as_nobody(bin: &Path, args: &[&str], cwd: &Path) -> Output {
    let mut cmd = Command::new("setpriv");
    cmd.args(["--reuid", NOBODY, "--regid", NOBODY, "--clear-groups", "--"]).arg(bin).args(args).current_dir(cwd);
    run(cmd)
}

#[test]
fn do_runs_as_an_unprivileged_user_with_root_inside_its_user_namespace() {
    let Some((dir, bin)) = public_copy("do") else { return };

    let out = as_nobody(
        &bin,
        &[
            "do",
            "--",
            "/bin/sh",
            "-c",
            "id -u; echo hi > /etc/new && cat /etc/new; cat /etc/hostname >/dev/null && echo read",
        ],
        &dir,
    );
    let outside = std::fs::metadata("/etc/new").is_ok();

    assert_eq!(out.stdout_str(), "0\nhi\nread\n", "stderr: {}", out.stderr_str());
    assert!(!outside, "a write inside reached the host");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn the_oci_runtime_runs_a_bundle_as_an_unprivileged_user() {
    let Some((dir, bin)) = public_copy("run") else { return };
    let bundle = dir.join("bundle");
    std::fs::create_dir_all(bundle.join("rootfs/bin")).expect("rootfs");
    std::fs::copy("/bin/busybox", bundle.join("rootfs/bin/busybox")).expect("copy /bin/busybox");
    for a in ["sh", "id", "echo"] {
        std::os::unix::fs::symlink("busybox", bundle.join("rootfs/bin").join(a)).expect("applet");
    }
    let config = serde_json::json!({
        "ociVersion": "1.0.2",
        "process": {"user": {"uid": 0, "gid": 0}, "args": ["sh", "-c", "id -u; echo in the container"], "env": ["PATH=/bin"], "cwd": "/"},
        "root": {"path": "rootfs", "readonly": true},
        "hostname": "rootless",
        "linux": {"namespaces": [{"type": "pid"}, {"type": "mount"}, {"type": "user"}]}
    });
    std::fs::write(bundle.join("config.json"), config.to_string()).expect("config.json");
    // The bundle is the test's (root's): readable by all, as an
    // unprivileged user's own would be to them.
    let mut chmod = Command::new("chmod");
    chmod.args(["-R", "a+rX"]).arg(&bundle);
    assert!(run(chmod).status.success());
    let state = dir.join("state");
    let root = state.to_str().expect("utf-8");

    let out = as_nobody(&bin, &["--root", root, "run", "--bundle", bundle.to_str().expect("utf-8"), "rl1"], &dir);

    assert_eq!(out.stdout_str(), "0\nin the container\n", "stderr: {}", out.stderr_str());
    assert!(out.status.success());
    let left: Vec<_> =
        std::fs::read_dir(&state).map(|d| d.flatten().map(|e| e.file_name()).collect()).unwrap_or_default();
    assert!(left.is_empty(), "state left behind: {left:?}");
    let _ = std::fs::remove_dir_all(&dir);
}
