//! The body of the `syscall_args` fuzz target (see `crate::fuzzing`): the
//! argument decoders and strace printers that need no task, over arbitrary
//! register values and buffer contents.

use abi::types::{Iovec, MsgHdr, Rlimit, Stat, Timespec, Timeval, Winsize};

use super::args::*;
use super::signal::SigSet;
use crate::net::{Addr, Domain};

/// The strace form of a `T` read from the start of `b` (if `b` holds one).
fn shown<T: UserType>(b: &[u8]) -> Option<String> {
    T::read_from_prefix(b).and_then(|v| v.strace())
}

/// `data`: six little-endian register values (zero-padded), then the
/// contents of a buffer in application memory.
pub(crate) fn run(data: &[u8]) {
    let mut regs = [0u8; 48];
    let head = data.len().min(48);
    regs[..head].copy_from_slice(&data[..head]);
    let buf = &data[head..];
    let raw: [u64; 6] = std::array::from_fn(|i| {
        let mut w = [0u8; 8];
        w.copy_from_slice(&regs[i * 8..i * 8 + 8]);
        u64::from_le_bytes(w)
    });

    for &v in &raw {
        let (w, i) = (v as u32, v as u32 as i32);
        let _ = fd_number(v);
        let _ = (octal(w), file_mode(w), signal_str(i), open_flags_str(w));
        let _ = (map_flags_str(w), sock_type_str(w), futex_op_str(i), clone_flags_str(v));
        let _ = (OpenFlags::print(w), AtFlags::print(w), MapFlags::print(w), Prot::print(w));
        let _ = (MremapFlags::print(w), MountFlags::print(w), UmountFlags::print(w), RenameFlags::print(w));
        let _ = (StatxMask::print(w), PipeFlags::print(w), EventfdFlags::print(w), EpollCreateFlags::print(w));
        let _ = (InotifyFlags::print(w), InotifyMask::print(w), SignalfdFlags::print(w), TimerfdFlags::print(w));
        let _ = (TimerSetFlags::print(w), TimerFlags::print(w), SockType::print(w), MsgFlags::print(w));
        let _ = (WaitOptions::print(w), MemfdFlags::print(w), XattrFlags::print(w), SpliceFlags::print(w));
        let _ = (GrndFlags::print(w), CloseRangeFlags::print(w), AccessMode::print(w), CloneFlags::print(v));
        let _ = (Whence::print(i), FcntlCmd::print(i), SigHow::print(i), ClockId::print(i));
        let _ = (EpollOp::print(i), FutexOp::print(i), PrctlOption::print(i), ArchPrctlCode::print(i));
        let _ = (Resource::print(i), Family::print(i), Signal::print(i), Madvice::print(i));
        let _ = (Fadvice::print(i), ShutdownHow::print(i), IoctlReq::print(w), SockLevel::print(i));
        let _ = (Which::print(i), IpcCmd::print(i));
        let _ = (super::creds::Id::print(w), super::lock::FlockOp::print(i), super::mm::SyncFlags::print(w));
        let _ = (super::open::FallocMode::print(w), super::pidfd::PidfdFlags::print(w));
        let _ = (super::process::PrioWhich::print(i), super::stat::StatxFlags::print(w));
        let _ = (super::sysv::IpcKey::print(i), super::sysv::IpcGetFlags::print(w));
        let _ = (super::sysv::ShmatFlags::print(w), super::sysv::MsgIpcFlags::print(w));
        let _ = super::signal::sigset_str(v);
    }

    // Buffers strace quotes or reads bits of.
    let q = quote(buf, raw[0] as usize, raw[1] & 1 != 0);
    assert!(q.starts_with('"'));
    let _ = bits_str(buf, raw[2] as usize);

    // Structures from application memory.
    let _ = (shown::<Timespec>(buf), shown::<Timeval>(buf), shown::<Rlimit>(buf), shown::<Winsize>(buf));
    let _ = (shown::<Stat>(buf), shown::<MsgHdr>(buf), shown::<SigSet>(buf));
    let _ = shown::<super::socket::SockLen>(buf);

    let _ = shown::<Iovec>(buf);

    // Socket addresses: strace's form, and every parser; a name that
    // parses is the same name once written back and parsed again.
    let _ = super::socket::sockaddr_str(buf);
    let _ = Addr::family_of(buf);
    if let Ok(Some(a)) = Addr::parse_unix(buf) {
        assert_eq!(Addr::parse_unix(&a.to_sockaddr()), Ok(Some(a.clone())), "{a:?}");
    }
    for d in [Domain::Unix, Domain::Inet, Domain::Inet6, Domain::Netlink] {
        if let Ok(sa) = Addr::parse_inet(d, buf) {
            assert_eq!(Addr::parse_inet(d, &Addr::Inet(sa).to_sockaddr()), Ok(sa));
        }
    }
    if let Ok((pid, groups)) = Addr::parse_netlink(buf) {
        assert_eq!(Addr::parse_netlink(&Addr::Netlink { pid, groups }.to_sockaddr()), Ok((pid, groups)));
    }

    // Control messages: each one lies inside the buffer; one built by the
    // sender's encoder parses back to what it holds.
    let _ = super::socket::each_cmsg(buf, |_, _, data, whole| {
        assert!(data.len() + 16 <= whole.len());
        Ok(())
    });
    let (level, ty) = (raw[3] as i32, raw[4] as i32);
    let room = (raw[5] as usize) & 0xffff;
    let msg = super::socket::cmsg(level, ty, buf, room);
    let mut seen = Vec::new();
    let parsed = super::socket::each_cmsg(&msg, |l, t, d, _| {
        seen.push((l, t, d.to_vec()));
        Ok(())
    });
    assert_eq!(parsed, Ok(()));
    assert_eq!(seen, vec![(level, ty, buf.to_vec())]);
}
