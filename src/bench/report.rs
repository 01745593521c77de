//! The results: statistics, the aligned table, the JSON document, and the
//! facts about the machine they were measured on.

use std::fmt::Write as _;

use super::cases::Kind;
use super::{CaseResult, Outcome, Report};

/// What the figures depend on.
pub struct Machine {
    pub cpu_model: String,
    pub cores: usize,
    /// `uname`: system, release, version, machine.
    pub kernel: String,
}

impl Machine {
    pub fn probe() -> Machine {
        let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let cpu_model = cpuinfo
            .lines()
            .find_map(|l| l.strip_prefix("model name").and_then(|r| r.split_once(':')).map(|(_, v)| v.trim()))
            .unwrap_or("unknown")
            .to_owned();
        let cores = cpuinfo.lines().filter(|l| l.starts_with("processor")).count();
        let cores = if cores > 0 { cores } else { std::thread::available_parallelism().map_or(1, |n| n.get()) };
        Machine { cpu_model, cores, kernel: uname() }
    }
}

fn uname() -> String {
    let Ok(u) = nix::sys::utsname::uname() else {
        return "unknown".into();
    };
    let field = |f: &std::ffi::OsStr| f.to_string_lossy().into_owned();
    format!("{} {} {} {}", field(u.sysname()), field(u.release()), field(u.version()), field(u.machine()))
}

/// Median, min and max of a non-empty set of samples.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Summary {
    pub median: f64,
    pub min: f64,
    pub max: f64,
}

pub fn summarize(values: &[f64]) -> Option<Summary> {
    if values.is_empty() {
        return None;
    }
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    let mid = v.len() / 2;
    let median = if v.len() % 2 == 1 { v[mid] } else { (v[mid - 1] + v[mid]) / 2.0 };
    Some(Summary { median, min: v[0], max: v[v.len() - 1] })
}

fn values(o: &Outcome) -> Option<Vec<f64>> {
    match o {
        Outcome::Ok { samples, .. } if !samples.is_empty() => Some(samples.iter().map(|s| s.value).collect()),
        _ => None,
    }
}

/// Index of the native runtime, if it was measured.
pub fn native_index(report: &Report) -> Option<usize> {
    report.runtimes.iter().position(|r| r.prefix.is_empty())
}

/// Runtime `ri`'s ratio to native, round by round.
pub fn ratios(report: &Report, res: &CaseResult, ri: usize) -> Option<Vec<f64>> {
    let native = values(&res.outcomes[native_index(report)?])?;
    let mine = values(&res.outcomes[ri])?;
    (native.len() == mine.len()).then(|| mine.iter().zip(&native).map(|(m, n)| m / n).collect())
}

/// The median of runtime `ri`'s per-round ratios to native.
pub fn ratio(report: &Report, res: &CaseResult, ri: usize) -> Option<f64> {
    summarize(&ratios(report, res, ri)?).map(|s| s.median)
}

fn fmt_value(v: f64, kind: Kind) -> String {
    match kind {
        Kind::Micro if v >= 100.0 => format!("{v:.0}"),
        Kind::Micro => format!("{v:.1}"),
        Kind::Workload if v >= 10.0 => format!("{v:.1}"),
        Kind::Workload => format!("{v:.4}"),
    }
}

pub fn fmt_ratio(r: f64) -> String {
    if r >= 10.0 {
        format!("{r:.0}x")
    } else {
        format!("{r:.2}x")
    }
}

