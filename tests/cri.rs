//! containerd's CRI plugin (what kubelet talks to) running a pod on
//! bulwark, as Kubernetes does for a pod with `runtimeClassName: bulwark`:
//! a private containerd with the CRI plugin and a `bulwark` runtime
//! handler (the runc shim with bulwark as its runc binary), a pause image
//! and a busybox image built here and imported, and the CRI calls kubelet
//! makes, through tests/cri/client.py (grpcio, with stubs generated from
//! tests/cri/runtime.proto at test time): RunPodSandbox, CreateContainer,
//! StartContainer, ContainerStatus, ExecSync, StopContainer, RemoveContainer,
//! StopPodSandbox, RemovePodSandbox. The pod uses the node's network, so no
//! CNI plugin is needed. Skipped, with the reason printed, where not root or
//! where containerd, ctr or python's grpc (python3-grpcio,
//! python3-grpc-tools) is missing.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output as StdOutput, Stdio};
use std::time::{Duration, Instant};

use common::{bulwark, run, Output};
use serde_json::{json, Value};

/// The image the pods' containers run: busybox.
const IMAGE: &str = "localhost/bulwark-cri-busybox:latest";
/// The pod sandbox image (`sandbox_image`): busybox sleeping forever.
const PAUSE: &str = "localhost/bulwark-cri-pause:latest";
const APPLETS: &[&str] = &["sh", "echo", "cat", "sleep", "true"];
/// The containerd namespace of the CRI plugin.
const NS: &str = "k8s.io";
/// How long containerd, or a container, may take to get where the test
/// waits for it.
const WAIT: Duration = Duration::from_secs(30);
/// How long each step of the clean-up may take.
const CLEANUP_WAIT: Duration = Duration::from_secs(10);
/// NamespaceMode NODE: the pod uses the node's network (hostNetwork).
const NODE: i64 = 2;
/// NamespaceMode CONTAINER, POD.
const CONTAINER: i64 = 1;
const POD: i64 = 0;

