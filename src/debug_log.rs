//! The debug log: every process of the sandbox logs through `tracing`, and
//! boot (then the sentry it becomes) installs the one subscriber, writing
//! to the `--debug-log` file in the chosen format from the chosen level.
//! Without `--debug-log` no subscriber is installed, so no event is
//! formatted at all.

use std::fs::File;
use std::sync::Mutex;

use tracing_subscriber::fmt::format::FmtSpan;

use crate::cli::{LogFormat, LogLevel};

/// Send events of `level` and more severe to `file`, in `format`. Called
/// once, before any thread starts.
pub fn init(file: File, format: LogFormat, level: LogLevel) {
    let builder = tracing_subscriber::fmt()
        .with_writer(Mutex::new(file))
        .with_max_level(level.level())
        .with_ansi(false)
        .with_span_events(FmtSpan::NONE);
    // A second initialisation (impossible: boot calls this once) would
    // leave the first subscriber in place, which is what we want anyway.
    let _ = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().try_init(),
    };
}
