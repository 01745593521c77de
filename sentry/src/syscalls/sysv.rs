//! System V IPC calls: shared memory (`shmget shmat shmdt shmctl`),
//! semaphores (`semget semop semtimedop semctl`) and message queues
//! (`msgget msgsnd msgrcv msgctl`). The objects are in `kernel::sysv`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use abi::consts::*;
use abi::types::{IpcPerm64, MsgInfo, MsqidDs, SemInfo, Sembuf, SemidDs, ShmInfo64, ShmUsage, ShmidDs, Timespec};
use abi::Errno;
use sentry_macros::syscall;
use zerocopy::FromBytes;

use super::args::{octal, Addr, Hex, IpcCmd, UserAddr, UserPtr};
use crate::kernel::sysv::*;
use crate::kernel::Task;
use crate::mm::VmaBacking;
use crate::vfs::KResult;

const READ: u32 = 0o444;
const WRITE: u32 = 0o222;

fn perm64(p: &IpcPerm) -> IpcPerm64 {
    IpcPerm64 {
        key: p.key,
        uid: p.uid,
        gid: p.gid,
        cuid: p.cuid,
        cgid: p.cgid,
        mode: p.mode,
        seq: p.seq,
        ..Default::default()
    }
}

fn id_arg(id: i32) -> KResult<i32> {
    if id < 0 {
        return Err(Errno::EINVAL);
    }
    Ok(id)
}

/// A blocked IPC call is never restarted after a signal handler (signal(7)),
/// and a timed-out `semtimedop` says `EAGAIN`.
fn interrupted(e: Errno) -> Errno {
    match e {
        Errno::ERESTARTSYS => Errno::EINTR,
        Errno::ETIMEDOUT => Errno::EAGAIN,
        e => e,
    }
}

fn to_u64(v: i32) -> u64 {
    u64::try_from(v).unwrap_or(0)
}

super::args::named_arg!(/// An IPC key: `IPC_PRIVATE` or a number strace shows in hex.
    IpcKey(i32), |v| if v == 0 { "IPC_PRIVATE".into() } else { format!("{:#x}", v as u32) });

/// The flags of `shmget`/`semget`/`msgget`: `IPC_CREAT|IPC_EXCL|0600`.
fn get_flags_str(v: u32) -> String {
    const NAMES: [(u32, &str); 3] = [(0o1000, "IPC_CREAT"), (0o2000, "IPC_EXCL"), (0o4000, "SHM_HUGETLB")];
    let mut parts: Vec<String> = NAMES.iter().filter(|(b, _)| v & b != 0).map(|(_, n)| (*n).to_string()).collect();
    let rest = NAMES.iter().fold(v, |r, (b, _)| r & !b);
    parts.push(octal(rest));
    parts.join("|")
}

super::args::named_arg!(/// The flags and permissions of the `*get` calls.
    IpcGetFlags(u32), get_flags_str);
super::args::named_arg!(/// `shmat` flags (`SHM_RDONLY`, `SHM_RND`, `SHM_REMAP`, `SHM_EXEC`).
    ShmatFlags(u32), |v| super::args::flag_str::<abi::flags::ShmatFlags>(v, "0"));
super::args::named_arg!(/// `msgsnd`/`msgrcv` flags (`IPC_NOWAIT`, `MSG_NOERROR`, `MSG_EXCEPT`, `MSG_COPY`).
    MsgIpcFlags(u32), |v| super::args::flag_str::<abi::flags::IpcMsgFlags>(v, "0"));

// ---- shared memory ----

/// The shared memory segment of `key`, created as `shmflg` says.
#[syscall]
pub fn shmget(t: &mut Task, key: IpcKey, size: u64, shmflg: IpcGetFlags) -> KResult<u64> {
    let (key, flag) = (key.0, shmflg.0);
    let creds = t.creds();
    let mut reg = t.k.sysv.shm.lock();
    let id = match lookup(&reg, key, flag)? {
        Lookup::Found(seg) => {
            if size > seg.size {
                return Err(Errno::EINVAL);
            }
            seg.st.lock().perm.check(&creds, flag)?;
            seg.id
        }
        Lookup::Create => {
            if !(SHMMIN..=SHMMAX).contains(&size) {
                return Err(Errno::EINVAL);
            }
            let (index, id) = reg.next_id()?;
            let seg =
                ShmSegment::new(id, IpcPerm::new(id, key, flag, &creds), size, t.pid(), t.k.mf.clone(), &t.k.sysv.shm);
            reg.insert(index, key, Arc::new(seg));
            id
        }
    };
    Ok(to_u64(id))
}