/// A python with grpc and grpc_tools: Debian's (python3-grpcio,
/// python3-grpc-tools) where PATH's python3 lacks them.
fn python() -> Option<String> {
    ["/usr/bin/python3", "python3"].into_iter().map(str::to_owned).find(|p| {
        Command::new(p)
            .args(["-c", "import grpc, grpc_tools.protoc, google.protobuf.json_format"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    })
}

/// Why CRI cannot be tested here, if it cannot; else the python to use.
fn unavailable() -> Result<String, String> {
    if !nix::unistd::geteuid().is_root() {
        return Err("needs root".into());
    }
    for tool in ["containerd", "ctr"] {
        if !Command::new(tool).arg("--version").output().is_ok_and(|o| o.status.success()) {
            return Err(format!("{tool} is not installed"));
        }
    }
    python().ok_or_else(|| "python3's grpc is not installed (python3-grpcio, python3-grpc-tools)".into())
}

/// A private containerd with the CRI plugin and the test images; stopped,
/// and what it ran and made removed, when dropped (on a panic too).
struct Cri {
    dir: PathBuf,
    sock: PathBuf,
    python: String,
    /// Where the generated python stubs are.
    stubs: PathBuf,
    snapshotter: String,
    /// The pods' parent cgroup (linux.cgroup_parent, as kubelet's
    /// `/kubepods/...`), relative to each hierarchy.
    cgroup_parent: String,
    /// The pods RunPodSandbox made, for the clean-up.
    pods: std::cell::RefCell<Vec<String>>,
    child: Option<Child>,
}

impl Cri {
    fn start() -> Option<Cri> {
        let python = match unavailable() {
            Ok(p) => p,
            Err(why) => {
                println!("skipping CRI: {why}");
                return None;
            }
        };
        // Under /tmp rather than target/: the socket's path must fit a
        // socket address wherever the checkout is.
        let dir = std::env::temp_dir().join(format!("bulwark-cri-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("CRI test directory");
        let mut c = Cri {
            sock: dir.join("containerd.sock"),
            stubs: dir.join("stubs"),
            python,
            snapshotter: "overlayfs".into(),
            cgroup_parent: format!("/bulwark-cri-test-{}", std::process::id()),
            pods: Default::default(),
            child: None,
            dir,
        };
        c.generate_stubs();
        c.spawn();
        // overlayfs where this containerd loaded it, else native.
        if !c.plugin_ok("io.containerd.snapshotter.v1", "overlayfs") {
            c.stop_containerd();
            c.snapshotter = "native".into();
            c.spawn();
        }
        assert!(c.plugin_ok("io.containerd.grpc.v1", "cri"), "the CRI plugin did not load:\n{}", c.log());
        c.import_images();
        Some(c)
    }

    /// The python modules for runtime.proto, by grpc_tools.protoc.
    fn generate_stubs(&self) {
        std::fs::create_dir_all(&self.stubs).expect("stubs directory");
        let protos = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/cri");
        let out = run({
            let mut cmd = Command::new(&self.python);
            cmd.args(["-m", "grpc_tools.protoc", "-I"])
                .arg(&protos)
                .arg(format!("--python_out={}", self.stubs.display()))
                .arg(format!("--grpc_python_out={}", self.stubs.display()))
                .arg(protos.join("runtime.proto"));
            cmd
        });
        assert!(out.status.success(), "grpc_tools.protoc: {}{}", out.stdout_str(), out.stderr_str());
    }

    fn config(&self) -> String {
        let bin = bulwark();
        let dir = self.dir.display();
        format!(
            r#"version = 2
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "{PAUSE}"
  disable_apparmor = true
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
[plugins."io.containerd.grpc.v1.cri".containerd]
  snapshotter = "{snapshotter}"
  default_runtime_name = "runc"
[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
  runtime_type = "io.containerd.runc.v2"
[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.bulwark]
  runtime_type = "io.containerd.runc.v2"
[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.bulwark.options]
  BinaryName = "{bin}"
  Root = "{dir}/runc"
[plugins."io.containerd.grpc.v1.cri".cni]
  bin_dir = "{dir}/cni/bin"
  conf_dir = "{dir}/cni/conf"
"#,
            snapshotter = self.snapshotter,
            bin = bin.display(),
        )
    }

    fn spawn(&mut self) {
        let config = self.dir.join("config.toml");
        std::fs::write(&config, self.config()).expect("config.toml");
        let log = std::fs::File::create(self.dir.join("containerd.log")).expect("containerd.log");
        let child = Command::new("containerd")
            .arg("--config")
            .arg(&config)
            .arg("--root")
            .arg(self.dir.join("root"))
            .arg("--state")
            .arg(self.dir.join("state"))
            .arg("--address")
            .arg(&self.sock)
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("dup containerd.log"))
            .stderr(log)
            .spawn()
            .expect("start containerd");
        self.child = Some(child);
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

    fn stop_containerd(&mut self) {
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
    }

    /// Whether `ctr plugins ls` has the plugin `ty` `id` loaded.
    fn plugin_ok(&self, ty: &str, id: &str) -> bool {
        let plugins = self.ctr(&["plugins", "ls"]).stdout_str();
        plugins.lines().any(|l| {
            let w: Vec<&str> = l.split_whitespace().collect();
            w.first() == Some(&ty) && w.get(1) == Some(&id) && w.last() == Some(&"ok")
        })
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("containerd.log")).unwrap_or_default()
    }

    /// `ctr -a SOCK -n k8s.io ARGS...`.
    fn ctr_command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new("ctr");
        cmd.arg("-a").arg(&self.sock).arg("-n").arg(NS).args(args);
        cmd
    }

    fn ctr(&self, args: &[&str]) -> Output {
        run(self.ctr_command(args))
    }

    /// The CRI call `call` with the request `req`: its response, or the
    /// gRPC error.
    fn try_call(&self, call: &str, req: &Value) -> Result<Value, String> {
        let mut cmd = Command::new(&self.python);
        cmd.arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/cri/client.py"))
            .arg(&self.stubs)
            .arg(&self.sock)
            .arg(call)
            .arg(req.to_string());
        let out = run(cmd);
        if !out.status.success() {
            return Err(format!("{call}: {}{}", out.stdout_str(), out.stderr_str()));
        }
        let resp: Value =
            serde_json::from_slice(&out.stdout).map_err(|e| format!("{call}: {e}: {}", out.stdout_str()))?;
        if let Some(pod) = resp["pod_sandbox_id"].as_str().filter(|_| call == "RunPodSandbox") {
            self.pods.borrow_mut().push(pod.to_owned());
        }
        Ok(resp)
    }

    fn call(&self, call: &str, req: Value) -> Value {
        self.try_call(call, &req).unwrap_or_else(|e| panic!("{e}\ncontainerd's log:\n{}", self.log()))
    }

    /// Build the busybox and pause images as one OCI image layout tarball
    /// (one uncompressed layer of the host's static busybox, two configs)
    /// and import it into the CRI plugin's namespace.
    fn import_images(&self) {
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
        let manifest = |config: Value| {
            let config = json!({
                "architecture": arch,
                "os": "linux",
                "config": config,
                "rootfs": {"type": "layers", "diff_ids": [layer.0]},
            });
            let config = blob(&blobs, config.to_string().as_bytes());
            let manifest = json!({
                "schemaVersion": 2,
                "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config.0, "size": config.1},
                "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": layer.0, "size": layer.1}],
            });
            blob(&blobs, manifest.to_string().as_bytes())
        };
        let busybox = manifest(json!({"Env": ["PATH=/bin"], "Cmd": ["sh"], "WorkingDir": "/"}));
        // As the pause image's /pause: sleeps until killed.
        let pause = manifest(json!({"Env": ["PATH=/bin"], "Entrypoint": ["sleep", "2147483647"], "WorkingDir": "/"}));
        let entry = |m: &(String, usize), name: &str| {
            json!({
                "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "digest": m.0,
                "size": m.1,
                "platform": {"architecture": arch, "os": "linux"},
                "annotations": {"io.containerd.image.name": name, "org.opencontainers.image.ref.name": "latest"},
            })
        };
        let index = json!({"schemaVersion": 2, "manifests": [entry(&busybox, IMAGE), entry(&pause, PAUSE)]});
        std::fs::write(layout.join("index.json"), index.to_string()).expect("index.json");
        std::fs::write(layout.join("oci-layout"), r#"{"imageLayoutVersion":"1.0.0"}"#).expect("oci-layout");
        let tarball = image.join("image.tar");
        tar(&layout, &tarball, &["oci-layout", "index.json", "blobs"]);
        let tarball = tarball.to_str().expect("UTF-8 path");
        let out = self.ctr(&["images", "import", "--snapshotter", &self.snapshotter, tarball]);
        assert!(out.status.success(), "ctr images import: {}{}", out.stdout_str(), out.stderr_str());
        // The CRI plugin learns of imported images from containerd's events.
        for name in [IMAGE, PAUSE] {
            let deadline = Instant::now() + WAIT;
            loop {
                let status = self.call("ImageStatus", json!({"image": {"image": name}}));
                let tags = status["image"]["repo_tags"].as_array().cloned().unwrap_or_default();
                if tags.iter().any(|t| t == name) {
                    break;
                }
                assert!(Instant::now() < deadline, "the CRI plugin does not know {name}: {status}");
                std::thread::sleep(Duration::from_millis(100));
            }
        }
    }

    /// Where the shim keeps bulwark's state for the CRI's containers.
    fn runc_root(&self) -> PathBuf {
        self.dir.join("runc").join(NS)
    }

    /// `bulwark --root RUNC_ROOT list --format json`: bulwark's own view of
    /// the containers the shim made, as (id, pid, status).
    fn bulwark_list(&self) -> Vec<(String, i64, String)> {
        let mut cmd = Command::new(bulwark());
        cmd.arg("--root").arg(self.runc_root()).args(["list", "--format", "json"]);
        let out = run(cmd);
        assert!(out.status.success(), "bulwark list: {}", out.stderr_str());
        let list: Value = serde_json::from_slice(&out.stdout).unwrap_or_default();
        list.as_array()
            .into_iter()
            .flatten()
            .map(|c| {
                let s = |k: &str| c[k].as_str().unwrap_or_default().to_owned();
                (s("id"), c["pid"].as_i64().unwrap_or_default(), s("status"))
            })
            .collect()
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

    fn listed(&self, args: &[&str]) -> Vec<String> {
        self.ctr_quietly(args)
            .map(|o| String::from_utf8_lossy(&o.stdout).lines().map(str::to_owned).collect())
            .unwrap_or_default()
    }

    /// SIGKILL what `ctr` could not stop: this containerd's shims, found
    /// by the socket their command lines name, and every process under
    /// them; remove their sockets.
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
                let key = format!("{sock}/{NS}/{id}");
                if let Some(hex) = sha256_hex(key.as_bytes()) {
                    let _ = std::fs::remove_file(Path::new("/run/containerd/s").join(hex));
                }
            }
        }
    }

    /// Remove the pods' cgroups (emptied by then), deepest first.
    fn remove_cgroups(&self) {
        let Ok(hierarchies) = std::fs::read_dir("/sys/fs/cgroup") else {
            return;
        };
        let parent = self.cgroup_parent.trim_start_matches('/');
        let mut dirs = Vec::new();
        for h in hierarchies.flatten() {
            let top = h.path().join(parent);
            let mut todo = vec![top];
            while let Some(d) = todo.pop() {
                if let Ok(entries) = std::fs::read_dir(&d) {
                    todo.extend(
                        entries.flatten().filter(|e| e.file_type().is_ok_and(|t| t.is_dir())).map(|e| e.path()),
                    );
                    dirs.push(d);
                }
            }
        }
        dirs.sort_by_key(|d| std::cmp::Reverse(d.components().count()));
        for d in dirs {
            let _ = std::fs::remove_dir(d);
        }
    }
}

