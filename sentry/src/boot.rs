//! Bringing the sandbox up: memory, platform, mounts, the first task.

use crate::{Config, SandboxError};

/// Run the sandbox described by `cfg` to completion, on the calling thread
/// (which must be allowed to ptrace and fork). Returns the exit status as a
/// shell reports it: the program's exit code, or 128+N for death by signal N.
pub fn run(cfg: Config) -> Result<i32, SandboxError> {
    let _ = cfg;
    Err(SandboxError::Gofer("the sentry is not written yet".into()))
}
