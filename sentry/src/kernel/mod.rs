//! The kernel proper: processes, tasks, credentials, and the run loop.

pub mod futex;
mod task;
pub mod waiter;

use std::collections::{BTreeMap, HashSet};
use std::fs::File;
use std::io::Write;
use std::sync::{Arc, Mutex, Weak};
use std::time::Instant;

use platform::Platform;

use crate::mm::{MemoryFile, MemoryManager};
use crate::vfs::{lock, Creds, FdTable, Location, Vfs};

pub use task::{getrandom, Task, TaskExit};

/// Sandbox-wide state shared by every task.
pub struct Kernel {
    pub mf: Arc<MemoryFile>,
    pub platform: Arc<dyn Platform>,
    pub vfs: Arc<Vfs>,
    pub hostname: Mutex<Vec<u8>>,
    pub domainname: Mutex<Vec<u8>>,
    /// Where `--strace` lines go.
    pub strace: Option<Mutex<File>>,
    pub debug_log: Option<Mutex<File>>,
    reported: Mutex<HashSet<u64>>,
    /// When the sandbox booted (uptime, CLOCK_BOOTTIME offset).
    pub start: Instant,
    /// Live processes by pid.
    pub procs: Mutex<BTreeMap<i32, Weak<Process>>>,
    pub futexes: futex::Futexes,
    next_pid: Mutex<i32>,
}

impl Kernel {
    pub fn new(
        mf: Arc<MemoryFile>,
        platform: Arc<dyn Platform>,
        vfs: Arc<Vfs>,
        hostname: &str,
        strace: Option<File>,
        debug_log: Option<File>,
    ) -> Arc<Kernel> {
        Arc::new(Kernel {
            mf,
            platform,
            vfs,
            hostname: Mutex::new(hostname.as_bytes().to_vec()),
            domainname: Mutex::new(b"(none)".to_vec()),
            strace: strace.map(Mutex::new),
            debug_log: debug_log.map(Mutex::new),
            reported: Mutex::new(HashSet::new()),
            start: Instant::now(),
            procs: Mutex::new(BTreeMap::new()),
            futexes: futex::Futexes::default(),
            next_pid: Mutex::new(1),
        })
    }

    /// A new process id.
    pub fn alloc_pid(&self) -> i32 {
        let mut n = lock(&self.next_pid);
        let p = *n;
        *n += 1;
        p
    }

    /// Write one line to the debug log, if there is one.
    pub fn log(&self, line: &str) {
        if let Some(f) = &self.debug_log {
            let _ = writeln!(lock(f), "{line}");
        }
    }

    /// Report an unsupported system call once per number.
    pub fn report_unsupported(&self, nr: u64, comm: &[u8]) {
        if lock(&self.reported).insert(nr) {
            let name = abi::sysno::syscall_name(nr).unwrap_or("unknown");
            self.log(&format!("bulwark: unsupported syscall {name} ({nr}) by {}", String::from_utf8_lossy(comm)));
        }
    }

    /// Live process `pid`.
    pub fn process(&self, pid: i32) -> Option<Arc<Process>> {
        lock(&self.procs).get(&pid).and_then(Weak::upgrade)
    }

    /// Pids of all live processes, ascending.
    pub fn pids(&self) -> Vec<i32> {
        lock(&self.procs).iter().filter(|(_, w)| w.strong_count() > 0).map(|(&p, _)| p).collect()
    }
}

/// Root, working directory and umask (`CLONE_FS` shares this).
#[derive(Clone)]
pub struct FsContext {
    pub root: Location,
    pub cwd: Location,
    pub umask: u32,
}

/// What a process's tasks share, and what `/proc/<pid>` shows.
pub struct Process {
    pub pid: i32,
    pub ppid: Mutex<i32>,
    pub mm: Arc<Mutex<MemoryManager>>,
    pub fds: Arc<Mutex<FdTable>>,
    pub fs: Arc<Mutex<FsContext>>,
    pub creds: Mutex<Creds>,
    /// `comm`: the executable's base name, at most 15 bytes.
    pub comm: Mutex<Vec<u8>>,
    /// The executable.
    pub exe: Mutex<Option<Location>>,
    pub start: Instant,
}

thread_local! {
    static CURRENT: std::cell::RefCell<Option<Arc<Process>>> = const { std::cell::RefCell::new(None) };
}

/// Make `p` the process of the calling sentry thread (for `/proc/self`).
pub fn set_current(p: Option<Arc<Process>>) {
    CURRENT.with(|c| *c.borrow_mut() = p);
}

/// The process of the calling sentry thread.
pub fn current() -> Option<Arc<Process>> {
    CURRENT.with(|c| c.borrow().clone())
}