/// Attach shared memory segment `shmid` to the address space.
#[syscall]
pub fn shmat(t: &mut Task, shmid: i32, shmaddr: UserAddr, shmflg: ShmatFlags) -> KResult<Addr> {
    let (id, mut addr, flag) = (id_arg(shmid)?, shmaddr.0, shmflg.0);
    let seg = t.k.sysv.shm.lock().get(id)?;
    let rdonly = flag & SHM_RDONLY != 0;
    let mut want = if rdonly { READ } else { READ | WRITE };
    if flag & SHM_EXEC != 0 {
        want |= 0o111;
    }
    let attach = {
        let st = seg.st.lock();
        st.perm.check(&t.creds(), want)?;
        // Counted from here, so a concurrent IPC_RMID leaves it alive.
        drop(st);
        ShmAttach::new(seg.clone())
    };
    if !addr.is_multiple_of(PAGE_SIZE) {
        if flag & SHM_RND == 0 {
            return Err(Errno::EINVAL);
        }
        addr &= !(PAGE_SIZE - 1);
    }
    let mut mflags = MAP_SHARED;
    if addr != 0 {
        mflags |= if flag & SHM_REMAP != 0 { MAP_FIXED } else { MAP_FIXED_NOREPLACE };
    } else if flag & SHM_REMAP != 0 {
        return Err(Errno::EINVAL);
    }
    let mut prot = PROT_READ;
    if !rdonly {
        prot |= PROT_WRITE;
    }
    if flag & SHM_EXEC != 0 {
        prot |= PROT_EXEC;
    }
    let key = seg.st.lock().perm.key;
    let name = format!("/SYSV{key:08x} (deleted)").into_bytes();
    let backing = VmaBacking::Shm { attach, offset: 0, may_write: !rdonly };
    let at = t.mm.lock().mmap(addr, seg.size, prot, mflags, backing, name, (0, to_u64(seg.id))).map_err(|e| {
        if e == Errno::EEXIST {
            Errno::EINVAL
        } else {
            e
        }
    })?;
    let mut st = seg.st.lock();
    st.atime = now_secs();
    st.lpid = t.pid();
    Ok(Addr(at))
}

/// Detach the segment attached at `shmaddr`.
#[syscall]
pub fn shmdt(t: &mut Task, shmaddr: UserAddr) -> KResult<u64> {
    let seg = t.mm.lock().shm_detach(shmaddr.0)?;
    let mut st = seg.st.lock();
    st.dtime = now_secs();
    st.lpid = t.pid();
    Ok(0)
}

fn shm_ds(seg: &ShmSegment) -> ShmidDs {
    let st = seg.st.lock();
    ShmidDs {
        shm_perm: perm64(&st.perm),
        shm_segsz: seg.size,
        shm_atime: st.atime,
        shm_dtime: st.dtime,
        shm_ctime: st.ctime,
        shm_cpid: st.cpid,
        shm_lpid: st.lpid,
        shm_nattch: st.nattch,
        ..Default::default()
    }
}

