//! System V IPC objects: shared memory segments, semaphore sets and message
//! queues, with their key namespace (one per sandbox: the `Kernel` owns it).
//!
//! Identifiers are made as Linux makes them: a slot index plus a sequence
//! number times `SEQ_MULTIPLIER`, so a stale id of a removed object does not
//! name its successor in the same slot.

use abi::consts::{IPC_CREAT, IPC_EXCL, IPC_PRIVATE, SHM_DEST};
use parking_lot::Mutex;
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Arc, Weak};

use abi::Errno;

use super::waiter::WaitQueue;
use crate::mm::{MemoryFile, SharedObject};
use crate::vfs::{Creds, KResult};

/// Ids are `index + seq * SEQ_MULTIPLIER` (Linux's `IPCMNI`).
const SEQ_MULTIPLIER: i32 = 32768;
/// How many objects of one kind may exist (Linux's `SHMMNI`; the same cap
/// is used for sets and queues).
pub const MNI: usize = 4096;

// Limits as Linux's defaults.
pub const SHMMIN: u64 = 1;
pub const SHMMAX: u64 = u64::MAX - (1 << 24);
pub const SHMALL: u64 = u64::MAX - (1 << 24);
pub const SEMMSL: usize = 32000;
pub const SEMMNS: u32 = 1_024_000_000;
pub const SEMOPM: usize = 500;
pub const SEMVMX: i32 = 32767;
pub const SEMAEM: i32 = SEMVMX;
pub const MSGMAX: usize = 8192;
pub const MSGMNB: u64 = 16384;

/// Seconds since the epoch, for the `*_time` fields.
pub fn now_secs() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64)
}

/// Owner, creator and mode of an object (`struct ipc_perm`).
#[derive(Clone, Debug, Default)]
pub struct IpcPerm {
    pub key: i32,
    pub uid: u32,
    pub gid: u32,
    pub cuid: u32,
    pub cgid: u32,
    /// The low nine permission bits (plus `SHM_DEST`/`SHM_LOCKED` for shm).
    pub mode: u32,
    pub seq: u16,
}

impl IpcPerm {
    /// The permissions of a new object `id` made by `creds`.
    pub fn new(id: i32, key: i32, mode: u32, creds: &Creds) -> IpcPerm {
        IpcPerm {
            key,
            uid: creds.euid,
            gid: creds.egid,
            cuid: creds.euid,
            cgid: creds.egid,
            mode: mode & 0o777,
            seq: (id / SEQ_MULTIPLIER) as u16,
        }
    }

    /// Linux's `ipcperms`: may `creds` have the access asked for by the
    /// `0o777`-style bits of `flag` (any of the three triples)? A holder of
    /// `CAP_IPC_OWNER` always may.
    pub fn check(&self, creds: &Creds, flag: u32) -> KResult<()> {
        let want = (flag >> 6 | flag >> 3 | flag) & 7;
        let granted = if creds.euid == self.cuid || creds.euid == self.uid {
            self.mode >> 6
        } else if [self.gid, self.cgid].iter().any(|g| creds.egid == *g || creds.groups.contains(g)) {
            self.mode >> 3
        } else {
            self.mode
        };
        if want & !granted & 7 != 0 && !creds.capable(abi::consts::CAP_IPC_OWNER) {
            return Err(Errno::EACCES);
        }
        Ok(())
    }

    /// `IPC_SET`/`IPC_RMID` are for the owner, the creator and holders of
    /// `CAP_SYS_ADMIN`.
    pub fn check_owner(&self, creds: &Creds) -> KResult<()> {
        if creds.euid == self.uid || creds.euid == self.cuid || creds.capable(abi::consts::CAP_SYS_ADMIN) {
            Ok(())
        } else {
            Err(Errno::EPERM)
        }
    }

    /// `IPC_SET`: the new owner and permission bits.
    pub fn set(&mut self, uid: u32, gid: u32, mode: u32) {
        self.uid = uid;
        self.gid = gid;
        self.mode = (self.mode & !0o777) | (mode & 0o777);
    }
}

/// Objects of one kind, by slot index.
pub struct Registry<T> {
    slots: BTreeMap<usize, Arc<T>>,
    keys: HashMap<i32, usize>,
    seq: u16,
}

