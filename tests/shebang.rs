//! `#!` lines split as Linux's binfmt_script splits them: the interpreter,
//! then the rest as one argument with its leading blanks skipped and its
//! trailing ones (spaces and tabs, not '\r') dropped.

mod common;

use common::{fresh_dir, run_native, run_sandboxed};

#[test]
fn shebang_lines_run_the_same_interpreter_with_the_same_argument_as_natively() {
    let dir = fresh_dir("shebang");
    let scripts = [
        ("blank-after", "#!/bin/echo   \n"),
        ("spaced-arg", "#!/bin/echo   a  b  \n"),
        ("carriage-return", "#!/bin/echo x\r\n"),
        ("tab", "#!\t/bin/echo\tone two\n"),
    ];
    for (name, text) in scripts {
        let path = dir.join(name);
        std::fs::write(&path, text).expect("write");
        std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o755)).expect("chmod");
        let p = path.to_str().expect("utf-8");

        let native = run_native(&[p]);
        let sandboxed = run_sandboxed(&[p], &[]);

        assert!(native.status.success(), "{name} natively: {}", native.stderr_str());
        assert_eq!(
            sandboxed.stdout,
            native.stdout,
            "{name}: {:?} vs {:?}",
            sandboxed.stdout_str(),
            native.stdout_str()
        );
    }
}
