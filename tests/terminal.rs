//! Interactive programs on a real terminal: the same keys
//! are typed into a tmux pane running the program natively and one running
//! it under `bulwark do`, and the screens must match. ^C, ^Z and window size
//! changes reach the sandbox's foreground process group; job control works
//! inside; bulwark itself survives them.

mod common;

use std::process::Command;
use std::time::{Duration, Instant};

use common::{bulwark, SANDBOX_PATH};

/// One detached tmux session (on a server of its own, so that tests do not
/// share one), killed when dropped.
struct Pane {
    socket: String,
    name: String,
}

impl Pane {
    /// Start `command` (a shell command line) in a new 100x30 pane.
    fn start(name: &str, command: &str) -> Pane {
        let pane = Pane { socket: format!("bulwark-test-{name}-{}", std::process::id()), name: name.to_owned() };
        let status = pane
            .tmux()
            .args(["new-session", "-d", "-s", name, "-x", "100", "-y", "30"])
            // Keep the pane after the program ends, to read its last screen.
            .arg(format!("{command}; echo \"[exit $?]\"; sleep 60"))
            .status()
            .expect("run tmux");
        assert!(status.success(), "tmux new-session failed");
        pane
    }

    fn tmux(&self) -> Command {
        let mut cmd = Command::new("tmux");
        cmd.args(["-L", &self.socket]);
        cmd
    }

    fn keys(&self, keys: &[&str]) {
        let status = self.tmux().args(["send-keys", "-t", &self.name]).args(keys).status().expect("send-keys");
        assert!(status.success());
    }

    /// Type `line` and Enter.
    fn line(&self, line: &str) {
        self.keys(&["-l", line]);
        self.keys(&["Enter"]);
    }

    fn screen(&self) -> String {
        let out = self.tmux().args(["capture-pane", "-p", "-t", &self.name]).output().expect("capture-pane");
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        let lines: Vec<&str> = text.lines().map(str::trim_end).collect();
        let end = lines.iter().rposition(|l| !l.is_empty()).map_or(0, |i| i + 1);
        lines[..end].join("\n")
    }

    /// Wait until the screen holds `needle` `count` times (at most 20 s),
    /// then a moment more for the program to settle.
    fn wait_for(&self, needle: &str, count: usize) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while self.screen().matches(needle).count() < count {
            assert!(Instant::now() < deadline, "{needle:?} x{count} never appeared; screen:\n{}", self.screen());
            std::thread::sleep(Duration::from_millis(50));
        }
        std::thread::sleep(Duration::from_millis(200));
    }

    fn resize(&self, cols: u32, rows: u32) {
        let status = self
            .tmux()
            .args(["resize-window", "-t", &self.name, "-x", &cols.to_string(), "-y", &rows.to_string()])
            .status()
            .expect("resize-window");
        assert!(status.success());
    }
}

impl Drop for Pane {
    fn drop(&mut self) {
        let _ = self.tmux().arg("kill-server").status();
    }
}

fn have_tmux() -> bool {
    Command::new("tmux").arg("-V").output().is_ok_and(|o| o.status.success())
}

/// The command line that runs `program` natively with the sandbox's
/// environment, or under `bulwark do` (the pane's TERM is kept by both).
fn command_line(program: &str, sandboxed: bool) -> String {
    if sandboxed {
        format!("{} do -e 'PS1=$ ' -- {program}", bulwark().display())
    } else {
        format!("env -i PATH={SANDBOX_PATH} HOME=/root TERM=\"$TERM\" 'PS1=$ ' {program}")
    }
}

/// Run `steps` against `program` natively and sandboxed; returns both
/// screens, with `[N] PID` job lines' pids blanked (pids differ).
fn both(name: &str, program: &str, steps: impl Fn(&Pane)) -> (String, String) {
    assert!(have_tmux(), "the terminal tests need tmux (apt-get install tmux; .ci/run installs it)");
    let mut screens = Vec::new();
    for sandboxed in [false, true] {
        let pane =
            Pane::start(&format!("{name}-{}", if sandboxed { "s" } else { "n" }), &command_line(program, sandboxed));
        steps(&pane);
        screens.push(blank_job_pids(&pane.screen()));
    }
    (screens.remove(0), screens.remove(0))
}

