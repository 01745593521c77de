//! The OCI runtime with real processes: bundles with a busybox rootfs,
//! driven through `bulwark create|start|state|kill|delete|run|...` as
//! runc's clients drive runc, each verb a process of its own. They need
//! root (the sandbox's namespaces and a rootfs served by the gofer as
//! root); without it each test says so and passes.

mod common;

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{bulwark, fresh_dir, run, Output};

/// The busybox applets the rootfs gets as symlinks.
const APPLETS: &[&str] = &["sh", "echo", "cat", "sleep", "id", "hostname", "ls", "pwd", "true", "httpd", "wget"];

/// How long a container may take to get where a test waits for it.
const WAIT: Duration = Duration::from_secs(30);

fn root_or_skip(test: &str) -> bool {
    if nix::unistd::geteuid().is_root() {
        return true;
    }
    println!("skipping {test}: the OCI runtime's tests need root");
    false
}

/// A bundle (rootfs with busybox, config.json) and a state root of its own.
struct Bundle {
    dir: PathBuf,
    root: PathBuf,
}

impl Bundle {
    /// A bundle named `name` running `args`; `edit` changes the config
    /// before it is written.
    fn new(name: &str, args: &[&str], edit: impl FnOnce(&mut serde_json::Value)) -> Bundle {
        let dir = fresh_dir(&format!("oci-{name}"));
        let bin = dir.join("rootfs/bin");
        std::fs::create_dir_all(&bin).expect("rootfs/bin");
        std::fs::copy("/bin/busybox", bin.join("busybox")).expect("copy /bin/busybox (is busybox installed?)");
        for applet in APPLETS {
            std::os::unix::fs::symlink("busybox", bin.join(applet)).expect("applet symlink");
        }
        std::fs::create_dir_all(dir.join("data")).expect("data dir");
        let mut config = serde_json::json!({
            "ociVersion": "1.0.2",
            "process": {
                "terminal": false,
                "user": {"uid": 0, "gid": 0},
                "args": args,
                "env": ["PATH=/bin", "TERM=dumb"],
                "cwd": "/"
            },
            "root": {"path": "rootfs", "readonly": true},
            "hostname": "oci-test",
            "mounts": [
                {"destination": "/proc", "type": "proc", "source": "proc"},
                {"destination": "/dev", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "mode=755"]},
                {"destination": "/data", "type": "bind", "source": dir.join("data"), "options": ["rbind", "rw"]}
            ],
            "linux": {"namespaces": [{"type": "pid"}, {"type": "network"}, {"type": "ipc"}, {"type": "uts"}, {"type": "mount"}]}
        });
        edit(&mut config);
        std::fs::write(dir.join("config.json"), config.to_string()).expect("write config.json");
        let root = dir.join("state");
        Bundle { dir, root }
    }

    /// `bulwark --root ROOT ARGS...`, output collected.
    fn oci(&self, args: &[&str]) -> Output {
        let mut cmd = Command::new(bulwark());
        cmd.arg("--root").arg(&self.root).args(args).current_dir(&self.dir);
        run(cmd)
    }

    /// `bulwark --root ROOT create --bundle DIR ID`, its stdout and stderr
    /// (which the sandbox inherits) going to `ID.out` in the bundle.
    fn create(&self, id: &str) -> Output {
        let out = File::create(self.dir.join(format!("{id}.out"))).expect("output file");
        let err = out.try_clone().expect("dup");
        let mut cmd = Command::new(bulwark());
        cmd.arg("--root").arg(&self.root).args(["create", "--bundle"]).arg(&self.dir).arg(id);
        cmd.stdin(Stdio::null()).stdout(out).stderr(err);
        let status = cmd.status().expect("run bulwark create");
        Output {
            stdout: Vec::new(),
            stderr: std::fs::read(self.dir.join(format!("{id}.out"))).unwrap_or_default(),
            status,
        }
    }

    /// What the container `id` has written to its stdout and stderr.
    fn output(&self, id: &str) -> String {
        std::fs::read_to_string(self.dir.join(format!("{id}.out"))).unwrap_or_default()
    }

    fn state(&self, id: &str) -> serde_json::Value {
        let out = self.oci(&["state", id]);
        assert!(out.status.success(), "state {id} failed: {}", out.stderr_str());
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("state is not JSON ({e}): {}", out.stdout_str()))
    }

    /// Wait until `id`'s status is `want`.
    fn wait_for_status(&self, id: &str, want: &str) -> serde_json::Value {
        let deadline = Instant::now() + WAIT;
        loop {
            let st = self.state(id);
            if st["status"] == want {
                return st;
            }
            assert!(Instant::now() < deadline, "{id} never got {want}: {st}");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn data(&self, name: &str) -> PathBuf {
        self.dir.join("data").join(name)
    }
}

impl Drop for Bundle {
    fn drop(&mut self) {
        // Whatever a failed test left running.
        if let Ok(ids) = std::fs::read_dir(&self.root) {
            for id in ids.flatten() {
                let mut cmd = Command::new(bulwark());
                cmd.arg("--root").arg(&self.root).args(["delete", "--force"]).arg(id.file_name());
                let _ = cmd.stdout(Stdio::null()).stderr(Stdio::null()).status();
            }
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Wait until `path` exists; its contents.
fn wait_for_file(path: &Path) -> String {
    let deadline = Instant::now() + WAIT;
    while !path.exists() {
        assert!(Instant::now() < deadline, "{} never appeared", path.display());
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(50));
    std::fs::read_to_string(path).unwrap_or_default()
}

fn pid_of(state: &serde_json::Value) -> i32 {
    state["pid"].as_i64().and_then(|p| i32::try_from(p).ok()).unwrap_or(0)
}

#[test]
fn lifecycle_create_start_kill_delete_as_runc() {
    if !root_or_skip("lifecycle_create_start_kill_delete_as_runc") {
        return;
    }
    let script = "trap 'echo got-term > /data/term; exit 0' TERM; echo started > /data/started; echo to-stdout; \
                  while true; do sleep 0.1; done";
    let b = Bundle::new("lifecycle", &["sh", "-c", script], |_| {});

    let created = b.create("c1");
    assert!(created.status.success(), "create failed: {}", created.stderr_str());
    let st = b.state("c1");
    assert_eq!((st["status"].as_str(), st["id"].as_str()), (Some("created"), Some("c1")));
    let pid = pid_of(&st);
    assert!(pid > 0 && Path::new(&format!("/proc/{pid}")).exists(), "no live pid in {st}");
    assert_eq!(st["bundle"].as_str(), b.dir.canonicalize().ok().as_deref().and_then(Path::to_str));
    std::thread::sleep(Duration::from_millis(200));
    assert!(!b.data("started").exists(), "the program ran before start");

    let started = b.oci(&["start", "c1"]);
    assert!(started.status.success(), "start failed: {}", started.stderr_str());
    assert_eq!(wait_for_file(&b.data("started")), "started\n");
    let st = b.state("c1");
    assert_eq!((st["status"].as_str(), pid_of(&st)), (Some("running"), pid));
    assert!(b.output("c1").contains("to-stdout"), "stdout: {:?}", b.output("c1"));
    let again = b.oci(&["start", "c1"]);
    assert_eq!(again.status.code(), Some(1), "a second start succeeded");

    let killed = b.oci(&["kill", "c1"]);
    assert!(killed.status.success(), "kill failed: {}", killed.stderr_str());
    assert_eq!(wait_for_file(&b.data("term")), "got-term\n");
    let st = b.wait_for_status("c1", "stopped");
    assert_eq!(pid_of(&st), 0);

    let deleted = b.oci(&["delete", "c1"]);
    assert!(deleted.status.success(), "delete failed: {}", deleted.stderr_str());
    let gone = b.oci(&["state", "c1"]);
    assert_eq!(gone.status.code(), Some(1));
    assert!(gone.stderr_str().contains("does not exist"), "stderr: {}", gone.stderr_str());
    assert!(!b.root.join("c1").exists(), "state directory left behind");
}

#[test]
fn delete_of_a_running_container_needs_force_and_force_kills_it() {
    if !root_or_skip("delete_of_a_running_container_needs_force_and_force_kills_it") {
        return;
    }
    let b = Bundle::new("force", &["sleep", "1000"], |_| {});
    assert!(b.create("f1").status.success(), "create failed: {}", b.output("f1"));
    assert!(b.oci(&["start", "f1"]).status.success());
    let pid = pid_of(&b.wait_for_status("f1", "running"));

    let refused = b.oci(&["delete", "f1"]);
    let forced = b.oci(&["delete", "--force", "f1"]);

    assert_eq!(refused.status.code(), Some(1), "delete without --force succeeded");
    assert!(refused.stderr_str().contains("not stopped"), "stderr: {}", refused.stderr_str());
    assert!(forced.status.success(), "delete --force failed: {}", forced.stderr_str());
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    assert!(stat.is_empty() || stat.contains(") Z "), "pid {pid} still runs: {stat}");
    assert_eq!(b.oci(&["state", "f1"]).status.code(), Some(1));
    assert_eq!(b.oci(&["delete", "--force", "f1"]).status.code(), Some(0), "delete --force of a gone id fails");
    assert_eq!(b.oci(&["delete", "f1"]).status.code(), Some(1), "delete of an unknown id succeeds");
}

#[test]
fn run_attached_prints_the_output_and_exits_with_the_program_status() {
    if !root_or_skip("run_attached_prints_the_output_and_exits_with_the_program_status") {
        return;
    }
    let b = Bundle::new("run", &["sh", "-c", "echo out; echo err >&2; exit 7"], |_| {});

    let out = b.oci(&["run", "--bundle", b.dir.to_str().unwrap_or("."), "r1"]);

    assert_eq!((out.stdout_str().as_str(), out.stderr_str().as_str(), out.status.code()), ("out\n", "err\n", Some(7)));
    assert_eq!(b.oci(&["state", "r1"]).status.code(), Some(1), "run left its container behind");
}

#[test]
fn hostname_env_cwd_and_args_come_from_the_config() {
    if !root_or_skip("hostname_env_cwd_and_args_come_from_the_config") {
        return;
    }
    let script = "hostname; echo \"$FOO\"; pwd; echo \"$# [$1] [$2]\"; id";
    let b = Bundle::new("process", &["sh", "-c", script, "sh", "a", "b c"], |c| {
        c["hostname"] = "box-7".into();
        c["process"]["env"] = serde_json::json!(["PATH=/bin", "FOO=bar baz"]);
        c["process"]["cwd"] = "/bin".into();
        c["process"]["user"] = serde_json::json!({"uid": 1000, "gid": 100});
    });

    let out = b.oci(&["run", "--bundle", b.dir.to_str().unwrap_or("."), "p1"]);

    assert_eq!(out.status.code(), Some(0), "stderr: {}", out.stderr_str());
    let lines: Vec<&str> = out.stdout.split(|&c| c == b'\n').map(|l| std::str::from_utf8(l).unwrap_or("")).collect();
    assert_eq!(lines[..4], ["box-7", "bar baz", "/bin", "2 [a] [b c]"]);
    assert!(lines[4].starts_with("uid=1000 gid=100"), "id: {}", lines[4]);
}

#[test]
fn a_readonly_root_refuses_writes_and_a_writable_one_writes_the_rootfs() {
    if !root_or_skip("a_readonly_root_refuses_writes_and_a_writable_one_writes_the_rootfs") {
        return;
    }
    let ro = Bundle::new("ro", &["sh", "-c", "echo x > /newfile"], |_| {});
    let rw = Bundle::new("rw", &["sh", "-c", "echo x > /newfile"], |c| c["root"]["readonly"] = false.into());

    let ro_out = ro.oci(&["run", "--bundle", ro.dir.to_str().unwrap_or("."), "ro1"]);
    let rw_out = rw.oci(&["run", "--bundle", rw.dir.to_str().unwrap_or("."), "rw1"]);

    assert_ne!(ro_out.status.code(), Some(0));
    assert!(ro_out.stderr_str().contains("Read-only file system"), "stderr: {}", ro_out.stderr_str());
    assert!(!ro.dir.join("rootfs/newfile").exists());
    assert_eq!(rw_out.status.code(), Some(0), "stderr: {}", rw_out.stderr_str());
    assert_eq!(std::fs::read_to_string(rw.dir.join("rootfs/newfile")).unwrap_or_default(), "x\n");
}

#[test]
fn a_duplicate_id_is_refused() {
    if !root_or_skip("a_duplicate_id_is_refused") {
        return;
    }
    let b = Bundle::new("dup", &["true"], |_| {});
    assert!(b.create("d1").status.success(), "create failed: {}", b.output("d1"));

    let second = b.oci(&["create", "--bundle", b.dir.to_str().unwrap_or("."), "d1"]);

    assert_eq!(second.status.code(), Some(1));
    assert!(second.stderr_str().contains("container with id exists: d1"), "stderr: {}", second.stderr_str());
    assert_eq!(b.state("d1")["status"], "created", "the first container was disturbed");
}

#[test]
fn a_missing_bundle_or_rootfs_is_an_error_naming_it() {
    if !root_or_skip("a_missing_bundle_or_rootfs_is_an_error_naming_it") {
        return;
    }
    let b = Bundle::new("missing", &["true"], |c| c["root"]["path"] = "no-such-rootfs".into());

    let no_bundle = b.oci(&["create", "--bundle", "/nonexistent/bundle", "m1"]);
    let no_rootfs = b.oci(&["create", "--bundle", b.dir.to_str().unwrap_or("."), "m2"]);

    assert_eq!((no_bundle.status.code(), no_rootfs.status.code()), (Some(1), Some(1)));
    assert!(no_bundle.stderr_str().contains("/nonexistent/bundle"), "stderr: {}", no_bundle.stderr_str());
    assert!(no_rootfs.stderr_str().contains("no-such-rootfs"), "stderr: {}", no_rootfs.stderr_str());
    assert!(!b.root.join("m2").exists(), "a failed create left its state directory");
}

#[test]
fn a_malformed_config_is_an_error_naming_config_json_in_json_to_the_log() {
    if !root_or_skip("a_malformed_config_is_an_error_naming_config_json_in_json_to_the_log") {
        return;
    }
    let b = Bundle::new("malformed", &["true"], |_| {});
    std::fs::write(b.dir.join("config.json"), "{\"ociVersion\": \"1.0.2\", \"process\": ").expect("write");
    let log = b.dir.join("runtime.log");

    let out = b.oci(&[
        "--log",
        log.to_str().unwrap_or("log"),
        "--log-format",
        "json",
        "create",
        "--bundle",
        b.dir.to_str().unwrap_or("."),
        "x1",
    ]);

    assert_eq!(out.status.code(), Some(1));
    assert!(out.stderr_str().contains("config.json"), "stderr: {}", out.stderr_str());
    let text = std::fs::read_to_string(&log).unwrap_or_default();
    let last: serde_json::Value = serde_json::from_str(text.lines().last().unwrap_or(""))
        .unwrap_or_else(|e| panic!("log line is not JSON ({e}): {text}"));
    assert_eq!(last["level"], "error");
    assert!(last["msg"].as_str().is_some_and(|m| m.contains("config.json")), "{last}");
    assert!(last["time"].as_str().is_some_and(|t| t.ends_with('Z')), "{last}");
}

#[test]
fn global_flags_go_before_the_verb_as_podman_passes_them() {
    if !root_or_skip("global_flags_go_before_the_verb_as_podman_passes_them") {
        return;
    }
    let b = Bundle::new("globals", &["true"], |_| {});
    let log = b.dir.join("runtime.log");
    let mut cmd = Command::new(bulwark());
    cmd.arg("--root").arg(&b.root).arg("--log").arg(&log);
    cmd.args(["--log-format=json", "--systemd-cgroup", "--debug", "state", "nope"]);

    let out = run(cmd);

    assert_eq!(out.status.code(), Some(1));
    assert!(std::fs::read_to_string(&log).unwrap_or_default().contains("\"level\":\"debug\""), "no debug line");
}

#[test]
fn spec_writes_a_config_once_and_features_and_list_print_json() {
    let dir = fresh_dir("oci-spec");
    let mut spec = Command::new(bulwark());
    spec.arg("spec").current_dir(&dir);
    let first = run(spec);
    let mut again = Command::new(bulwark());
    again.arg("spec").current_dir(&dir);
    let second = run(again);
    let mut feat = Command::new(bulwark());
    feat.arg("features");
    let features = run(feat);
    let mut list = Command::new(bulwark());
    list.arg("--root").arg(dir.join("no-state")).args(["list", "--format", "json"]);
    let listed = run(list);

    assert!(first.status.success(), "spec failed: {}", first.stderr_str());
    let config: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("config.json")).unwrap_or_default()).expect("JSON");
    assert_eq!((config["root"]["path"].as_str(), config["process"]["args"][0].as_str()), (Some("rootfs"), Some("sh")));
    assert_eq!(second.status.code(), Some(1), "spec overwrote config.json");
    let f: serde_json::Value = serde_json::from_slice(&features.stdout).expect("features JSON");
    assert!(f["ociVersionMax"].is_string() && f["linux"]["namespaces"].is_array(), "{f}");
    assert_eq!(listed.stdout_str().trim(), "[]");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn checkpoint_is_not_supported_and_says_so() {
    let out = run({
        let mut c = Command::new(bulwark());
        c.args(["--root", "/nonexistent", "checkpoint", "x"]);
        c
    });

    assert_eq!(out.status.code(), Some(1));
    assert!(out.stderr_str().contains("not supported yet"), "stderr: {}", out.stderr_str());
}

/// The counter the looping container writes to /data/n, as a number.
fn counter(b: &Bundle) -> u64 {
    std::fs::read_to_string(b.data("n")).unwrap_or_default().trim().parse().unwrap_or(0)
}

#[test]
fn pause_stops_the_program_until_resume_and_events_and_update_see_the_sandbox() {
    if !root_or_skip("pause_stops_the_program_until_resume_and_events_and_update_see_the_sandbox") {
        return;
    }
    let b = Bundle::new("pause", &["sh", "-c", "i=0; while true; do i=$((i+1)); echo $i > /data/n; done"], |c| {
        c["linux"]["resources"] = serde_json::json!({"pids": {"limit": 50}});
    });
    assert!(b.create("p1").status.success(), "create failed: {}", b.output("p1"));
    let early = b.oci(&["pause", "p1"]);
    assert!(b.oci(&["start", "p1"]).status.success());
    b.wait_for_status("p1", "running");
    let deadline = Instant::now() + WAIT;
    // Enough iterations for some clock ticks of CPU time.
    while counter(&b) < 300 {
        assert!(Instant::now() < deadline, "the loop never ran: {}", b.output("p1"));
        std::thread::sleep(Duration::from_millis(20));
    }

    let paused = b.oci(&["pause", "p1"]);
    let state_paused = b.state("p1");
    // Give a write that was under way time to land, then watch.
    std::thread::sleep(Duration::from_millis(100));
    let frozen_at = counter(&b);
    std::thread::sleep(Duration::from_millis(400));
    let still = counter(&b);
    let again = b.oci(&["pause", "p1"]);
    let exec_paused = b.oci(&["exec", "p1", "true"]);
    let events = b.oci(&["events", "--stats", "p1"]);
    let update = b.oci(&["update", "--pids-limit", "7", "--memory", "64m", "p1"]);
    let events_updated = b.oci(&["events", "--stats", "p1"]);
    let resumed = b.oci(&["resume", "p1"]);
    let state_resumed = b.state("p1");
    let deadline = Instant::now() + WAIT;
    while counter(&b) <= still {
        assert!(Instant::now() < deadline, "the loop never ran again after resume: {}", b.output("p1"));
        std::thread::sleep(Duration::from_millis(20));
    }
    let resume_twice = b.oci(&["resume", "p1"]);
    let delete_paused = {
        assert!(b.oci(&["pause", "p1"]).status.success());
        b.oci(&["delete", "p1"])
    };
    let forced = b.oci(&["delete", "--force", "p1"]);

    assert!(!early.status.success() && early.stderr_str().contains("not running"), "{}", early.stderr_str());
    assert!(paused.status.success(), "pause failed: {}", paused.stderr_str());
    assert_eq!(state_paused["status"], "paused");
    assert_eq!(frozen_at, still, "the program ran while paused");
    assert!(!again.status.success() && again.stderr_str().contains("not running"), "{}", again.stderr_str());
    assert!(!exec_paused.status.success(), "exec into a paused container ran");
    assert!(events.status.success(), "events failed: {}", events.stderr_str());
    let ev: serde_json::Value = serde_json::from_slice(&events.stdout).expect("events JSON");
    assert_eq!((ev["type"].as_str(), ev["id"].as_str()), (Some("stats"), Some("p1")), "{ev}");
    assert!(ev["data"]["pids"]["current"].as_u64().is_some_and(|n| n >= 1), "{ev}");
    assert_eq!(ev["data"]["pids"]["limit"], 50, "{ev}");
    assert!(ev["data"]["memory"]["usage"]["usage"].as_u64().is_some_and(|n| n > 0), "{ev}");
    assert!(ev["data"]["cpu"]["usage"]["total"].as_u64().is_some_and(|n| n > 0), "{ev}");
    assert!(update.status.success(), "update failed: {}", update.stderr_str());
    let ev: serde_json::Value = serde_json::from_slice(&events_updated.stdout).expect("events JSON");
    assert_eq!(
        (ev["data"]["pids"]["limit"].as_u64(), ev["data"]["memory"]["usage"]["limit"].as_u64()),
        (Some(7), Some(64 << 20))
    );
    assert!(resumed.status.success(), "resume failed: {}", resumed.stderr_str());
    assert_eq!(state_resumed["status"], "running");
    assert!(!resume_twice.status.success() && resume_twice.stderr_str().contains("not paused"));
    assert!(
        !delete_paused.status.success() && delete_paused.stderr_str().contains("paused"),
        "{}",
        delete_paused.stderr_str()
    );
    assert!(forced.status.success(), "delete --force failed: {}", forced.stderr_str());
    assert!(!b.root.join("p1").exists());
}

/// A hook that writes its argv[0], $K and the state it is given to
/// `dir/NAME.json` (and fails with `fail`).
fn recording_hook(dir: &Path, name: &str, fail: bool) -> serde_json::Value {
    let script = format!("{{ echo \"$0 $K\"; cat; }} > {}/{name}.json; exit {}", dir.display(), u8::from(fail) * 3);
    serde_json::json!({"path": "/bin/sh", "args": [format!("hook-{name}"), "-c", script], "env": ["K=v"], "timeout": 10})
}

/// What the hook `name` recorded: its first line and the state.
fn recorded(dir: &Path, name: &str) -> Option<(String, serde_json::Value)> {
    let text = std::fs::read_to_string(dir.join(format!("{name}.json"))).ok()?;
    let (first, state) = text.split_once('\n')?;
    Some((first.to_owned(), serde_json::from_str(state).ok()?))
}

#[test]
fn hooks_run_at_their_points_of_the_lifecycle_with_the_state_on_stdin() {
    if !root_or_skip("hooks_run_at_their_points_of_the_lifecycle_with_the_state_on_stdin") {
        return;
    }
    let rec = fresh_dir("oci-hooks-record");
    let kinds = ["prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop"];
    let b = Bundle::new("hooks", &["sleep", "1000"], |c| {
        let mut hooks = serde_json::Map::new();
        for k in kinds {
            // A failing poststart only warns.
            hooks.insert(k.into(), serde_json::json!([recording_hook(&rec, k, k == "poststart")]));
        }
        c["hooks"] = serde_json::Value::Object(hooks);
        c["annotations"] = serde_json::json!({"org.test": "yes"});
    });

    assert!(b.create("h1").status.success(), "create failed: {}", b.output("h1"));
    let pid = pid_of(&b.state("h1"));
    let after_create: Vec<bool> = kinds.iter().map(|k| recorded(&rec, k).is_some()).collect();
    let started = b.oci(&["start", "h1"]);
    let after_start: Vec<bool> = kinds.iter().map(|k| recorded(&rec, k).is_some()).collect();
    let deleted = b.oci(&["delete", "--force", "h1"]);

    assert_eq!(after_create, [true, true, true, false, false, false]);
    assert!(started.status.success(), "a failing poststart hook must not fail start: {}", started.stderr_str());
    assert_eq!(after_start, [true, true, true, true, true, false]);
    assert!(deleted.status.success(), "delete: {}", deleted.stderr_str());
    for (kind, status) in kinds.iter().zip(["creating", "creating", "creating", "created", "running", "stopped"]) {
        let (first, st) = recorded(&rec, kind).unwrap_or_else(|| panic!("{kind} did not run"));
        assert_eq!(first, format!("hook-{kind} v"), "{kind}: argv[0] and env");
        assert_eq!(st["status"], status, "{kind}: {st}");
        assert_eq!((st["id"].as_str(), st["annotations"]["org.test"].as_str()), (Some("h1"), Some("yes")), "{st}");
        assert_eq!(st["bundle"].as_str().map(PathBuf::from), Some(b.dir.canonicalize().expect("bundle")));
        let want_pid = if *kind == "poststop" { 0 } else { pid };
        assert_eq!(st["pid"].as_i64(), Some(i64::from(want_pid)), "{kind}: {st}");
    }
    let _ = std::fs::remove_dir_all(&rec);
}

#[test]
fn a_failing_or_hanging_create_hook_fails_create_and_leaves_nothing() {
    if !root_or_skip("a_failing_or_hanging_create_hook_fails_create_and_leaves_nothing") {
        return;
    }
    let rec = fresh_dir("oci-hooks-fail");
    let failing = Bundle::new("hook-fail", &["sleep", "1000"], |c| {
        c["hooks"] = serde_json::json!({
            "createRuntime": [recording_hook(&rec, "createRuntime", true)],
            "poststop": [recording_hook(&rec, "poststop", false)]
        });
    });
    let hanging = Bundle::new("hook-hang", &["sleep", "1000"], |c| {
        c["hooks"] = serde_json::json!({"prestart": [{"path": "/bin/sleep", "args": ["sleep", "100"], "timeout": 1}]});
    });

    let failed = failing.create("f1");
    let t0 = Instant::now();
    let hung = hanging.create("g1");
    let hung_for = t0.elapsed();

    assert!(!failed.status.success());
    assert!(failed.stderr_str().contains("createRuntime hook #0"), "{}", failed.stderr_str());
    assert!(recorded(&rec, "poststop").is_some(), "poststop did not run after the failed create");
    assert!(!failing.root.join("f1").exists(), "state left behind");
    assert!(!hung.status.success());
    assert!(hung.stderr_str().contains("timed out after 1s"), "{}", hung.stderr_str());
    assert!(hung_for < Duration::from_secs(20), "the timeout was not kept: {hung_for:?}");
    assert!(!hanging.root.join("g1").exists(), "state left behind");
    let _ = std::fs::remove_dir_all(&rec);
}

#[test]
fn rlimits_groups_oom_score_adj_and_masked_and_readonly_paths_are_honoured() {
    if !root_or_skip("rlimits_groups_oom_score_adj_and_masked_and_readonly_paths_are_honoured") {
        return;
    }
    let script = "ulimit -n; ulimit -Hn; id -G; cat /proc/self/oom_score_adj; wc -c < /etc/hidden; \
                  echo x > /data/ro || echo refused; echo done";
    let b = Bundle::new("procattrs", &["sh", "-c", script], |c| {
        c["process"]["user"] = serde_json::json!({"uid": 1000, "gid": 1000, "additionalGids": [1000, 10, 20]});
        c["process"]["rlimits"] = serde_json::json!([{"type": "RLIMIT_NOFILE", "soft": 64, "hard": 128}]);
        c["process"]["oomScoreAdj"] = serde_json::json!(300);
        c["linux"]["maskedPaths"] = serde_json::json!(["/etc/hidden", "/proc/kcore"]);
        c["linux"]["readonlyPaths"] = serde_json::json!(["/data"]);
    });
    std::fs::create_dir_all(b.dir.join("rootfs/etc")).expect("etc");
    std::fs::write(b.dir.join("rootfs/etc/hidden"), "secret\n").expect("hidden");
    std::os::unix::fs::symlink("busybox", b.dir.join("rootfs/bin/wc")).expect("wc");
    // Writable by uid 1000 but for the read-only path.
    std::fs::set_permissions(b.data(""), std::os::unix::fs::PermissionsExt::from_mode(0o777)).expect("chmod");

    let out = b.oci(&["run", "r1"]);

    assert_eq!(out.stdout_str(), "64\n128\n1000 10 20\n300\n0\nrefused\ndone\n", "stderr: {}", out.stderr_str());
    assert!(out.stderr_str().contains("Read-only file system"), "stderr: {}", out.stderr_str());
}

#[test]
fn a_soft_rlimit_above_its_hard_one_is_a_config_error() {
    let b = Bundle::new("badrlimit", &["true"], |c| {
        c["process"]["rlimits"] = serde_json::json!([{"type": "RLIMIT_NOFILE", "soft": 10, "hard": 5}]);
    });

    let out = b.oci(&["run", "bad1"]);

    assert_eq!(out.status.code(), Some(1));
    assert!(out.stderr_str().contains("soft limit of RLIMIT_NOFILE is above its hard limit"), "{}", out.stderr_str());
}

/// The mount point of the cgroup v1 hierarchy holding `controller`, if
/// one is mounted.
fn v1_hierarchy(controller: &str) -> Option<PathBuf> {
    let info = std::fs::read_to_string("/proc/self/mountinfo").ok()?;
    info.lines().find_map(|l| {
        let (left, right) = l.split_once(" - ")?;
        let mut r = right.split_whitespace();
        let (fstype, _, opts) = (r.next()?, r.next()?, r.next()?);
        let mount = left.split_whitespace().nth(4)?;
        (fstype == "cgroup" && opts.split(',').any(|o| o == controller)).then(|| PathBuf::from(mount))
    })
}

#[test]
fn the_sandbox_lives_in_the_configured_cgroup_with_its_limits_until_delete() {
    if !root_or_skip("the_sandbox_lives_in_the_configured_cgroup_with_its_limits_until_delete") {
        return;
    }
    let (Some(memory), Some(pids)) = (v1_hierarchy("memory"), v1_hierarchy("pids")) else {
        println!("skipping: no cgroup v1 memory and pids hierarchies here");
        return;
    };
    let path = format!("bulwark-test/cg-{}", std::process::id());
    let b = Bundle::new("cgroup", &["sleep", "1000"], |c| {
        c["linux"]["cgroupsPath"] = serde_json::json!(format!("/{path}"));
        c["linux"]["resources"] = serde_json::json!({"memory": {"limit": 64 << 20}, "pids": {"limit": 50}});
    });
    let read = |root: &Path, file: &str| std::fs::read_to_string(root.join(&path).join(file)).unwrap_or_default();

    assert!(b.create("cg1").status.success(), "create failed: {}", b.output("cg1"));
    let pid = pid_of(&b.state("cg1"));
    let procs = read(&memory, "cgroup.procs");
    let mem_limit = read(&memory, "memory.limit_in_bytes");
    let pids_max = read(&pids, "pids.max");
    let own = std::fs::read_to_string("/proc/self/cgroup").unwrap_or_default();
    assert!(b.oci(&["start", "cg1"]).status.success());
    let update = b.oci(&["update", "--memory", "128m", "cg1"]);
    let updated = read(&memory, "memory.limit_in_bytes");
    let deleted = b.oci(&["delete", "--force", "cg1"]);

    assert!(procs.lines().any(|l| l.trim() == pid.to_string()), "sandbox {pid} not in {procs:?}");
    assert!(procs.lines().count() >= 2, "the gofer is not in the cgroup either: {procs:?}");
    assert_eq!(mem_limit.trim(), ((64u64 << 20) + (64 << 20)).to_string());
    assert_eq!(pids_max.trim(), (50 * 2 + 32).to_string());
    assert!(!own.contains(&path), "the test process was left in the container's cgroup");
    assert!(update.status.success(), "update: {}", update.stderr_str());
    assert_eq!(updated.trim(), ((128u64 << 20) + (64 << 20)).to_string());
    assert!(deleted.status.success(), "delete: {}", deleted.stderr_str());
    assert!(!memory.join(&path).exists() && !pids.join(&path).exists(), "cgroup left behind");
    let _ = std::fs::remove_dir(memory.join("bulwark-test"));
    let _ = std::fs::remove_dir(pids.join("bulwark-test"));
}

#[test]
fn ps_lists_the_sandbox_and_its_descendants() {
    if !root_or_skip("ps_lists_the_sandbox_and_its_descendants") {
        return;
    }
    let b = Bundle::new("ps", &["sleep", "1000"], |_| {});
    assert!(b.create("ps1").status.success(), "create failed: {}", b.output("ps1"));
    assert!(b.oci(&["start", "ps1"]).status.success());
    let pid = pid_of(&b.wait_for_status("ps1", "running"));

    let out = b.oci(&["ps", "--format", "json", "ps1"]);

    assert!(out.status.success(), "ps failed: {}", out.stderr_str());
    let pids: Vec<i32> = serde_json::from_slice(&out.stdout).expect("a JSON array of pids");
    assert_eq!(pids.first(), Some(&pid));
    assert!(pids.len() >= 2, "no descendants: {pids:?}");
}

#[test]
fn a_terminal_s_master_goes_to_the_console_socket_and_carries_the_output() {
    use std::io::Read;
    use std::os::fd::OwnedFd;
    use std::os::unix::net::UnixListener;

    if !root_or_skip("a_terminal_s_master_goes_to_the_console_socket_and_carries_the_output") {
        return;
    }
    let b = Bundle::new("tty", &["sh", "-c", "echo on-the-terminal"], |c| c["process"]["terminal"] = true.into());
    let sock = b.dir.join("console.sock");
    let listener = UnixListener::bind(&sock).expect("console socket");
    let receiver = std::thread::spawn(move || -> Option<OwnedFd> {
        use rustix::net::{RecvAncillaryBuffer, RecvAncillaryMessage, RecvFlags};
        let (conn, _) = listener.accept().ok()?;
        let mut buf = [0u8; 64];
        let mut iov = [std::io::IoSliceMut::new(&mut buf)];
        let mut space = [std::mem::MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(1))];
        let mut control = RecvAncillaryBuffer::new(&mut space);
        rustix::net::recvmsg(&conn, &mut iov, &mut control, RecvFlags::CMSG_CLOEXEC).ok()?;
        let fd = control.drain().find_map(|m| match m {
            RecvAncillaryMessage::ScmRights(mut fds) => fds.next(),
            _ => None,
        });
        fd
    });

    let created = b.oci(&[
        "create",
        "--bundle",
        b.dir.to_str().unwrap_or("."),
        "--console-socket",
        sock.to_str().unwrap_or("sock"),
        "t1",
    ]);
    assert!(created.status.success(), "create failed: {}", created.stderr_str());
    let master = receiver.join().expect("receiver").expect("a descriptor over the console socket");
    assert!(b.oci(&["start", "t1"]).status.success());

    let mut got = Vec::new();
    let mut file = File::from(master);
    let mut buf = [0u8; 256];
    let deadline = Instant::now() + WAIT;
    while !String::from_utf8_lossy(&got).contains("on-the-terminal") && Instant::now() < deadline {
        match file.read(&mut buf) {
            Ok(n) if n > 0 => got.extend_from_slice(&buf[..n]),
            _ => break,
        }
    }
    assert!(String::from_utf8_lossy(&got).contains("on-the-terminal\r\n"), "terminal output: {got:?}");
}

#[test]
fn exec_runs_a_process_in_the_running_container_attached_and_detached() {
    if !root_or_skip("exec_runs_a_process_in_the_running_container_attached_and_detached") {
        return;
    }
    let b = Bundle::new("exec", &["sleep", "60"], |_| {});
    assert!(b.create("c").status.success(), "{}", b.output("c"));
    assert!(b.oci(&["start", "c"]).status.success());
    // Attached: its output, its status; the container's env, hostname and cwd.
    let out =
        b.oci(&["exec", "--cwd", "/bin", "-e", "EXTRA=1", "c", "sh", "-c", "echo $EXTRA $PATH; hostname; pwd; exit 7"]);
    assert_eq!(out.stdout_str(), "1 /bin\noci-test\n/bin\n", "{}", out.stderr_str());
    assert_eq!(out.status.code(), Some(7));
    // As another user.
    let out = b.oci(&["exec", "--user", "1000:100", "c", "id"]);
    assert_eq!(out.stdout_str(), "uid=1000 gid=100 groups=100\n", "{}", out.stderr_str());
    // --process FILE, as conmon passes it.
    let process = b.dir.join("process.json");
    let p = serde_json::json!({"args": ["sh", "-c", "echo from-process-file"], "env": ["PATH=/bin"], "cwd": "/", "user": {"uid": 0, "gid": 0}});
    std::fs::write(&process, p.to_string()).expect("process.json");
    let out = b.oci(&["exec", "--process", process.to_str().expect("utf-8"), "c"]);
    assert_eq!(out.stdout_str(), "from-process-file\n", "{}", out.stderr_str());
    // Detached: the pid file names a host process that exits with the
    // process's status (this test reaps it as a subreaper, as conmon does).
    nix::sys::prctl::set_child_subreaper(true).expect("PR_SET_CHILD_SUBREAPER");
    let pid_file = b.dir.join("exec.pid");
    let out = b.oci(&[
        "exec",
        "--detach",
        "--pid-file",
        pid_file.to_str().expect("utf-8"),
        "c",
        "sh",
        "-c",
        "sleep 0.3; exit 5",
    ]);
    assert!(out.status.success(), "{}", out.stderr_str());
    let pid: i32 = std::fs::read_to_string(&pid_file).expect("pid file").trim().parse().expect("a pid");
    let status = nix::sys::wait::waitpid(nix::unistd::Pid::from_raw(pid), None).expect("waitpid");
    assert_eq!(status, nix::sys::wait::WaitStatus::Exited(nix::unistd::Pid::from_raw(pid), 5));
    // A missing program is an error naming it.
    let out = b.oci(&["exec", "c", "nosuch"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stderr_str().contains("nosuch"), "{}", out.stderr_str());
    assert!(b.oci(&["delete", "--force", "c"]).status.success());
    // Not running any more: refused.
    let out = b.oci(&["exec", "c", "true"]);
    assert_eq!(out.status.code(), Some(1));
}

/// `exec --detach` of `script` in container `id`, its stdio /dev/null
/// (the process keeps the caller's); the waiter's pid.
fn exec_detached(b: &Bundle, id: &str, script: &str) -> i32 {
    let pid_file = b.dir.join(format!("{id}-{}.pid", script.len()));
    let mut cmd = Command::new(bulwark());
    cmd.arg("--root")
        .arg(&b.root)
        .args(["exec", "--detach", "--pid-file"])
        .arg(&pid_file)
        .args([id, "sh", "-c", script]);
    let status = cmd.stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::null()).status().expect("bulwark exec");
    assert!(status.success(), "exec --detach failed: {status}");
    std::fs::read_to_string(&pid_file).expect("pid file").trim().parse().expect("a pid")
}

#[test]
fn signals_to_an_exec_waiter_reach_the_process_and_its_sigkill_ends_it() {
    if !root_or_skip("signals_to_an_exec_waiter_reach_the_process_and_its_sigkill_ends_it") {
        return;
    }
    use nix::sys::signal::{kill, Signal};
    use nix::sys::wait::{waitpid, WaitStatus};
    use nix::unistd::Pid;
    let b = Bundle::new("execsig", &["sleep", "60"], |_| {});
    assert!(b.create("s").status.success(), "{}", b.output("s"));
    assert!(b.oci(&["start", "s"]).status.success());
    nix::sys::prctl::set_child_subreaper(true).expect("PR_SET_CHILD_SUBREAPER");
    let handler = "trap 'echo got TERM > /data/term; exit 6' TERM; echo up > /data/up; while :; do sleep 0.05; done";
    let beat = "i=0; while :; do i=$((i+1)); echo $i > /data/beat; sleep 0.05; done";

    let waiter = exec_detached(&b, "s", handler);
    let deadline = Instant::now() + WAIT;
    while !b.data("up").exists() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    kill(Pid::from_raw(waiter), Signal::SIGTERM).expect("kill");
    let term_status = waitpid(Pid::from_raw(waiter), None).expect("waitpid");
    let beater = exec_detached(&b, "s", beat);
    let deadline = Instant::now() + WAIT;
    let count = || std::fs::read_to_string(b.data("beat")).unwrap_or_default().trim().parse::<u64>().unwrap_or(0);
    while count() < 3 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    kill(Pid::from_raw(beater), Signal::SIGKILL).expect("kill");
    let _ = waitpid(Pid::from_raw(beater), None);
    std::thread::sleep(Duration::from_millis(200));
    let after_kill = count();
    std::thread::sleep(Duration::from_millis(400));
    let later = count();
    assert!(b.oci(&["delete", "--force", "s"]).status.success());

    assert_eq!(term_status, WaitStatus::Exited(Pid::from_raw(waiter), 6), "the TERM handler's exit status");
    assert_eq!(std::fs::read_to_string(b.data("term")).unwrap_or_default(), "got TERM\n");
    assert_eq!(after_kill, later, "the process ran on after its waiter was SIGKILLed");
}

#[test]
fn an_exec_process_file_s_capabilities_and_groups_are_its_own() {
    if !root_or_skip("an_exec_process_file_s_capabilities_and_groups_are_its_own") {
        return;
    }
    let b = Bundle::new("execcaps", &["sleep", "60"], |_| {});
    assert!(b.create("x").status.success(), "{}", b.output("x"));
    assert!(b.oci(&["start", "x"]).status.success());
    let caps = ["CAP_KILL", "CAP_CHOWN"];
    let process = b.dir.join("process.json");
    let p = serde_json::json!({
        "args": ["sh", "-c", "grep -E '^Cap(Eff|Bnd)' /proc/self/status; id -G"],
        "env": ["PATH=/bin"], "cwd": "/",
        "user": {"uid": 1000, "gid": 1000, "additionalGids": [1000, 7]},
        "capabilities": {"bounding": caps, "effective": caps, "permitted": caps, "inheritable": caps, "ambient": caps}
    });
    std::fs::write(&process, p.to_string()).expect("process.json");

    let out = b.oci(&["exec", "--process", process.to_str().expect("utf-8"), "x"]);
    assert!(b.oci(&["delete", "--force", "x"]).status.success());

    // CAP_CHOWN is bit 0, CAP_KILL bit 5: kept through exec as ambient.
    assert_eq!(
        out.stdout_str(),
        "CapEff:\t0000000000000021\nCapBnd:\t0000000000000021\n1000 7\n",
        "{}",
        out.stderr_str()
    );
}

/// A network namespace with one end of a veth pair, 10.199.N.2/24 inside
/// and 10.199.N.1 on the host; removed on drop.
struct PodNet {
    name: String,
    host_if: String,
    inside: String,
}

impl PodNet {
    fn new() -> Option<PodNet> {
        let ip = |args: &[&str]| {
            Command::new("ip")
                .args(args)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success())
        };
        let n = std::process::id() % 250;
        let net = PodNet {
            name: format!("bwpod{}", std::process::id()),
            host_if: format!("bwph{n}"),
            inside: format!("10.199.{n}.2"),
        };
        let _ = ip(&["link", "del", &net.host_if]);
        let steps: [&[&str]; 7] = [
            &["netns", "add", &net.name],
            &["link", "add", &net.host_if, "type", "veth", "peer", "name", "bwpodin", "netns", &net.name],
            &["addr", "add", &format!("10.199.{n}.1/24"), "dev", &net.host_if],
            &["link", "set", &net.host_if, "up"],
            &["-n", &net.name, "addr", "add", &format!("{}/24", net.inside), "dev", "bwpodin"],
            &["-n", &net.name, "link", "set", "bwpodin", "up"],
            &["-n", &net.name, "link", "set", "lo", "up"],
        ];
        for step in steps {
            if !ip(step) {
                println!("skipping: ip {} failed", step.join(" "));
                return None;
            }
        }
        Some(net)
    }
}

impl Drop for PodNet {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["netns", "del", &self.name]).status();
        let _ = Command::new("ip").args(["link", "del", &self.host_if]).stderr(Stdio::null()).status();
    }
}

