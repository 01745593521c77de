//! Who makes a file-system call.
//!
//! Most files behave the same for every caller, but some answer the caller
//! itself: `/proc/self` names the calling process, `/proc/mounts` lists
//! mounts as seen from its root, a signalfd returns signals pending for the
//! reading thread, and `/proc/<pid>/comm` may be written only from inside
//! its process. The VFS passes the caller to every open, read, write, poll
//! and symlink read, so none of that comes from thread-local state.

use std::sync::Arc;

use crate::kernel::{Process, Task, TaskShared};
use crate::vfs::Location;

/// The calling thread and its process; both absent for work the sentry
/// does on its own behalf (loading the first program, boot-time set-up).
#[derive(Clone, Copy)]
pub struct Caller<'a> {
    thread: Option<&'a Arc<TaskShared>>,
    process: Option<&'a Arc<Process>>,
}

impl<'a> Caller<'a> {
    /// The sentry itself.
    pub const SENTRY: Caller<'static> = Caller { thread: None, process: None };

    /// `task`'s thread and process.
    pub fn of(task: &'a Task) -> Caller<'a> {
        Caller { thread: Some(&task.shared), process: Some(&task.proc_) }
    }

    /// The calling thread, if a task calls.
    pub fn thread(&self) -> Option<&'a Arc<TaskShared>> {
        self.thread
    }

    /// The calling process, if a task calls.
    pub fn process(&self) -> Option<&'a Arc<Process>> {
        self.process
    }

    /// The caller's root directory, or `default` for the sentry.
    pub fn root_or(&self, default: impl FnOnce() -> Location) -> Location {
        match self.process {
            Some(p) => p.fs().lock().root.clone(),
            None => default(),
        }
    }
}
