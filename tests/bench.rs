//! `bulwark bench` and its guest program. Nothing here asserts a timing:
//! only that figures exist, are positive and finite, and that the reports
//! have the right shape.

mod common;

use std::path::PathBuf;
use std::process::Command;

use common::{bulwark, fresh_dir, run};

/// The guest, next to the `bulwark` under test (where `bulwark bench`
/// looks for it); built here if this test was run without the workspace.
fn guest() -> PathBuf {
    let path = bulwark().with_file_name("bulwark-bench-guest");
    if !path.exists() {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let mut build = Command::new(cargo);
        build.args(["build", "-p", "bench-guest"]).current_dir(env!("CARGO_MANIFEST_DIR"));
        if bulwark().parent().is_some_and(|d| d.ends_with("release")) {
            build.arg("--release");
        }
        assert!(build.status().expect("run cargo").success(), "cargo build -p bench-guest failed");
    }
    path
}

#[test]
fn guest_reports_a_positive_finite_figure_for_every_case_natively() {
    let guest = guest();
    let list = run({
        let mut c = Command::new(&guest);
        c.arg("--list");
        c
    });
    // The veth- cases need a peer (`--peer ADDR`, which `bulwark bench`
    // sets up); with none named the guest runs every other case.
    let cases: Vec<String> = list.stdout_str().lines().filter(|c| !c.starts_with("veth-")).map(str::to_owned).collect();

    let out = run({
        let mut c = Command::new(&guest);
        c.args(["--budget-ms", "20"]);
        c
    });

    assert!(out.status.success(), "guest failed: {}{}", out.stdout_str(), out.stderr_str());
    assert!(cases.len() >= 14, "too few cases: {cases:?}");
    let stdout = out.stdout_str();
    let figures: Vec<(String, f64)> = cases
        .iter()
        .map(|case| {
            let line = stdout.lines().find(|l| l.starts_with(&format!("case {case} "))).unwrap_or("");
            let words: Vec<&str> = line.split_whitespace().collect();
            let ns = match words.as_slice() {
                ["case", _, "ns_per_op", v, "iters", n] if n.parse::<u64>().is_ok_and(|n| n > 0) => {
                    v.parse().unwrap_or(f64::NAN)
                }
                _ => f64::NAN,
            };
            (case.clone(), ns)
        })
        .collect();
    let bad: Vec<_> = figures.iter().filter(|(_, ns)| !(ns.is_finite() && *ns > 0.0)).collect();
    assert!(bad.is_empty(), "cases without a positive finite ns/op: {bad:?}\n{stdout}");
}

/// A minimal well-formedness check: tags balance (ignoring self-closing
/// ones); returns the names of the elements opened, in order.
fn xml_elements(doc: &str) -> Result<Vec<String>, String> {
    let mut stack: Vec<String> = Vec::new();
    let mut seen = Vec::new();
    let mut rest = doc;
    while let Some(start) = rest.find('<') {
        let end = rest[start..].find('>').ok_or("unclosed tag")? + start;
        let tag = &rest[start + 1..end];
        rest = &rest[end + 1..];
        if let Some(name) = tag.strip_prefix('/') {
            match stack.pop() {
                Some(open) if open == name.trim() => {}
                other => return Err(format!("</{name}> closes {other:?}")),
            }
        } else if !tag.starts_with('?') && !tag.starts_with('!') {
            let name: String = tag.chars().take_while(|c| !c.is_whitespace() && *c != '/').collect();
            seen.push(name.clone());
            if !tag.ends_with('/') {
                stack.push(name);
            }
        }
    }
    if stack.is_empty() {
        Ok(seen)
    } else {
        Err(format!("unclosed elements {stack:?}"))
    }
}

#[test]
fn bench_writes_json_with_both_runtimes_and_an_svg_with_one_bar_per_case() {
    guest();
    let dir = fresh_dir("bench");
    let (json_path, svg_path) = (dir.join("out.json"), dir.join("out.svg"));
    let mut cmd = Command::new(bulwark());
    cmd.args(["bench", "--runs", "1", "--budget-ms", "50", "--only", "getpid,true-startup", "--json"])
        .arg(&json_path)
        .arg("--svg")
        .arg(&svg_path)
        .args(["--compare", "missing=bulwark-no-such-runtime do"]);

    let out = run(cmd);

    assert!(out.status.success(), "bench failed: {}", out.stderr_str());
    assert!(out.stderr_str().contains("missing: `bulwark-no-such-runtime` is not installed"), "{}", out.stderr_str());
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json_path).expect("json written")).expect("valid JSON");
    let cases = json["cases"].as_array().expect("cases");
    let names: Vec<&str> = cases.iter().filter_map(|c| c["name"].as_str()).collect();
    assert_eq!(names, ["getpid", "true-startup"]);
    for case in cases {
        let native = &case["results"]["native"];
        assert_eq!(native["status"], "ok", "{case}");
        assert!(native["samples"][0].as_f64().is_some_and(|v| v > 0.0), "{case}");
        let ptrace = &case["results"]["ptrace"];
        let status = ptrace["status"].as_str().expect("ptrace status");
        assert!(
            status == "ok" || (status == "unsupported" && ptrace["reason"].as_str().is_some_and(|r| !r.is_empty())),
            "{case}"
        );
    }
    assert!(json["machine"]["cores"].as_u64().is_some_and(|n| n > 0));
    assert!(json["machine"]["cpu_model"].is_string() && json["machine"]["kernel"].is_string());
    assert_eq!(json["skipped_runtimes"][0]["name"], "missing");
    let svg = std::fs::read_to_string(&svg_path).expect("svg written");
    assert!(svg.starts_with("<svg"), "{svg}");
    assert_eq!(xml_elements(&svg).map(|e| e[0].clone()), Ok("svg".to_owned()));
    // One slot per case per non-native runtime (ptrace, and any other
    // platform that works on this host).
    let runtimes = json["runtimes"].as_array().expect("runtimes").len();
    assert_eq!(svg.matches("class=\"bar").count(), 2 * (runtimes - 1), "{svg}");
}

#[test]
fn bench_rejects_an_unknown_case() {
    guest();
    let mut cmd = Command::new(bulwark());
    cmd.args(["bench", "--only", "no-such-case"]);

    let out = run(cmd);

    assert_eq!(out.status.code(), Some(125));
    assert!(out.stderr_str().contains("unknown case \"no-such-case\""), "{}", out.stderr_str());
}
