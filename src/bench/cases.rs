//! What `bulwark bench` measures: the guest's microbenchmarks (ns per
//! operation, read from the guest's output) and whole-process workloads
//! (wall-clock seconds), and the host files and the network the cases need.

use std::cell::OnceCell;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{bail, Context};

use super::veth::Veth;
use crate::cli::DEFAULT_PATH;

/// How a case is measured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Run by the guest program, which reports ns per operation.
    Micro,
    /// A whole program, timed from start to exit.
    Workload,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Micro => "micro",
            Kind::Workload => "workload",
        }
    }

    /// The unit of a sample.
    pub fn unit(self) -> &'static str {
        match self {
            Kind::Micro => "ns/op",
            Kind::Workload => "s",
        }
    }
}

/// One thing to measure, the same way under every runtime.
#[derive(Debug, Clone)]
pub struct Case {
    pub name: String,
    pub kind: Kind,
    /// The program and its arguments (absolute paths: the sandbox sees the
    /// host root, so the same command line works inside).
    pub argv: Vec<String>,
    /// Why the case cannot run on this host at all (a program is missing),
    /// for every runtime alike.
    pub unavailable: Option<String>,
    /// Runs inside the veth fixture's network namespace under every
    /// runtime, and talks to its peer, whose address replaces [`PEER_ARG`]
    /// in `argv`. The guest's cases named `veth-*`.
    pub veth: bool,
}

/// Stands for the peer's address in a `veth` case's command line.
pub const PEER_ARG: &str = "{peer}";

/// The guest's cases that need the veth fixture are named so.
const VETH_CASE_PREFIX: &str = "veth-";

/// The workloads: name, program (looked up in the sandbox's default `PATH`),
/// arguments. `{dir}` is the fixture directory.
///
/// `tar-x` extracts into `/dev/shm`, a tmpfs both on the host and in the
/// sandbox: the sandbox's `/tmp` is in memory, while the host's may be a
/// disk, which would compare a disk with memory rather than two kernels.
const WORKLOADS: &[(&str, &str, &[&str], &[&str])] = &[
    ("true-startup", "true", &[], &[]),
    ("shell-loop", "sh", &["-c", "for i in $(seq 50); do /bin/true; done"], &[]),
    ("python-imports", "python3", &["-c", "import json, os, re, subprocess"], &[]),
    ("gcc-c", "gcc", &["-c", "-O2", "-o", "/dev/null", "{dir}/small.c"], &[]),
    ("sha256-64m", "sha256sum", &["{dir}/data-64m"], &[]),
    ("tar-x", "tar", &["-xf", "{dir}/doc.tar", "-C", "/dev/shm"], &[]),
    ("find-so", "find", &["/usr/lib", "-name", "*.so*"], &[]),
    // A redis server and redis-benchmark's 10 clients doing 20000 SETs and
    // 20000 GETs, over the loopback (the sandbox's own under bulwark).
    ("redis-getset", "sh", &["-c", REDIS_GETSET], &["redis-server", "redis-benchmark", "redis-cli"]),
];

/// The `redis-getset` workload's script.
const REDIS_GETSET: &str = "redis-server --port 7479 --save '' --appendonly no --logfile /dev/null --dir /tmp & \
     until redis-cli -p 7479 ping >/dev/null 2>&1; do sleep 0.01; done; \
     redis-benchmark -p 7479 -n 20000 -c 10 -t set,get -q >/dev/null; \
     redis-cli -p 7479 shutdown nosave >/dev/null 2>&1; wait";

/// The C file `gcc-c` compiles.
const SMALL_C: &str = r#"#include <stdio.h>
#include <string.h>

struct point { int x, y; };

static int dist2(struct point a, struct point b) {
    int dx = a.x - b.x, dy = a.y - b.y;
    return dx * dx + dy * dy;
}

int main(int argc, char **argv) {
    struct point p = { argc, (int)strlen(argv[0]) }, q = { 3, 4 };
    printf("%d\n", dist2(p, q));
    return 0;
}
"#;

