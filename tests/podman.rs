//! podman driving bulwark as its OCI runtime (`podman --runtime bulwark`),
//! with a busybox image imported from the host's static busybox: run,
//! exit statuses, exec into a running container, and `-p` reaching a
//! server inside through the sandbox's own TCP/IP stack on podman's
//! network. Skipped, with the reason printed, where podman is missing or
//! not root.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::Command;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use common::{bulwark, fresh_dir, run, Output};

const IMAGE: &str = "localhost/bulwark-test-busybox";

/// `podman --runtime bulwark ARGS...`.
fn podman(args: &[&str]) -> Output {
    let mut cmd = Command::new("podman");
    cmd.arg("--runtime").arg(bulwark()).args(args);
    run(cmd)
}

/// Whether podman can run here, with the test image imported (once).
fn ready(test: &str) -> bool {
    static READY: OnceLock<Result<(), String>> = OnceLock::new();
    let r = READY.get_or_init(|| {
        if !nix::unistd::geteuid().is_root() {
            return Err("needs root".into());
        }
        if !Command::new("podman").arg("--version").output().is_ok_and(|o| o.status.success()) {
            return Err("podman is not installed".into());
        }
        if Command::new("podman").args(["image", "exists", IMAGE]).status().is_ok_and(|s| s.success()) {
            return Ok(());
        }
        let dir = fresh_dir("podman-image");
        let bin = dir.join("rootfs/bin");
        std::fs::create_dir_all(&bin).map_err(|e| e.to_string())?;
        std::fs::copy("/bin/busybox", bin.join("busybox")).map_err(|e| format!("/bin/busybox: {e}"))?;
        for applet in ["sh", "echo", "cat", "sleep", "hostname", "httpd", "id", "true", "grep"] {
            std::os::unix::fs::symlink("busybox", bin.join(applet)).map_err(|e| e.to_string())?;
        }
        let tar = dir.join("rootfs.tar");
        let ok = Command::new("tar")
            .arg("-C")
            .arg(dir.join("rootfs"))
            .arg("-cf")
            .arg(&tar)
            .arg(".")
            .status()
            .is_ok_and(|s| s.success());
        if !ok {
            return Err("tar failed".into());
        }
        let out = Command::new("podman").arg("import").arg(&tar).arg(IMAGE).output().map_err(|e| e.to_string())?;
        if !out.status.success() {
            return Err(format!("podman import: {}", String::from_utf8_lossy(&out.stderr).trim()));
        }
        Ok(())
    });
    match r {
        Ok(()) => true,
        Err(why) => {
            println!("skipping {test}: {why}");
            false
        }
    }
}

#[test]
fn podman_run_prints_the_output_and_passes_the_exit_status() {
    if !ready("podman_run_prints_the_output_and_passes_the_exit_status") {
        return;
    }
    let out =
        podman(&["run", "--rm", "--network", "none", "--hostname", "box", IMAGE, "sh", "-c", "echo hi; hostname"]);
    assert_eq!(out.stdout_str(), "hi\nbox\n", "{}", out.stderr_str());
    let out = podman(&["run", "--rm", "--network", "none", IMAGE, "sh", "-c", "exit 3"]);
    assert_eq!(out.status.code(), Some(3), "{}", out.stderr_str());
    let out = podman(&["run", "--rm", "--network", "none", "--user", "1000:1000", IMAGE, "id"]);
    assert_eq!(out.stdout_str(), "uid=1000 gid=1000 groups=1000\n", "{}", out.stderr_str());
}

#[test]
fn podman_exec_runs_in_a_running_container() {
    if !ready("podman_exec_runs_in_a_running_container") {
        return;
    }
    let name = format!("bulwark-exec-{}", std::process::id());
    let out = podman(&["run", "-d", "--name", &name, "--network", "none", IMAGE, "sleep", "120"]);
    assert!(out.status.success(), "{}", out.stderr_str());
    let exec = podman(&["exec", &name, "sh", "-c", "echo in the container; exit 4"]);
    let _ = podman(&["rm", "-f", "-t", "0", &name]);
    assert_eq!(exec.stdout_str(), "in the container\n", "{}", exec.stderr_str());
    assert_eq!(exec.status.code(), Some(4));
}

