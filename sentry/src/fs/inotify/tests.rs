use super::*;
use crate::vfs::Caller;

/// Identities in a device range no real file system of the tests uses, one
/// per test so parallel tests do not see each other's events.
fn id(test: u64, ino: u64) -> Identity {
    (0xdead_0000 + test, ino)
}

fn read_all(i: &Inotify) -> Vec<u8> {
    let mut buf = vec![0u8; 4096];
    let n = i.read(Caller::SENTRY, &mut buf, 0).expect("read");
    buf.truncate(n);
    buf
}

#[test]
fn event_encodes_as_struct_inotify_event_with_name_padded_to_16() {
    let rec = encode_event(3, IN_CREATE | IN_ISDIR, 7, b"abc");

    assert_eq!(rec.len(), 32);
    assert_eq!(&rec[0..4], &3i32.to_ne_bytes());
    assert_eq!(&rec[4..8], &(IN_CREATE | IN_ISDIR).to_ne_bytes());
    assert_eq!(&rec[8..12], &7u32.to_ne_bytes());
    assert_eq!(&rec[12..16], &16u32.to_ne_bytes());
    assert_eq!(&rec[16..19], b"abc");
    assert!(rec[19..].iter().all(|&b| b == 0));
}

#[test]
fn event_without_name_has_zero_len_and_a_16_byte_name_takes_32() {
    assert_eq!(encode_event(1, IN_MODIFY, 0, b"").len(), 16);
    assert_eq!(encode_event(1, IN_MODIFY, 0, &[b'x'; 16]).len(), 16 + 32);
}

#[test]
fn notify_queues_an_event_for_a_watch_whose_mask_wants_it() {
    let i = Inotify::new();
    let wd = i.add_watch(id(1, 1), IN_CREATE).expect("add_watch");

    notify(id(1, 1), b"f", IN_CREATE, 0);
    notify(id(1, 1), b"f", IN_DELETE, 0);

    assert_eq!(i.queued(), vec![(wd, IN_CREATE, 0, b"f".to_vec())]);
    assert_eq!(i.poll(Caller::SENTRY) & libc::POLLIN as u32, libc::POLLIN as u32);
}

#[test]
fn identical_consecutive_events_merge() {
    let i = Inotify::new();
    let wd = i.add_watch(id(2, 1), IN_MODIFY).expect("add_watch");

    notify(id(2, 1), b"", IN_MODIFY, 0);
    notify(id(2, 1), b"", IN_MODIFY, 0);

    assert_eq!(i.queued(), vec![(wd, IN_MODIFY, 0, Vec::new())]);
}

#[test]
fn oneshot_watch_reports_once_then_ignored() {
    let i = Inotify::new();
    let wd = i.add_watch(id(3, 1), IN_MODIFY | IN_ONESHOT).expect("add_watch");

    notify(id(3, 1), b"", IN_MODIFY, 0);
    notify(id(3, 1), b"", IN_ATTRIB | IN_MODIFY, 0);

    assert_eq!(i.queued(), vec![(wd, IN_MODIFY, 0, Vec::new()), (wd, IN_IGNORED, 0, Vec::new())]);
}

#[test]
fn adding_the_same_inode_twice_returns_the_same_wd_and_mask_create_is_eexist() {
    let i = Inotify::new();
    let wd = i.add_watch(id(4, 1), IN_CREATE).expect("add_watch");

    assert_eq!(i.add_watch(id(4, 1), IN_DELETE | IN_MASK_ADD), Ok(wd));
    assert_eq!(i.add_watch(id(4, 1), IN_DELETE | IN_MASK_CREATE), Err(Errno::EEXIST));
    assert_eq!(i.add_watch(id(4, 2), IN_DELETE), Ok(wd + 1));
}

#[test]
fn rm_watch_queues_ignored_and_stops_events() {
    let i = Inotify::new();
    let wd = i.add_watch(id(5, 1), IN_ALL_EVENTS).expect("add_watch");

    i.rm_watch(wd).expect("rm_watch");
    notify(id(5, 1), b"", IN_MODIFY, 0);

    assert_eq!(i.queued(), vec![(wd, IN_IGNORED, 0, Vec::new())]);
    assert_eq!(i.rm_watch(wd), Err(Errno::EINVAL));
}

#[test]
fn read_returns_whole_records_and_einval_when_the_first_does_not_fit() {
    let i = Inotify::new();
    let wd = i.add_watch(id(6, 1), IN_ALL_EVENTS).expect("add_watch");
    notify(id(6, 1), b"name", IN_CREATE, 0);
    let mut small = [0u8; 20];

    assert_eq!(i.read(Caller::SENTRY, &mut small, 0), Err(Errno::EINVAL));
    assert_eq!(i.readable_bytes(), Some(32));
    assert_eq!(read_all(&i), encode_event(wd, IN_CREATE, 0, b"name"));
    assert_eq!(i.read(Caller::SENTRY, &mut small, 0), Err(Errno::EAGAIN));
}

#[test]
fn dropping_an_instance_unregisters_its_watches() {
    let i = Inotify::new();
    i.add_watch(id(7, 1), IN_ALL_EVENTS).expect("add_watch");

    drop(i);

    assert!(watchers(id(7, 1)).is_empty());
    assert!(!registry().lock().contains_key(&id(7, 1)));
}

#[test]
fn setattr_mask_follows_fsnotify_change() {
    let size = SetAttr { size: Some(0), ..Default::default() };
    let mode = SetAttr { mode: Some(0o600), ..Default::default() };
    let both_times =
        SetAttr { atime: Some(crate::vfs::TimeSet::Now), mtime: Some(crate::vfs::TimeSet::Now), ..Default::default() };
    let atime = SetAttr { atime: Some(crate::vfs::TimeSet::Now), ..Default::default() };

    assert_eq!(setattr_mask(&size), IN_MODIFY);
    assert_eq!(setattr_mask(&mode), IN_ATTRIB);
    assert_eq!(setattr_mask(&both_times), IN_ATTRIB);
    assert_eq!(setattr_mask(&atime), IN_ACCESS);
}
