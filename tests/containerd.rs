//! containerd driving bulwark through its runc shim, as `ctr run --runtime
//! io.containerd.runc.v2 --runc-binary bulwark` does: each test starts a
//! containerd of its own (its own root, state, socket and config.toml),
//! imports a busybox image built here as an OCI image layout (one
//! uncompressed layer of the host's static busybox), and drives it with
//! `ctr`: run with output and exit status, exec, ps, pause and resume,
//! kill, delete, metrics. Skipped, with the reason printed, where not root
//! or where containerd or ctr is missing.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output as StdOutput, Stdio};
use std::time::{Duration, Instant};

use common::{bulwark, run, Output};

const IMAGE: &str = "localhost/bulwark-test-busybox:latest";
const APPLETS: &[&str] = &["sh", "echo", "cat", "sleep", "true", "mv"];
/// How long containerd, or a container, may take to get where a test
/// waits for it.
const WAIT: Duration = Duration::from_secs(30);
/// How long each step of the clean-up may take.
const CLEANUP_WAIT: Duration = Duration::from_secs(10);
/// Where the runc shim keeps its runtime's state by default (`--root`),
/// a directory per namespace.
const SHIM_RUNC_ROOT: &str = "/run/containerd/runc";

/// Why containerd cannot be tested here, if it cannot.
fn unavailable() -> Option<String> {
    if !nix::unistd::geteuid().is_root() {
        return Some("needs root".into());
    }
    for tool in ["containerd", "ctr"] {
        if !Command::new(tool).arg("--version").output().is_ok_and(|o| o.status.success()) {
            return Some(format!("{tool} is not installed"));
        }
    }
    None
}

/// A private containerd, with the test image imported; stopped, and what it
/// ran and made removed, when dropped (on a panic too).
struct Containerd {
    dir: PathBuf,
    sock: PathBuf,
    /// The namespace its containers are in: unique, so that the shim's
    /// state directory for it (`SHIM_RUNC_ROOT/NS`) is this test's alone.
    ns: String,
    snapshotter: String,
    child: Option<Child>,
}

