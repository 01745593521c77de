//! `bulwark bench`: what a sandbox costs, measured side by side on this
//! machine: natively, on each bulwark platform, and under other runtimes
//! given as command prefixes (`--compare`).
//!
//! Method: case by case, every runtime runs once per round, in an order
//! that rotates each round (A B, B A, ...), so that drift of the machine
//! hits all runtimes alike. Round 0 is a warm-up and is not counted; then
//! `--runs` rounds give the median, min and max, and each round's ratio to
//! the native run of the same round gives the overhead.
//!
//! A case that does not work under a runtime (the sandbox lacks `fork`,
//! say) is reported as unsupported with the reason: never dropped, never
//! faked.
//!
//! The network: a runtime in `--network sandbox` mode, and every runtime
//! on the `veth-*` cases, runs inside a network namespace the bench makes
//! (the veth fixture, `veth.rs`), whose peer on the far end of the veth is
//! in the bench process.

mod cases;
mod report;
mod runner;
mod svg;
mod veth;

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{bail, Context};
use clap::Args;

use cases::{Case, Fixtures};
use runner::{Runtime, Sample};

/// The bulwark platforms `bench` tries when `--platform` is not given.
const KNOWN_PLATFORMS: &[&str] = &["ptrace", "systrap", "kvm"];

/// Options of `bulwark bench`.
#[derive(Debug, Args)]
pub struct BenchOpts {
    /// Runtimes to measure, comma-separated: `native` and bulwark platform
    /// names. Default: native and every platform that works on this host.
    #[arg(long, value_name = "LIST", value_delimiter = ',')]
    pub platform: Vec<String>,

    /// The sandbox network modes to measure each platform with,
    /// comma-separated: `none` (the sandbox's loopback), `host` (host
    /// sockets) and `sandbox` (the sentry's own TCP/IP stack). A platform
    /// in a mode other than `none` is reported as PLATFORM+MODE
    /// (`ptrace+host`). In `sandbox` mode every case runs inside a network
    /// namespace that the bench makes (needs root and iproute2), with one
    /// end of a veth pair (10.213.N.2/24) for the stack to take, the other
    /// (10.213.N.1) in the host's namespace: `ip netns exec NS bulwark do
    /// --network sandbox ...`. Its workloads' times include `ip netns
    /// exec`. The veth-* cases run in that namespace under every runtime,
    /// against a peer the bench runs on the host end.
    #[arg(long, value_name = "MODES", value_delimiter = ',', default_value = "none",
          value_parser = ["none", "host", "sandbox"])]
    pub network: Vec<String>,

    /// Also measure another runtime, given as NAME=COMMAND-PREFIX (split at
    /// whitespace; the case's command line is appended), e.g.
    /// 'runsc=runsc --network=none --platform=ptrace do'. Repeatable.
    #[arg(long, value_name = "NAME=COMMAND-PREFIX")]
    pub compare: Vec<String>,

    /// Only these cases, comma-separated (see --list).
    #[arg(long, value_name = "CASES", value_delimiter = ',')]
    pub only: Vec<String>,

    /// Counted runs per case and runtime (after one warm-up run).
    #[arg(long, value_name = "N", default_value_t = 5, value_parser = clap::value_parser!(u32).range(1..))]
    pub runs: u32,

    /// Write every sample, the summary and the machine's facts to FILE as JSON.
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,

    /// Write a bar chart of overhead ratios (log scale) to FILE as SVG.
    #[arg(long, value_name = "FILE")]
    pub svg: Option<PathBuf>,

    /// Time each microbenchmark runs for, per run, in milliseconds.
    #[arg(long, value_name = "MS", default_value_t = 300)]
    pub budget_ms: u64,

    /// Give up on a run (and call the case unsupported there) after SECS.
    #[arg(long, value_name = "SECS", default_value_t = 300)]
    pub timeout: u64,

    /// The guest program [default: bulwark-bench-guest next to this binary].
    #[arg(long, value_name = "PATH")]
    pub guest: Option<PathBuf>,

    /// List the cases and exit.
    #[arg(long)]
    pub list: bool,
}

