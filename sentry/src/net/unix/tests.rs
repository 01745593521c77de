use super::*;
use crate::fs::pipe::Pipe;
use crate::vfs::Caller;
use abi::consts::{O_RDONLY, O_WRONLY};

const CRED: Ucred = Ucred { pid: 7, uid: 1000, gid: 100 };

fn recv_vec(e: &Endpoint, n: usize) -> KResult<(Vec<u8>, Received)> {
    let mut buf = vec![0u8; n];
    let r = e.recv(&mut buf, false)?;
    buf.truncate(r.len);
    Ok((buf, r))
}

fn send(e: &Endpoint, data: &[u8]) -> KResult<usize> {
    e.send(data, &mut Vec::new(), CRED, None)
}

#[test]
fn stream_pair_carries_bytes_both_ways() {
    let (a, b) = Endpoint::pair(SockType::Stream, CRED);
    send(&a, b"ping").expect("send");
    send(&b, b"pong").expect("send");

    assert_eq!(recv_vec(&b, 16).expect("recv").0, b"ping");
    assert_eq!(recv_vec(&a, 16).expect("recv").0, b"pong");
}

#[test]
fn stream_recv_merges_writes_and_splits_reads() {
    let (a, b) = Endpoint::pair(SockType::Stream, CRED);
    send(&a, b"abc").expect("send");
    send(&a, b"def").expect("send");

    assert_eq!(recv_vec(&b, 4).expect("recv").0, b"abcd");
    assert_eq!(recv_vec(&b, 4).expect("recv").0, b"ef");
}

#[test]
fn seqpacket_keeps_message_boundaries_and_truncates() {
    let (a, b) = Endpoint::pair(SockType::Seqpacket, CRED);
    send(&a, b"hello").expect("send");
    send(&a, b"world!").expect("send");

    let (data, r) = recv_vec(&b, 3).expect("recv");
    assert_eq!((data.as_slice(), r.msg_len), (&b"hel"[..], 5));
    assert_eq!(recv_vec(&b, 16).expect("recv").0, b"world!");
}

#[test]
fn dgram_pair_keeps_message_boundaries() {
    let (a, b) = Endpoint::pair(SockType::Dgram, CRED);
    send(&a, b"one").expect("send");
    send(&a, b"two").expect("send");

    assert_eq!(recv_vec(&b, 16).expect("recv").0, b"one");
    assert_eq!(recv_vec(&b, 16).expect("recv").0, b"two");
    assert_eq!(b.recv(&mut [0u8; 4], false).err(), Some(Errno::EAGAIN));
}

#[test]
fn stream_peer_close_gives_eof_and_epipe() {
    let (a, b) = Endpoint::pair(SockType::Stream, CRED);
    send(&a, b"last").expect("send");
    a.close();

    assert_eq!(recv_vec(&b, 16).expect("recv").0, b"last");
    assert_eq!(recv_vec(&b, 16).expect("recv").1.len, 0);
    assert_eq!(send(&b, b"x"), Err(Errno::EPIPE));
    assert_ne!(b.poll() & POLLHUP, 0);
}

#[test]
fn shutdown_write_gives_peer_eof_but_keeps_other_direction() {
    let (a, b) = Endpoint::pair(SockType::Stream, CRED);
    a.shutdown(1).expect("shutdown");

    assert_eq!(recv_vec(&b, 16).expect("recv").1.len, 0);
    assert_eq!(send(&a, b"x"), Err(Errno::EPIPE));
    send(&b, b"back").expect("send");
    assert_eq!(recv_vec(&a, 16).expect("recv").0, b"back");
}

#[test]
fn full_stream_takes_what_fits_then_eagain() {
    let (a, _b) = Endpoint::pair(SockType::Stream, CRED);
    let big = vec![1u8; DEFAULT_BUF + 1000];

    assert_eq!(send(&a, &big), Ok(DEFAULT_BUF));
    assert_eq!(send(&a, b"x"), Err(Errno::EAGAIN));
    assert_eq!(a.poll() & POLLOUT, 0);
}

#[test]
fn reading_frees_room_for_the_writer() {
    let (a, b) = Endpoint::pair(SockType::Stream, CRED);
    send(&a, &vec![1u8; DEFAULT_BUF]).expect("fill");
    recv_vec(&b, 100).expect("recv");

    assert_ne!(a.poll() & POLLOUT, 0);
    assert_eq!(send(&a, &[2u8; 500]), Ok(100));
}

#[test]
fn scm_rights_moves_a_file_description() {
    let (a, b) = Endpoint::pair(SockType::Stream, CRED);
    let (r, w) = Pipe::pair();
    let rd = FileDescription::new_anon(r, None, O_RDONLY, b"pipe:[r]".to_vec());
    let wd = FileDescription::new_anon(w, None, O_WRONLY, b"pipe:[w]".to_vec());
    let mut rights = vec![wd.clone()];
    a.send(b"f", &mut rights, CRED, None).expect("send");
    drop(wd);

    let (_, got) = recv_vec(&b, 16).expect("recv");
    assert!(rights.is_empty());
    assert_eq!(got.rights.len(), 1);
    assert_eq!(got.rights[0].file.write(Caller::SENTRY, b"via", 0), Ok(3));
    assert_eq!(rd.file.read(Caller::SENTRY, &mut [0u8; 8], 0), Ok(3));
}

#[test]
fn stream_read_stops_after_a_message_with_rights() {
    let (a, b) = Endpoint::pair(SockType::Stream, CRED);
    let (r, _w) = Pipe::pair();
    let rd = FileDescription::new_anon(r, None, O_RDONLY, b"pipe:[r]".to_vec());
    a.send(b"ab", &mut vec![rd], CRED, None).expect("send");
    send(&a, b"cd").expect("send");

    let (data, got) = recv_vec(&b, 16).expect("recv");
    assert_eq!((data.as_slice(), got.rights.len()), (&b"ab"[..], 1));
    assert_eq!(recv_vec(&b, 16).expect("recv").0, b"cd");
}