/// Query, change or remove shared memory segment `shmid` (an index for
/// `SHM_STAT`).
#[syscall]
pub fn shmctl(t: &mut Task, shmid: i32, cmd: IpcCmd, buf: UserAddr) -> KResult<u64> {
    let (id, cmd, buf) = (shmid, cmd.0 & !IPC_64, buf.0);
    if id < 0 || cmd < 0 {
        return Err(Errno::EINVAL);
    }
    let creds = t.creds();
    match cmd {
        IPC_INFO => {
            let info = ShmInfo64 {
                shmmax: SHMMAX,
                shmmin: SHMMIN,
                shmmni: MNI as u64,
                shmseg: MNI as u64,
                shmall: SHMALL,
                ..Default::default()
            };
            t.write_val(buf, &info)?;
            Ok(t.k.sysv.shm.lock().max_index() as u64)
        }
        SHM_INFO => {
            let (segs, max) = {
                let reg = t.k.sysv.shm.lock();
                (reg.all(), reg.max_index())
            };
            let info = ShmUsage {
                used_ids: i32::try_from(segs.len()).unwrap_or(i32::MAX),
                shm_tot: segs.iter().map(|s| s.size.div_ceil(PAGE_SIZE)).sum(),
                shm_rss: segs.iter().map(|s| s.resident_pages()).sum(),
                ..Default::default()
            };
            t.write_val(buf, &info)?;
            Ok(max as u64)
        }
        SHM_STAT | SHM_STAT_ANY => {
            let seg = t.k.sysv.shm.lock().at_index(to_u64(id))?;
            if cmd == SHM_STAT {
                seg.st.lock().perm.check(&creds, READ)?;
            }
            t.write_val(buf, &shm_ds(&seg))?;
            Ok(to_u64(seg.id))
        }
        IPC_STAT => {
            let seg = t.k.sysv.shm.lock().get(id)?;
            seg.st.lock().perm.check(&creds, READ)?;
            t.write_val(buf, &shm_ds(&seg))?;
            Ok(0)
        }
        IPC_SET => {
            let ds: ShmidDs = t.read_val(buf)?;
            let seg = t.k.sysv.shm.lock().get(id)?;
            let mut st = seg.st.lock();
            st.perm.check_owner(&creds)?;
            st.perm.set(ds.shm_perm.uid, ds.shm_perm.gid, ds.shm_perm.mode);
            st.ctime = now_secs();
            Ok(0)
        }
        IPC_RMID => {
            let mut reg = t.k.sysv.shm.lock();
            let seg = reg.get(id)?;
            seg.st.lock().perm.check_owner(&creds)?;
            seg.remove(&mut reg);
            Ok(0)
        }
        SHM_LOCK | SHM_UNLOCK => {
            let seg = t.k.sysv.shm.lock().get(id)?;
            let mut st = seg.st.lock();
            st.perm.check_owner(&creds)?;
            if cmd == SHM_LOCK {
                st.perm.mode |= SHM_LOCKED;
            } else {
                st.perm.mode &= !SHM_LOCKED;
            }
            Ok(0)
        }
        _ => Err(Errno::EINVAL),
    }
}

// ---- semaphores ----

/// The semaphore set of `key`, created as `semflg` says.
#[syscall]
pub fn semget(t: &mut Task, key: IpcKey, nsems: i32, semflg: IpcGetFlags) -> KResult<u64> {
    let (key, flag) = (key.0, semflg.0);
    let nsems = usize::try_from(nsems).map_err(|_| Errno::EINVAL)?;
    if nsems > SEMMSL {
        return Err(Errno::EINVAL);
    }
    let creds = t.creds();
    let mut reg = t.k.sysv.sem.lock();
    let id = match lookup(&reg, key, flag)? {
        Lookup::Found(set) => {
            let st = set.st.lock();
            if nsems > st.sems.len() {
                return Err(Errno::EINVAL);
            }
            st.perm.check(&creds, flag)?;
            set.id
        }
        Lookup::Create => {
            if nsems == 0 {
                return Err(Errno::EINVAL);
            }
            let (index, id) = reg.next_id()?;
            reg.insert(index, key, Arc::new(SemSet::new(id, key, nsems, flag, &creds)));
            id
        }
    };
    Ok(to_u64(id))
}

/// Carry out the operations `sops` on semaphore set `semid` at once.
#[syscall]
pub fn semop(t: &mut Task, semid: i32, sops: UserAddr, nsops: u64) -> KResult<u64> {
    do_semtimedop(t, semid, sops, nsops, UserPtr::new(0))
}

/// `semop` that waits no longer than `timeout`.
#[syscall]
pub fn semtimedop(t: &mut Task, semid: i32, sops: UserAddr, nsops: u64, timeout: UserPtr<Timespec>) -> KResult<u64> {
    do_semtimedop(t, semid, sops, nsops, timeout)
}