/// How one case went under one runtime.
#[derive(Debug, Clone)]
pub enum Outcome {
    Ok { warmup: Option<Sample>, samples: Vec<Sample> },
    Unsupported(String),
}

/// A case's outcomes, one per runtime (in the runtimes' order).
#[derive(Debug)]
pub struct CaseResult {
    pub case: Case,
    pub outcomes: Vec<Outcome>,
}

/// `--compare` runtimes left out: name and why.
pub type Skipped = Vec<(String, String)>;

/// Everything measured, for the table, the JSON and the chart.
pub struct Report {
    pub runtimes: Vec<Runtime>,
    pub skipped: Skipped,
    /// The veth fixture's namespace, if it was made (for command lines).
    pub netns: Option<veth::Netns>,
    pub results: Vec<CaseResult>,
    pub runs: u32,
    pub budget_ms: u64,
    pub machine: report::Machine,
}

/// Run `bulwark bench`; returns the exit status.
pub fn run(opts: &BenchOpts) -> anyhow::Result<i32> {
    let exe = std::env::current_exe().context("find this binary")?;
    let guest = match &opts.guest {
        Some(g) => g.clone(),
        None => exe.with_file_name("bulwark-bench-guest"),
    };
    if !cases::is_executable(&guest) {
        bail!(
            "guest program {} not found: build it with `cargo build --release` (workspace member bench-guest)",
            guest.display()
        );
    }
    let fixtures = Fixtures::new()?;
    // The veth fixture is made on first use (below), not for --list.
    let mut cases = cases::all(&guest, opts.budget_ms, &fixtures)?;
    if opts.list {
        for c in &cases {
            println!("{:<16} {:<8} {}", c.name, c.kind.as_str(), c.argv.join(" "));
        }
        return Ok(0);
    }
    if !opts.only.is_empty() {
        if let Some(bad) = opts.only.iter().find(|n| !cases.iter().any(|c| &&c.name == n)) {
            let names: Vec<&str> = cases.iter().map(|c| c.name.as_str()).collect();
            bail!("unknown case {bad:?}; the cases are: {}", names.join(", "));
        }
        cases.retain(|c| opts.only.contains(&c.name));
    }
    if cfg!(debug_assertions) {
        eprintln!("bench: note: this is a debug build of bulwark; figures for publishing come from a release build");
    }
    let (runtimes, skipped) = choose_runtimes(opts, &exe)?;
    let timeout = Duration::from_secs(opts.timeout);
    let mut progress = Progress::default();
    let mut results = Vec::new();
    let total = cases.len();
    for (i, mut case) in cases.into_iter().enumerate() {
        if case.veth && case.unavailable.is_none() {
            case.unavailable = fixtures.veth().err();
        }
        let what = format!("[{}/{total}] {}", i + 1, case.name);
        let outcomes = measure_case(&case, &runtimes, &fixtures, opts.runs, timeout, |rt, round| {
            let run = if round == 0 { "warm-up".to_owned() } else { format!("run {round}/{}", opts.runs) };
            progress.show(&what, &format!("{rt}, {run}"));
        });
        results.push(CaseResult { case, outcomes });
    }
    progress.clear();
    let report = Report {
        runtimes,
        skipped,
        netns: fixtures.veth_if_made().map(|v| v.netns.clone()),
        results,
        runs: opts.runs,
        budget_ms: opts.budget_ms,
        machine: report::Machine::probe(),
    };
    print!("{}", report::table(&report));
    if let Some(path) = &opts.json {
        std::fs::write(path, report::json(&report)).with_context(|| format!("write {}", path.display()))?;
    }
    if let Some(path) = &opts.svg {
        std::fs::write(path, svg::chart(&report)).with_context(|| format!("write {}", path.display()))?;
    }
    Ok(0)
}

