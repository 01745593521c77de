//! An application's own seccomp profile (an OCI config's
//! `linux.seccomp`), enforced by the sentry on every system call the
//! application makes, before the call is carried out: the host never sees
//! these calls, so a host seccomp filter could not apply it.
//!
//! The profile comes as text, one item a line (the CLI turns the OCI JSON
//! into it, with system call names resolved to numbers):
//!
//! ```text
//! default errno:1
//! rule 59 allow
//! rule 41 errno:1 0:eq:16
//! rule 101 allow 0:masked_eq:7:0
//! ```
//!
//! A rule's conditions (`ARG:OP:VALUE`, or `ARG:masked_eq:MASK:VALUE`) all
//! hold for it to match, as libseccomp's. When several rules match a call,
//! the one whose action the kernel ranks first wins (kill_process,
//! kill_thread, trap, errno, log, allow); when none does, the default.

/// What the profile says of one call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    Allow,
    /// Allowed, and logged.
    Log,
    /// Fails with this errno, not carried out.
    Errno(u16),
    /// `SIGSYS` (`SYS_SECCOMP`) to the thread; the call is not carried out.
    Trap,
    KillThread,
    KillProcess,
}

impl Verdict {
    /// The kernel's precedence: lower wins.
    fn rank(self) -> u8 {
        match self {
            Verdict::KillProcess => 0,
            Verdict::KillThread => 1,
            Verdict::Trap => 2,
            Verdict::Errno(_) => 3,
            Verdict::Log => 4,
            Verdict::Allow => 5,
        }
    }

    fn parse(s: &str) -> Result<Verdict, String> {
        Ok(match s {
            "allow" => Verdict::Allow,
            "log" => Verdict::Log,
            "trap" => Verdict::Trap,
            "kill_thread" => Verdict::KillThread,
            "kill_process" => Verdict::KillProcess,
            _ => match s.strip_prefix("errno:") {
                Some(n) => Verdict::Errno(n.parse().map_err(|_| format!("bad errno in {s:?}"))?),
                None => return Err(format!("unknown action {s:?}")),
            },
        })
    }

    fn encode(self) -> String {
        match self {
            Verdict::Allow => "allow".into(),
            Verdict::Log => "log".into(),
            Verdict::Trap => "trap".into(),
            Verdict::KillThread => "kill_thread".into(),
            Verdict::KillProcess => "kill_process".into(),
            Verdict::Errno(n) => format!("errno:{n}"),
        }
    }
}

/// How a condition compares an argument.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    /// `arg & mask == value`.
    MaskedEq(u64),
}

/// One argument condition.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cond {
    pub arg: u8,
    pub op: Op,
    pub value: u64,
}

impl Cond {
    fn holds(&self, args: &[u64; 6]) -> bool {
        let a = args[usize::from(self.arg.min(5))];
        match self.op {
            Op::Eq => a == self.value,
            Op::Ne => a != self.value,
            Op::Lt => a < self.value,
            Op::Le => a <= self.value,
            Op::Gt => a > self.value,
            Op::Ge => a >= self.value,
            Op::MaskedEq(mask) => a & mask == self.value,
        }
    }

    fn parse(s: &str) -> Result<Cond, String> {
        let bad = || format!("bad condition {s:?}");
        let parts: Vec<&str> = s.split(':').collect();
        let num = |p: &str| p.parse::<u64>().map_err(|_| bad());
        let arg = parts.first().and_then(|a| a.parse::<u8>().ok()).filter(|&a| a < 6).ok_or_else(bad)?;
        let (op, value) = match parts.as_slice() {
            [_, "masked_eq", mask, v] => (Op::MaskedEq(num(mask)?), num(v)?),
            [_, op, v] => (
                match *op {
                    "eq" => Op::Eq,
                    "ne" => Op::Ne,
                    "lt" => Op::Lt,
                    "le" => Op::Le,
                    "gt" => Op::Gt,
                    "ge" => Op::Ge,
                    _ => return Err(bad()),
                },
                num(v)?,
            ),
            _ => return Err(bad()),
        };
        Ok(Cond { arg, op, value })
    }

    fn encode(&self) -> String {
        let op = match self.op {
            Op::Eq => "eq".to_owned(),
            Op::Ne => "ne".to_owned(),
            Op::Lt => "lt".to_owned(),
            Op::Le => "le".to_owned(),
            Op::Gt => "gt".to_owned(),
            Op::Ge => "ge".to_owned(),
            Op::MaskedEq(m) => format!("masked_eq:{m}"),
        };
        format!("{}:{op}:{}", self.arg, self.value)
    }
}

/// One rule for one system call.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rule {
    pub nr: u32,
    pub verdict: Verdict,
    pub conds: Vec<Cond>,
}

/// A whole profile.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AppFilter {
    pub default: Verdict,
    /// Rules by system call number.
    by_nr: Vec<Vec<Rule>>,
}