fn do_semtimedop(t: &mut Task, semid: i32, sops: UserAddr, nsops: u64, timeout: UserPtr<Timespec>) -> KResult<u64> {
    let (id, sops) = (id_arg(semid)?, sops.0);
    if nsops == 0 {
        return Err(Errno::EINVAL);
    }
    let nsops = usize::try_from(nsops).map_err(|_| Errno::E2BIG)?;
    if nsops > SEMOPM {
        return Err(Errno::E2BIG);
    }
    let size = std::mem::size_of::<Sembuf>();
    let raw = t.read_vec(sops, nsops * size)?;
    let bufs: Vec<Sembuf> = raw.chunks_exact(size).filter_map(Sembuf::read_from).collect();
    let deadline = if timeout.is_null() {
        None
    } else {
        let ts = timeout.read(t)?;
        if ts.tv_sec < 0 || !(0..1_000_000_000).contains(&ts.tv_nsec) {
            return Err(Errno::EINVAL);
        }
        Some(Instant::now() + Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32))
    };
    let set = t.k.sysv.sem.lock().get(id)?;
    let ops: Vec<SemOp> = bufs
        .iter()
        .map(|b| SemOp {
            num: usize::from(b.sem_num),
            op: i32::from(b.sem_op),
            undo: b.sem_flg & SEM_UNDO != 0,
            nowait: b.sem_flg as u32 & IPC_NOWAIT != 0,
        })
        .collect();
    {
        let st = set.st.lock();
        if ops.iter().any(|o| o.num >= st.sems.len()) {
            return Err(Errno::EFBIG);
        }
        let alter = ops.iter().any(|o| o.op != 0);
        st.perm.check(&t.creds(), if alter { WRITE } else { READ })?;
    }
    let pid = t.pid();
    // The semaphore this task is counted as waiting on (GETNCNT, GETZCNT).
    let mut counted: Option<(usize, bool)> = None;
    fn uncount(st: &mut SemState, c: &mut Option<(usize, bool)>) {
        if let Some((n, zero)) = c.take() {
            let s = &mut st.sems[n];
            if zero {
                s.zcnt = s.zcnt.saturating_sub(1);
            } else {
                s.ncnt = s.ncnt.saturating_sub(1);
            }
        }
    }
    let r = t.wait_until(&[&set.wq], deadline, || {
        let mut st = set.st.lock();
        uncount(&mut st, &mut counted);
        if st.removed {
            return Err(Errno::EIDRM);
        }
        match set.try_ops(&mut st, &ops, pid)? {
            SemTry::Done => Ok(Some(())),
            SemTry::Blocked { num, zero } => {
                if zero {
                    st.sems[num].zcnt += 1;
                } else {
                    st.sems[num].ncnt += 1;
                }
                counted = Some((num, zero));
                Ok(None)
            }
        }
    });
    if counted.is_some() {
        uncount(&mut set.st.lock(), &mut counted);
    }
    r.map_err(interrupted)?;
    set.wq.notify_all();
    Ok(0)
}

fn sem_ds(set: &SemSet) -> SemidDs {
    let st = set.st.lock();
    SemidDs {
        sem_perm: perm64(&st.perm),
        sem_otime: st.otime,
        sem_ctime: st.ctime,
        sem_nsems: st.sems.len() as u64,
        ..Default::default()
    }
}

