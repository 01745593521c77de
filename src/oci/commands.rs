//! The verbs. Each runs in a process of its own and finds the container
//! in its state directory (see [`super::state`]).

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::os::fd::OwnedFd;
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::str::FromStr;
use std::time::{Duration, Instant, SystemTime};

use anyhow::{anyhow, bail, Context};
use nix::sys::signal::Signal;
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;
use oci_spec::runtime::Spec;

use super::config::{self, Note, Overrides};
use super::log::{rfc3339, Log};
use super::state::{self, Container, Saved, Status};
use super::{cgroup, hooks};
use super::{
    console, CreateArgs, DeleteArgs, Format, GlobalOpts, KillArgs, ListArgs, OciCommand, PsArgs, RunArgs, SpecArgs,
};
use crate::launch::Detached;

/// How long `create` waits for the sandbox to be set up and waiting for
/// `start`.
const READY_TIMEOUT: Duration = Duration::from_secs(60);
/// How long `delete --force` waits for a killed sandbox to be gone.
const KILL_TIMEOUT: Duration = Duration::from_secs(10);

pub fn dispatch(g: &GlobalOpts, log: &Log, cmd: OciCommand) -> anyhow::Result<i32> {
    match cmd {
        OciCommand::Create(a) => create(g, log, &a, false).map(|_| 0),
        OciCommand::Start(a) => start(&mut Container::load(&g.root, &a.id)?, log).map(|()| 0),
        OciCommand::State(a) => state(g, &a.id).map(|()| 0),
        OciCommand::Kill(a) => kill(g, &a).map(|()| 0),
        OciCommand::Delete(a) => delete(g, log, &a).map(|()| 0),
        OciCommand::Run(a) => run(g, log, &a),
        OciCommand::List(a) => list(g, &a).map(|()| 0),
        OciCommand::Ps(a) => ps(g, &a).map(|()| 0),
        OciCommand::Spec(a) => spec(&a).map(|()| 0),
        OciCommand::Features => features().map(|()| 0),
        OciCommand::Pause(a) => pause(g, &a.id, true).map(|()| 0),
        OciCommand::Resume(a) => pause(g, &a.id, false).map(|()| 0),
        OciCommand::Exec(a) => super::exec::exec(&g.root, log, &a),
        OciCommand::Events(a) => events(g, &a).map(|()| 0),
        OciCommand::Update(a) => update(g, log, &a).map(|()| 0),
        OciCommand::Checkpoint(_) => unsupported("checkpoint", "checkpoint and restore"),
        OciCommand::Restore(_) => unsupported("restore", "checkpoint and restore"),
    }
}

fn unsupported(verb: &str, what: &str) -> anyhow::Result<i32> {
    bail!("{verb} is not supported yet by bulwark: no {what}")
}

fn overrides(g: &GlobalOpts) -> Overrides {
    Overrides {
        platform: g.oci_platform.clone(),
        network: g.oci_network,
        strace: g.oci_strace,
        debug_log: g.oci_debug_log.clone(),
        debug: g.debug,
    }
}

/// `create`: the sandbox set up and waiting for `start`, its state saved.
/// With `attached` (`run` without `--detach`) a terminal without
/// `--console-socket` is the caller's own.
fn create(g: &GlobalOpts, log: &Log, a: &CreateArgs, attached: bool) -> anyhow::Result<Container> {
    state::check_id(&a.id)?;
    let bundle = a.bundle.canonicalize().with_context(|| format!("bundle {}", a.bundle.display()))?;
    let spec = config::load(&bundle)?;
    let plan = config::plan(&spec, &bundle, &overrides(g), netns_kind)?;
    for note in &plan.notes {
        match note {
            Note::Debug(m) => log.debug(m),
            Note::Warn(m) => log.warn(m),
        }
    }
    if a.preserve_fds > 0 {
        log.warn(&format!(
            "--preserve-fds {}: descriptors past stdio are not passed to the container yet",
            a.preserve_fds
        ));
    }
    if plan.terminal && a.console_socket.is_none() && !attached {
        bail!("process.terminal is true in config.json: a terminal needs --console-socket");
    }
    let dir = state::make_dir(&g.root, &a.id)?;
    // Every process of the sandbox is born in its cgroup: this one joins
    // it while starting them.
    let place = cgroup::Place::own();
    let cg = match make_cgroup(g, log, &spec, &a.id, &dir) {
        Ok(cg) => cg,
        Err(e) => {
            let _ = fs::remove_dir_all(&dir);
            return Err(e);
        }
    };
    let made = make_sandbox(&plan, a, &bundle, &dir, log);
    place.go_back();
    match made {
        Ok(c) => Ok(c),
        Err(e) => {
            if let Some(cg) = cg {
                let _ = cg.kill_and_remove(KILL_TIMEOUT);
            }
            let _ = fs::remove_dir_all(&dir);
            Err(e)
        }
    }
}