/// The highest system call number a rule may name.
const MAX_NR: u32 = 1024;

impl AppFilter {
    pub fn new(default: Verdict, rules: Vec<Rule>) -> AppFilter {
        let mut by_nr: Vec<Vec<Rule>> = Vec::new();
        for r in rules.into_iter().filter(|r| r.nr < MAX_NR) {
            let i = r.nr as usize;
            if by_nr.len() <= i {
                by_nr.resize(i + 1, Vec::new());
            }
            by_nr[i].push(r);
        }
        AppFilter { default, by_nr }
    }

    /// What the profile says of call `nr` with `args`.
    pub fn check(&self, nr: u64, args: &[u64; 6]) -> Verdict {
        let rules = usize::try_from(nr).ok().and_then(|n| self.by_nr.get(n));
        rules
            .into_iter()
            .flatten()
            .filter(|r| r.conds.iter().all(|c| c.holds(args)))
            .map(|r| r.verdict)
            .min_by_key(|v| v.rank())
            .unwrap_or(self.default)
    }

    /// Parse the text form (see the module's documentation).
    pub fn parse(text: &str) -> Result<AppFilter, String> {
        let mut default = None;
        let mut rules = Vec::new();
        for (i, line) in text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
            let words: Vec<&str> = line.split_whitespace().collect();
            let at = |e: String| format!("seccomp profile line {}: {e}", i + 1);
            match words.as_slice() {
                ["default", v] => default = Some(Verdict::parse(v).map_err(at)?),
                ["rule", nr, v, conds @ ..] => {
                    let nr: u32 =
                        nr.parse().ok().filter(|&n| n < MAX_NR).ok_or_else(|| at(format!("bad number {nr:?}")))?;
                    let verdict = Verdict::parse(v).map_err(at)?;
                    let conds = conds.iter().map(|c| Cond::parse(c)).collect::<Result<Vec<_>, _>>().map_err(at)?;
                    rules.push(Rule { nr, verdict, conds });
                }
                _ => return Err(at(format!("cannot read {line:?}"))),
            }
        }
        Ok(AppFilter::new(default.ok_or("seccomp profile: no default action")?, rules))
    }

    /// The text form.
    pub fn encode(&self) -> String {
        let mut out = format!("default {}\n", self.default.encode());
        for r in self.by_nr.iter().flatten() {
            out.push_str(&format!("rule {} {}", r.nr, r.verdict.encode()));
            for c in &r.conds {
                out.push(' ');
                out.push_str(&c.encode());
            }
            out.push('\n');
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(text: &str) -> AppFilter {
        AppFilter::parse(text).expect("profile")
    }

    #[test]
    fn rules_then_the_default() {
        let p = f("default errno:1\nrule 39 allow\nrule 41 errno:97 0:eq:16\nrule 41 allow 0:eq:1\n");
        assert_eq!(p.check(39, &[0; 6]), Verdict::Allow);
        assert_eq!(p.check(41, &[16, 0, 0, 0, 0, 0]), Verdict::Errno(97));
        assert_eq!(p.check(41, &[1, 0, 0, 0, 0, 0]), Verdict::Allow);
        assert_eq!(p.check(41, &[2, 0, 0, 0, 0, 0]), Verdict::Errno(1), "no rule matches: the default");
        assert_eq!(p.check(5000, &[0; 6]), Verdict::Errno(1));
    }

    #[test]
    fn conditions_all_hold_and_the_kernel_s_precedence_picks() {
        let p = f("default allow\nrule 1 errno:13 0:ge:3 2:masked_eq:255:7\nrule 1 kill_process 0:eq:9\nrule 1 log\n");
        assert_eq!(p.check(1, &[3, 0, 0x107, 0, 0, 0]), Verdict::Errno(13));
        assert_eq!(p.check(1, &[3, 0, 0x106, 0, 0, 0]), Verdict::Log);
        assert_eq!(p.check(1, &[9, 0, 7, 0, 0, 0]), Verdict::KillProcess);
        assert_eq!(p.check(2, &[0; 6]), Verdict::Allow);
    }

    #[test]
    fn text_round_trips_and_bad_text_is_refused() {
        let p = f("default kill_thread\nrule 0 allow\nrule 1 trap 1:ne:0 0:masked_eq:8:8\n");
        assert_eq!(f(&p.encode()), p);
        assert!(AppFilter::parse("rule 1 allow\n").is_err(), "no default");
        assert!(AppFilter::parse("default maybe\n").is_err());
        assert!(AppFilter::parse("default allow\nrule x allow\n").is_err());
        assert!(AppFilter::parse("default allow\nrule 1 allow 7:eq:1\n").is_err(), "argument 7");
        assert!(AppFilter::parse("default allow\nrule 1 allow 0:approx:1\n").is_err());
        assert!(AppFilter::parse("default allow\nrule 99999 allow\n").is_err());
    }
}
