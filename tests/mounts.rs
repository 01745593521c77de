//! Mount options of `bulwark do` (`--rootfs`, `--bind`, `--tmpfs`,
//! `--overlay`, `--readonly`, `--user`) and mounts made inside the sandbox
//! (`mount`, `umount`, `chroot`, `pivot_root`), driven by busybox in a
//! root directory each test builds.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use common::{fresh_dir, run_sandboxed, Output};

const BUSYBOX: &str = "/bin/busybox";
const APPLETS: &[&str] = &[
    "sh",
    "ls",
    "cat",
    "echo",
    "mount",
    "umount",
    "chroot",
    "id",
    "touch",
    "rm",
    "mkdir",
    "cp",
    "grep",
    "pivot_root",
    "cut",
];

/// A root directory holding a static busybox and its applets in `/bin`,
/// `/etc`, and `/root` (mode 0700).
fn busybox_root(name: &str) -> PathBuf {
    let root = fresh_dir(name);
    std::fs::create_dir_all(root.join("bin")).expect("mkdir bin");
    std::fs::copy(BUSYBOX, root.join("bin/busybox")).expect("copy busybox (is busybox-static installed?)");
    for a in APPLETS {
        std::os::unix::fs::symlink("busybox", root.join("bin").join(a)).expect("applet symlink");
    }
    std::fs::create_dir(root.join("etc")).expect("mkdir etc");
    std::fs::create_dir(root.join("root")).expect("mkdir root");
    std::fs::set_permissions(root.join("root"), std::fs::Permissions::from_mode(0o700)).expect("chmod root");
    root
}

/// Run `script` with busybox sh in `root`, with extra `do` options.
fn sh(root: &Path, opts: &[&str], script: &str) -> Output {
    let rootfs = root.to_str().expect("utf-8 path");
    let mut all = vec!["--rootfs", rootfs];
    all.extend_from_slice(opts);
    run_sandboxed(&["/bin/sh", "-c", script], &all)
}

fn names(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .expect("read_dir")
        .map(|e| e.expect("entry").file_name().into_string().expect("utf-8"))
        .collect();
    v.sort();
    v
}

#[test]
fn rootfs_busybox_root_runs_a_shell_and_keeps_writes_in_memory() {
    let root = busybox_root("mounts-rootfs");

    let out = sh(&root, &[], "ls /; echo ok > /tmp/x; cat /tmp/x; echo new > /etc/new; cat /etc/new");

    assert!(out.status.success(), "stderr: {}", out.stderr_str());
    let stdout = out.stdout_str();
    assert!(stdout.contains("bin\n") && stdout.contains("etc\n") && stdout.contains("proc\n"), "{stdout}");
    assert!(stdout.ends_with("ok\nnew\n"), "{stdout}");
    assert_eq!(names(&root), ["bin", "etc", "root"]);
    assert!(names(&root.join("etc")).is_empty());
}

#[test]
fn bind_read_write_writes_land_on_the_host() {
    let root = busybox_root("mounts-bind-rw");
    let host = fresh_dir("mounts-bind-rw-data");
    std::fs::write(host.join("in"), "from host\n").expect("write");
    let bind = format!("{}:/mnt/data", host.display());

    let out = sh(&root, &["--bind", &bind], "cat /mnt/data/in; echo from sandbox > /mnt/data/out; mkdir /mnt/data/d");

    assert!(out.status.success(), "stderr: {}", out.stderr_str());
    assert_eq!(out.stdout_str(), "from host\n");
    assert_eq!(std::fs::read_to_string(host.join("out")).expect("host file"), "from sandbox\n");
    assert!(host.join("d").is_dir());
}

#[test]
fn bind_read_only_write_fails_with_erofs() {
    let root = busybox_root("mounts-bind-ro");
    let host = fresh_dir("mounts-bind-ro-data");
    std::fs::write(host.join("in"), "x\n").expect("write");
    let bind = format!("{}:/data:ro", host.display());

    let out = sh(&root, &["--bind", &bind], "cat /data/in; echo y > /data/out");

    assert!(!out.status.success());
    assert_eq!(out.stdout_str(), "x\n");
    assert!(out.stderr_str().contains("Read-only file system"), "stderr: {}", out.stderr_str());
    assert_eq!(names(&host), ["in"]);
}