/// Make the container's cgroup, record it in `dir` and join it. Without
/// root (a rootless runtime) one that cannot be made is done without,
/// with a warning.
fn make_cgroup(g: &GlobalOpts, log: &Log, spec: &Spec, id: &str, dir: &Path) -> anyhow::Result<Option<cgroup::Cgroup>> {
    let linux = spec.linux().as_ref();
    let path = cgroup::path_of(linux.and_then(|l| l.cgroups_path().as_deref()), id, g.systemd_cgroup)?;
    let made = cgroup::Cgroup::create(&path, linux.and_then(|l| l.resources().as_ref()))
        .and_then(|cg| cgroup::save(dir, &cg).map(|()| cg))
        .and_then(|cg| cg.join(0).map(|()| cg));
    match made {
        Ok(cg) => Ok(Some(cg)),
        Err(e) if !nix::unistd::geteuid().is_root() => {
            log.warn(&format!("no cgroup for the container: {e:#}"));
            Ok(None)
        }
        Err(e) => {
            let _ = cgroup::Cgroup::at(&path).remove(Duration::ZERO);
            Err(e)
        }
    }
}

/// Remove the cgroup of container `c` once its processes are gone (any
/// left, a gofer say, are killed).
fn remove_cgroup(c: &Container, log: &Log) {
    let Some(cg) = cgroup::load(&c.dir) else { return };
    if let Err(e) = cg.kill_and_remove(KILL_TIMEOUT) {
        log.warn(&format!("{e:#}"));
    }
}

/// The rest of `create`, once the state directory is made.
fn make_sandbox(
    plan: &config::Plan,
    a: &CreateArgs,
    bundle: &Path,
    dir: &Path,
    log: &Log,
) -> anyhow::Result<Container> {
    let listener = state::bind_control(dir)?;
    let tty = match (&a.console_socket, plan.terminal) {
        (Some(sock), true) => Some(console::open_and_send(sock)?),
        _ => None,
    };
    // The sandbox's environment is the config's alone: no TERM from the
    // caller (boot would pass it on). This process has no other threads.
    std::env::remove_var("TERM");
    let detached = Detached { control: OwnedFd::from(listener), netns: plan.netns.clone() };
    let mut opts = plan.opts.clone();
    if let Some(profile) = &plan.seccomp {
        let path = dir.join("seccomp.profile");
        std::fs::write(&path, profile).with_context(|| format!("writing {}", path.display()))?;
        opts.seccomp_profile = Some(path);
    }
    let created = SystemTime::now();
    let pid = match &tty {
        Some(tty) => {
            let saved = console::stdio_onto(tty)?;
            let pid = crate::launch::spawn_detached(&opts, &detached);
            console::restore(saved)?;
            pid
        }
        None => crate::launch::spawn_detached(&opts, &detached),
    }?;
    // The sandbox holds the only listener now: if it dies, a request fails.
    drop(detached);
    drop(tty);
    let pid = i32::try_from(pid).context("sandbox pid")?;
    log.debug(&format!("sandbox started: pid {pid}"));
    let start_time = state::proc_stat(pid).map(|s| s.start_time).context("the sandbox is gone already")?;
    let c = Container {
        dir: dir.to_owned(),
        saved: Saved {
            id: a.id.clone(),
            pid,
            start_time,
            bundle: bundle.to_owned(),
            rootfs: plan.opts.rootfs.clone(),
            created: rfc3339(created),
            annotations: plan.annotations.clone(),
            started: false,
        },
    };
    // Ready when it answers: it has set up its file systems and waits.
    match c.ask_within("state", READY_TIMEOUT) {
        Ok(s) if s == "created" => {}
        answer => {
            let _ = nix::sys::signal::kill(Pid::from_raw(pid), Signal::SIGKILL);
            let why = match waitpid(Pid::from_raw(pid), None) {
                Ok(WaitStatus::Exited(_, code)) => format!("exit status {code}"),
                Ok(WaitStatus::Signaled(_, sig, _)) => format!("killed by {sig}"),
                _ => format!("{answer:?}"),
            };
            bail!("the sandbox failed to start ({why}); its error, if any, is on its standard error");
        }
    }
    c.save()?;
    if let Some(h) = &plan.hooks {
        hooks::save(dir, h)?;
        let created = [hooks::Kind::Prestart, hooks::Kind::CreateRuntime, hooks::Kind::CreateContainer];
        if let Err(e) = created.into_iter().try_for_each(|kind| hooks::run(h, kind, &c, pid)) {
            // The container ends, and its life goes on at delete's end.
            let _ = kill_and_wait(&c);
            let _ = waitpid(Pid::from_raw(pid), Some(WaitPidFlag::WNOHANG));
            run_poststop(&c, log);
            return Err(e);
        }
    }
    if let Some(path) = &a.pid_file {
        write_pid_file(path, pid)?;
    }
    Ok(c)
}