#[test]
fn podman_pause_unpause_stop_and_its_etc_hosts_file() {
    if !ready("podman_pause_unpause_stop_and_its_etc_hosts_file") {
        return;
    }
    let name = format!("bulwark-pause-{}", std::process::id());
    let out = podman(&[
        "run",
        "-d",
        "--name",
        &name,
        "--network",
        "none",
        IMAGE,
        "sh",
        "-c",
        "while true; do sleep 0.05; done",
    ]);
    assert!(out.status.success(), "{}", out.stderr_str());
    let status = || podman(&["inspect", "-f", "{{.State.Status}}", &name]).stdout_str().trim().to_owned();
    let paused = podman(&["pause", &name]);
    let while_paused = status();
    let unpaused = podman(&["unpause", &name]);
    let after = status();
    // podman writes /etc/hosts and /etc/hostname for the container and
    // bind-mounts each file alone.
    let hosts = podman(&["exec", &name, "sh", "-c", "grep -c \"$(hostname)\" /etc/hosts; cat /etc/hostname"]);
    // sh as pid 1 has no SIGTERM handler, so the kernel ignores SIGTERM
    // for it: podman stop falls back to SIGKILL (137), as with runc.
    let stop = podman(&["stop", "-t", "1", &name]);
    let exited = podman(&["inspect", "-f", "{{.State.Status}} {{.State.ExitCode}}", &name]);
    let _ = podman(&["rm", "-f", "-t", "0", &name]);

    assert!(paused.status.success(), "pause: {}", paused.stderr_str());
    assert_eq!(while_paused, "paused");
    assert!(unpaused.status.success(), "unpause: {}", unpaused.stderr_str());
    assert_eq!(after, "running");
    let hosts_out = hosts.stdout_str();
    let mut lines = hosts_out.lines();
    assert_eq!(lines.next(), Some("1"), "{hosts_out}{}", hosts.stderr_str());
    assert!(lines.next().is_some_and(|h| !h.is_empty()), "{hosts_out}");
    assert!(stop.status.success(), "stop: {}", stop.stderr_str());
    assert_eq!(exited.stdout_str().trim(), "exited 137");
}

#[test]
fn podman_logs_ps_kill_volumes_and_a_read_only_root() {
    if !ready("podman_logs_ps_kill_volumes_and_a_read_only_root") {
        return;
    }
    let vol = fresh_dir("podman-vol");
    let name = format!("bulwark-logs-{}", std::process::id());
    let volume = format!("{}:/vol", vol.display());
    let script = "echo started; echo data > /vol/f; touch /etc/x 2>&1; \
                  trap 'echo got TERM; exit 7' TERM; while true; do sleep 0.05; done";
    let out = podman(&[
        "run",
        "-d",
        "--name",
        &name,
        "--read-only",
        "-v",
        &volume,
        "--network",
        "none",
        IMAGE,
        "sh",
        "-c",
        script,
    ]);
    assert!(out.status.success(), "{}", out.stderr_str());
    let deadline = Instant::now() + Duration::from_secs(30);
    while !vol.join("f").exists() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    let logs = podman(&["logs", &name]);
    let ps = podman(&["ps", "--format", "{{.Names}} {{.Status}}"]);
    let kill = podman(&["kill", "-s", "TERM", &name]);
    let wait = podman(&["wait", &name]);
    let logs_after = podman(&["logs", &name]);
    let _ = podman(&["rm", "-f", "-t", "0", &name]);

    assert_eq!(logs.stdout_str(), "started\ntouch: /etc/x: Read-only file system\n", "{}", logs.stderr_str());
    assert!(ps.stdout_str().lines().any(|l| l.starts_with(&format!("{name} Up"))), "{}", ps.stdout_str());
    assert!(kill.status.success(), "kill: {}", kill.stderr_str());
    assert_eq!(wait.stdout_str().trim(), "7", "the TERM handler's exit status: {}", wait.stderr_str());
    assert!(logs_after.stdout_str().ends_with("got TERM\n"), "{}", logs_after.stdout_str());
    assert_eq!(std::fs::read_to_string(vol.join("f")).unwrap_or_default(), "data\n");
}

/// A tmux server of the test's own, killed when dropped.
struct Tmux(String);

impl Tmux {
    fn cmd(&self, args: &[&str]) -> Output {
        let mut c = Command::new("tmux");
        c.args(["-L", &self.0, "-f", "/dev/null"]).args(args);
        run(c)
    }