impl Drop for Cri {
    fn drop(&mut self) {
        // What a failed test left running, as kubelet removes a pod, then
        // by ctr: its shims and sandboxes outlive containerd.
        for pod in self.pods.take() {
            let _ = self.try_call("StopPodSandbox", &json!({"pod_sandbox_id": pod}));
            let _ = self.try_call("RemovePodSandbox", &json!({"pod_sandbox_id": pod}));
        }
        for id in self.listed(&["task", "ls", "-q"]) {
            let _ = self.ctr_quietly(&["task", "kill", "-s", "SIGKILL", &id]);
            let _ = self.ctr_quietly(&["task", "delete", "--force", &id]);
        }
        for id in self.listed(&["containers", "ls", "-q"]) {
            let _ = self.ctr_quietly(&["containers", "rm", &id]);
        }
        self.kill_shims();
        self.stop_containerd();
        // Snapshots, the sandboxes' /dev/shm and what else is mounted
        // under the test's directory.
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
        self.remove_cgroups();
        let _ = std::fs::remove_dir_all(&self.dir);
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

/// Whether the host process `pid` is gone (or a zombie no one reaped yet
/// is all that is left of it), waiting up to [`WAIT`] for it.
fn gone(pid: i64) -> bool {
    let deadline = Instant::now() + WAIT;
    loop {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        let state = stat.rfind(')').and_then(|i| stat.get(i + 1..)).and_then(|s| s.split_whitespace().next());
        if matches!(state, None | Some("Z")) {
            return true;
        }
        if Instant::now() > deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Poll `f` until it gives `Some`, for up to [`WAIT`].
fn wait_for<T>(what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + WAIT;
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(Instant::now() < deadline, "{what} after {WAIT:?}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn a_pod_with_runtime_class_bulwark_runs_execs_logs_and_stops_through_cri() {
    let Some(cri) = Cri::start() else {
        return;
    };
    let version = cri.call("Version", json!({"version": "v1"}));
    assert_eq!(version["runtime_name"], "containerd", "{version}");
    assert_eq!(version["runtime_api_version"], "v1", "{version}");

    // The pod as kubelet describes one with hostNetwork: true.
    let logs = cri.dir.join("pods/default_web_uid-1");
    std::fs::create_dir_all(&logs).expect("pod log directory");
    let namespaces = json!({"network": NODE, "pid": CONTAINER, "ipc": POD});
    let pod_config = json!({
        "metadata": {"name": "web", "uid": "uid-1", "namespace": "default", "attempt": 0},
        "log_directory": logs.to_str().expect("UTF-8 path"),
        "labels": {"app": "web"},
        "annotations": {"example.com/note": "a pod on bulwark"},
        "linux": {
            "cgroup_parent": cri.cgroup_parent,
            "security_context": {"namespace_options": namespaces},
        },
    });
    let pod = cri.call("RunPodSandbox", json!({"config": pod_config, "runtime_handler": "bulwark"}));
    let pod = pod["pod_sandbox_id"].as_str().expect("pod_sandbox_id").to_owned();
    let status = cri.call("PodSandboxStatus", json!({"pod_sandbox_id": pod}));
    assert_eq!(status["status"]["state"], "SANDBOX_READY", "{status}");
    assert_eq!(status["status"]["runtime_handler"], "bulwark", "{status}");

    // A container that logs, and ends on SIGTERM by its trap.
    let script = "trap 'echo got TERM; exit 0' TERM; echo started; while true; do sleep 0.1; done";
    let container_config = json!({
        "metadata": {"name": "app", "attempt": 0},
        "image": {"image": IMAGE},
        "command": ["sh", "-c", script],
        "envs": [{"key": "GREETING", "value": "hello from the pod"}],
        "log_path": "app/0.log",
        "linux": {"security_context": {"namespace_options": namespaces}},
    });
    let created = cri.call(
        "CreateContainer",
        json!({"pod_sandbox_id": pod, "config": container_config, "sandbox_config": pod_config}),
    );
    let id = created["container_id"].as_str().expect("container_id").to_owned();
    cri.call("StartContainer", json!({"container_id": id}));
    let status = cri.call("ContainerStatus", json!({"container_id": id}));
    assert_eq!(status["status"]["state"], "CONTAINER_RUNNING", "{status}");
    let log_path = PathBuf::from(status["status"]["log_path"].as_str().unwrap_or_default());
    assert_eq!(log_path, logs.join("app/0.log"));
    // CRI's log format: TIMESTAMP STREAM TAG CONTENT, a line each.
    let log_lines = || -> Vec<(String, String, String)> {
        std::fs::read_to_string(&log_path)
            .unwrap_or_default()
            .lines()
            .filter_map(|l| {
                let mut w = l.splitn(4, ' ');
                let (_time, stream, tag, content) = (w.next()?, w.next()?, w.next()?, w.next()?);
                Some((stream.to_owned(), tag.to_owned(), content.to_owned()))
            })
            .collect()
    };
    let started = ("stdout".to_owned(), "F".to_owned(), "started".to_owned());
    wait_for("no 'started' in the container's log", || log_lines().contains(&started).then_some(()));

    // bulwark made both: the pod's sandbox (pause) container and the app.
    let listed = cri.bulwark_list();
    let entry = |want: &str| listed.iter().find(|(i, _, _)| i == want).cloned();
    let (pause_pid, app_pid) = match (entry(&pod), entry(&id)) {
        (Some((_, p, ps)), Some((_, a, s))) if ps == "running" && s == "running" => (p, a),
        _ => panic!("bulwark list lacks the pod {pod} or container {id} running: {listed:?}"),
    };
    for pid in [pause_pid, app_pid] {
        let exe = std::fs::read_link(format!("/proc/{pid}/exe")).unwrap_or_default();
        assert_eq!(exe.file_name(), bulwark().file_name(), "pid {pid} is bulwark's sandbox");
    }

    let exec = |cmd: &[&str]| cri.call("ExecSync", json!({"container_id": id, "cmd": cmd, "timeout": 30}));
    let hi = exec(&["echo", "hi"]);
    assert_eq!((hi["stdout"].as_str(), hi["exit_code"].as_i64()), (Some("hi\n"), Some(0)), "{hi}");
    let failing = exec(&["sh", "-c", "echo oops >&2; exit 7"]);
    assert_eq!((failing["stderr"].as_str(), failing["exit_code"].as_i64()), (Some("oops\n"), Some(7)), "{failing}");
    let env = exec(&["sh", "-c", "echo $GREETING"]);
    assert_eq!(env["stdout"], "hello from the pod\n", "{env}");
    // The kernel the container sees is bulwark's sentry.
    let kernel = exec(&["cat", "/proc/version"]);
    assert!(kernel["stdout"].as_str().unwrap_or_default().contains("(bulwark)"), "{kernel}");
    // The files the CRI plugin made for the pod, bind-mounted over the
    // image's (which has no /etc), and the node's hostname, as for a pod
    // on the node's network.
    let sandbox_files = cri.dir.join("root/io.containerd.grpc.v1.cri/sandboxes").join(&pod);
    for file in ["hosts", "resolv.conf", "hostname"] {
        let want = std::fs::read_to_string(sandbox_files.join(file)).expect("the pod's file");
        let got = exec(&["cat", &format!("/etc/{file}")]);
        assert_eq!(got["stdout"].as_str(), Some(want.as_str()), "/etc/{file}: {got}");
    }
    let node = nix::unistd::gethostname().ok().and_then(|h| h.into_string().ok()).unwrap_or_default();
    let hostname = exec(&["cat", "/proc/sys/kernel/hostname"]);
    assert_eq!(hostname["stdout"].as_str(), Some(format!("{node}\n").as_str()), "{hostname}");

    // Graceful: SIGTERM reaches the trap well before the grace period ends.
    let before = Instant::now();
    cri.call("StopContainer", json!({"container_id": id, "timeout": 30}));
    let took = before.elapsed();
    let status = cri.call("ContainerStatus", json!({"container_id": id}));
    assert_eq!(status["status"]["state"], "CONTAINER_EXITED", "{status}");
    assert_eq!(status["status"]["exit_code"], 0, "the trap's exit status: {status}");
    assert_eq!(status["status"]["reason"], "Completed", "{status}");
    assert!(took < Duration::from_secs(20), "StopContainer took {took:?}: the trap was not reached");
    let term = ("stdout".to_owned(), "F".to_owned(), "got TERM".to_owned());
    wait_for("no 'got TERM' in the container's log", || log_lines().contains(&term).then_some(()));
    assert!(gone(app_pid), "the container's sandbox (pid {app_pid}) outlived StopContainer");

    cri.call("RemoveContainer", json!({"container_id": id}));
    assert!(cri.try_call("ContainerStatus", &json!({"container_id": id})).is_err(), "the container is removed");
    assert!(!cri.runc_root().join(&id).exists(), "bulwark's state of the container is deleted");

    cri.call("StopPodSandbox", json!({"pod_sandbox_id": pod}));
    let status = cri.call("PodSandboxStatus", json!({"pod_sandbox_id": pod}));
    assert_eq!(status["status"]["state"], "SANDBOX_NOTREADY", "{status}");
    assert!(gone(pause_pid), "the pod's sandbox (pid {pause_pid}) outlived StopPodSandbox");
    cri.call("RemovePodSandbox", json!({"pod_sandbox_id": pod}));
    assert!(cri.try_call("PodSandboxStatus", &json!({"pod_sandbox_id": pod})).is_err(), "the pod is removed");
    assert!(!cri.runc_root().join(&pod).exists(), "bulwark's state of the pod is deleted");
    assert_eq!(cri.bulwark_list(), Vec::new(), "bulwark has no container left");
}
