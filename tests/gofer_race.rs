//! The gofer refuses symlink races: while the sandbox walks a bound host
//! directory, the host swaps one of its directories for a symlink leading
//! out of the bind, over and over. The gofer opens one component at a time
//! with O_NOFOLLOW (and the sentry resolves symlinks inside the sandbox),
//! so the walk sees the directory or a symlink it resolves in the sandbox,
//! never the file outside. The same loop run natively does read it, which
//! proves the race is real.

mod common;

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{fresh_dir, run, run_sandboxed};

/// Reads `DIR/a/secret` `N` times and counts what it got.
const READER: &str = r#"
n=0; out=0; in=0
while [ $n -lt 400 ]; do
  case "$(cat "$1/a/secret" 2>/dev/null)" in
    outside) out=$((out+1));;
    inside) in=$((in+1));;
  esac
  n=$((n+1))
done
echo "outside=$out inside=$in"
"#;

/// Swap `root/a` between a directory and a symlink to `outside` until
/// `stop`.
fn swapper(root: &Path, outside: &Path, stop: Arc<AtomicBool>) -> std::thread::JoinHandle<()> {
    let (a, real) = (root.join("a"), root.join("a.real"));
    let outside = outside.to_owned();
    std::thread::spawn(move || {
        while !stop.load(Ordering::Relaxed) {
            // a is the directory: move it away and put the symlink there.
            if std::fs::rename(&a, &real).is_ok() {
                let _ = std::os::unix::fs::symlink(&outside, &a);
                std::thread::yield_now();
                let _ = std::fs::remove_file(&a);
                let _ = std::fs::rename(&real, &a);
            }
            std::thread::yield_now();
        }
    })
}

/// The reader's counts: (outside, inside).
fn counts(stdout: &str) -> Option<(u32, u32)> {
    let rest = stdout.trim().strip_prefix("outside=")?;
    let (out, inside) = rest.split_once(" inside=")?;
    Some((out.parse().ok()?, inside.parse().ok()?))
}

#[test]
fn a_directory_swapped_for_a_symlink_never_leads_the_sandbox_out_of_a_bind() {
    let base = fresh_dir("gofer-race");
    let (root, outside) = (base.join("root"), base.join("outside"));
    std::fs::create_dir_all(root.join("a")).expect("mkdir");
    std::fs::create_dir_all(&outside).expect("mkdir");
    std::fs::write(root.join("a/secret"), "inside\n").expect("write");
    std::fs::write(outside.join("secret"), "outside\n").expect("write");
    // A root of busybox alone: the host directory the symlink leads to is
    // not in the sandbox at all.
    let bb = base.join("bb");
    std::fs::create_dir_all(bb.join("bin")).expect("mkdir");
    std::fs::copy("/bin/busybox", bb.join("bin/busybox")).expect("copy /bin/busybox");
    for applet in ["sh", "cat"] {
        std::os::unix::fs::symlink("busybox", bb.join("bin").join(applet)).expect("applet");
    }
    let bind = format!("{}:/mnt", root.display());
    let rootfs = bb.to_str().expect("utf-8").to_owned();

    let stop = Arc::new(AtomicBool::new(false));
    let swap = swapper(&root, &outside, stop.clone());
    let t0 = Instant::now();
    let mut native = common::native_command(&["sh", "-c", READER, "sh", root.to_str().expect("utf-8")]);
    native.current_dir("/");
    let native = run(native);
    let sandboxed = run_sandboxed(&["/bin/sh", "-c", READER, "sh", "/mnt"], &["--rootfs", &rootfs, "--bind", &bind]);
    stop.store(true, Ordering::Relaxed);
    let _ = swap.join();
    let took = t0.elapsed();

    let native_counts = counts(&native.stdout_str());
    assert!(native_counts.is_some_and(|(out, _)| out > 0), "the race never hit natively: {}", native.stdout_str());
    let sandboxed_counts = counts(&sandboxed.stdout_str());
    let shown = format!("{}{}", sandboxed.stdout_str(), sandboxed.stderr_str());
    assert!(sandboxed_counts.is_some_and(|(_, inside)| inside > 0), "the sandbox never read the file: {shown}");
    assert_eq!(sandboxed_counts.map(|c| c.0), Some(0), "the sandbox read the file outside the bind: {shown}");
    assert_eq!(std::fs::read_to_string(outside.join("secret")).ok().as_deref(), Some("outside\n"));
    assert!(took < Duration::from_secs(120), "took {took:?}");
    let _ = std::fs::remove_dir_all(&base);
}

#[test]
fn a_directory_the_host_replaces_in_a_bind_is_seen_replaced() {
    let base = fresh_dir("gofer-replace");
    let root = base.join("root");
    std::fs::create_dir_all(root.join("a")).expect("mkdir");
    std::fs::create_dir_all(root.join("b")).expect("mkdir");
    std::fs::write(root.join("a/secret"), "a\n").expect("write");
    std::fs::write(root.join("b/secret"), "b\n").expect("write");
    let bind = format!("{}:/mnt", root.display());
    let script = "cat /mnt/a/secret; : > /mnt/ready; \
                  while [ ! -e /mnt/go ]; do :; done; \
                  cat /mnt/a/secret; cat /mnt/a.old/secret; test -L /mnt/a && echo symlink";
    let host = {
        let root = root.clone();
        std::thread::spawn(move || {
            let deadline = Instant::now() + Duration::from_secs(60);
            while !root.join("ready").exists() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(10));
            }
            std::fs::rename(root.join("a"), root.join("a.old")).expect("rename");
            std::os::unix::fs::symlink("b", root.join("a")).expect("symlink");
            std::fs::write(root.join("go"), "").expect("go");
        })
    };

    let out = run_sandboxed(&["sh", "-c", script], &["--bind", &bind]);
    let _ = host.join();

    assert_eq!(out.stdout_str(), "a\nb\na\nsymlink\n", "stderr: {}", out.stderr_str());
    let _ = std::fs::remove_dir_all(&base);
}