    /// What the pane shows, once `want` is in it (at most 30 s).
    fn wait_for(&self, want: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let screen = self.cmd(&["capture-pane", "-p", "-t", "t"]).stdout_str();
            if screen.contains(want) || Instant::now() > deadline {
                return screen;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self.cmd(&["kill-server"]);
    }
}

#[test]
fn podman_run_it_and_exec_it_give_a_terminal_in_a_tmux_pane() {
    if !ready("podman_run_it_and_exec_it_give_a_terminal_in_a_tmux_pane") {
        return;
    }
    let tmux = Tmux(format!("bulwark-podman-{}", std::process::id()));
    let name = format!("bulwark-tty-{}", std::process::id());
    let runtime = bulwark();
    let runtime = runtime.to_str().expect("utf-8 path");
    let script = format!(
        "podman --runtime {runtime} run -it --name {name} --network none {IMAGE} sh; echo run-status=$?; \
         podman --runtime {runtime} run -d --name {name}-d --network none {IMAGE} sleep 120 >/dev/null; \
         podman --runtime {runtime} exec -it {name}-d sh; echo exec-status=$?; sleep 60"
    );
    let started = tmux.cmd(&["new-session", "-d", "-s", "t", "-x", "100", "-y", "30", &script]);
    if !started.status.success() {
        println!("skipping: tmux cannot start: {}", started.stderr_str());
        return;
    }
    // (capture-pane drops the prompt's trailing space)
    tmux.wait_for("/ #");
    tmux.cmd(&["send-keys", "-t", "t", "tty; stty size; test -t 0 && echo is-a-tty; exit 3", "Enter"]);
    let run_screen = tmux.wait_for("run-status=");
    // The exec's shell prompts after the run's lines: a line that is the
    // prompt alone.
    let deadline = Instant::now() + Duration::from_secs(30);
    while tmux.cmd(&["capture-pane", "-p", "-t", "t"]).stdout_str().lines().filter(|l| l.trim_end() == "/ #").count()
        < 1
        && Instant::now() < deadline
    {
        std::thread::sleep(Duration::from_millis(50));
    }
    tmux.cmd(&["send-keys", "-t", "t", "tty; echo in-exec; exit 4", "Enter"]);
    let exec_screen = tmux.wait_for("exec-status=");
    let _ = podman(&["rm", "-f", "-t", "0", &name]);
    let _ = podman(&["rm", "-f", "-t", "0", &format!("{name}-d")]);

    let lines = |screen: &str| screen.lines().map(str::trim_end).map(str::to_owned).collect::<Vec<_>>();
    let run_lines = lines(&run_screen);
    let at = run_lines
        .iter()
        .position(|l| l.ends_with("exit 3"))
        .unwrap_or_else(|| panic!("no command echoed: {run_screen}"));
    assert!(run_lines.get(at + 1).is_some_and(|l| l.starts_with("/dev/pts/")), "tty in run -it: {run_screen}");
    assert_eq!(run_lines.get(at + 2).map(String::as_str), Some("30 100"), "{run_screen}");
    assert_eq!(run_lines.get(at + 3).map(String::as_str), Some("is-a-tty"), "{run_screen}");
    assert!(run_lines.iter().any(|l| l == "run-status=3"), "{run_screen}");
    let exec_lines = lines(&exec_screen);
    let at = exec_lines
        .iter()
        .position(|l| l.ends_with("exit 4"))
        .unwrap_or_else(|| panic!("exec's shell read nothing: {exec_screen}"));
    assert!(exec_lines.get(at + 1).is_some_and(|l| l.starts_with("/dev/pts/")), "tty in exec -it: {exec_screen}");
    assert_eq!(exec_lines.get(at + 2).map(String::as_str), Some("in-exec"), "{exec_screen}");
    assert!(exec_lines.iter().any(|l| l == "exec-status=4"), "{exec_screen}");
}

#[test]
fn podman_publish_reaches_a_server_inside_through_the_sandbox_stack() {
    if !ready("podman_publish_reaches_a_server_inside_through_the_sandbox_stack") {
        return;
    }
    let www = fresh_dir("podman-www");
    std::fs::write(www.join("index.html"), "served from inside\n").expect("index.html");
    let name = format!("bulwark-web-{}", std::process::id());
    let port = 18000 + (std::process::id() % 1000) as u16;
    let publish = format!("{port}:80");
    let volume = format!("{}:/www", www.display());
    let out = podman(&[
        "run", "-d", "--name", &name, "-p", &publish, "-v", &volume, IMAGE, "httpd", "-f", "-p", "80", "-h", "/www",
    ]);
    if !out.status.success() {
        let _ = podman(&["rm", "-f", "-t", "0", &name]);
        // podman's own network (netavark, nftables) may be unusable here.
        println!("skipping: podman could not start a container on its network: {}", out.stderr_str());
        return;
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    let reply = loop {
        let got = TcpStream::connect(("127.0.0.1", port)).and_then(|mut c| {
            c.set_read_timeout(Some(Duration::from_secs(5)))?;
            c.write_all(b"GET / HTTP/1.0\r\n\r\n")?;
            let mut s = String::new();
            c.read_to_string(&mut s)?;
            Ok(s)
        });
        match got {
            Ok(s) if !s.is_empty() => break s,
            _ if Instant::now() > deadline => break String::new(),
            _ => std::thread::sleep(Duration::from_millis(200)),
        }
    };
    let _ = podman(&["rm", "-f", "-t", "0", &name]);
    assert!(reply.ends_with("served from inside\n"), "reply: {reply:?}");
}