impl<T> Default for Registry<T> {
    fn default() -> Self {
        Registry { slots: BTreeMap::new(), keys: HashMap::new(), seq: 0 }
    }
}

/// What a registry needs of its objects.
pub trait IpcObject {
    fn id(&self) -> i32;
}

fn index_of(id: i32) -> Option<usize> {
    usize::try_from(id % SEQ_MULTIPLIER).ok()
}

impl<T: IpcObject> Registry<T> {
    /// The object named `id` (`EINVAL` when there is none).
    pub fn get(&self, id: i32) -> KResult<Arc<T>> {
        if id < 0 {
            return Err(Errno::EINVAL);
        }
        let o = index_of(id).and_then(|i| self.slots.get(&i)).ok_or(Errno::EINVAL)?;
        if o.id() != id {
            return Err(Errno::EINVAL);
        }
        Ok(o.clone())
    }

    /// The object in slot `index` (`*_STAT` commands).
    pub fn at_index(&self, index: u64) -> KResult<Arc<T>> {
        usize::try_from(index).ok().and_then(|i| self.slots.get(&i)).cloned().ok_or(Errno::EINVAL)
    }

    /// The object with `key` (never `IPC_PRIVATE`).
    pub fn by_key(&self, key: i32) -> Option<Arc<T>> {
        self.keys.get(&key).and_then(|i| self.slots.get(i)).cloned()
    }

    /// The next free slot and the id an object put there gets.
    pub fn next_id(&self) -> KResult<(usize, i32)> {
        let index = (0..MNI).find(|i| !self.slots.contains_key(i)).ok_or(Errno::ENOSPC)?;
        let id = i32::from(self.seq % 0x7fff) * SEQ_MULTIPLIER + index as i32;
        Ok((index, id))
    }

    /// Put `obj` (made with the id `next_id` gave) in `index`.
    pub fn insert(&mut self, index: usize, key: i32, obj: Arc<T>) {
        self.seq = self.seq.wrapping_add(1);
        if key != IPC_PRIVATE {
            self.keys.insert(key, index);
        }
        self.slots.insert(index, obj);
    }

    /// Forget `key` (a shm segment marked for removal keeps its id but is
    /// found by key no more).
    pub fn forget_key(&mut self, key: i32) {
        if key != IPC_PRIVATE {
            self.keys.remove(&key);
        }
    }

    /// Remove the object named `id`.
    pub fn remove(&mut self, id: i32, key: i32) -> Option<Arc<T>> {
        let i = index_of(id)?;
        if self.slots.get(&i).is_none_or(|o| o.id() != id) {
            return None;
        }
        if self.keys.get(&key) == Some(&i) {
            self.keys.remove(&key);
        }
        self.slots.remove(&i)
    }

    /// The highest slot in use (`IPC_INFO`'s answer), 0 when empty.
    pub fn max_index(&self) -> usize {
        self.slots.keys().next_back().copied().unwrap_or(0)
    }

    pub fn len(&self) -> usize {
        self.slots.len()
    }

    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    pub fn all(&self) -> Vec<Arc<T>> {
        self.slots.values().cloned().collect()
    }
}

/// How a `*get` call finds or makes its object.
pub enum Lookup<T> {
    Found(Arc<T>),
    /// No such key and `IPC_CREAT` was given: make one.
    Create,
}

/// The common part of `shmget`, `semget`, `msgget`: find `key`, or say to
/// create it. The caller checks permissions and sizes of what is found.
pub fn lookup<T: IpcObject>(reg: &Registry<T>, key: i32, flag: u32) -> KResult<Lookup<T>> {
    if key == IPC_PRIVATE {
        return Ok(Lookup::Create);
    }
    match reg.by_key(key) {
        Some(o) if flag & IPC_CREAT != 0 && flag & IPC_EXCL != 0 => {
            drop(o);
            Err(Errno::EEXIST)
        }
        Some(o) => Ok(Lookup::Found(o)),
        None if flag & IPC_CREAT != 0 => Ok(Lookup::Create),
        None => Err(Errno::ENOENT),
    }
}