/// The poststop hooks of `c`, whose failures are only logged.
fn run_poststop(c: &Container, log: &Log) {
    match hooks::load(c) {
        Ok(Some(h)) => {
            if let Err(e) = hooks::run(&h, hooks::Kind::Poststop, c, 0) {
                log.warn(&format!("{e:#}"));
            }
        }
        Ok(None) => {}
        Err(e) => log.warn(&format!("{e:#}")),
    }
}

/// What the network namespace at `path` is to the sandbox: this process's
/// own (the same nsfs inode), or another with or without an interface the
/// sandbox's stack can take (up, not loopback, with an address), looked at
/// from a thread of its own, which alone joins the namespace. When that
/// cannot be told, usable: the sandbox then says what is wrong.
fn netns_kind(path: &Path) -> config::Netns {
    let id = |p: &Path| fs::metadata(p).ok().map(|m| (m.dev(), m.ino()));
    if id(path).is_some_and(|ns| Some(ns) == id(Path::new("/proc/self/ns/net"))) {
        return config::Netns::Own;
    }
    match std::thread::scope(|s| s.spawn(|| probe_netns(path)).join().unwrap_or(true)) {
        true => config::Netns::Usable,
        false => config::Netns::Unusable,
    }
}

fn probe_netns(path: &Path) -> bool {
    use nix::net::if_::InterfaceFlags;
    let Ok(ns) = fs::File::open(path) else {
        return true;
    };
    if nix::sched::setns(ns, nix::sched::CloneFlags::CLONE_NEWNET).is_err() {
        return true;
    }
    let Ok(addrs) = nix::ifaddrs::getifaddrs() else {
        return true;
    };
    addrs.into_iter().any(|ifa| {
        ifa.flags.contains(InterfaceFlags::IFF_UP)
            && !ifa.flags.contains(InterfaceFlags::IFF_LOOPBACK)
            && ifa.address.is_some_and(|a| a.as_sockaddr_in().is_some() || a.as_sockaddr_in6().is_some())
    })
}

/// Write `pid` to `path` as runc does: the number alone, the file renamed
/// into place whole.
fn write_pid_file(path: &Path, pid: i32) -> anyhow::Result<()> {
    let name = path.file_name().with_context(|| format!("pid file {}", path.display()))?;
    let tmp = path.with_file_name(format!(".{}.tmp", name.to_string_lossy()));
    fs::write(&tmp, pid.to_string()).with_context(|| format!("writing {}", tmp.display()))?;
    fs::rename(&tmp, path).with_context(|| format!("writing the pid file {}", path.display()))
}

/// `start`.
fn start(c: &mut Container, log: &Log) -> anyhow::Result<()> {
    match c.status() {
        Status::Created => {}
        Status::Running => bail!("cannot start an already running container"),
        Status::Paused => bail!("cannot start a paused container"),
        Status::Stopped => bail!("cannot start a container that has stopped"),
    }
    let hooks = hooks::load(c)?;
    if let Some(h) = &hooks {
        if let Err(e) = hooks::run(h, hooks::Kind::StartContainer, c, c.saved.pid) {
            let _ = kill_and_wait(c);
            return Err(e);
        }
    }
    let answer = c.ask("start")?;
    if answer != "ok" {
        bail!("the sandbox did not start: {answer}");
    }
    c.saved.started = true;
    c.save()?;
    if let Some(h) = &hooks {
        if let Err(e) = hooks::run(h, hooks::Kind::Poststart, c, c.saved.pid) {
            log.warn(&format!("{e:#}"));
        }
    }
    Ok(())
}