/// Query or change semaphore set `semid` (an index for `SEM_STAT`) or one
/// of its semaphores; `arg` is the `union semun`, a value or an address.
#[syscall]
pub fn semctl(t: &mut Task, semid: i32, semnum: i32, cmd: IpcCmd, arg: Hex) -> KResult<u64> {
    let (id, cmd, arg) = (semid, cmd.0 & !IPC_64, arg.0);
    if id < 0 || cmd < 0 {
        return Err(Errno::EINVAL);
    }
    let creds = t.creds();
    match cmd {
        IPC_INFO | SEM_INFO => {
            let (sets, max) = {
                let reg = t.k.sysv.sem.lock();
                (reg.all(), reg.max_index())
            };
            let mut info = SemInfo {
                semmap: SEMMNS as i32,
                semmni: MNI as i32,
                semmns: SEMMNS as i32,
                semmnu: SEMMNS as i32,
                semmsl: SEMMSL as i32,
                semopm: SEMOPM as i32,
                semume: SEMOPM as i32,
                semusz: 16,
                semvmx: SEMVMX,
                semaem: SEMAEM,
            };
            if cmd == SEM_INFO {
                info.semusz = i32::try_from(sets.len()).unwrap_or(i32::MAX);
                let total: usize = sets.iter().map(|s| s.st.lock().sems.len()).sum();
                info.semaem = i32::try_from(total).unwrap_or(i32::MAX);
            }
            t.write_val(arg, &info)?;
            Ok(max as u64)
        }
        SEM_STAT | SEM_STAT_ANY => {
            let set = t.k.sysv.sem.lock().at_index(to_u64(id))?;
            if cmd == SEM_STAT {
                set.st.lock().perm.check(&creds, READ)?;
            }
            t.write_val(arg, &sem_ds(&set))?;
            Ok(to_u64(set.id))
        }
        IPC_STAT => {
            let set = t.k.sysv.sem.lock().get(id)?;
            set.st.lock().perm.check(&creds, READ)?;
            t.write_val(arg, &sem_ds(&set))?;
            Ok(0)
        }
        IPC_SET => {
            let ds: SemidDs = t.read_val(arg)?;
            let set = t.k.sysv.sem.lock().get(id)?;
            let mut st = set.st.lock();
            st.perm.check_owner(&creds)?;
            st.perm.set(ds.sem_perm.uid, ds.sem_perm.gid, ds.sem_perm.mode);
            st.ctime = now_secs();
            Ok(0)
        }
        IPC_RMID => {
            let set = {
                let mut reg = t.k.sysv.sem.lock();
                let set = reg.get(id)?;
                let mut st = set.st.lock();
                st.perm.check_owner(&creds)?;
                st.removed = true;
                reg.remove(id, st.perm.key);
                drop(st);
                set
            };
            set.wq.notify_all();
            Ok(0)
        }
        GETVAL | GETPID | GETNCNT | GETZCNT => {
            let set = t.k.sysv.sem.lock().get(id)?;
            let st = set.st.lock();
            let s = usize::try_from(semnum).ok().and_then(|n| st.sems.get(n)).copied().ok_or(Errno::EINVAL)?;
            st.perm.check(&creds, READ)?;
            Ok(match cmd {
                GETVAL => to_u64(s.val),
                GETPID => to_u64(s.pid),
                GETNCNT => u64::from(s.ncnt),
                _ => u64::from(s.zcnt),
            })
        }
        GETALL => {
            let set = t.k.sysv.sem.lock().get(id)?;
            let vals: Vec<u8> = {
                let st = set.st.lock();
                st.perm.check(&creds, READ)?;
                st.sems.iter().flat_map(|s| (s.val as u16).to_ne_bytes()).collect()
            };
            t.write_bytes(arg, &vals)?;
            Ok(0)
        }
        SETVAL => {
            let val = arg as u32 as i32;
            if !(0..=SEMVMX).contains(&val) {
                return Err(Errno::ERANGE);
            }
            let set = t.k.sysv.sem.lock().get(id)?;
            {
                let mut st = set.st.lock();
                let n = usize::try_from(semnum).ok().filter(|&n| n < st.sems.len()).ok_or(Errno::EINVAL)?;
                st.perm.check(&creds, WRITE)?;
                st.sems[n].val = val;
                st.sems[n].pid = t.pid();
                st.ctime = now_secs();
                SemSet::clear_undo(&mut st, Some(n));
            }
            set.wq.notify_all();
            Ok(0)
        }
        SETALL => {
            let set = t.k.sysv.sem.lock().get(id)?;
            let n = set.st.lock().sems.len();
            let raw = t.read_vec(arg, n * 2)?;
            let vals: Vec<i32> = raw.chunks_exact(2).map(|c| i32::from(u16::from_ne_bytes([c[0], c[1]]))).collect();
            if vals.iter().any(|&v| v > SEMVMX) {
                return Err(Errno::ERANGE);
            }
            {
                let mut st = set.st.lock();
                st.perm.check(&creds, WRITE)?;
                if st.removed {
                    return Err(Errno::EIDRM);
                }
                let pid = t.pid();
                for (s, v) in st.sems.iter_mut().zip(vals) {
                    s.val = v;
                    s.pid = pid;
                }
                st.ctime = now_secs();
                SemSet::clear_undo(&mut st, None);
            }
            set.wq.notify_all();
            Ok(0)
        }
        _ => Err(Errno::EINVAL),
    }
}