/// The sandbox's System V IPC namespace.
#[derive(Default)]
pub struct SysvIpc {
    pub shm: Arc<Mutex<Registry<ShmSegment>>>,
    pub sem: Mutex<Registry<SemSet>>,
    pub msg: Mutex<Registry<MsgQueue>>,
}

impl SysvIpc {
    /// Process `pid` has exited: apply its semaphore adjustments
    /// (`SEM_UNDO`). Its shm attaches went with its address space.
    pub fn exit_process(&self, pid: i32) {
        let sets = self.sem.lock().all();
        for s in sets {
            s.apply_undo(pid);
        }
    }
}

// ---- shared memory ----

/// The changing part of a segment.
#[derive(Clone, Debug, Default)]
pub struct ShmState {
    pub perm: IpcPerm,
    pub atime: i64,
    pub dtime: i64,
    pub ctime: i64,
    pub cpid: i32,
    pub lpid: i32,
    pub nattch: u64,
}

/// A shared memory segment: its pages are shared by every attach.
pub struct ShmSegment {
    pub id: i32,
    pub size: u64,
    pub pages: SharedObject,
    mf: Arc<MemoryFile>,
    registry: Weak<Mutex<Registry<ShmSegment>>>,
    pub st: Mutex<ShmState>,
}

impl IpcObject for ShmSegment {
    fn id(&self) -> i32 {
        self.id
    }
}

impl ShmSegment {
    pub fn new(
        id: i32,
        perm: IpcPerm,
        size: u64,
        pid: i32,
        mf: Arc<MemoryFile>,
        registry: &Arc<Mutex<Registry<ShmSegment>>>,
    ) -> ShmSegment {
        ShmSegment {
            id,
            size,
            pages: SharedObject::default(),
            mf,
            registry: Arc::downgrade(registry),
            st: Mutex::new(ShmState { perm, ctime: now_secs(), cpid: pid, ..Default::default() }),
        }
    }

    /// `IPC_RMID`: gone now if nothing is attached, else at the last detach
    /// (found by id only until then).
    pub fn remove(self: &Arc<Self>, reg: &mut Registry<ShmSegment>) {
        let mut st = self.st.lock();
        reg.forget_key(st.perm.key);
        st.perm.mode |= SHM_DEST;
        st.perm.key = IPC_PRIVATE;
        st.ctime = now_secs();
        if st.nattch == 0 {
            reg.remove(self.id, IPC_PRIVATE);
        }
    }

    /// Pages in use.
    pub fn resident_pages(&self) -> u64 {
        self.pages.resident_pages()
    }
}

impl Drop for ShmSegment {
    fn drop(&mut self) {
        self.pages.release_all(&self.mf);
    }
}

/// One mapping's hold on a segment: counted in `nattch` from creation (and
/// each clone: a VMA split or a fork copies it) until it is dropped with
/// its VMA (munmap, shmdt, exec, exit). The segment of a removed segment
/// goes when the last hold does.
pub struct ShmAttach {
    seg: Arc<ShmSegment>,
}

impl ShmAttach {
    pub fn new(seg: Arc<ShmSegment>) -> ShmAttach {
        seg.st.lock().nattch += 1;
        ShmAttach { seg }
    }

    pub fn segment(&self) -> &Arc<ShmSegment> {
        &self.seg
    }
}

impl Clone for ShmAttach {
    fn clone(&self) -> Self {
        ShmAttach::new(self.seg.clone())
    }
}

impl Drop for ShmAttach {
    fn drop(&mut self) {
        let gone = {
            let mut st = self.seg.st.lock();
            st.nattch = st.nattch.saturating_sub(1);
            st.nattch == 0 && st.perm.mode & SHM_DEST != 0
        };
        if gone {
            if let Some(reg) = self.seg.registry.upgrade() {
                let mut reg = reg.lock();
                // Another attach may have come (shmat by id) meanwhile.
                if self.seg.st.lock().nattch == 0 {
                    reg.remove(self.seg.id, IPC_PRIVATE);
                }
            }
        }
    }
}

// ---- semaphores ----

/// One semaphore.
#[derive(Clone, Copy, Debug, Default)]
pub struct Sem {
    pub val: i32,
    pub pid: i32,
    /// Tasks waiting for the value to grow, and for it to be zero.
    pub ncnt: u32,
    pub zcnt: u32,
}