/// `state`.
fn state(g: &GlobalOpts, id: &str) -> anyhow::Result<()> {
    let c = Container::load(&g.root, id)?;
    let st = c.oci_state(c.status());
    println!("{}", serde_json::to_string_pretty(&st).context("encoding the state")?);
    Ok(())
}

/// A signal by name (`TERM`, `SIGTERM`, `term`) or number.
fn parse_signal(s: &str) -> anyhow::Result<Signal> {
    if let Ok(n) = s.parse::<i32>() {
        return Signal::try_from(n).map_err(|_| anyhow!("unsupported signal number {n}"));
    }
    let up = s.to_ascii_uppercase();
    let name = if up.starts_with("SIG") { up } else { format!("SIG{up}") };
    Signal::from_str(&name).map_err(|_| anyhow!("unknown signal {s:?}"))
}

/// `kill`.
fn kill(g: &GlobalOpts, a: &KillArgs) -> anyhow::Result<()> {
    let sig = parse_signal(&a.signal)?;
    let c = Container::load(&g.root, &a.id)?;
    let status = c.status();
    if status == Status::Stopped {
        bail!("container not running");
    }
    // A program not started yet has no handlers: a signal whose default
    // action ends a process ends it, as runc's waiting init would end.
    let sig = if status == Status::Created && ends_by_default(sig) { Signal::SIGKILL } else { sig };
    nix::sys::signal::kill(Pid::from_raw(c.saved.pid), sig).with_context(|| format!("kill {}", c.saved.pid))
}

/// Whether `sig`'s default action ends the process (signal(7)).
fn ends_by_default(sig: Signal) -> bool {
    use Signal::*;
    !matches!(sig, SIGCHLD | SIGURG | SIGWINCH | SIGCONT | SIGSTOP | SIGTSTP | SIGTTIN | SIGTTOU)
}

