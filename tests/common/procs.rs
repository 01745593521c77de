//! Processes as the host sees them, from /proc.

use std::collections::HashMap;
use std::fs;

/// A process seen from the host.
#[derive(Debug)]
pub struct Proc {
    pub pid: u32,
    pub ppid: u32,
    pub cmdline: String,
}

pub fn processes() -> Vec<Proc> {
    let Ok(entries) = fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter_map(|pid| {
            let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
            // pid (comm) state ppid ...: comm may hold spaces, so split after ')'.
            let ppid = stat.rsplit_once(')')?.1.split_whitespace().nth(1)?.parse().ok()?;
            let cmdline = fs::read(format!("/proc/{pid}/cmdline")).ok()?;
            let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
            Some(Proc { pid, ppid, cmdline })
        })
        .collect()
}

/// Every descendant of `root` (not `root` itself).
pub fn descendants(root: u32) -> Vec<Proc> {
    let mut children: HashMap<u32, Vec<Proc>> = HashMap::new();
    for p in processes() {
        children.entry(p.ppid).or_default().push(p);
    }
    let mut out = Vec::new();
    let mut todo = vec![root];
    while let Some(pid) = todo.pop() {
        for p in children.remove(&pid).unwrap_or_default() {
            todo.push(p.pid);
            out.push(p);
        }
    }
    out
}
