//! Criterion benchmarks of the sentry's hot paths, through public APIs only:
//!
//! - `dispatch/getpid`: the syscall table's dispatch of a trivial call, on a
//!   task whose platform does nothing (no trap, no context switch: only the
//!   sentry's own share of a system call);
//! - `copy/{in,out}/{8B,64KiB}`: copy-in and copy-out of application memory
//!   (`MemoryManager::read_bytes`/`write_bytes`: VMA lookup, page
//!   translation, copy through the MemoryFile mapping) and, under
//!   `copy/memfile/...`, the raw MemoryFile copy beneath it;
//! - `vfs/resolve-5-cached`: resolving `/a/b/c/d/e` on a tmpfs whose dentries
//!   are all cached;
//! - `gofer/getattr`: one request and reply with a gofer serving a temporary
//!   directory from a thread, over a `SOCK_SEQPACKET` pair.
//!
//! Run with `cargo bench --bench hot_paths`.

use std::fs::File;
use std::os::fd::OwnedFd;
use std::sync::Arc;

use abi::consts::{MAP_ANONYMOUS, MAP_PRIVATE, PROT_READ, PROT_WRITE};
use abi::sysno::SYS_GETPID;
use criterion::{black_box, criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use platform::{AddressSpace, Context, Event, FpState, Platform, Prot, Registers};
use sentry::fs::Tmpfs;
use sentry::kernel::{FsContext, Kernel, Task};
use sentry::mm::{MemoryFile, MemoryManager, VmaBacking};
use sentry::vfs::{Caller, CreateAttr, Creds, FdTable, NodeKind, Vfs};

/// An address space that maps nothing on the host: the sentry's own
/// bookkeeping and copies run as usual; nothing executes application code.
struct NullSpace;

impl AddressSpace for NullSpace {
    fn map_file(&self, _addr: u64, _len: u64, _off: u64, _prot: Prot) -> platform::Result<()> {
        Ok(())
    }
    fn unmap(&self, _addr: u64, _len: u64) -> platform::Result<()> {
        Ok(())
    }
    fn protect(&self, _addr: u64, _len: u64, _prot: Prot) -> platform::Result<()> {
        Ok(())
    }
    fn reserved(&self) -> std::ops::Range<u64> {
        0..0
    }
}

struct NullContext;

impl Context for NullContext {
    fn switch(&mut self, _: &Arc<dyn AddressSpace>, _: &mut Registers, _: &mut FpState) -> platform::Result<Event> {
        Ok(Event::Interrupted)
    }
    fn interrupt(&self) {}
    fn interrupter(&self) -> Arc<dyn Fn() + Send + Sync> {
        Arc::new(|| {})
    }
    fn fpu_state(&mut self, _: &mut FpState) -> platform::Result<()> {
        Ok(())
    }
    fn set_fpu_state(&mut self, _: &FpState) -> platform::Result<()> {
        Ok(())
    }
}

/// A platform for measuring the sentry alone.
struct NullPlatform;

impl Platform for NullPlatform {
    fn name(&self) -> &'static str {
        "null"
    }
    fn new_address_space(&self) -> platform::Result<Arc<dyn AddressSpace>> {
        Ok(Arc::new(NullSpace))
    }
    fn new_context(&self) -> platform::Result<Box<dyn Context>> {
        Ok(Box::new(NullContext))
    }
    fn new_context_for(&self, _: platform::ThreadToken) -> platform::Result<Box<dyn Context>> {
        Ok(Box::new(NullContext))
    }
}

fn memory_file() -> Arc<MemoryFile> {
    Arc::new(MemoryFile::new().expect("create the MemoryFile"))
}

fn dispatch(c: &mut Criterion) {
    let root = Tmpfs::new(1, 0o755, 0, 0).root();
    let vfs = Vfs::new(root, "tmpfs", "none");
    let k = Kernel::new(memory_file(), Arc::new(NullPlatform), vfs.clone(), "bench", None, false);
    let fs = FsContext { root: vfs.root(), cwd: vfs.root(), umask: 0o022 };
    let mut t = Task::new_init(k, FdTable::new(), fs, Creds::root()).expect("a task");
    c.bench_function("dispatch/getpid", |b| {
        b.iter(|| {
            t.regs.orig_rax = SYS_GETPID;
            sentry::syscalls::table::dispatch(&mut t);
            black_box(t.regs.rax)
        })
    });
}

