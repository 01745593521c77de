//! The chart: overhead ratio to native per case, one bar per non-native
//! runtime, grouped by case, on a log scale, hand-written SVG.
//!
//! Every case has one slot per runtime, each an element of class `bar`: a
//! filled bar from 1x to the ratio, or, where the case is unsupported under
//! that runtime (or has no native baseline), an empty dashed slot of class
//! `bar unsupported`.

use std::fmt::Write as _;

use super::cases::Kind;
use super::report::{fmt_ratio, native_index, ratio};
use super::{Outcome, Report};

const COLORS: &[&str] = &["#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#b07aa1", "#edc948"];
const BAR_W: f64 = 20.0;
const GROUP_GAP: f64 = 20.0;
const LEFT: f64 = 80.0;
const RIGHT: f64 = 30.0;
const TOP: f64 = 90.0;
const PLOT_H: f64 = 320.0;
const BOTTOM: f64 = 190.0;

fn esc(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// The SVG document.
pub fn chart(report: &Report) -> String {
    let native = native_index(report);
    let others: Vec<usize> = (0..report.runtimes.len()).filter(|&i| Some(i) != native).collect();
    let ratios: Vec<Vec<Option<f64>>> =
        report.results.iter().map(|res| others.iter().map(|&ri| ratio(report, res, ri)).collect()).collect();
    let all: Vec<f64> = ratios.iter().flatten().flatten().copied().filter(|r| *r > 0.0).collect();
    let lo_exp = all.iter().copied().fold(1.0f64, f64::min).log10().floor();
    let hi_exp = all.iter().copied().fold(1.0f64, f64::max).log10().ceil().max(lo_exp + 1.0);
    let y = |r: f64| TOP + PLOT_H * (hi_exp - r.log10()) / (hi_exp - lo_exp);

    let group_w = (others.len().max(1) as f64) * BAR_W + GROUP_GAP;
    let plot_w = (report.results.len().max(1) as f64) * group_w;
    let width = (LEFT + plot_w + RIGHT).max(820.0);
    let height = TOP + PLOT_H + BOTTOM;
    let mut s = String::new();
    let _ = writeln!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{width:.0}" height="{height:.0}" viewBox="0 0 {width:.0} {height:.0}" font-family="sans-serif" font-size="12">"#
    );
    let _ = writeln!(
        s,
        r##"<rect class="background" x="0" y="0" width="{width:.0}" height="{height:.0}" fill="#ffffff"/>"##
    );
    let _ = writeln!(
        s,
        r#"<text x="{LEFT}" y="24" font-size="16" font-weight="bold">bulwark bench: overhead relative to native</text>"#
    );

    // Legend.
    let mut lx = LEFT;
    for (k, &ri) in others.iter().enumerate() {
        let name = esc(&report.runtimes[ri].name);
        let color = COLORS[k % COLORS.len()];
        let _ = writeln!(s, r#"<rect class="swatch" x="{lx}" y="40" width="12" height="12" fill="{color}"/>"#);
        let _ = writeln!(s, r#"<text x="{}" y="50">{name}</text>"#, lx + 16.0);
        lx += 30.0 + 7.0 * name.len() as f64;
    }
    let _ = writeln!(
        s,
        r##"<rect class="swatch" x="{lx}" y="40" width="12" height="12" fill="none" stroke="#888" stroke-dasharray="3,2"/>"##
    );
    let _ = writeln!(s, r#"<text x="{}" y="50">unsupported (empty slot)</text>"#, lx + 16.0);
    if native.is_none() {
        let _ = writeln!(s, r#"<text x="{LEFT}" y="70">no native runs: no ratios to show</text>"#);
    }

    // Axes and decade grid lines.
    let mut e = lo_exp;
    while e <= hi_exp {
        let r = 10f64.powf(e);
        let yy = y(r);
        let (stroke, w) = if e == 0.0 { ("#333", 1.5) } else { ("#ddd", 1.0) };
        let _ = writeln!(
            s,
            r#"<line x1="{LEFT}" y1="{yy:.1}" x2="{:.1}" y2="{yy:.1}" stroke="{stroke}" stroke-width="{w}"/>"#,
            LEFT + plot_w
        );
        let _ = writeln!(
            s,
            r#"<text x="{:.1}" y="{:.1}" text-anchor="end">{}</text>"#,
            LEFT - 6.0,
            yy + 4.0,
            axis_label(r)
        );
        e += 1.0;
    }
    let _ = writeln!(s, r##"<line x1="{LEFT}" y1="{TOP}" x2="{LEFT}" y2="{:.1}" stroke="#333"/>"##, TOP + PLOT_H);
    let mid = TOP + PLOT_H / 2.0;
    let _ = writeln!(
        s,
        r#"<text x="18" y="{mid:.1}" text-anchor="middle" transform="rotate(-90 18 {mid:.1})">time / native time (log scale)</text>"#
    );

    // Bars, case by case.
    for (ci, res) in report.results.iter().enumerate() {
        let gx = LEFT + ci as f64 * group_w + GROUP_GAP / 2.0;
        if ci > 0 && res.case.kind != report.results[ci - 1].case.kind {
            let sx = gx - GROUP_GAP / 2.0;
            let _ = writeln!(
                s,
                r##"<line x1="{sx:.1}" y1="{TOP}" x2="{sx:.1}" y2="{:.1}" stroke="#999" stroke-dasharray="6,4"/>"##,
                TOP + PLOT_H
            );
        }
        for (k, &ri) in others.iter().enumerate() {
            let x = gx + k as f64 * BAR_W;
            let rt = esc(&report.runtimes[ri].name);
            match ratios[ci][k] {
                Some(r) => {
                    let (y0, y1) = (y(1.0), y(r));
                    let (top, h) = (y0.min(y1), (y0 - y1).abs().max(1.0));
                    let color = COLORS[k % COLORS.len()];
                    let _ = writeln!(
                        s,
                        r#"<rect class="bar" x="{x:.1}" y="{top:.1}" width="{:.1}" height="{h:.1}" fill="{color}"><title>{} under {rt}: {}</title></rect>"#,
                        BAR_W - 2.0,
                        esc(&res.case.name),
                        fmt_ratio(r)
                    );
                    let (tx, ty) = (x + BAR_W / 2.0 + 3.0, top - 4.0);
                    let _ = writeln!(
                        s,
                        r#"<text x="{tx:.1}" y="{ty:.1}" font-size="10" transform="rotate(-90 {tx:.1} {ty:.1})">{}</text>"#,
                        fmt_ratio(r)
                    );
                }
                None => {
                    let why = match &res.outcomes[ri] {
                        Outcome::Unsupported(why) => why.clone(),
                        Outcome::Ok { .. } => "no native baseline".to_owned(),
                    };
                    let _ = writeln!(
                        s,
                        r##"<rect class="bar unsupported" x="{x:.1}" y="{:.1}" width="{:.1}" height="{:.1}" fill="none" stroke="#888" stroke-dasharray="3,2"><title>{} under {rt}: unsupported: {}</title></rect>"##,
                        TOP,
                        BAR_W - 2.0,
                        PLOT_H,
                        esc(&res.case.name),
                        esc(&why)
                    );
                    let (tx, ty) = (x + BAR_W / 2.0 + 3.0, y(1.0) - 6.0);
                    let _ = writeln!(
                        s,
                        r##"<text x="{tx:.1}" y="{ty:.1}" font-size="10" fill="#888" transform="rotate(-90 {tx:.1} {ty:.1})">unsupported</text>"##
                    );
                }
            }
        }
        let cx = gx + (others.len().max(1) as f64) * BAR_W / 2.0;
        let ly = TOP + PLOT_H + 14.0;
        let unit = match res.case.kind {
            Kind::Micro => "",
            Kind::Workload => " (s)",
        };
        let _ = writeln!(
            s,
            r#"<text x="{cx:.1}" y="{ly:.1}" text-anchor="end" transform="rotate(-45 {cx:.1} {ly:.1})">{}{unit}</text>"#,
            esc(&res.case.name)
        );
    }
    let foot = TOP + PLOT_H + BOTTOM;
    let _ = writeln!(
        s,
        r#"<text x="{LEFT}" y="{:.1}">case (left of the dashed line: time per operation in the guest; right: whole programs)</text>"#,
        foot - 50.0
    );
    let m = &report.machine;
    let _ = writeln!(
        s,
        r##"<text x="{LEFT}" y="{:.1}" font-size="10" fill="#555">bar: median over {} runs of (time under the runtime / native time in the same round); {}, {} cores, {}</text>"##,
        foot - 28.0,
        report.runs,
        esc(&m.cpu_model),
        m.cores,
        esc(m.kernel.split(' ').take(2).collect::<Vec<_>>().join(" ").as_str())
    );
    let _ = writeln!(
        s,
        r##"<text x="{LEFT}" y="{:.1}" font-size="10" fill="#555">dashed empty slot: the case is unsupported under that runtime (the table and the JSON say why)</text>"##,
        foot - 10.0
    );
    s.push_str("</svg>\n");
    s
}

fn axis_label(r: f64) -> String {
    if r >= 1.0 {
        format!("{r:.0}x")
    } else {
        format!("{r}x")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bench::cases::Case;
    use crate::bench::report::Machine;
    use crate::bench::runner::{Runtime, Sample};
    use crate::bench::CaseResult;

    fn ok(v: f64) -> Outcome {
        Outcome::Ok { warmup: None, samples: vec![Sample { value: v, iters: None }] }
    }

    fn case(name: &str) -> Case {
        Case { name: name.into(), kind: Kind::Workload, argv: vec!["/bin/true".into()], unavailable: None, veth: false }
    }

    fn report() -> Report {
        Report {
            runtimes: vec![
                Runtime::native(),
                Runtime::platform(std::path::Path::new("/b"), "ptrace"),
                Runtime::parse_compare("other=other do").expect("valid"),
            ],
            skipped: Vec::new(),
            netns: None,
            results: vec![
                CaseResult { case: case("fast"), outcomes: vec![ok(1.0), ok(40.0), ok(0.5)] },
                CaseResult {
                    case: case("forky"),
                    outcomes: vec![ok(1.0), Outcome::Unsupported("clone: ENOSYS".into()), ok(3.0)],
                },
            ],
            runs: 1,
            budget_ms: 1,
            machine: Machine { cpu_model: "cpu <x>".into(), cores: 2, kernel: "Linux 6".into() },
        }
    }

    #[test]
    fn chart_has_one_slot_per_case_and_non_native_runtime() {
        let svg = chart(&report());

        assert_eq!((svg.matches("class=\"bar\"").count(), svg.matches("class=\"bar unsupported\"").count()), (3, 1));
    }

    #[test]
    fn chart_escapes_text_and_spans_the_ratios_in_decades() {
        let svg = chart(&report());

        assert!(svg.contains("cpu &lt;x&gt;") && svg.contains(">0.1x<") && svg.contains(">100x<"));
    }
}