impl Containerd {
    /// Start one for the test `tag`, or say why the test is skipped.
    fn start(tag: &str) -> Option<Containerd> {
        if let Some(why) = unavailable() {
            println!("skipping containerd {tag}: {why}");
            return None;
        }
        // Under /tmp rather than target/: the socket's path must fit a
        // socket address wherever the checkout is.
        let dir = std::env::temp_dir().join(format!("bulwark-ctrd-{}-{tag}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("containerd test directory");
        let sock = dir.join("containerd.sock");
        let config = dir.join("config.toml");
        // Version 2, no CRI: ctr talks to containerd's own API.
        std::fs::write(&config, "version = 2\ndisabled_plugins = [\"io.containerd.grpc.v1.cri\"]\n")
            .expect("config.toml");
        let log = std::fs::File::create(dir.join("containerd.log")).expect("containerd.log");
        let child = Command::new("containerd")
            .arg("--config")
            .arg(&config)
            .arg("--root")
            .arg(dir.join("root"))
            .arg("--state")
            .arg(dir.join("state"))
            .arg("--address")
            .arg(&sock)
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("dup containerd.log"))
            .stderr(log)
            .spawn()
            .expect("start containerd");
        let mut c = Containerd {
            dir,
            sock,
            ns: format!("bulwark-test-{}-{tag}", std::process::id()),
            snapshotter: String::new(),
            child: Some(child),
        };
        c.wait_until_serving();
        c.snapshotter = c.pick_snapshotter();
        c.import_image();
        Some(c)
    }

    fn wait_until_serving(&mut self) {
        let deadline = Instant::now() + WAIT;
        loop {
            if self.ctr(&["version"]).status.success() {
                return;
            }
            let exited = self.child.as_mut().and_then(|c| c.try_wait().ok().flatten());
            assert!(exited.is_none(), "containerd exited ({exited:?}):\n{}", self.log());
            assert!(Instant::now() < deadline, "containerd is not serving after {WAIT:?}:\n{}", self.log());
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// overlayfs where this containerd loaded it (not on an overlayfs
    /// itself, say), else native.
    fn pick_snapshotter(&self) -> String {
        let plugins = self.ctr(&["plugins", "ls"]).stdout_str();
        let overlay = plugins.lines().any(|l| {
            let w: Vec<&str> = l.split_whitespace().collect();
            w.first() == Some(&"io.containerd.snapshotter.v1")
                && w.get(1) == Some(&"overlayfs")
                && w.last() == Some(&"ok")
        });
        if overlay { "overlayfs" } else { "native" }.to_owned()
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("containerd.log")).unwrap_or_default()
    }

    /// `ctr -a SOCK -n NS ARGS...`.
    fn ctr_command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new("ctr");
        cmd.arg("-a").arg(&self.sock).arg("-n").arg(&self.ns).args(args);
        cmd
    }

    fn ctr(&self, args: &[&str]) -> Output {
        run(self.ctr_command(args))
    }

    /// `ctr run` with bulwark as the shim's runc, the test image and
    /// `ARGS` (`ID COMMAND...`) after `FLAGS`.
    fn ctr_run(&self, flags: &[&str], args: &[&str]) -> Output {
        run(self.ctr_run_command(flags, args))
    }

    fn ctr_run_command(&self, flags: &[&str], args: &[&str]) -> Command {
        let bin = bulwark();
        let bin = bin.to_str().expect("bulwark's path is UTF-8");
        let mut all = vec!["run", "--runtime", "io.containerd.runc.v2", "--runc-binary", bin];
        all.extend(["--snapshotter", &self.snapshotter]);
        all.extend(flags);
        all.push(IMAGE);
        all.extend(args);
        self.ctr_command(&all)
    }

    /// Build the busybox image as an OCI image layout tarball and import it.
    fn import_image(&self) {
        let image = self.dir.join("image");
        let rootfs = image.join("rootfs");
        let bin = rootfs.join("bin");
        std::fs::create_dir_all(&bin).expect("rootfs/bin");
        std::fs::create_dir_all(rootfs.join("tmp")).expect("rootfs/tmp");
        std::fs::copy("/bin/busybox", bin.join("busybox")).expect("copy /bin/busybox (is busybox-static installed?)");
        for applet in APPLETS {
            std::os::unix::fs::symlink("busybox", bin.join(applet)).expect("applet symlink");
        }
        let layout = image.join("layout");
        let blobs = layout.join("blobs/sha256");
        std::fs::create_dir_all(&blobs).expect("blobs/sha256");
        let layer = image.join("layer.tar");
        tar(&rootfs, &layer, &["."]);
        let layer = blob(&blobs, &std::fs::read(&layer).expect("layer.tar"));
        let arch = match std::env::consts::ARCH {
            "x86_64" => "amd64",
            "aarch64" => "arm64",
            other => other,
        };
        let config = serde_json::json!({
            "architecture": arch,
            "os": "linux",
            "config": {"Env": ["PATH=/bin"], "Cmd": ["sh"], "WorkingDir": "/"},
            "rootfs": {"type": "layers", "diff_ids": [layer.0]},
        });
        let config = blob(&blobs, config.to_string().as_bytes());
        let manifest = serde_json::json!({
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config.0, "size": config.1},
            "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": layer.0, "size": layer.1}],
        });
        let manifest = blob(&blobs, manifest.to_string().as_bytes());
        let index = serde_json::json!({
            "schemaVersion": 2,
            "manifests": [{
                "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "digest": manifest.0,
                "size": manifest.1,
                "platform": {"architecture": arch, "os": "linux"},
                "annotations": {"io.containerd.image.name": IMAGE, "org.opencontainers.image.ref.name": "latest"},
            }],
        });
        std::fs::write(layout.join("index.json"), index.to_string()).expect("index.json");
        std::fs::write(layout.join("oci-layout"), r#"{"imageLayoutVersion":"1.0.0"}"#).expect("oci-layout");
        let tarball = image.join("image.tar");
        tar(&layout, &tarball, &["oci-layout", "index.json", "blobs"]);
        let tarball = tarball.to_str().expect("UTF-8 path");
        let out = self.ctr(&["images", "import", "--snapshotter", &self.snapshotter, tarball]);
        assert!(out.status.success(), "ctr images import: {}{}", out.stdout_str(), out.stderr_str());
        let images = self.ctr(&["images", "ls", "-q"]).stdout_str();
        assert!(images.lines().any(|l| l == IMAGE), "{IMAGE} is not among the images: {images}");
    }

    /// The task `id`'s (pid, status) as `ctr task ls` lists it.
    fn task(&self, id: &str) -> Option<(i32, String)> {
        let out = self.ctr(&["task", "ls"]).stdout_str();
        out.lines().find_map(|l| {
            let w: Vec<&str> = l.split_whitespace().collect();
            match w[..] {
                [task, pid, status] if task == id => Some((pid.parse().ok()?, status.to_owned())),
                _ => None,
            }
        })
    }

    /// Wait until the task `id` has the status `want`; its pid.
    fn wait_for_task(&self, id: &str, want: &str) -> i32 {
        let deadline = Instant::now() + WAIT;
        loop {
            let t = self.task(id);
            match &t {
                Some((pid, status)) if status == want => return *pid,
                _ => assert!(Instant::now() < deadline, "task {id} never got {want}: {t:?}"),
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// `bulwark --root SHIM_RUNC_ROOT/NS ARGS...`: bulwark's own view of
    /// the containers the shim made.
    fn bulwark(&self, args: &[&str]) -> Output {
        let mut cmd = Command::new(bulwark());
        cmd.arg("--root").arg(self.runc_root()).args(args);
        run(cmd)
    }

    fn runc_root(&self) -> PathBuf {
        Path::new(SHIM_RUNC_ROOT).join(&self.ns)
    }

    /// `ctr ARGS...` for the clean-up: no panic, at most [`CLEANUP_WAIT`].
    fn ctr_quietly(&self, args: &[&str]) -> Option<StdOutput> {
        let mut child =
            self.ctr_command(args).stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::null()).spawn().ok()?;
        let deadline = Instant::now() + CLEANUP_WAIT;
        while child.try_wait().ok()?.is_none() {
            if Instant::now() > deadline {
                let _ = child.kill();
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        child.wait_with_output().ok()
    }

    /// SIGKILL what `ctr` could not stop (a shim stuck on a request): this
    /// containerd's shims, found by the socket their command lines name,
    /// and every process under them; remove their sockets.
    fn kill_shims(&self) {
        let procs = processes();
        let sock = self.sock.to_string_lossy();
        for (pid, _, args) in &procs {
            let flag = |f: &str| args.iter().position(|a| a == f).and_then(|i| args.get(i + 1));
            let is_shim = args.first().is_some_and(|a| a.ends_with("containerd-shim-runc-v2"));
            if !is_shim || flag("-address").map(String::as_str) != Some(&*sock) {
                continue;
            }
            let mut tree = vec![*pid];
            let mut i = 0;
            while let Some(&p) = tree.get(i) {
                tree.extend(procs.iter().filter(|(_, ppid, _)| *ppid == p).map(|(c, _, _)| *c));
                i += 1;
            }
            for p in tree {
                let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(p), nix::sys::signal::Signal::SIGKILL);
            }
            // The shim's socket is named by the sha256 of ADDRESS/NS/ID.
            if let Some(id) = flag("-id") {
                let key = format!("{sock}/{}/{id}", self.ns);
                if let Some(hex) = sha256_hex(key.as_bytes()) {
                    let _ = std::fs::remove_file(Path::new("/run/containerd/s").join(hex));
                }
            }
        }
    }

    fn listed(&self, args: &[&str]) -> Vec<String> {
        self.ctr_quietly(args)
            .map(|o| String::from_utf8_lossy(&o.stdout).lines().map(str::to_owned).collect())
            .unwrap_or_default()
    }
}

impl Drop for Containerd {
    fn drop(&mut self) {
        // What a failed test left running: its shims and sandboxes outlive
        // containerd.
        for id in self.listed(&["task", "ls", "-q"]) {
            let _ = self.ctr_quietly(&["task", "kill", "-s", "SIGKILL", &id]);
            let _ = self.ctr_quietly(&["task", "delete", "--force", &id]);
        }
        for id in self.listed(&["containers", "ls", "-q"]) {
            let _ = self.ctr_quietly(&["containers", "rm", &id]);
        }
        self.kill_shims();
        if let Some(mut child) = self.child.take() {
            if let Ok(pid) = i32::try_from(child.id()) {
                let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), nix::sys::signal::Signal::SIGTERM);
            }
            let deadline = Instant::now() + CLEANUP_WAIT;
            while child.try_wait().ok().flatten().is_none() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        // A snapshot a dead shim left mounted.
        let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
        let mut under: Vec<&str> = mounts
            .lines()
            .filter_map(|l| l.split_whitespace().nth(4))
            .filter(|m| Path::new(m).starts_with(&self.dir))
            .collect();
        under.sort_by_key(|m| std::cmp::Reverse(m.len()));
        for m in under {
            let _ = nix::mount::umount2(m, nix::mount::MntFlags::MNT_DETACH);
        }
        let _ = std::fs::remove_dir_all(&self.dir);
        let _ = std::fs::remove_dir_all(self.runc_root());
    }
}

/// Every host process: pid, parent pid, command line.
fn processes() -> Vec<(i32, i32, Vec<String>)> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|e| {
            let pid: i32 = e.file_name().to_str()?.parse().ok()?;
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
            let ppid = stat.get(stat.rfind(')')? + 1..)?.split_whitespace().nth(1)?.parse().ok()?;
            let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
            let args = cmdline.split(|&b| b == 0).filter(|a| !a.is_empty());
            Some((pid, ppid, args.map(|a| String::from_utf8_lossy(a).into_owned()).collect()))
        })
        .collect()
}