/// SIGKILL the sandbox and wait until it is gone (or a zombie).
fn kill_and_wait(c: &Container) -> anyhow::Result<()> {
    match nix::sys::signal::kill(Pid::from_raw(c.saved.pid), Signal::SIGKILL) {
        Ok(()) | Err(nix::errno::Errno::ESRCH) => {}
        Err(e) => return Err(e).with_context(|| format!("kill {}", c.saved.pid)),
    }
    let deadline = Instant::now() + KILL_TIMEOUT;
    while c.alive() {
        // Our own child (`run`) is reaped here; another's is not ours to.
        let _ = waitpid(Pid::from_raw(c.saved.pid), Some(WaitPidFlag::WNOHANG));
        if Instant::now() > deadline {
            bail!("the sandbox (pid {}) is still there {KILL_TIMEOUT:?} after SIGKILL", c.saved.pid);
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    Ok(())
}

/// `delete`.
fn delete(g: &GlobalOpts, log: &Log, a: &DeleteArgs) -> anyhow::Result<()> {
    state::check_id(&a.id)?;
    let Some(c) = Container::load_if_there(&g.root, &a.id)? else {
        // What an aborted create may have left: a directory without state.
        let _ = fs::remove_dir_all(g.root.join(&a.id));
        if a.force {
            return Ok(());
        }
        bail!("container does not exist: {}", a.id);
    };
    match c.status() {
        Status::Stopped => {}
        Status::Created => kill_and_wait(&c)?,
        Status::Running | Status::Paused if a.force => kill_and_wait(&c)?,
        Status::Running | Status::Paused => {
            bail!("cannot delete container {} that is not stopped: {}", a.id, c.status().as_str())
        }
    }
    remove_cgroup(&c, log);
    run_poststop(&c, log);
    c.remove()
}

/// `run`: create, start, and unless detached wait, delete and return the
/// container's exit status.
fn run(g: &GlobalOpts, log: &Log, a: &RunArgs) -> anyhow::Result<i32> {
    if !a.detach {
        // Signals sent to `run` go to the sandbox, as with `bulwark do`.
        crate::forward::install().context("signal handlers")?;
    }
    let mut c = create(g, log, &a.create, !a.detach)?;
    if let Err(e) = start(&mut c, log) {
        let _ = kill_and_wait(&c);
        remove_cgroup(&c, log);
        run_poststop(&c, log);
        let _ = c.remove();
        return Err(e);
    }
    if a.detach {
        return Ok(0);
    }
    let pid = Pid::from_raw(c.saved.pid);
    crate::forward::to(c.saved.pid);
    let status = loop {
        match waitpid(pid, None) {
            Err(nix::errno::Errno::EINTR) => continue,
            other => break other.context("waiting for the sandbox")?,
        }
    };
    let code = match status {
        WaitStatus::Exited(_, code) => code,
        WaitStatus::Signaled(_, sig, _) => 128 + sig as i32,
        other => bail!("the sandbox ended oddly: {other:?}"),
    };
    if !a.keep {
        remove_cgroup(&c, log);
        run_poststop(&c, log);
        c.remove()?;
    }
    Ok(code)
}

/// `pause` (`freeze`) or `resume`.
fn pause(g: &GlobalOpts, id: &str, freeze: bool) -> anyhow::Result<()> {
    let c = Container::load(&g.root, id)?;
    match (c.status(), freeze) {
        (Status::Running, true) | (Status::Paused, false) => {}
        (_, true) => bail!("container not running"),
        (_, false) => bail!("container not paused"),
    }
    let answer = c.ask(if freeze { "pause" } else { "resume" })?;
    if answer != "ok" {
        bail!("the sandbox did not {}: {answer}", if freeze { "pause" } else { "resume" });
    }
    Ok(())
}

/// Host CPU time of `pids` (user, system), in nanoseconds.
fn cpu_ns(pids: &[i32]) -> (u64, u64) {
    let hz = nix::unistd::sysconf(nix::unistd::SysconfVar::CLK_TCK)
        .ok()
        .flatten()
        .and_then(|h| u64::try_from(h).ok())
        .filter(|&h| h > 0)
        .unwrap_or(100);
    let per_tick = 1_000_000_000 / hz;
    pids.iter()
        .filter_map(|&p| state::proc_stat(p))
        .fold((0, 0), |(u, s), st| (u + st.utime * per_tick, s + st.stime * per_tick))
}

/// One `stats` event of `c` as runc's `events` prints it.
fn stats_event(c: &Container) -> anyhow::Result<serde_json::Value> {
    let line = c.ask("stats")?;
    let stats = sentry::control::Stats::decode(&line).with_context(|| format!("the sandbox answered {line:?}"))?;
    let cg = cgroup::load(&c.dir);
    let pids = cg.as_ref().map(cgroup::Cgroup::pids).filter(|p| !p.is_empty());
    let (user, system) = cpu_ns(&pids.unwrap_or_else(|| state::descendants(c.saved.pid)));
    // The cgroup counts every process of the sandbox, gone ones too.
    let total = cg.and_then(|cg| cg.cpu_ns()).unwrap_or(user + system);
    Ok(serde_json::json!({
        "type": "stats",
        "id": c.saved.id,
        "data": {
            "cpu": {"usage": {"total": total, "user": user, "kernel": system}, "throttling": {}},
            "memory": {"usage": {"usage": stats.memory_bytes, "limit": stats.memory_limit.unwrap_or(u64::MAX)}},
            "pids": {"current": stats.pids, "limit": stats.pids_limit.unwrap_or(0)},
        },
    }))
}

/// `events`.
fn events(g: &GlobalOpts, a: &super::EventsArgs) -> anyhow::Result<()> {
    let c = Container::load(&g.root, &a.id)?;
    loop {
        match c.status() {
            Status::Stopped => bail!("container with id {} is not running", a.id),
            Status::Created => bail!("container with id {} has not started", a.id),
            Status::Running | Status::Paused => {}
        }
        let ev = stats_event(&c)?;
        let mut out = std::io::stdout().lock();
        writeln!(out, "{ev}").and_then(|()| out.flush()).context("writing the event")?;
        if a.stats {
            return Ok(());
        }
        std::thread::sleep(a.interval);
    }
}

/// `update`.
fn update(g: &GlobalOpts, log: &Log, a: &super::UpdateArgs) -> anyhow::Result<()> {
    let c = Container::load(&g.root, &a.id)?;
    if matches!(c.status(), Status::Stopped) {
        bail!("container {} is not running", a.id);
    }
    let mut limits = sentry::control::Limits::default();
    if let Some(file) = &a.resources {
        let text = if file.as_os_str() == "-" {
            std::io::read_to_string(std::io::stdin()).context("reading the resources from standard input")?
        } else {
            fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))?
        };
        let r: oci_spec::runtime::LinuxResources =
            serde_json::from_str(&text).context("the resources are not linux.resources JSON")?;
        let (l, ignored) = config::update_limits(&r);
        limits = l;
        if let Some(cg) = cgroup::load(&c.dir) {
            cg.apply(&r)?;
        }
        for what in ignored {
            log.warn(&format!("update: {what} is not applied by bulwark"));
        }
    }
    if let Some(m) = &a.memory {
        limits.memory =
            Some(if m.trim() == "-1" { None } else { Some(crate::cli::parse_bytes(m).map_err(|e| anyhow!(e))?) });
    }
    if let Some(p) = a.pids_limit {
        limits.pids = Some(u64::try_from(p).ok().filter(|&p| p > 0));
    }
    if !a.other.is_empty() {
        log.warn("update: only the memory and pids limits are applied by bulwark");
    }
    if let Some(cg) = cgroup::load(&c.dir) {
        cg.set_limits(&limits)?;
    }
    let answer = c.ask(&limits.encode())?;
    if answer != "ok" {
        bail!("the sandbox did not update: {answer}");
    }
    Ok(())
}

