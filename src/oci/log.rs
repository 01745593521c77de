//! `--log`: what runc's clients read back. runc logs with logrus; conmon
//! and podman parse `--log-format json` lines, `{"level","msg","time"}`,
//! and show the last error's `msg`.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::time::{SystemTime, UNIX_EPOCH};

use super::{GlobalOpts, OciLogFormat};

/// The log of one verb's run; without `--log`, messages are dropped (errors
/// reach standard error anyway).
pub struct Log {
    file: Option<File>,
    json: bool,
    debug: bool,
}

impl Log {
    /// Open `--log` for append; a log that cannot be opened is reported on
    /// standard error and left out, so that the verb still runs.
    pub fn open(g: &GlobalOpts) -> Log {
        let file = g.log.as_ref().and_then(|path| match OpenOptions::new().create(true).append(true).open(path) {
            Ok(f) => Some(f),
            Err(e) => {
                eprintln!("bulwark: log {}: {e}", path.display());
                None
            }
        });
        Log { file, json: g.log_format == OciLogFormat::Json, debug: g.debug }
    }

    pub fn error(&self, msg: &str) {
        self.write("error", msg);
    }

    pub fn warn(&self, msg: &str) {
        self.write("warning", msg);
    }

    /// Only with `--debug`.
    pub fn debug(&self, msg: &str) {
        if self.debug {
            self.write("debug", msg);
        }
    }

    fn write(&self, level: &str, msg: &str) {
        let Some(mut file) = self.file.as_ref() else {
            return;
        };
        let line = format_line(self.json, level, msg, &rfc3339(SystemTime::now()));
        // One write per line, so that lines of concurrent verbs do not mix.
        let _ = file.write_all(line.as_bytes());
    }
}

/// One log line, newline included.
fn format_line(json: bool, level: &str, msg: &str, time: &str) -> String {
    if json {
        // serde_json orders keys by name: level, msg, time, as logrus.
        format!("{}\n", serde_json::json!({ "level": level, "msg": msg, "time": time }))
    } else {
        format!("time={time:?} level={level} msg={msg:?}\n")
    }
}

/// `t` in UTC as RFC 3339 with nanoseconds, as Go prints a `time.Time` in
/// JSON (`2006-01-02T15:04:05.999999999Z`, trailing zeros dropped).
pub fn rfc3339(t: SystemTime) -> String {
    let d = t.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = d.as_secs();
    let (days, rem) = (secs / 86_400, secs % 86_400);
    let (y, m, dd) = civil_from_days(days);
    let mut out = format!("{y:04}-{m:02}-{dd:02}T{:02}:{:02}:{:02}", rem / 3600, rem % 3600 / 60, rem % 60);
    let nanos = d.subsec_nanos();
    if nanos > 0 {
        let frac = format!("{nanos:09}");
        out.push('.');
        out.push_str(frac.trim_end_matches('0'));
    }
    out.push('Z');
    out
}

/// The (year, month, day) of the `days`-th day after 1970-01-01 (Howard
/// Hinnant's `civil_from_days`, for non-negative days).
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z % 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + u64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn rfc3339_prints_utc_with_trimmed_nanoseconds() {
        let at = |s, n| rfc3339(UNIX_EPOCH + Duration::new(s, n));

        assert_eq!(at(0, 0), "1970-01-01T00:00:00Z");
        assert_eq!(at(951_782_400, 500_000_000), "2000-02-29T00:00:00.5Z");
        assert_eq!(at(1_700_000_000, 123), "2023-11-14T22:13:20.000000123Z");
    }

    #[test]
    fn json_lines_have_level_msg_time_as_logrus() {
        let line = format_line(true, "error", "container with id exists: a\"b", "T");

        assert_eq!(line, "{\"level\":\"error\",\"msg\":\"container with id exists: a\\\"b\",\"time\":\"T\"}\n");
    }

    #[test]
    fn text_lines_quote_the_message() {
        let line = format_line(false, "error", "no \"x\"", "T");

        assert_eq!(line, "time=\"T\" level=error msg=\"no \\\"x\\\"\"\n");
    }
}
