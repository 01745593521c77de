//! File-heavy real programs under `bulwark do`: git,
//! tar, cp, rsync, sqlite3 and python's file modules, working in the
//! sandbox's `/tmp`. Where the output is deterministic it is compared with a
//! native run of the same script in a fresh `/dev/shm` directory.

mod common;

use common::{native_command, run, run_sandboxed, Output};

/// A fresh directory on the host's tmpfs, removed when dropped.
struct ShmDir(String);

impl ShmDir {
    fn new(name: &str) -> ShmDir {
        let dir = format!("/dev/shm/bulwark-real-{name}-{}", std::process::id());
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("create /dev/shm test directory");
        ShmDir(dir)
    }
}

impl Drop for ShmDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Run the bash `script` with `$W` naming a fresh empty work directory:
/// under `bulwark do` in `/tmp/w`, and natively (if `native`) in a fresh
/// `/dev/shm` directory. Asserts success; returns (sandboxed, native).
fn bash(name: &str, script: &str, native: bool) -> (Output, Option<Output>) {
    let wrapped = |dir: &str| format!("set -e; export W={dir}; rm -rf \"$W\"; mkdir -p \"$W\"; cd \"$W\"; {script}");
    let sandboxed = run_sandboxed(&["bash", "-c", &wrapped("/tmp/w")], &[]);
    assert!(
        sandboxed.status.success(),
        "{name} failed in the sandbox: {}\nstdout: {}",
        sandboxed.stderr_str(),
        sandboxed.stdout_str()
    );
    let native = native.then(|| {
        let dir = ShmDir::new(name);
        let out = run(native_command(&["bash", "-c", &wrapped(&format!("{}/w", dir.0))]));
        assert!(out.status.success(), "{name} failed natively: {}", out.stderr_str());
        out
    });
    (sandboxed, native)
}

fn assert_same(name: &str, script: &str) -> String {
    let (sandboxed, native) = bash(name, script, true);
    let native = native.expect("native run");
    assert_eq!(sandboxed.stdout_str(), native.stdout_str(), "{name}: sandbox stderr: {}", sandboxed.stderr_str());
    sandboxed.stdout_str()
}

fn installed(program: &str) -> bool {
    run(native_command(&["sh", "-c", &format!("command -v {program}")])).status.success()
}

#[test]
fn git_init_add_commit_in_tmp_records_the_commit_and_leaves_a_clean_tree() {
    let script = "export GIT_AUTHOR_NAME=A GIT_AUTHOR_EMAIL=a@example.com GIT_COMMITTER_NAME=C \
                  GIT_COMMITTER_EMAIL=c@example.com GIT_AUTHOR_DATE='2020-01-01T00:00:00Z' \
                  GIT_COMMITTER_DATE='2020-01-01T00:00:00Z' GIT_CONFIG_NOSYSTEM=1 HOME=$W; \
                  git init -q -b main repo; cd repo; \
                  mkdir -p src docs; for i in $(seq 1 20); do echo line $i > src/f$i.txt; done; \
                  printf 'readme\\n' > docs/README; ln -s docs/README link; chmod +x src/f1.txt; \
                  git add .; git -c user.name=U -c user.email=u@example.com commit -q -m 'first commit'; \
                  echo more >> src/f2.txt; git rm -q src/f3.txt; git mv src/f4.txt src/renamed.txt; \
                  git -c user.name=U -c user.email=u@example.com commit -q -a -m 'second commit'; \
                  git log --format=%s; git status --porcelain; echo status-done; \
                  git rev-parse HEAD; git ls-files | wc -l; git cat-file -p HEAD:src/f2.txt; \
                  git gc -q; git fsck --no-progress && echo fsck-ok";

    let out = assert_same("git", script);

    assert!(out.starts_with("second commit\nfirst commit\nstatus-done\n"), "{out}");
    assert!(out.ends_with("line 2\nmore\nfsck-ok\n"), "{out}");
}

#[test]
fn tar_pipe_round_trip_of_a_tree_keeps_every_checksum() {
    let script =
        "mkdir src; cp -r /usr/share/doc/bash src/bash; cp -r /usr/share/doc/git src/git 2>/dev/null || true; \
                  ln -s bash/README.gz src/link; mkdir src/empty; \
                  (cd src && find . -type f | sort | xargs sha256sum) > before; \
                  tar -C src -cf - . | (mkdir dst && tar -C dst -xf -); \
                  (cd dst && find . -type f | sort | xargs sha256sum) > after; \
                  cmp before after && echo identical; wc -l < before | tr -d ' '; \
                  readlink dst/link; test -d dst/empty && echo empty-dir; \
                  tar -C src -czf t.tgz bash; mkdir z; tar -C z -xzf t.tgz; diff -r src/bash z/bash && echo gzip-ok";

    let out = assert_same("tar", script);

    assert!(out.starts_with("identical\n"), "{out}");
    assert!(out.ends_with("bash/README.gz\nempty-dir\ngzip-ok\n"), "{out}");
}