/// The aligned table: median [min-max] per runtime, and the ratio to
/// native; unsupported cells point to a numbered note with the reason.
pub fn table(report: &Report) -> String {
    let native = native_index(report);
    let mut header = vec!["case".to_owned(), "unit".to_owned()];
    header.extend(report.runtimes.iter().map(|r| r.name.clone()));
    let mut rows = vec![header];
    let mut notes = Vec::new();
    for res in &report.results {
        let mut row = vec![res.case.name.clone(), res.case.kind.unit().to_owned()];
        if let Some(why) = &res.case.unavailable {
            // The same for every runtime: one note.
            notes.push(format!("{}: {why}", res.case.name));
            row.extend(res.outcomes.iter().map(|_| format!("unavailable ({})", notes.len())));
            rows.push(row);
            continue;
        }
        for (ri, o) in res.outcomes.iter().enumerate() {
            let cell = match (o, values(o).and_then(|v| summarize(&v))) {
                (Outcome::Unsupported(why), _) => {
                    notes.push(format!("{}, {}: {why}", report.runtimes[ri].name, res.case.name));
                    let word = if Some(ri) == native { "failed" } else { "unsupported" };
                    format!("{word} ({})", notes.len())
                }
                (_, Some(s)) => {
                    let k = res.case.kind;
                    let mut c = format!("{} [{}-{}]", fmt_value(s.median, k), fmt_value(s.min, k), fmt_value(s.max, k));
                    if Some(ri) != native {
                        if let Some(r) = ratio(report, res, ri) {
                            c.push_str(&format!(" {}", fmt_ratio(r)));
                        }
                    }
                    c
                }
                (_, None) => "no samples".to_owned(),
            };
            row.push(cell);
        }
        rows.push(row);
    }
    let cols = rows[0].len();
    let widths: Vec<usize> = (0..cols).map(|c| rows.iter().map(|r| r[c].len()).max().unwrap_or(0)).collect();
    let mut out = String::new();
    for (i, row) in rows.iter().enumerate() {
        let line: Vec<String> = row.iter().zip(&widths).map(|(cell, w)| format!("{cell:<w$}")).collect();
        let _ = writeln!(out, "{}", line.join("  ").trim_end());
        if i == 0 {
            let _ = writeln!(out, "{}", widths.iter().map(|w| "-".repeat(*w)).collect::<Vec<_>>().join("  "));
        }
    }
    let _ = writeln!(
        out,
        "\nmedian [min-max] of {} runs after a warm-up; Nx = median ratio to native in the same round.",
        report.runs
    );
    for (i, n) in notes.iter().enumerate() {
        let _ = writeln!(out, "({}) {n}", i + 1);
    }
    for (name, why) in &report.skipped {
        let _ = writeln!(out, "{name}: not measured: {why}");
    }
    out
}