/// One operation of a `semop` (`struct sembuf`, checked).
#[derive(Clone, Copy, Debug)]
pub struct SemOp {
    pub num: usize,
    pub op: i32,
    pub undo: bool,
    pub nowait: bool,
}

/// The changing part of a semaphore set.
pub struct SemState {
    pub perm: IpcPerm,
    pub otime: i64,
    pub ctime: i64,
    pub sems: Vec<Sem>,
    pub removed: bool,
    /// `SEM_UNDO` adjustments by process, one per semaphore.
    undo: HashMap<i32, Vec<i32>>,
}

/// What a `semop` attempt came to.
pub enum SemTry {
    Done,
    /// Would block on semaphore `num`, waiting for it to be zero (`true`) or
    /// to grow (`false`).
    Blocked {
        num: usize,
        zero: bool,
    },
}

pub struct SemSet {
    pub id: i32,
    pub st: Mutex<SemState>,
    /// Waiters of `semop`, woken at every change.
    pub wq: WaitQueue,
}

impl IpcObject for SemSet {
    fn id(&self) -> i32 {
        self.id
    }
}

impl SemSet {
    pub fn new(id: i32, key: i32, nsems: usize, mode: u32, creds: &Creds) -> SemSet {
        let perm = IpcPerm::new(id, key, mode, creds);
        SemSet {
            id,
            st: Mutex::new(SemState {
                perm,
                otime: 0,
                ctime: now_secs(),
                sems: vec![Sem::default(); nsems],
                removed: false,
                undo: HashMap::new(),
            }),
            wq: WaitQueue::default(),
        }
    }

    /// Carry out `ops` all at once if none blocks; `EAGAIN` if one would and
    /// says `IPC_NOWAIT`; `ERANGE` when a value or adjustment would exceed
    /// `SEMVMX`.
    pub fn try_ops(&self, st: &mut SemState, ops: &[SemOp], pid: i32) -> KResult<SemTry> {
        let mut vals: Vec<i32> = st.sems.iter().map(|s| s.val).collect();
        for o in ops {
            let v = vals[o.num];
            if o.op == 0 {
                if v != 0 {
                    return if o.nowait { Err(Errno::EAGAIN) } else { Ok(SemTry::Blocked { num: o.num, zero: true }) };
                }
            } else if v + o.op < 0 {
                return if o.nowait { Err(Errno::EAGAIN) } else { Ok(SemTry::Blocked { num: o.num, zero: false }) };
            } else if v + o.op > SEMVMX {
                return Err(Errno::ERANGE);
            } else {
                vals[o.num] = v + o.op;
            }
        }
        // Adjustments must stay in range before anything changes.
        let nsems = st.sems.len();
        let mut adj = st.undo.get(&pid).cloned().unwrap_or_else(|| vec![0; nsems]);
        let mut any_undo = false;
        for o in ops.iter().filter(|o| o.undo && o.op != 0) {
            let a = adj[o.num] - o.op;
            if !(-SEMAEM - 1..=SEMAEM).contains(&a) {
                return Err(Errno::ERANGE);
            }
            adj[o.num] = a;
            any_undo = true;
        }
        if any_undo {
            st.undo.insert(pid, adj);
        }
        for o in ops {
            st.sems[o.num].val = vals[o.num];
            st.sems[o.num].pid = pid;
        }
        st.otime = now_secs();
        Ok(SemTry::Done)
    }

    /// `SETVAL`/`SETALL` cancel the adjustments of the semaphores they set
    /// (`None`: all).
    pub fn clear_undo(st: &mut SemState, num: Option<usize>) {
        for adj in st.undo.values_mut() {
            match num {
                Some(n) => adj[n] = 0,
                None => adj.fill(0),
            }
        }
    }

    /// Apply and forget the adjustments of process `pid` (it exited).
    fn apply_undo(&self, pid: i32) {
        let mut st = self.st.lock();
        let Some(adj) = st.undo.remove(&pid) else { return };
        if st.removed {
            return;
        }
        for (s, a) in st.sems.iter_mut().zip(adj) {
            if a != 0 {
                s.val = (s.val + a).clamp(0, SEMVMX);
                s.pid = pid;
            }
        }
        st.otime = now_secs();
        drop(st);
        self.wq.notify_all();
    }
}