fn blank_job_pids(screen: &str) -> String {
    screen
        .lines()
        .map(|l| match l.split_once("] ") {
            Some((job, pid)) if l.starts_with('[') && pid.chars().all(|c| c.is_ascii_digit()) => format!("{job}] PID"),
            _ => l.to_owned(),
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn ctrl_c_interrupts_python_and_the_repl_goes_on() {
    let (native, sandboxed) = both("python", "python3 -q", |p| {
        p.wait_for(">>>", 1);
        // Interrupt only once the loop runs (its first line says so).
        p.line("exec(\"print('spinning', flush=True)\\nwhile True: pass\")");
        p.wait_for("spinning", 2);
        p.keys(&["C-c"]);
        p.wait_for("KeyboardInterrupt", 1);
        p.line("print('still here', 6 * 7)");
        p.wait_for("still here 42", 1);
        p.keys(&["C-d"]);
        p.wait_for("[exit ", 1);
    });

    assert_eq!(sandboxed, native);
    assert!(native.contains("KeyboardInterrupt\n>>> print('still here', 6 * 7)\nstill here 42\n"), "{native}");
    assert!(native.ends_with("[exit 0]"), "{native}");
}

#[test]
fn job_control_in_an_interactive_bash_stops_resumes_and_interrupts_jobs() {
    let (native, sandboxed) = both("bash", "bash --norc --noprofile -i", |p| {
        p.wait_for("$", 1);
        p.line("sleep 100 &");
        p.wait_for("[1] ", 1);
        p.wait_for("\n$", 1);
        p.line("jobs");
        p.wait_for("Running                 sleep 100 &\n$", 1);
        p.line("fg");
        p.wait_for("$ fg\nsleep 100", 1);
        p.keys(&["C-z"]);
        p.wait_for("Stopped                 sleep 100\n$", 1);
        p.line("bg");
        p.wait_for("[1]+ sleep 100 &\n$", 1);
        p.line("fg");
        p.wait_for("$ fg\nsleep 100", 2);
        p.keys(&["C-c"]);
        p.wait_for("^C\n$", 1);
        p.line("echo status $?");
        p.wait_for("status 130\n$", 1);
        // A background reader is stopped by SIGTTIN instead of taking the
        // shell's input.
        // (The sleep makes bash report the stop before its next prompt,
        // natively too, instead of whenever SIGCHLD happens to come.)
        p.line("cat & sleep 0.5");
        p.wait_for("Stopped                 cat\n$", 1);
        p.line("jobs");
        p.wait_for("Stopped                 cat\n$", 2);
        p.line("fg");
        p.wait_for("$ fg\ncat", 1);
        p.line("typed to cat");
        p.wait_for("typed to cat", 2);
        p.keys(&["C-d"]);
        p.wait_for("typed to cat\ntyped to cat\n$", 1);
        p.line("exit 3");
        p.wait_for("[exit 3]", 1);
    });

    assert_eq!(sandboxed, native);
    assert!(native.contains("[1]+  Stopped                 sleep 100"), "{native}");
    assert!(native.contains("[1]+  Stopped                 cat"), "{native}");
}

#[test]
fn a_window_size_change_and_ctrl_backslash_reach_the_program() {
    let script = "import os, signal, sys; \
                  signal.signal(signal.SIGWINCH, lambda *a: print('winch', *os.get_terminal_size(), flush=True)); \
                  signal.signal(signal.SIGQUIT, lambda *a: print('quit', flush=True)); \
                  print('ready', *os.get_terminal_size(), flush=True); sys.stdin.readline()";
    let program = format!("python3 -c \"{script}\"");

    let (native, sandboxed) = both("winch", &program, |p| {
        p.wait_for("ready", 1);
        p.resize(80, 24);
        p.wait_for("winch 80 24", 1);
        p.keys(&["C-\\"]);
        p.wait_for("quit", 1);
        p.keys(&["Enter"]);
        p.wait_for("[exit ", 1);
    });

    assert_eq!(sandboxed, native);
    assert!(native.starts_with("ready 100 30\nwinch 80 24\n^\\quit\n"), "{native}");
}

#[test]
fn ctrl_z_on_the_program_stops_the_host_job_and_fg_resumes_it() {
    assert!(have_tmux(), "the terminal tests need tmux");
    let python = "python3 -c 'import time; time.sleep(60)'";
    let mut screens = Vec::new();
    for prefix in ["", "$BW do -- "] {
        let shell = format!(
            "env -i BW={} PATH={SANDBOX_PATH} HOME=/root TERM=\"$TERM\" 'PS1=$ ' bash --norc --noprofile -i",
            bulwark().display()
        );
        let pane = Pane::start(if prefix.is_empty() { "hostjob-n" } else { "hostjob-s" }, &shell);
        pane.wait_for("$", 1);
        pane.line(&format!("{prefix}{python}"));
        std::thread::sleep(Duration::from_millis(1500));
        pane.keys(&["C-z"]);
        pane.wait_for("Stopped", 1);
        pane.line("jobs");
        pane.wait_for("Stopped", 2);
        pane.line("fg");
        pane.wait_for("$ fg\n", 1);
        std::thread::sleep(Duration::from_millis(500));
        pane.keys(&["C-c"]);
        pane.wait_for("KeyboardInterrupt", 1);
        pane.line("echo status $?");
        pane.wait_for("status 130", 1);
        screens.push(pane.screen().replace(prefix, ""));
    }

    assert_eq!(screens[1], screens[0]);
    assert!(screens[0].contains("[1]+  Stopped"), "{}", screens[0]);
}

#[test]
fn output_to_a_terminal_keeps_every_writer_in_order() {
    let script = "echo first; (echo child; exec echo child-exec); exec 3>&1; echo dup >&3; \
                  sh -c 'echo nested'; exec cat /etc/hostname";

    let (native, sandboxed) = both("tty-out", &format!("sh -c \"{script}\""), |p| p.wait_for("[exit 0]", 1));

    assert_eq!(sandboxed, native);
    assert!(native.starts_with("first\nchild\nchild-exec\ndup\nnested\n"), "{native}");
}