/// The sha256 of `data` in hex, by sha256sum.
fn sha256_hex(data: &[u8]) -> Option<String> {
    let mut child =
        Command::new("sha256sum").stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::null()).spawn().ok()?;
    std::io::Write::write_all(&mut child.stdin.take()?, data).ok()?;
    let out = child.wait_with_output().ok()?;
    let hex = String::from_utf8_lossy(&out.stdout).split_whitespace().next()?.to_owned();
    (hex.len() == 64).then_some(hex)
}

/// `tar -cf TO -C DIR ENTRIES...`, owned by root, numerically.
fn tar(dir: &Path, to: &Path, entries: &[&str]) {
    let ok = Command::new("tar")
        .args(["--numeric-owner", "--owner=0", "--group=0", "-C"])
        .arg(dir)
        .arg("-cf")
        .arg(to)
        .args(entries)
        .status()
        .is_ok_and(|s| s.success());
    assert!(ok, "tar -cf {}", to.display());
}

/// Store `data` in `blobs` under its sha256; its digest and size.
fn blob(blobs: &Path, data: &[u8]) -> (String, usize) {
    let hex = sha256_hex(data).expect("sha256sum (coreutils)");
    std::fs::write(blobs.join(&hex), data).expect("write a blob");
    (format!("sha256:{hex}"), data.len())
}