/// `list`.
fn list(g: &GlobalOpts, a: &ListArgs) -> anyhow::Result<()> {
    let containers: Vec<Container> =
        state::ids(&g.root)?.iter().filter_map(|id| Container::load(&g.root, id).ok()).collect();
    if a.quiet {
        for c in &containers {
            println!("{}", c.saved.id);
        }
        return Ok(());
    }
    let states: Vec<state::OciState> = containers
        .iter()
        .map(|c| {
            let owner = fs::metadata(&c.dir)
                .ok()
                .and_then(|m| nix::unistd::User::from_uid(m.uid().into()).ok().flatten())
                .map_or_else(String::new, |u| u.name);
            state::OciState { owner, ..c.oci_state(c.status()) }
        })
        .collect();
    match a.format {
        Format::Json => println!("{}", serde_json::to_string(&states).context("encoding the list")?),
        Format::Table => {
            let mut rows = vec![["ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER"].map(String::from)];
            for s in &states {
                rows.push([
                    s.id.clone(),
                    s.pid.to_string(),
                    s.status.to_owned(),
                    s.bundle.display().to_string(),
                    s.created.clone(),
                    s.owner.clone(),
                ]);
            }
            print!("{}", table(&rows));
        }
    }
    Ok(())
}

/// Rows in columns as runc's tabwriter lays them out (each at least 12
/// wide, 3 spaces between).
fn table<const N: usize>(rows: &[[String; N]]) -> String {
    let mut widths = [0usize; N];
    for r in rows {
        for (w, cell) in widths.iter_mut().zip(r) {
            *w = (*w).max(cell.len() + 3).max(12);
        }
    }
    let mut out = String::new();
    for r in rows {
        let line: String = r.iter().zip(widths).map(|(cell, w)| format!("{cell:<w$}")).collect();
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// `ps`.
fn ps(g: &GlobalOpts, a: &PsArgs) -> anyhow::Result<()> {
    let c = Container::load(&g.root, &a.id)?;
    if c.status() == Status::Stopped {
        bail!("container is not running");
    }
    let pids = c.host_pids();
    if a.format == Format::Json {
        println!("{}", serde_json::to_string(&pids).context("encoding the pids")?);
        return Ok(());
    }
    let mut cmd = std::process::Command::new("ps");
    if a.ps_args.is_empty() {
        cmd.arg("-ef");
    } else {
        cmd.args(&a.ps_args);
    }
    let out = cmd.output().context("running ps")?;
    if !out.status.success() {
        bail!("ps failed: {}", String::from_utf8_lossy(&out.stderr).trim());
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let mut lines = text.lines();
    let header = lines.next().context("ps printed nothing")?;
    let col = header.split_whitespace().position(|h| h == "PID").context("ps printed no PID column")?;
    println!("{header}");
    for line in lines {
        let pid = line.split_whitespace().nth(col).and_then(|p| p.parse::<i32>().ok());
        if pid.is_some_and(|p| pids.contains(&p)) {
            println!("{line}");
        }
    }
    Ok(())
}

/// `spec`: runc's default config.json, with bulwark's hostname.
fn spec(a: &SpecArgs) -> anyhow::Result<()> {
    let path = a.bundle.as_deref().unwrap_or(Path::new(".")).join("config.json");
    let mut spec = Spec::default();
    spec.set_hostname(Some("bulwark".into()));
    if let Some(p) = spec.process_mut() {
        p.set_terminal(Some(true));
    }
    let text = serde_json::to_string_pretty(&spec).context("encoding the spec")?;
    let mut file = match OpenOptions::new().write(true).create_new(true).open(&path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            bail!("File {} exists. Remove it first", path.display())
        }
        Err(e) => return Err(e).with_context(|| format!("creating {}", path.display())),
    };
    file.write_all(format!("{text}\n").as_bytes()).with_context(|| format!("writing {}", path.display()))
}

/// `features`: what runc 1.1 prints (its fields, in its order and
/// indentation), saying what bulwark honours.
const FEATURES: &str = concat!(
    r#"{
    "ociVersionMin": "1.0.0",
    "ociVersionMax": "1.0.2-dev",
    "hooks": [
        "prestart",
        "createRuntime",
        "createContainer",
        "startContainer",
        "poststart",
        "poststop"
    ],
    "mountOptions": [
        "bind",
        "rbind",
        "ro",
        "rro",
        "rw"
    ],
    "linux": {
        "namespaces": [
            "cgroup",
            "ipc",
            "mount",
            "network",
            "pid",
            "user",
            "uts"
        ],
        "capabilities": [],
        "cgroup": {
            "v1": true,
            "v2": true,
            "systemd": false,
            "systemdUser": false
        },
        "seccomp": {
            "enabled": true
        },
        "apparmor": {
            "enabled": false
        },
        "selinux": {
            "enabled": false
        }
    },
    "annotations": {
        "org.bulwark.sandbox": "user-space kernel: every system call of the container is carried out by bulwark's sentry",
        "org.bulwark.version": ""#,
    env!("CARGO_PKG_VERSION"),
    r#""
    }
}"#
);

fn features() -> anyhow::Result<()> {
    let mut f: serde_json::Value = serde_json::from_str(FEATURES).context("features JSON")?;
    // Every capability the sentry models.
    f["linux"]["capabilities"] = serde_json::json!(abi::names::CAPABILITIES.as_slice());
    println!("{}", serde_json::to_string_pretty(&f).context("encoding the features")?);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signals_parse_by_name_in_any_case_with_or_without_sig_and_by_number() {
        let sigs = ["TERM", "SIGKILL", "hup", "9", "15"].map(|s| parse_signal(s).ok());

        assert_eq!(
            sigs,
            [
                Some(Signal::SIGTERM),
                Some(Signal::SIGKILL),
                Some(Signal::SIGHUP),
                Some(Signal::SIGKILL),
                Some(Signal::SIGTERM)
            ]
        );
        assert!(parse_signal("NOPE").is_err());
    }

    #[test]
    fn term_ends_a_process_by_default_but_winch_and_stop_do_not() {
        let ends = [Signal::SIGTERM, Signal::SIGHUP, Signal::SIGWINCH, Signal::SIGSTOP].map(ends_by_default);

        assert_eq!(ends, [true, true, false, false]);
    }

    #[test]
    fn features_parse_as_the_runtime_spec_features_with_runc_s_version() {
        let f: oci_spec::runtime::Features = serde_json::from_str(FEATURES).expect("features JSON");

        assert_eq!(f.oci_version_max(), state::OCI_VERSION);
    }

    #[test]
    fn table_pads_columns_to_at_least_twelve() {
        let rows = [["ID", "PID"].map(String::from), ["a-long-container-id", "7"].map(String::from)];

        assert_eq!(table(&rows), "ID                    PID\na-long-container-id   7\n");
    }

    #[test]
    fn spec_refuses_to_overwrite_a_config() {
        let dir = std::env::temp_dir().join(format!("bulwark-oci-spec-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).expect("dir");
        let a = SpecArgs { bundle: Some(dir.clone()), rootless: false };

        let first = spec(&a);
        let second = spec(&a);

        assert!(first.is_ok());
        assert!(second.is_err_and(|e| e.to_string().contains("exists")));
        let parsed: Result<Spec, _> =
            serde_json::from_str(&fs::read_to_string(dir.join("config.json")).unwrap_or_default());
        assert!(parsed.is_ok());
        let _ = fs::remove_dir_all(&dir);
    }
}