/// A JSON string literal.
fn js(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A JSON number (`null` if not finite).
fn jn(v: f64) -> String {
    if v.is_finite() {
        format!("{v}")
    } else {
        "null".into()
    }
}

fn jarr<T>(items: &[T], f: impl Fn(&T) -> String) -> String {
    format!("[{}]", items.iter().map(f).collect::<Vec<_>>().join(", "))
}

fn jsummary(s: Option<Summary>) -> String {
    match s {
        Some(s) => format!("{{\"median\": {}, \"min\": {}, \"max\": {}}}", jn(s.median), jn(s.min), jn(s.max)),
        None => "null".into(),
    }
}

/// The JSON document: machine facts, settings, runtimes, and per case and
/// runtime every sample (or why the case is unsupported there).
pub fn json(report: &Report) -> String {
    let m = &report.machine;
    let mut o = String::from("{\n");
    let _ = writeln!(o, "  \"bulwark_version\": {},", js(env!("CARGO_PKG_VERSION")));
    let _ = writeln!(
        o,
        "  \"machine\": {{\"cpu_model\": {}, \"cores\": {}, \"kernel\": {}}},",
        js(&m.cpu_model),
        m.cores,
        js(&m.kernel)
    );
    let _ = writeln!(
        o,
        "  \"settings\": {{\"runs\": {}, \"warmup_runs\": 1, \"budget_ms\": {}, \"order\": \"interleaved, rotating each round\"}},",
        report.runs, report.budget_ms
    );
    let rts = jarr(&report.runtimes, |r| {
        format!("{{\"name\": {}, \"command_prefix\": {}}}", js(&r.name), jarr(&r.prefix, |p| js(p)))
    });
    let _ = writeln!(o, "  \"runtimes\": {rts},");
    let skipped = jarr(&report.skipped, |(n, why)| format!("{{\"name\": {}, \"reason\": {}}}", js(n), js(why)));
    let _ = writeln!(o, "  \"skipped_runtimes\": {skipped},");
    o.push_str("  \"cases\": [\n");
    for (ci, res) in report.results.iter().enumerate() {
        let c = &res.case;
        let _ = writeln!(
            o,
            "    {{\"name\": {}, \"kind\": {}, \"unit\": {}, \"results\": {{",
            js(&c.name),
            js(c.kind.as_str()),
            js(c.kind.unit())
        );
        for (ri, (rt, outcome)) in report.runtimes.iter().zip(&res.outcomes).enumerate() {
            let body = match outcome {
                Outcome::Unsupported(why) => {
                    let status = match (&c.unavailable, Some(ri) == native_index(report)) {
                        (Some(_), _) => "unavailable",
                        (None, true) => "failed",
                        (None, false) => "unsupported",
                    };
                    format!("{{\"status\": {}, \"reason\": {}}}", js(status), js(why))
                }
                Outcome::Ok { warmup, samples } => {
                    let vals: Vec<f64> = samples.iter().map(|s| s.value).collect();
                    let mut b = format!(
                        "{{\"status\": \"ok\", \"command\": {}, \"warmup\": {}, \"samples\": {}, \"summary\": {}",
                        jarr(&rt.command_line(c, report.netns.as_ref(), None), |a| js(a)),
                        warmup.map_or("null".into(), |w| jn(w.value)),
                        jarr(&vals, |v| jn(*v)),
                        jsummary(summarize(&vals))
                    );
                    if c.kind == Kind::Micro {
                        let iters: Vec<String> = samples.iter().map(|s| s.iters.unwrap_or(0).to_string()).collect();
                        let _ = write!(b, ", \"iters\": [{}]", iters.join(", "));
                    }
                    if Some(ri) != native_index(report) {
                        let r = ratios(report, res, ri);
                        let _ = write!(
                            b,
                            ", \"ratio_to_native\": {}",
                            match &r {
                                Some(r) => format!(
                                    "{{\"per_round\": {}, \"summary\": {}}}",
                                    jarr(r, |v| jn(*v)),
                                    jsummary(summarize(r))
                                ),
                                None => "null".into(),
                            }
                        );
                    }
                    b.push('}');
                    b
                }
            };
            let comma = if ri + 1 < res.outcomes.len() { "," } else { "" };
            let _ = writeln!(o, "      {}: {body}{comma}", js(&rt.name));
        }
        let comma = if ci + 1 < report.results.len() { "," } else { "" };
        let _ = writeln!(o, "    }}}}{comma}");
    }
    o.push_str("  ]\n}\n");
    o
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_of_an_even_count_is_the_mean_of_the_middle_two() {
        let s = summarize(&[4.0, 1.0, 3.0, 2.0]);

        assert_eq!(s, Some(Summary { median: 2.5, min: 1.0, max: 4.0 }));
    }

    #[test]
    fn unavailable_case_is_one_note_for_every_runtime() {
        use crate::bench::cases::Case;
        use crate::bench::runner::Runtime;
        let why = "no veth fixture (needs root and iproute2): ip netns add: Operation not permitted";
        let case = Case {
            name: "veth-rr".into(),
            kind: Kind::Micro,
            argv: vec!["/g".into()],
            unavailable: Some(why.into()),
            veth: true,
        };
        let report = Report {
            runtimes: vec![Runtime::native(), Runtime::platform(std::path::Path::new("/b"), "ptrace")],
            skipped: Vec::new(),
            netns: None,
            results: vec![CaseResult { case, outcomes: vec![Outcome::Unsupported(why.into()); 2] }],
            runs: 1,
            budget_ms: 1,
            machine: Machine { cpu_model: "cpu".into(), cores: 1, kernel: "k".into() },
        };

        let t = table(&report);

        assert_eq!((t.matches("unavailable (1)").count(), t.matches(why).count(), t.contains("failed")), (2, 1, false));
    }

    #[test]
    fn json_string_escapes_quotes_backslashes_and_controls() {
        assert_eq!(js("a\"b\\c\nd\u{1}"), "\"a\\\"b\\\\c\\nd\\u0001\"");
    }
}