#[test]
fn a_pod_s_containers_share_its_network_namespace_through_host_sockets() {
    if !root_or_skip("a_pod_s_containers_share_its_network_namespace_through_host_sockets") {
        return;
    }
    let Some(net) = PodNet::new() else { return };
    let ns_path = format!("/var/run/netns/{}", net.name);
    let pod = |name: &str, args: &[&str]| {
        let ns_path = ns_path.clone();
        Bundle::new(name, args, move |c| {
            c["linux"]["namespaces"] =
                serde_json::json!([{"type": "pid"}, {"type": "mount"}, {"type": "network", "path": ns_path}]);
            c["annotations"] = serde_json::json!({"io.kubernetes.cri.container-type": "container"});
        })
    };
    let web = pod("pod-web", &["sh", "-c", "echo served > /data/index.html; exec httpd -f -p 8080 -h /data"]);
    let client = pod(
        "pod-client",
        &[
            "sh",
            "-c",
            "for i in 1 2 3 4 5 6 7 8 9 10; do wget -qO- http://127.0.0.1:8080/ && exit 0; sleep 0.2; done; exit 1",
        ],
    );
    assert!(web.create("w").status.success(), "{}", web.output("w"));
    assert!(web.oci(&["start", "w"]).status.success());

    let from_pod = client.oci(&["run", "c"]);
    let from_host = (0..50).find_map(|_| {
        use std::io::{Read, Write};
        let got = std::net::TcpStream::connect((net.inside.as_str(), 8080)).and_then(|mut c| {
            c.set_read_timeout(Some(Duration::from_secs(5)))?;
            c.write_all(b"GET / HTTP/1.0\r\n\r\n")?;
            let mut reply = String::new();
            c.read_to_string(&mut reply)?;
            Ok(reply)
        });
        match got {
            Ok(reply) => reply.split("\r\n\r\n").nth(1).map(str::to_owned),
            Err(_) => {
                std::thread::sleep(Duration::from_millis(100));
                None
            }
        }
    });
    assert!(web.oci(&["delete", "--force", "w"]).status.success());

    assert_eq!(
        from_pod.stdout_str(),
        "served\n",
        "a second container of the pod over 127.0.0.1: {}",
        from_pod.stderr_str()
    );
    assert_eq!(from_host.as_deref(), Some("served\n"), "the host over the pod's address");
}