#[test]
fn credentials_are_delivered_only_with_passcred() {
    let (a, b) = Endpoint::pair(SockType::Dgram, CRED);
    send(&a, b"1").expect("send");
    let without = recv_vec(&b, 4).expect("recv").1.cred;
    b.set_opts(|o| o.passcred = true);
    send(&a, b"2").expect("send");

    assert_eq!(without, None);
    assert_eq!(recv_vec(&b, 4).expect("recv").1.cred, Some(CRED));
}

#[test]
fn listener_accepts_a_connection_with_peer_credentials() {
    let srv = Endpoint::new(SockType::Stream);
    let name = b"unix-test-listener".to_vec();
    srv.bind(Addr::Abstract(name.clone()), NameKey::Abstract(name.clone())).expect("bind");
    srv.listen(1, Ucred { pid: 1, uid: 0, gid: 0 }).expect("listen");
    let cli = Endpoint::new(SockType::Stream);
    let target = lookup(&NameKey::Abstract(name.clone())).expect("registered");

    cli.connect(&target, CRED, None).expect("connect");
    let conn = srv.accept().expect("accept");
    send(&cli, b"hi").expect("send");
    assert_eq!(recv_vec(&conn, 4).expect("recv").0, b"hi");
    assert_eq!(conn.peer_cred(), Some(CRED));
    assert_eq!(cli.peer_cred(), Some(Ucred { pid: 1, uid: 0, gid: 0 }));
    assert_eq!(cli.peer_addr(), Ok(Addr::Abstract(name)));
    assert_eq!(srv.accept().err(), Some(Errno::EAGAIN));
}

#[test]
fn connect_to_a_non_listening_socket_is_refused() {
    let a = Endpoint::new(SockType::Stream);
    let b = Endpoint::new(SockType::Stream);

    assert_eq!(a.connect(&b, CRED, None), Err(Errno::ECONNREFUSED));
}

#[test]
fn full_backlog_makes_connect_wait() {
    let srv = Endpoint::new(SockType::Stream);
    let name = b"unix-test-backlog".to_vec();
    srv.bind(Addr::Abstract(name.clone()), NameKey::Abstract(name)).expect("bind");
    srv.listen(0, CRED).expect("listen");
    Endpoint::new(SockType::Stream).connect(&srv, CRED, None).expect("first fits");

    assert_eq!(Endpoint::new(SockType::Stream).connect(&srv, CRED, None), Err(Errno::EAGAIN));
}

#[test]
fn binding_a_taken_abstract_name_is_eaddrinuse_until_closed() {
    let name = b"unix-test-taken".to_vec();
    let a = Endpoint::new(SockType::Dgram);
    a.bind(Addr::Abstract(name.clone()), NameKey::Abstract(name.clone())).expect("bind");
    let b = Endpoint::new(SockType::Dgram);

    assert_eq!(b.bind(Addr::Abstract(name.clone()), NameKey::Abstract(name.clone())), Err(Errno::EADDRINUSE));
    a.close();
    assert_eq!(b.bind(Addr::Abstract(name.clone()), NameKey::Abstract(name)), Ok(()));
}

#[test]
fn dgram_sendto_names_the_sender() {
    let name = b"unix-test-dgram-rx".to_vec();
    let rx = Endpoint::new(SockType::Dgram);
    rx.bind(Addr::Abstract(name.clone()), NameKey::Abstract(name)).expect("bind");
    let tx = Endpoint::new(SockType::Dgram);
    tx.autobind().expect("autobind");

    tx.send(b"d", &mut Vec::new(), CRED, Some(&rx)).expect("sendto");
    let (_, got) = recv_vec(&rx, 4).expect("recv");
    assert_eq!(got.from, tx.addr());
    assert!(matches!(got.from, Addr::Abstract(ref n) if n.len() == 5));
}

#[test]
fn dgram_send_to_closed_receiver_is_refused() {
    let (a, b) = Endpoint::pair(SockType::Dgram, CRED);
    b.close();

    assert_eq!(send(&a, b"x"), Err(Errno::ECONNREFUSED));
}

#[test]
fn closing_with_unread_data_resets_the_peer() {
    let (a, b) = Endpoint::pair(SockType::Stream, CRED);
    send(&b, b"unread").expect("send");
    a.close();

    assert_eq!(b.recv(&mut [0u8; 4], false).err(), Some(Errno::ECONNRESET));
    assert_eq!(recv_vec(&b, 4).expect("recv").1.len, 0);
}

#[test]
fn sockaddr_round_trips_paths_and_abstract_names() {
    let p = Addr::Path(b"/tmp/s".to_vec());
    let a = Addr::Abstract(b"x\0y".to_vec());

    assert_eq!(Addr::parse_unix(&p.to_sockaddr()), Ok(Some(p)));
    assert_eq!(Addr::parse_unix(&a.to_sockaddr()), Ok(Some(a)));
    assert_eq!(Addr::parse_unix(&(libc::AF_UNIX as u16).to_ne_bytes()), Ok(None));
    assert_eq!(Addr::parse_unix(&[2, 0, b'x']), Err(Errno::EINVAL));
}

#[test]
fn peek_leaves_data_queued() {
    let (a, b) = Endpoint::pair(SockType::Stream, CRED);
    send(&a, b"peek").expect("send");
    let mut buf = [0u8; 8];

    assert_eq!(b.recv(&mut buf, true).map(|r| r.len), Ok(4));
    assert_eq!(recv_vec(&b, 8).expect("recv").0, b"peek");
}
