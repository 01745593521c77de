use super::*;

const P1: Owner = Owner::Process(1);
const P2: Owner = Owner::Process(2);
const KEY: InodeKey = (7, 42);
const KEY2: InodeKey = (7, 43);

fn ranges(t: &LockTable, owner: Owner) -> Vec<(LockKind, u64, u64)> {
    let mut v: Vec<_> = t.records().iter().filter(|l| l.owner == owner).map(|l| (l.kind, l.start, l.end)).collect();
    v.sort_by_key(|r| r.1);
    v
}

#[test]
fn unlocking_the_middle_of_a_lock_splits_it_in_two() {
    let mut t = LockTable::default();
    t.set_record(P1, Some(LockKind::Write), 0, 100, 1);

    t.set_record(P1, None, 40, 60, 1);

    assert_eq!(ranges(&t, P1), vec![(LockKind::Write, 0, 40), (LockKind::Write, 60, 100)]);
}

#[test]
fn adjacent_locks_of_the_same_kind_merge() {
    let mut t = LockTable::default();
    t.set_record(P1, Some(LockKind::Read), 0, 10, 1);
    t.set_record(P1, Some(LockKind::Read), 20, 30, 1);

    t.set_record(P1, Some(LockKind::Read), 10, 20, 1);

    assert_eq!(ranges(&t, P1), vec![(LockKind::Read, 0, 30)]);
}

#[test]
fn a_write_lock_inside_a_read_lock_splits_it_in_three() {
    let mut t = LockTable::default();
    t.set_record(P1, Some(LockKind::Read), 0, 100, 1);

    t.set_record(P1, Some(LockKind::Write), 10, 20, 1);

    assert_eq!(ranges(&t, P1), vec![(LockKind::Read, 0, 10), (LockKind::Write, 10, 20), (LockKind::Read, 20, 100)]);
}

#[test]
fn read_locks_of_two_owners_do_not_conflict_but_a_write_lock_does() {
    let mut t = LockTable::default();
    t.set_record(P1, Some(LockKind::Read), 0, 10, 1);

    let read = t.record_conflicts(P2, LockKind::Read, 5, 15);
    let write = t.record_conflicts(P2, LockKind::Write, 5, 15);
    let beside = t.record_conflicts(P2, LockKind::Write, 10, 15);

    assert!(read.is_empty());
    assert_eq!(write.len(), 1);
    assert!(beside.is_empty());
}

#[test]
fn an_owner_never_conflicts_with_itself() {
    let mut t = LockTable::default();
    t.set_record(P1, Some(LockKind::Write), 0, u64::MAX, 1);

    assert!(t.record_conflicts(P1, LockKind::Write, 0, 10).is_empty());
}

#[test]
fn flock_shared_locks_coexist_and_exclude_an_exclusive_one() {
    let mut t = LockTable::default();
    t.set_flock(1, Some(LockKind::Read));
    t.set_flock(2, Some(LockKind::Read));

    assert!(!t.flock_conflicts(3, LockKind::Read));
    assert!(t.flock_conflicts(3, LockKind::Write));
    assert!(!t.flock_conflicts(1, LockKind::Read));
}

#[test]
fn removing_a_description_drops_its_flock_and_ofd_locks() {
    let mut t = LockTable::default();
    t.set_flock(9, Some(LockKind::Write));
    t.set_record(Owner::Description(9), Some(LockKind::Write), 0, 10, -1);

    assert!(t.remove_description(9));

    assert!(t.is_empty());
}

#[test]
fn try_set_record_reports_the_conflicting_owner() {
    let mut r = Registry::default();
    r.try_set_record(KEY, P1, Some(LockKind::Write), 0, 10, 1).expect("first lock");

    let got = r.try_set_record(KEY, P2, Some(LockKind::Read), 5, 6, 2);

    assert_eq!(got, Err(vec![P1]));
}

#[test]
fn two_processes_waiting_for_each_other_is_a_deadlock() {
    let mut r = Registry::default();
    r.try_set_record(KEY, P1, Some(LockKind::Write), 0, 1, 1).expect("p1 locks byte 0");
    r.try_set_record(KEY, P2, Some(LockKind::Write), 1, 2, 2).expect("p2 locks byte 1");
    r.set_waiting(2, Some(Pending { key: KEY, kind: LockKind::Write, start: 0, end: 1 }));

    let p1_wants_byte_1 = Pending { key: KEY, kind: LockKind::Write, start: 1, end: 2 };

    assert!(r.would_deadlock(1, &p1_wants_byte_1));
}

#[test]
fn a_cycle_through_three_processes_and_two_files_is_a_deadlock() {
    let p3 = Owner::Process(3);
    let mut r = Registry::default();
    r.try_set_record(KEY, P1, Some(LockKind::Write), 0, 1, 1).expect("p1");
    r.try_set_record(KEY2, P2, Some(LockKind::Write), 0, 1, 2).expect("p2");
    r.try_set_record(KEY, p3, Some(LockKind::Write), 5, 6, 3).expect("p3");
    // p2 waits for p3, p3 waits for p1.
    r.set_waiting(2, Some(Pending { key: KEY, kind: LockKind::Write, start: 5, end: 6 }));
    r.set_waiting(3, Some(Pending { key: KEY, kind: LockKind::Write, start: 0, end: 1 }));

    let p1_wants_p2s = Pending { key: KEY2, kind: LockKind::Write, start: 0, end: 1 };

    assert!(r.would_deadlock(1, &p1_wants_p2s));
}

#[test]
fn waiting_for_a_process_that_is_not_blocked_is_no_deadlock() {
    let mut r = Registry::default();
    r.try_set_record(KEY, P2, Some(LockKind::Write), 0, 1, 2).expect("p2");

    let want = Pending { key: KEY, kind: LockKind::Write, start: 0, end: 1 };

    assert!(!r.would_deadlock(1, &want));
}

#[test]
fn releasing_a_process_frees_its_locks_on_every_file() {
    let mut r = Registry::default();
    r.try_set_record(KEY, P1, Some(LockKind::Write), 0, 1, 1).expect("key");
    r.try_set_record(KEY2, P1, Some(LockKind::Write), 0, 1, 1).expect("key2");

    assert!(r.release_process(1, None));

    assert!(!r.holds_posix(1));
    assert!(r.table(KEY).is_none() && r.table(KEY2).is_none());
}