#[test]
fn the_config_s_seccomp_profile_is_enforced_by_the_sandbox() {
    if !root_or_skip("the_config_s_seccomp_profile_is_enforced_by_the_sandbox") {
        return;
    }
    let script = "mkdir /tmp/d 2>/dev/null; echo mkdir $?; echo still running";
    let b = Bundle::new("seccomp", &["sh", "-c", script], |c| {
        c["root"]["readonly"] = serde_json::json!(false);
        c["linux"]["seccomp"] = serde_json::json!({
            "defaultAction": "SCMP_ACT_ALLOW",
            "syscalls": [
                {"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13},
                {"names": ["kill"], "action": "SCMP_ACT_KILL_PROCESS"}
            ]
        });
    });
    let out = b.oci(&["run", "--bundle", b.dir.to_str().unwrap_or("."), "s1"]);
    assert_eq!(out.stdout_str(), "mkdir 1\nstill running\n", "{}", out.stderr_str());
    assert_eq!(out.status.code(), Some(0));
    assert!(!b.dir.join("rootfs/tmp/d").exists(), "the denied mkdir was carried out");
    // A call the profile kills for ends the program with SIGSYS.
    let b = Bundle::new("seccomp-kill", &["sh", "-c", "kill -0 1; echo survived"], |c| {
        c["linux"]["seccomp"] = serde_json::json!({
            "defaultAction": "SCMP_ACT_ALLOW",
            "syscalls": [{"names": ["kill"], "action": "SCMP_ACT_KILL_PROCESS"}]
        });
    });
    let out = b.oci(&["run", "--bundle", b.dir.to_str().unwrap_or("."), "s2"]);
    assert_eq!(out.stdout_str(), "", "{}", out.stderr_str());
    assert_eq!(out.status.code(), Some(128 + 31), "{}", out.stderr_str());
}