#[test]
fn ctr_run_prints_the_output_under_bulwark_and_passes_the_exit_status() {
    let Some(ctrd) = Containerd::start("run") else {
        return;
    };

    let hello = ctrd.ctr_run(&["--rm"], &["hello", "echo", "hello"]);
    let status = ctrd.ctr_run(&["--rm"], &["status", "sh", "-c", "exit 3"]);
    // The kernel the program sees is bulwark's sentry, not the host's.
    let kernel = ctrd.ctr_run(&["--rm"], &["kernel", "cat", "/proc/version"]);
    let left = ctrd.ctr(&["containers", "ls", "-q"]);

    assert_eq!(hello.stdout_str(), "hello\n", "{}", hello.stderr_str());
    assert!(hello.status.success());
    assert_eq!(status.status.code(), Some(3), "{}", status.stderr_str());
    assert!(kernel.stdout_str().contains("(bulwark)"), "{}{}", kernel.stdout_str(), kernel.stderr_str());
    assert_eq!(left.stdout_str(), "", "--rm leaves no container");
}

#[test]
fn ctr_task_exec_ps_pause_resume_kill_and_delete() {
    let Some(ctrd) = Containerd::start("task") else {
        return;
    };
    let id = "task";
    // Counts in a file on the image's rootfs (written through to the
    // snapshot, renamed into place whole) so that a pause shows; exits 42
    // on SIGTERM.
    let script =
        "trap 'exit 42' TERM; i=0; while true; do i=$((i+1)); echo $i > /tmp/n; mv /tmp/n /tmp/count; sleep 0.05; done";
    let out = ctrd.ctr_run(&["-d"], &[id, "sh", "-c", script]);
    assert!(out.status.success(), "ctr run -d: {}{}", out.stdout_str(), out.stderr_str());
    let pid = ctrd.wait_for_task(id, "RUNNING");

    // bulwark made it: its state says so, with the same pid.
    let state = ctrd.bulwark(&["state", id]);
    let state: serde_json::Value = serde_json::from_slice(&state.stdout).unwrap_or_default();
    assert_eq!((state["status"].as_str(), state["pid"].as_i64()), (Some("running"), Some(i64::from(pid))));

    let exec = ctrd.ctr(&["task", "exec", "--exec-id", "e1", id, "sh", "-c", "echo in the container; exit 4"]);
    assert_eq!(exec.stdout_str(), "in the container\n", "{}", exec.stderr_str());
    assert_eq!(exec.status.code(), Some(4));

    // A process exec'd for a while, listed by ps under its exec id.
    let mut long = ctrd.ctr_command(&["task", "exec", "--exec-id", "e2", id, "sleep", "600"]);
    let mut long = long.stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::null()).spawn().expect("ctr exec");
    let deadline = Instant::now() + WAIT;
    let ps = loop {
        let ps = ctrd.ctr(&["task", "ps", id]).stdout_str();
        if ps.contains("ExecID:e2") || Instant::now() > deadline {
            break ps;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let rows: Vec<(i32, String)> = ps
        .lines()
        .skip(1)
        .filter_map(|l| {
            let (p, info) = l.split_once(char::is_whitespace)?;
            Some((p.parse().ok()?, info.trim().to_owned()))
        })
        .collect();
    assert_eq!(rows.first().map(|r| r.0), Some(pid), "the sandbox first: {ps}");
    let e2 = rows.iter().find(|r| r.1.contains("ExecID:e2")).map(|r| r.0);
    let e2_cmdline = e2.and_then(|p| std::fs::read(format!("/proc/{p}/cmdline")).ok()).unwrap_or_default();
    assert!(String::from_utf8_lossy(&e2_cmdline).contains("exec-wait"), "e2 is bulwark's exec waiter: {ps}");

    let count = || {
        let rootfs = ctrd.dir.join(format!("state/io.containerd.runtime.v2.task/{}/{id}/rootfs", ctrd.ns));
        std::fs::read_to_string(rootfs.join("tmp/count")).ok().and_then(|s| s.trim().parse::<u64>().ok())
    };
    let pause = ctrd.ctr(&["task", "pause", id]);
    assert!(pause.status.success(), "pause: {}", pause.stderr_str());
    ctrd.wait_for_task(id, "PAUSED");
    let paused_at = count();
    std::thread::sleep(Duration::from_millis(500));
    let still = count();
    let resume = ctrd.ctr(&["task", "resume", id]);
    assert!(resume.status.success(), "resume: {}", resume.stderr_str());
    ctrd.wait_for_task(id, "RUNNING");
    let deadline = Instant::now() + WAIT;
    let resumed = loop {
        let n = count();
        if n > still || Instant::now() > deadline {
            break n;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(paused_at.is_some() && paused_at == still, "no progress while paused: {paused_at:?} {still:?}");
    assert!(resumed > still, "progress once resumed: {still:?} then {resumed:?}");

    // SIGTERM (ctr's default) reaches the program's handler.
    let kill = ctrd.ctr(&["task", "kill", id]);
    assert!(kill.status.success(), "kill: {}", kill.stderr_str());
    ctrd.wait_for_task(id, "STOPPED");
    let delete = ctrd.ctr(&["task", "delete", id]);
    assert!(delete.status.success(), "delete: {}", delete.stderr_str());
    assert!(delete.stderr_str().contains("exit code 42"), "{}", delete.stderr_str());
    assert_eq!(ctrd.task(id), None);
    assert!(!ctrd.runc_root().join(id).exists(), "bulwark's state is deleted");
    // The exec'd process went with its sandbox.
    let deadline = Instant::now() + WAIT;
    while long.try_wait().ok().flatten().is_none() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    let ended = long.try_wait().ok().flatten();
    let _ = long.kill();
    let _ = long.wait();
    assert!(ended.is_some(), "ctr task exec e2 still runs after the container's end");
    let rm = ctrd.ctr(&["containers", "rm", id]);
    assert!(rm.status.success(), "containers rm: {}", rm.stderr_str());
}

/// `ctr ARGS...` on a terminal of its own (ctr -t insists on one): what it
/// wrote there, and its exit status.
fn on_a_terminal(mut cmd: Command) -> (String, Option<i32>) {
    let pty = nix::pty::openpty(None, None).expect("openpty");
    let slave = |what| Stdio::from(pty.slave.try_clone().unwrap_or_else(|e| panic!("{what}: {e}")));
    let what = format!("{cmd:?}");
    let mut child = cmd.stdin(slave("stdin")).stdout(slave("stdout")).stderr(slave("stderr")).spawn().expect("ctr");
    // The command holds copies of the slave until dropped.
    drop(cmd);
    drop(pty.slave);
    // Until every slave is closed (EIO) or the child is gone for good.
    let mut master = std::fs::File::from(pty.master);
    let reader = std::thread::spawn(move || {
        let mut all = Vec::new();
        let mut buf = [0u8; 4096];
        while let Ok(n) = std::io::Read::read(&mut master, &mut buf) {
            if n == 0 {
                break;
            }
            all.extend_from_slice(&buf[..n]);
        }
        all
    });
    let deadline = Instant::now() + WAIT;
    let status = loop {
        match child.try_wait() {
            Ok(Some(s)) => break s.code(),
            _ if Instant::now() > deadline => {
                let _ = child.kill();
                let _ = child.wait();
                panic!("{what} did not finish within {WAIT:?}");
            }
            _ => std::thread::sleep(Duration::from_millis(20)),
        }
    };
    // The slave is closed once ctr has exited: the reader sees EIO.
    let out = reader.join().unwrap_or_default();
    (String::from_utf8_lossy(&out).into_owned(), status)
}

#[test]
fn ctr_run_and_exec_with_a_terminal() {
    let Some(ctrd) = Containerd::start("tty") else {
        return;
    };
    let id = "tty";
    let on_tty = "[ -t 0 ] && [ -t 1 ] && echo on a terminal";
    let run = ctrd.ctr_run_command(&["-t", "--rm"], &["tty-run", "sh", "-c", &format!("{on_tty}; exit 6")]);
    let (run_out, run_status) = on_a_terminal(run);
    let out = ctrd.ctr_run(&["-d"], &[id, "sleep", "600"]);
    assert!(out.status.success(), "ctr run -d: {}", out.stderr_str());
    ctrd.wait_for_task(id, "RUNNING");
    // The shim passes no --tty to exec: process.terminal in --process says so.
    let exec =
        ctrd.ctr_command(&["task", "exec", "-t", "--exec-id", "t1", id, "sh", "-c", &format!("{on_tty}; exit 5")]);
    let (exec_out, exec_status) = on_a_terminal(exec);

    assert!(run_out.contains("on a terminal"), "{run_out:?}");
    assert_eq!(run_status, Some(6));
    assert!(exec_out.contains("on a terminal"), "{exec_out:?}");
    assert_eq!(exec_status, Some(5));
}

#[test]
fn ctr_task_metrics_are_those_of_the_sandbox_cgroup() {
    let Some(ctrd) = Containerd::start("metrics") else {
        return;
    };
    let id = "metrics";
    let out = ctrd.ctr_run(&["-d"], &[id, "sleep", "600"]);
    assert!(out.status.success(), "ctr run -d: {}", out.stderr_str());
    let pid = ctrd.wait_for_task(id, "RUNNING");

    let table = ctrd.ctr(&["task", "metrics", id]);
    let json = ctrd.ctr(&["task", "metrics", "--format", "json", id]);
    let metrics: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap_or_default();

    assert!(table.status.success(), "metrics: {}", table.stderr_str());
    assert!(table.stdout_str().lines().nth(1).is_some_and(|l| l.starts_with(id)), "{}", table.stdout_str());
    // The shim reads the cgroup the sandbox (state.pid) is in, where
    // bulwark started it: the metrics report that cgroup's memory limit.
    let memory = &metrics["memory"];
    let (limit, usage, file) = match cgroup_memory_dir(pid) {
        Some((true, dir)) => (&memory["usage_limit"], &memory["usage"], dir.join("memory.max")),
        Some((false, dir)) => (&memory["usage"]["limit"], &memory["usage"]["usage"], dir.join("memory.limit_in_bytes")),
        None => panic!("no memory cgroup for pid {pid}"),
    };
    // cgroup v2's root has neither the file nor the figures.
    if let Ok(text) = std::fs::read_to_string(&file) {
        let want = if text.trim() == "max" { Some(u64::MAX) } else { text.trim().parse().ok() };
        assert_eq!(limit.as_u64(), want, "{} in {metrics}", file.display());
        assert!(usage.as_u64().is_some_and(|u| u > 0), "memory usage: {metrics}");
    }
}

/// Whether cgroup v2 is what the shim uses (the unified hierarchy at
/// /sys/fs/cgroup), and the directory of `pid`'s memory cgroup.
fn cgroup_memory_dir(pid: i32) -> Option<(bool, PathBuf)> {
    let unified = nix::sys::statfs::statfs("/sys/fs/cgroup")
        .is_ok_and(|s| s.filesystem_type() == nix::sys::statfs::CGROUP2_SUPER_MAGIC);
    let cgroups = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).ok()?;
    cgroups.lines().find_map(|l| {
        let mut parts = l.splitn(3, ':');
        let (_, controllers, path) = (parts.next()?, parts.next()?, parts.next()?);
        let path = path.trim_start_matches('/');
        if unified && controllers.is_empty() {
            Some((true, Path::new("/sys/fs/cgroup").join(path)))
        } else if !unified && controllers.split(',').any(|c| c == "memory") {
            Some((false, Path::new("/sys/fs/cgroup/memory").join(path)))
        } else {
            None
        }
    })
}