// ---- message queues ----

/// One message.
pub struct Message {
    pub mtype: i64,
    pub text: Vec<u8>,
}

/// The changing part of a queue.
pub struct MsgState {
    pub perm: IpcPerm,
    pub stime: i64,
    pub rtime: i64,
    pub ctime: i64,
    pub qbytes: u64,
    pub lspid: i32,
    pub lrpid: i32,
    pub msgs: VecDeque<Message>,
    pub cbytes: u64,
    pub removed: bool,
}

pub struct MsgQueue {
    pub id: i32,
    pub st: Mutex<MsgState>,
    /// Senders and receivers, woken at every change.
    pub wq: WaitQueue,
}

impl IpcObject for MsgQueue {
    fn id(&self) -> i32 {
        self.id
    }
}

impl MsgQueue {
    pub fn new(id: i32, key: i32, mode: u32, creds: &Creds) -> MsgQueue {
        let perm = IpcPerm::new(id, key, mode, creds);
        MsgQueue {
            id,
            st: Mutex::new(MsgState {
                perm,
                stime: 0,
                rtime: 0,
                ctime: now_secs(),
                qbytes: MSGMNB,
                lspid: 0,
                lrpid: 0,
                msgs: VecDeque::new(),
                cbytes: 0,
                removed: false,
            }),
            wq: WaitQueue::default(),
        }
    }

    /// The index of the message `msgrcv` with `msgtyp` takes: the first
    /// (0), the first of that type (> 0; with `MSG_EXCEPT`, of another
    /// type), or the first of the lowest type at most `-msgtyp` (< 0).
    pub fn find(st: &MsgState, msgtyp: i64, except: bool) -> Option<usize> {
        match msgtyp {
            0 => (!st.msgs.is_empty()).then_some(0),
            t if t > 0 => st.msgs.iter().position(|m| (m.mtype == t) != except),
            t => {
                let limit = t.checked_neg().unwrap_or(i64::MAX);
                let mut best: Option<(usize, i64)> = None;
                for (i, m) in st.msgs.iter().enumerate() {
                    if m.mtype <= limit && best.is_none_or(|(_, bt)| m.mtype < bt) {
                        best = Some((i, m.mtype));
                    }
                }
                best.map(|(i, _)| i)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn queue_with(types: &[i64]) -> MsgState {
        let q = MsgQueue::new(0, IPC_PRIVATE, 0o600, &Creds::root());
        let mut st = q.st.into_inner();
        for &t in types {
            st.msgs.push_back(Message { mtype: t, text: Vec::new() });
        }
        st
    }

    #[test]
    fn msgrcv_with_negative_type_takes_the_first_of_the_lowest_type() {
        let st = queue_with(&[3, 2, 5, 2]);

        let i = MsgQueue::find(&st, -4, false);

        assert_eq!(i, Some(1));
    }

    #[test]
    fn msgrcv_with_msg_except_skips_the_type() {
        let st = queue_with(&[3, 3, 5]);

        let i = MsgQueue::find(&st, 3, true);

        assert_eq!(i, Some(2));
    }

    #[test]
    fn ipc_perm_denies_write_to_others_without_the_bit() {
        let perm = IpcPerm::new(0, 1, 0o644, &Creds::root());
        let other =
            Creds { euid: 1000, egid: 1000, caps: crate::caps::Capabilities::default_for(1000), ..Creds::root() };

        let r = perm.check(&other, 0o200);

        assert_eq!(r, Err(Errno::EACCES));
    }

    #[test]
    fn semop_that_would_go_negative_blocks_and_changes_nothing() {
        let set = SemSet::new(0, IPC_PRIVATE, 2, 0o600, &Creds::root());
        let mut st = set.st.lock();
        st.sems[0].val = 1;
        let ops = [
            SemOp { num: 0, op: -1, undo: false, nowait: false },
            SemOp { num: 1, op: -1, undo: false, nowait: false },
        ];

        let r = set.try_ops(&mut st, &ops, 1).unwrap();

        assert!(matches!(r, SemTry::Blocked { num: 1, zero: false }));
        assert_eq!(st.sems[0].val, 1);
    }
}