/// The runtimes to measure, and the `--compare` ones left out (with why).
fn choose_runtimes(opts: &BenchOpts, exe: &Path) -> anyhow::Result<(Vec<Runtime>, Skipped)> {
    let mut runtimes = Vec::new();
    if opts.platform.is_empty() {
        runtimes.push(Runtime::native());
        for p in KNOWN_PLATFORMS {
            match probe_platform(exe, p) {
                Ok(()) => runtimes.extend(opts.network.iter().map(|m| Runtime::platform_in(exe, p, m))),
                Err(why) => eprintln!("bench: platform {p} does not work on this host ({why}); left out"),
            }
        }
    } else {
        // Named explicitly: measured even if broken, so that every case
        // says why it is unsupported there.
        for p in &opts.platform {
            if p == "native" {
                runtimes.push(Runtime::native());
            } else {
                runtimes.extend(opts.network.iter().map(|m| Runtime::platform_in(exe, p, m)));
            }
        }
    }
    let mut skipped = Vec::new();
    for spec in &opts.compare {
        let rt = Runtime::parse_compare(spec).map_err(anyhow::Error::msg)?;
        match rt.missing() {
            Some(why) => {
                eprintln!("bench: --compare {}: {why}; left out, the rest still runs", rt.name);
                skipped.push((rt.name, why));
            }
            None => runtimes.push(rt),
        }
    }
    for (i, rt) in runtimes.iter().enumerate() {
        if runtimes[..i].iter().any(|o| o.name == rt.name) {
            bail!("runtime {:?} named twice", rt.name);
        }
    }
    Ok((runtimes, skipped))
}

/// `bulwark do --platform NAME -- /bin/true` succeeds.
fn probe_platform(exe: &Path, name: &str) -> Result<(), String> {
    let out = std::process::Command::new(exe)
        .args(["do", "--platform", name, "--", "/bin/true"])
        .stdin(std::process::Stdio::null())
        .output()
        .map_err(|e| e.to_string())?;
    if out.status.success() {
        return Ok(());
    }
    let err = String::from_utf8_lossy(&out.stderr);
    Err(err.lines().find(|l| !l.trim().is_empty()).unwrap_or("failed").trim().to_owned())
}

/// Run `case` under every runtime: a warm-up round, then `runs` rounds, in
/// rotating order. A runtime whose run fails is done with the case.
fn measure_case(
    case: &Case,
    runtimes: &[Runtime],
    fx: &Fixtures,
    runs: u32,
    timeout: Duration,
    mut progress: impl FnMut(&str, u32),
) -> Vec<Outcome> {
    if let Some(why) = &case.unavailable {
        return vec![Outcome::Unsupported(why.clone()); runtimes.len()];
    }
    if let Err(e) = fx.prepare(case) {
        return vec![Outcome::Unsupported(format!("cannot prepare the case: {e:#}")); runtimes.len()];
    }
    let mut outcomes = vec![Outcome::Ok { warmup: None, samples: Vec::new() }; runtimes.len()];
    let n = runtimes.len();
    for round in 0..=runs {
        for k in 0..n {
            let ri = (k + round as usize) % n;
            let Outcome::Ok { warmup, samples } = &mut outcomes[ri] else { continue };
            progress(&runtimes[ri].name, round);
            match runner::run_once(&runtimes[ri], case, fx, timeout) {
                Ok(s) if round == 0 => *warmup = Some(s),
                Ok(s) => samples.push(s),
                Err(why) if round == 0 => outcomes[ri] = Outcome::Unsupported(why),
                Err(why) => outcomes[ri] = Outcome::Unsupported(format!("run {round}: {why}")),
            }
        }
    }
    outcomes
}

/// The live progress line on stderr: rewritten in place (`\r`) on a
/// terminal; elsewhere (a log file) one line per case.
struct Progress {
    tty: bool,
    width: usize,
    case: String,
}

impl Default for Progress {
    fn default() -> Progress {
        Progress { tty: std::io::stderr().is_terminal(), width: 0, case: String::new() }
    }
}

impl Progress {
    fn show(&mut self, case: &str, detail: &str) {
        let mut err = std::io::stderr().lock();
        if self.tty {
            let line = format!("{case}: {detail}");
            self.width = self.width.max(line.len());
            let _ = write!(err, "\r{line:<w$}", w = self.width);
            let _ = err.flush();
        } else if self.case != case {
            let _ = writeln!(err, "bench: {case}");
            self.case = case.to_owned();
        }
    }

    fn clear(&mut self) {
        if self.tty && self.width > 0 {
            eprint!("\r{:w$}\r", "", w = self.width);
        }
    }
}