// ---- message queues ----

/// The message queue of `key`, created as `msgflg` says.
#[syscall]
pub fn msgget(t: &mut Task, key: IpcKey, msgflg: IpcGetFlags) -> KResult<u64> {
    let (key, flag) = (key.0, msgflg.0);
    let creds = t.creds();
    let mut reg = t.k.sysv.msg.lock();
    let id = match lookup(&reg, key, flag)? {
        Lookup::Found(q) => {
            q.st.lock().perm.check(&creds, flag)?;
            q.id
        }
        Lookup::Create => {
            let (index, id) = reg.next_id()?;
            reg.insert(index, key, Arc::new(MsgQueue::new(id, key, flag, &creds)));
            id
        }
    };
    Ok(to_u64(id))
}

/// Send a message (`long mtype` then `msgsz` bytes at `msgp`) to queue
/// `msqid`.
#[syscall]
pub fn msgsnd(t: &mut Task, msqid: i32, msgp: UserPtr<i64>, msgsz: i64, msgflg: MsgIpcFlags) -> KResult<u64> {
    let (id, flag) = (id_arg(msqid)?, msgflg.0);
    let len = usize::try_from(msgsz).ok().filter(|&n| n <= MSGMAX).ok_or(Errno::EINVAL)?;
    let mtype = msgp.read(t)?;
    let msgp = msgp.addr();
    if mtype < 1 {
        return Err(Errno::EINVAL);
    }
    let text = t.read_vec(msgp.checked_add(8).ok_or(Errno::EFAULT)?, len)?;
    let q = t.k.sysv.msg.lock().get(id)?;
    q.st.lock().perm.check(&t.creds(), WRITE)?;
    let pid = t.pid();
    let mut msg = Some(Message { mtype, text });
    t.wait_until(&[&q.wq], None, || {
        let mut st = q.st.lock();
        if st.removed {
            return Err(Errno::EIDRM);
        }
        let fits = st.cbytes + len as u64 <= st.qbytes && (st.msgs.len() as u64) < st.qbytes;
        if !fits {
            return if flag & IPC_NOWAIT != 0 { Err(Errno::EAGAIN) } else { Ok(None) };
        }
        if let Some(m) = msg.take() {
            st.msgs.push_back(m);
        }
        st.cbytes += len as u64;
        st.lspid = pid;
        st.stime = now_secs();
        Ok(Some(()))
    })
    .map_err(interrupted)?;
    q.wq.notify_all();
    Ok(0)
}

/// Receive a message of the type `msgtyp` selects from queue `msqid`.
#[syscall]
pub fn msgrcv(t: &mut Task, msqid: i32, msgp: UserAddr, msgsz: i64, msgtyp: i64, msgflg: MsgIpcFlags) -> KResult<u64> {
    let (id, msgp, flag) = (id_arg(msqid)?, msgp.0, msgflg.0);
    let max = usize::try_from(msgsz).map_err(|_| Errno::EINVAL)?;
    if flag & MSG_COPY != 0 {
        return Err(Errno::ENOSYS);
    }
    let q = t.k.sysv.msg.lock().get(id)?;
    q.st.lock().perm.check(&t.creds(), READ)?;
    let pid = t.pid();
    let msg = t
        .wait_until(&[&q.wq], None, || {
            let mut st = q.st.lock();
            if st.removed {
                return Err(Errno::EIDRM);
            }
            let Some(i) = MsgQueue::find(&st, msgtyp, flag & MSG_EXCEPT != 0) else {
                return if flag & IPC_NOWAIT != 0 { Err(Errno::ENOMSG) } else { Ok(None) };
            };
            if st.msgs[i].text.len() > max && flag & MSG_NOERROR == 0 {
                return Err(Errno::E2BIG);
            }
            let m = st.msgs.remove(i);
            if let Some(m) = &m {
                st.cbytes -= m.text.len() as u64;
            }
            st.lrpid = pid;
            st.rtime = now_secs();
            Ok(m)
        })
        .map_err(interrupted)?;
    q.wq.notify_all();
    let n = msg.text.len().min(max);
    t.write_val(msgp, &msg.mtype)?;
    t.write_bytes(msgp.checked_add(8).ok_or(Errno::EFAULT)?, &msg.text[..n])?;
    Ok(n as u64)
}