/// Every case: the guest's, in its order, then the workloads.
pub fn all(guest: &Path, budget_ms: u64, fixtures: &Fixtures) -> anyhow::Result<Vec<Case>> {
    let out = Command::new(guest)
        .arg("--list")
        .stderr(Stdio::inherit())
        .output()
        .with_context(|| format!("run the guest {} (build it with `cargo build --release`)", guest.display()))?;
    if !out.status.success() {
        bail!("{} --list failed: {}", guest.display(), out.status);
    }
    let guest_str = guest.to_str().context("the guest's path is not UTF-8")?;
    let mut cases: Vec<Case> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|name| {
            let veth = name.starts_with(VETH_CASE_PREFIX);
            let mut argv = vec![guest_str.to_owned(), "--budget-ms".into(), budget_ms.to_string()];
            if veth {
                argv.extend(["--peer".into(), PEER_ARG.into()]);
            }
            argv.push(name.to_owned());
            Case { name: name.to_owned(), kind: Kind::Micro, argv, unavailable: None, veth }
        })
        .collect();
    for (name, prog, args, needs) in WORKLOADS {
        let found = find_program(prog);
        let missing = needs.iter().find(|n| find_program(n).is_none());
        let dir = fixtures.dir.to_string_lossy();
        let mut argv = vec![found.as_ref().map_or_else(|| (*prog).to_owned(), |p| p.to_string_lossy().into_owned())];
        argv.extend(args.iter().map(|a| a.replace("{dir}", &dir)));
        cases.push(Case {
            name: (*name).to_owned(),
            kind: Kind::Workload,
            argv,
            unavailable: match (found.is_none(), missing) {
                (true, _) => Some(format!("`{prog}` is not installed on this host")),
                (false, Some(n)) => Some(format!("`{n}` is not installed on this host")),
                (false, None) => None,
            },
            veth: false,
        });
    }
    Ok(cases)
}

/// `prog` in the sandbox's default `PATH`, on the host (the same files the
/// sandbox sees).
fn find_program(prog: &str) -> Option<PathBuf> {
    DEFAULT_PATH.split(':').map(|d| Path::new(d).join(prog)).find(|p| is_executable(p))
}

/// Whether `path` is an executable regular file.
pub fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// Host files the workloads read, in a directory that the sandbox sees
/// through its read-only view of the host root. It is under `/var/tmp`, not
/// `/tmp`: the sandbox's `/tmp` is its own. And the veth fixture, made when
/// first asked for. Removed on drop.
pub struct Fixtures {
    pub dir: PathBuf,
    veth: OnceCell<Result<Veth, String>>,
}

impl Fixtures {
    /// A fresh, empty fixture directory.
    pub fn new() -> anyhow::Result<Fixtures> {
        let dir = PathBuf::from(format!("/var/tmp/bulwark-bench-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).with_context(|| format!("create {}", dir.display()))?;
        Ok(Fixtures { dir, veth: OnceCell::new() })
    }

    /// The veth fixture, made on the first call; `Err` (the same on every
    /// call) says why it cannot be made.
    pub fn veth(&self) -> Result<&Veth, String> {
        self.veth.get_or_init(Veth::make).as_ref().map_err(Clone::clone)
    }

    /// The veth fixture if it was made.
    pub fn veth_if_made(&self) -> Option<&Veth> {
        self.veth.get()?.as_ref().ok()
    }

    /// Where each run's files go: the captured output and the debug log.
    pub fn scratch(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    /// What `tar-x` extracts (on the host, when it runs natively; removed
    /// after every run).
    pub fn tar_top(&self) -> PathBuf {
        PathBuf::from(format!("/dev/shm/bulwark-bench-doc-{}", std::process::id()))
    }

    /// Make what `case` needs (once).
    pub fn prepare(&self, case: &Case) -> anyhow::Result<()> {
        match case.name.as_str() {
            "gcc-c" => std::fs::write(self.dir.join("small.c"), SMALL_C).context("write small.c"),
            "sha256-64m" => write_pseudo_random(&self.dir.join("data-64m"), 64 << 20),
            "tar-x" => {
                let top = self.tar_top();
                let top = top.file_name().and_then(|n| n.to_str()).context("tar top")?;
                let status = Command::new("tar")
                    .arg("-cf")
                    .arg(self.dir.join("doc.tar"))
                    .args(["-C", "/usr/share", &format!("--transform=s,^doc,{top},"), "doc"])
                    .stderr(Stdio::null())
                    .status()
                    .context("run tar to make the tarball of /usr/share/doc")?;
                // 1: some file changed while being read; the tarball is fine.
                if !matches!(status.code(), Some(0 | 1)) {
                    bail!("tar -cf of /usr/share/doc failed: {status}");
                }
                Ok(())
            }
            _ => Ok(()),
        }
    }

    /// Undo what one run of `case` left on the host.
    pub fn after_run(&self, case: &Case) {
        if case.name == "tar-x" {
            let _ = std::fs::remove_dir_all(self.tar_top());
        }
    }
}

impl Drop for Fixtures {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
        let _ = std::fs::remove_dir_all(self.tar_top());
    }
}

/// `len` bytes of xorshift output (incompressible, not sparse).
fn write_pseudo_random(path: &Path, len: usize) -> anyhow::Result<()> {
    let mut w = BufWriter::with_capacity(1 << 20, File::create(path).with_context(|| format!("{}", path.display()))?);
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    for _ in 0..len / 8 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        w.write_all(&x.to_le_bytes())?;
    }
    w.flush()?;
    Ok(())
}