#[test]
fn bind_of_a_single_file_shows_that_file_alone_and_writes_through() {
    let root = busybox_root("mounts-bind-file");
    let host = fresh_dir("mounts-bind-file-data");
    std::fs::write(host.join("hosts"), "10.0.0.1 box\n").expect("write");
    std::fs::write(host.join("sibling"), "secret\n").expect("write");
    std::fs::write(host.join("ro"), "fixed\n").expect("write");
    let rw = format!("{}:/etc/hosts", host.join("hosts").display());
    let ro = format!("{}:/etc/ro:ro", host.join("ro").display());
    let script = "cat /etc/hosts; echo '10.0.0.2 other' >> /etc/hosts; cat /etc/hosts; \
                  ls /etc; grep ' /etc/hosts ' /proc/mounts | cut -d' ' -f3; \
                  cat /etc/ro; echo no > /etc/ro || echo refused; ls /etc/hosts/x 2>&1 | grep -c 'Not a directory'";

    let out = sh(&root, &["--bind", &rw, "--bind", &ro], script);

    assert!(out.status.success(), "stderr: {}", out.stderr_str());
    assert_eq!(
        out.stdout_str(),
        "10.0.0.1 box\n10.0.0.1 box\n10.0.0.2 other\nhosts\nro\n9p\nfixed\nrefused\n1\n",
        "stderr: {}",
        out.stderr_str()
    );
    assert!(out.stderr_str().contains("Read-only file system"), "stderr: {}", out.stderr_str());
    assert_eq!(std::fs::read_to_string(host.join("hosts")).expect("host file"), "10.0.0.1 box\n10.0.0.2 other\n");
    assert_eq!(std::fs::read_to_string(host.join("ro")).expect("host file"), "fixed\n");
}

#[test]
fn tmpfs_option_mounts_a_writable_scratch_directory() {
    let root = busybox_root("mounts-tmpfs");

    let out =
        sh(&root, &["--tmpfs", "/scratch"], "echo s > /scratch/f; cat /scratch/f; grep ' /scratch ' /proc/mounts");

    assert!(out.status.success(), "stderr: {}", out.stderr_str());
    assert_eq!(out.stdout_str(), "s\ntmpfs /scratch tmpfs rw,relatime 0 0\n");
    assert_eq!(names(&root), ["bin", "etc", "root"]);
}

#[test]
fn readonly_root_refuses_writes_with_erofs_but_tmp_works() {
    let root = busybox_root("mounts-readonly");

    let out = sh(&root, &["--readonly"], "echo t > /tmp/t; cat /tmp/t; touch /etc/x");

    assert!(!out.status.success());
    assert_eq!(out.stdout_str(), "t\n");
    assert!(out.stderr_str().contains("Read-only file system"), "stderr: {}", out.stderr_str());
}

#[test]
fn user_option_runs_unprivileged_with_linux_permission_checks() {
    let root = busybox_root("mounts-user");

    let out = sh(&root, &["--user", "1000:1000"], "id -u; id -g; echo a > /tmp/a && cat /tmp/a; touch /root/x");

    assert!(!out.status.success());
    assert_eq!(out.stdout_str(), "1000\n1000\na\n");
    assert!(out.stderr_str().contains("Permission denied"), "stderr: {}", out.stderr_str());
}

#[test]
fn user_cannot_delete_another_users_file_in_a_sticky_directory() {
    let root = busybox_root("mounts-sticky");
    let host = fresh_dir("mounts-sticky-tmp");
    std::fs::set_permissions(&host, std::fs::Permissions::from_mode(0o1777)).expect("chmod 1777");
    std::fs::write(host.join("roots"), "r\n").expect("write");
    let bind = format!("{}:/tmp", host.display());

    let out =
        sh(&root, &["--user", "1000:1000", "--bind", &bind], "echo m > /tmp/mine; rm /tmp/mine; rm -f /tmp/roots");

    assert!(!out.status.success());
    assert!(out.stderr_str().contains("Operation not permitted"), "stderr: {}", out.stderr_str());
    assert_eq!(names(&host), ["roots"]);
}

#[test]
fn overlay_none_writes_through_to_the_rootfs() {
    let root = busybox_root("mounts-overlay-none");

    let out = sh(&root, &["--overlay", "none"], "echo persisted > /etc/written; cat /etc/written");

    assert!(out.status.success(), "stderr: {}", out.stderr_str());
    assert_eq!(out.stdout_str(), "persisted\n");
    assert_eq!(std::fs::read_to_string(root.join("etc/written")).expect("host file"), "persisted\n");
}