/// The tree `cp -a` and `rsync -a` copy: files with several modes, old
/// times, a symlink, a hard link and a nested empty directory.
const MAKE_TREE: &str = "mkdir -p t/a/b t/empty; echo one > t/one; echo two > t/a/two; echo three > t/a/b/three; \
                         chmod 600 t/one; chmod 755 t/a/two; chmod 700 t/a/b; ln -s ../one t/a/link; \
                         ln t/one t/hard; touch -h -d '2001-02-03 04:05:06' t/a/link; \
                         touch -d '2001-02-03 04:05:06' t/one t/a/two t/a/b/three t/empty t/a/b t/a t; ";

/// Print mode, mtime and type of every entry below `$1`, and symlink targets.
const LIST_TREE: &str = "list() { (cd \"$1\" && find . | sort | while read -r f; do \
                         stat -c '%n %a %Y %F %h' \"$f\"; if [ -L \"$f\" ]; then readlink \"$f\"; fi; done); }; ";

#[test]
fn cp_a_copies_a_tree_keeping_modes_times_symlinks_and_hard_links() {
    let script = format!("{MAKE_TREE}{LIST_TREE} cp -a t copy; list t > a; list copy > b; diff a b && cat b");

    let out = assert_same("cp", &script);

    assert!(out.contains("./a/link 777 981173106 symbolic link 1\n../one\n"), "{out}");
    assert!(out.contains("./one 600 981173106 regular file 2\n"), "{out}");
}

#[test]
fn rsync_a_copies_a_tree_keeping_modes_times_and_symlinks() {
    if !installed("rsync") {
        eprintln!("rsync is not installed: skipping (.ci/run installs it)");
        return;
    }
    let script = format!(
        "{MAKE_TREE}{LIST_TREE} rsync -aH t/ copy/; list t > a; list copy > b; diff a b && cat b; \
         echo changed > t/a/two; rsync -a --itemize-changes t/ copy/ | sort; cat copy/a/two"
    );

    let out = assert_same("rsync", &script);

    assert!(out.contains("./a/b 700 981173106 directory 2\n"), "{out}");
    assert!(out.ends_with("changed\n"), "{out}");
}

#[test]
fn sqlite3_inserts_a_thousand_rows_in_a_transaction_and_reads_them_back() {
    let script = "{ echo 'create table t(x integer, s text);'; echo 'begin;'; \
                  for i in $(seq 1 1000); do echo \"insert into t values($i, 'row $i');\"; done; echo 'commit;'; } \
                  | sqlite3 db.sqlite; \
                  sqlite3 db.sqlite 'select count(*), sum(x) from t;' \"select s from t where x = 500;\" \
                  'pragma journal_mode=wal;' 'update t set x = x * 2;' 'select sum(x) from t;' 'pragma integrity_check;'";

    let out = assert_same("sqlite3", script);

    assert_eq!(out, "1000|500500\nrow 500\nwal\n1001000\nok\n");
}

#[test]
fn python_tempfile_copytree_and_pathlib_glob_see_the_same_tree() {
    let script = r#"python3 - <<'EOF'
import os, pathlib, shutil, tempfile
with tempfile.TemporaryDirectory() as d:
    print("tempdir under /tmp:", d.startswith("/tmp/"))
    root = pathlib.Path(d) / "src"
    for rel in ["a.txt", "b.py", "sub/c.txt", "sub/deeper/d.txt", "sub/deeper/e.py"]:
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(rel)
    os.symlink("a.txt", root / "link.txt")
    shutil.copytree(root, pathlib.Path(d) / "dst", symlinks=True)
    dst = pathlib.Path(d) / "dst"
    print(sorted(str(p.relative_to(dst)) for p in dst.rglob("*")))
    print(sorted(str(p.relative_to(dst)) for p in dst.glob("**/*.py")))
    print(sorted(str(p.relative_to(dst)) for p in dst.glob("*.txt")))
    print(os.readlink(dst / "link.txt"), (dst / "sub/deeper/d.txt").read_text())
    with tempfile.NamedTemporaryFile("w+", dir=d, suffix=".tmp") as f:
        f.write("named")
        f.flush()
        print("named temp:", open(f.name).read(), f.name.endswith(".tmp"))
    with tempfile.TemporaryFile() as f:
        f.write(b"anonymous")
        f.seek(0)
        print("temp file:", f.read())
    shutil.rmtree(dst)
    print("after rmtree:", sorted(os.listdir(d)))
print("tempdir removed:", not os.path.exists(d))
EOF"#;

    let out = assert_same("python", script);

    assert_eq!(
        out,
        "tempdir under /tmp: True\n\
         ['a.txt', 'b.py', 'link.txt', 'sub', 'sub/c.txt', 'sub/deeper', 'sub/deeper/d.txt', 'sub/deeper/e.py']\n\
         ['b.py', 'sub/deeper/e.py']\n\
         ['a.txt', 'link.txt']\n\
         a.txt sub/deeper/d.txt\n\
         named temp: named True\n\
         temp file: b'anonymous'\n\
         after rmtree: ['src']\n\
         tempdir removed: True\n"
    );
}
