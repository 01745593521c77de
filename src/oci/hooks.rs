//! The config's hooks (runtime-spec "POSIX-platform Hooks"), run on the
//! host as runc runs them: each hook's `path` with its `args` (the first is
//! `argv[0]`) and only its `env`, the container's state as JSON on its
//! standard input, killed after `timeout` seconds when one is given.
//!
//! When each kind runs, and what a failure does:
//!
//! | kind              | when                                      | status in the state | a failure            |
//! |-------------------|-------------------------------------------|---------------------|----------------------|
//! | `prestart`        | `create`, the sandbox set up, before it waits for `start` | `creating` | ends the container, `create` fails |
//! | `createRuntime`   | right after `prestart`                    | `creating`          | the same             |
//! | `createContainer` | right after `createRuntime`               | `creating`          | the same             |
//! | `startContainer`  | `start`, before the program runs          | `created`           | ends the container, `start` fails |
//! | `poststart`       | `start`, once the program runs            | `running`           | a warning in the log |
//! | `poststop`        | `delete`, once the sandbox is gone        | `stopped`           | a warning in the log |
//!
//! Where bulwark differs from runc: `createContainer` and `startContainer`
//! run in the runtime's namespaces, not the container's: the container's
//! "namespaces" are the sentry's own, which no host program can enter.
//!
//! `create` keeps the config's hooks in the state directory (`hooks.json`),
//! so `start` and `delete` run the config `create` saw.

use std::fs;
use std::io::{Read, Write};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use oci_spec::runtime::{Hook, Hooks};

use super::state::Container;

/// The file in the state directory holding the hooks.
const FILE: &str = "hooks.json";

/// The hook kinds, by the config's names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Prestart,
    CreateRuntime,
    CreateContainer,
    StartContainer,
    Poststart,
    Poststop,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Prestart => "prestart",
            Kind::CreateRuntime => "createRuntime",
            Kind::CreateContainer => "createContainer",
            Kind::StartContainer => "startContainer",
            Kind::Poststart => "poststart",
            Kind::Poststop => "poststop",
        }
    }

    /// The status the state handed to this kind's hooks says.
    fn status(self) -> &'static str {
        match self {
            Kind::Prestart | Kind::CreateRuntime | Kind::CreateContainer => "creating",
            Kind::StartContainer => "created",
            Kind::Poststart => "running",
            Kind::Poststop => "stopped",
        }
    }

    fn of(self, h: &Hooks) -> Vec<Hook> {
        #[allow(deprecated)]
        let list = match self {
            Kind::Prestart => h.prestart(),
            Kind::CreateRuntime => h.create_runtime(),
            Kind::CreateContainer => h.create_container(),
            Kind::StartContainer => h.start_container(),
            Kind::Poststart => h.poststart(),
            Kind::Poststop => h.poststop(),
        };
        list.clone().unwrap_or_default()
    }
}

/// Keep `hooks` in the state directory `dir` for the later verbs.
pub fn save(dir: &Path, hooks: &Hooks) -> anyhow::Result<()> {
    let path = dir.join(FILE);
    let text = serde_json::to_string(hooks).context("encoding the hooks")?;
    fs::write(&path, text).with_context(|| format!("writing {}", path.display()))
}

/// The hooks `create` kept for container `c`, if any.
pub fn load(c: &Container) -> anyhow::Result<Option<Hooks>> {
    let path = c.dir.join(FILE);
    match fs::read_to_string(&path) {
        Ok(text) => Ok(Some(serde_json::from_str(&text).with_context(|| format!("malformed {}", path.display()))?)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
    }
}

/// Run `c`'s hooks of `kind` in order, with `pid` in the state (0 once the
/// sandbox is gone); the first failure ends the run and is the error.
pub fn run(hooks: &Hooks, kind: Kind, c: &Container, pid: i32) -> anyhow::Result<()> {
    let list = kind.of(hooks);
    if list.is_empty() {
        return Ok(());
    }
    let state = serde_json::json!({
        "ociVersion": super::state::OCI_VERSION,
        "id": c.saved.id,
        "status": kind.status(),
        "pid": pid,
        "bundle": c.saved.bundle,
        "annotations": c.saved.annotations,
    })
    .to_string();
    for (i, hook) in list.iter().enumerate() {
        run_one(hook, &state).with_context(|| format!("{} hook #{i} ({})", kind.name(), hook.path().display()))?;
    }
    Ok(())
}

/// Run one hook with `state` on its standard input.
fn run_one(hook: &Hook, state: &str) -> anyhow::Result<()> {
    let timeout = match hook.timeout() {
        Some(t) if t <= 0 => bail!("timeout must be positive, not {t}"),
        Some(t) => Some(Duration::from_secs(u64::try_from(t).unwrap_or(u64::MAX))),
        None => None,
    };
    let mut cmd = Command::new(hook.path());
    if let Some(args) = hook.args() {
        if let Some((first, rest)) = args.split_first() {
            cmd.arg0(first).args(rest);
        }
    }
    cmd.env_clear();
    for kv in hook.env().iter().flatten() {
        if let Some((k, v)) = kv.split_once('=') {
            cmd.env(k, v);
        }
    }
    cmd.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = cmd.spawn().context("cannot run it")?;
    if let Some(mut stdin) = child.stdin.take() {
        // A hook that does not read its state may close its end: fine.
        let _ = stdin.write_all(state.as_bytes());
    }
    // Read what it prints on threads, so a chatty hook never blocks.
    let drain = |r: Option<Box<dyn Read + Send>>| {
        std::thread::spawn(move || {
            let mut out = Vec::new();
            if let Some(r) = r {
                let _ = r.take(64 << 10).read_to_end(&mut out);
            }
            out
        })
    };
    let out = drain(child.stdout.take().map(|s| Box::new(s) as Box<dyn Read + Send>));
    let err = drain(child.stderr.take().map(|s| Box::new(s) as Box<dyn Read + Send>));
    let deadline = timeout.map(|t| Instant::now() + t);
    let status = loop {
        if let Some(st) = child.try_wait().context("waiting for it")? {
            break st;
        }
        if deadline.is_some_and(|d| Instant::now() >= d) {
            let _ = child.kill();
            let _ = child.wait();
            bail!("timed out after {}s", timeout.map_or(0, |t| t.as_secs()));
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    let printed = [out, err]
        .into_iter()
        .filter_map(|t| t.join().ok())
        .map(|b| String::from_utf8_lossy(&b).trim().to_owned())
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join("; ");
    if !status.success() {
        if printed.is_empty() {
            bail!("failed: {status}");
        }
        bail!("failed: {status}: {printed}");
    }
    Ok(())
}