#[test]
fn mount_tmpfs_umount_bind_remount_and_chroot_inside() {
    let root = busybox_root("mounts-inside");
    let script = "mkdir -p /mnt/t && mount -t tmpfs -o size=1m,mode=755 none /mnt/t && echo in > /mnt/t/f \
                  && grep ' /mnt/t ' /proc/mounts && umount /mnt/t && ls /mnt/t && echo umounted; \
                  mkdir -p /newroot/bin && cp /bin/busybox /newroot/bin/ && echo hello > /newroot/greeting \
                  && chroot /newroot /bin/busybox cat /greeting; \
                  mount --bind /newroot /mnt/t && ls /mnt/t && mount -o remount,ro,bind /mnt/t; touch /mnt/t/z; \
                  umount /etc";

    let out = sh(&root, &[], script);

    assert_eq!(
        out.stdout_str(),
        "none /mnt/t tmpfs rw,size=1m,mode=755,relatime 0 0\numounted\nhello\nbin\ngreeting\n",
        "stderr: {}",
        out.stderr_str()
    );
    let err = out.stderr_str();
    assert!(err.contains("/mnt/t/z: Read-only file system"), "stderr: {err}");
    assert!(err.contains("can't unmount /etc: Invalid argument"), "stderr: {err}");
}

#[test]
fn pivot_root_dot_dot_and_lazy_umount_as_containers_do() {
    let root = busybox_root("mounts-pivot");
    let script = "mkdir /new && mount -t tmpfs none /new && mkdir /new/bin /new/proc && cp /bin/busybox /new/bin/ \
                  && echo inside > /new/marker && cd /new && /bin/busybox pivot_root . . \
                  && /bin/busybox umount -l . && cd / && /bin/busybox ls / && /bin/busybox cat /marker \
                  && /bin/busybox mount -t proc proc /proc && /bin/busybox cat /proc/self/mounts";

    let out = sh(&root, &[], script);

    assert!(out.status.success(), "stderr: {}", out.stderr_str());
    assert_eq!(
        out.stdout_str(),
        "bin\nmarker\nproc\ninside\nnone / tmpfs rw,relatime 0 0\nproc /proc proc rw,relatime 0 0\n"
    );
}

#[test]
fn mount_and_chroot_as_non_root_fail_with_eperm() {
    let root = busybox_root("mounts-eperm");

    let out = sh(&root, &["--user", "1000:1000"], "chroot /bin /busybox true; mount -t tmpfs none /tmp");

    assert!(!out.status.success());
    let err = out.stderr_str();
    assert!(err.contains("chroot: can't change root directory to '/bin': Operation not permitted"), "stderr: {err}");
    // busybox's message for EPERM from mount(2).
    assert!(err.contains("mount: permission denied (are you root?)"), "stderr: {err}");
}

#[test]
fn ulimit_and_groups_match_prlimit_and_setpriv_natively() {
    if !nix::unistd::geteuid().is_root() {
        println!("skipping: setpriv needs root");
        return;
    }
    let script = "ulimit -n; ulimit -Hn; ulimit -c; id -u; id -G";
    let native = common::run_native(&[
        "prlimit",
        "--nofile=100:200",
        "--core=0:unlimited",
        "setpriv",
        "--reuid",
        "1000",
        "--regid",
        "1000",
        "--groups",
        "10,20",
        "sh",
        "-c",
        script,
    ]);
    let sandboxed = run_sandboxed(
        &["sh", "-c", script],
        &[
            "--ulimit",
            "nofile=100:200",
            "--ulimit",
            "RLIMIT_CORE=0:unlimited",
            "--user",
            "1000:1000",
            "--groups",
            "10,20",
        ],
    );

    assert!(native.status.success(), "native: {}", native.stderr_str());
    assert_eq!(native.stdout_str(), "100\n200\n0\n1000\n1000 10 20\n");
    assert_eq!(sandboxed.stdout_str(), native.stdout_str(), "stderr: {}", sandboxed.stderr_str());
}

#[test]
fn oom_score_adj_mask_and_readonly_path_options() {
    let root = busybox_root("mounts-mask");
    std::fs::create_dir_all(root.join("etc/secret")).expect("mkdir");
    std::fs::write(root.join("etc/secret/key"), "k\n").expect("write");
    std::fs::write(root.join("etc/token"), "t\n").expect("write");
    let data = fresh_dir("mounts-mask-data");
    let bind = format!("{}:/data", data.display());
    let script = "cat /proc/self/oom_score_adj; ls -A /etc/secret | wc -l; wc -c < /etc/token; \
                  echo x > /data/f || echo refused; echo y > /tmp/ok && cat /tmp/ok";

    let out = sh(
        &root,
        &[
            "--oom-score-adj",
            "-500",
            "--mask",
            "/etc/secret",
            "--mask",
            "/etc/token",
            "--mask",
            "/nonexistent",
            "--readonly-path",
            "/data",
            "--bind",
            &bind,
        ],
        script,
    );

    assert_eq!(out.stdout_str(), "-500\n0\n0\nrefused\ny\n", "stderr: {}", out.stderr_str());
    assert!(out.stderr_str().contains("Read-only file system"), "stderr: {}", out.stderr_str());
    assert!(names(&data).is_empty());
}