fn copy(c: &mut Criterion) {
    const LEN: u64 = 1 << 20;
    let mf = memory_file();
    let mut mm = MemoryManager::new(mf.clone(), Arc::new(NullSpace), NullPlatform.max_user_address());
    let addr = mm
        .mmap(0, LEN, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, VmaBacking::Anon, Vec::new(), (0, 0))
        .expect("mmap");
    // Touch every page once so the loop measures steady-state copies, not
    // first-touch allocation.
    mm.write_bytes(addr, &vec![1u8; LEN as usize]).expect("populate");
    let range = mf.allocate(LEN).expect("allocate");
    let mut g = c.benchmark_group("copy");
    for (label, size) in [("8B", 8usize), ("64KiB", 64 << 10)] {
        let mut buf = vec![7u8; size];
        g.throughput(Throughput::Bytes(size as u64));
        // A page-crossing address for the small copy; page-aligned for 64 KiB.
        let at = if size == 8 { addr + 4096 - 4 } else { addr };
        g.bench_function(format!("in/{label}"), |b| {
            b.iter(|| mm.read_bytes(black_box(at), &mut buf).expect("copy-in"))
        });
        g.bench_function(format!("out/{label}"), |b| b.iter(|| mm.write_bytes(black_box(at), &buf).expect("copy-out")));
        g.bench_function(format!("memfile/read/{label}"), |b| b.iter(|| mf.read(black_box(range.off), &mut buf)));
        g.bench_function(format!("memfile/write/{label}"), |b| b.iter(|| mf.write(black_box(range.off), &buf)));
    }
    g.finish();
}

fn path_walk(c: &mut Criterion) {
    let root = Tmpfs::new(1, 0o755, 0, 0).root();
    let mut dir = root.clone();
    for name in ["a", "b", "c", "d", "e"] {
        dir = dir
            .create(name.as_bytes(), NodeKind::Directory, CreateAttr { mode: 0o755, uid: 0, gid: 0 })
            .expect("mkdir");
    }
    let vfs = Vfs::new(root, "tmpfs", "none");
    let (top, creds) = (vfs.root(), Creds::root());
    // The first walk fills the dentry cache.
    vfs.resolve(Caller::SENTRY, &top, &top, b"/a/b/c/d/e", true, &creds).expect("resolve");
    c.bench_function("vfs/resolve-5-cached", |b| {
        b.iter(|| vfs.resolve(Caller::SENTRY, &top, &top, black_box(b"/a/b/c/d/e"), true, &creds).expect("resolve"))
    });
}

fn gofer_round_trip(c: &mut Criterion) {
    let dir = std::env::temp_dir().join(format!("bulwark-bench-gofer-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("create the served directory");
    std::fs::write(dir.join("file"), b"hello").expect("write a file");
    let (client_end, server_end) = gofer::seqpacket_pair().expect("socket pair");
    let root = OwnedFd::from(File::open(&dir).expect("open the served directory"));
    let server = std::thread::spawn(move || gofer::server::serve(root, server_end));
    let client = gofer::GoferClient::new(client_end);
    let (root, _) = client.attach().expect("attach");
    let (file, _) = client.walk(root, b"file").expect("walk");
    c.bench_function("gofer/getattr", |b| b.iter(|| client.getattr(black_box(file)).expect("getattr")));
    c.bench_function("gofer/walk+close", |b| {
        b.iter_batched(
            || (),
            |()| {
                let (h, _) = client.walk(root, b"file").expect("walk");
                client.close(h);
            },
            BatchSize::SmallInput,
        )
    });
    drop(client);
    let _ = server.join();
    let _ = std::fs::remove_dir_all(&dir);
}

criterion_group!(benches, dispatch, copy, path_walk, gofer_round_trip);
criterion_main!(benches);