fn msg_ds(q: &MsgQueue) -> MsqidDs {
    let st = q.st.lock();
    MsqidDs {
        msg_perm: perm64(&st.perm),
        msg_stime: st.stime,
        msg_rtime: st.rtime,
        msg_ctime: st.ctime,
        msg_cbytes: st.cbytes,
        msg_qnum: st.msgs.len() as u64,
        msg_qbytes: st.qbytes,
        msg_lspid: st.lspid,
        msg_lrpid: st.lrpid,
        ..Default::default()
    }
}

/// Query, change or remove message queue `msqid` (an index for
/// `MSG_STAT`).
#[syscall]
pub fn msgctl(t: &mut Task, msqid: i32, cmd: IpcCmd, buf: UserAddr) -> KResult<u64> {
    let (id, cmd, buf) = (msqid, cmd.0 & !IPC_64, buf.0);
    if id < 0 || cmd < 0 {
        return Err(Errno::EINVAL);
    }
    let creds = t.creds();
    match cmd {
        IPC_INFO | MSG_INFO => {
            let (queues, max) = {
                let reg = t.k.sysv.msg.lock();
                (reg.all(), reg.max_index())
            };
            let mut info = MsgInfo {
                msgpool: (MNI as i32 * MSGMNB as i32) / 1024,
                msgmap: MSGMNB as i32,
                msgmax: MSGMAX as i32,
                msgmnb: MSGMNB as i32,
                msgmni: MNI as i32,
                msgssz: 16,
                msgtql: MSGMNB as i32,
                msgseg: 0xffff,
                pad: 0,
            };
            if cmd == MSG_INFO {
                let (mut n, mut bytes) = (0u64, 0u64);
                for q in &queues {
                    let st = q.st.lock();
                    n += st.msgs.len() as u64;
                    bytes += st.cbytes;
                }
                info.msgpool = i32::try_from(queues.len()).unwrap_or(i32::MAX);
                info.msgmap = i32::try_from(n).unwrap_or(i32::MAX);
                info.msgtql = i32::try_from(bytes).unwrap_or(i32::MAX);
            }
            t.write_val(buf, &info)?;
            Ok(max as u64)
        }
        MSG_STAT | MSG_STAT_ANY => {
            let q = t.k.sysv.msg.lock().at_index(to_u64(id))?;
            if cmd == MSG_STAT {
                q.st.lock().perm.check(&creds, READ)?;
            }
            t.write_val(buf, &msg_ds(&q))?;
            Ok(to_u64(q.id))
        }
        IPC_STAT => {
            let q = t.k.sysv.msg.lock().get(id)?;
            q.st.lock().perm.check(&creds, READ)?;
            t.write_val(buf, &msg_ds(&q))?;
            Ok(0)
        }
        IPC_SET => {
            let ds: MsqidDs = t.read_val(buf)?;
            let q = t.k.sysv.msg.lock().get(id)?;
            {
                let mut st = q.st.lock();
                st.perm.check_owner(&creds)?;
                if ds.msg_qbytes > MSGMNB && !creds.capable(CAP_SYS_RESOURCE) {
                    return Err(Errno::EPERM);
                }
                st.perm.set(ds.msg_perm.uid, ds.msg_perm.gid, ds.msg_perm.mode);
                st.qbytes = ds.msg_qbytes;
                st.ctime = now_secs();
            }
            q.wq.notify_all();
            Ok(0)
        }
        IPC_RMID => {
            let q = {
                let mut reg = t.k.sysv.msg.lock();
                let q = reg.get(id)?;
                let mut st = q.st.lock();
                st.perm.check_owner(&creds)?;
                st.removed = true;
                st.msgs.clear();
                st.cbytes = 0;
                reg.remove(id, st.perm.key);
                drop(st);
                q
            };
            q.wq.notify_all();
            Ok(0)
        }
        _ => Err(Errno::EINVAL),
    }
}
