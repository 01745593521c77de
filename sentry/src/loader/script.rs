//! `#!` interpreter lines.

use abi::Errno;

/// How much of a script `execve` reads for its `#!` line.
pub const SCRIPT_HEAD: usize = 256;

/// A `#!` line: the interpreter and its optional argument.
pub type Shebang = (Vec<u8>, Option<Vec<u8>>);

/// The interpreter `head` (the first bytes of a file) names on its `#!`
/// line and its one optional argument (blanks around it cut, as Linux
/// does); `None` when `head` is not a script. `ENOEXEC` for a `#!` naming
/// no interpreter.
pub fn parse_shebang(head: &[u8]) -> Result<Option<Shebang>, Errno> {
    let head = &head[..head.len().min(SCRIPT_HEAD)];
    let Some(rest) = head.strip_prefix(b"#!") else {
        return Ok(None);
    };
    // binfmt_script's split: the line without its trailing blanks (only
    // spaces and tabs: a '\r' stays, as "bad interpreter: /bin/sh^M"
    // shows), the interpreter up to the first blank, and the rest, its
    // leading blanks skipped, as one argument if anything is left.
    let blank = |b: &u8| *b == b' ' || *b == b'\t';
    let line_end = rest.iter().position(|&b| b == b'\n').unwrap_or(rest.len());
    let line = &rest[..line_end];
    let line = &line[..line.iter().rposition(|b| !blank(b)).map_or(0, |i| i + 1)];
    let line = &line[line.iter().position(|b| !blank(b)).unwrap_or(line.len())..];
    let name_end = line.iter().position(blank).unwrap_or(line.len());
    let interp = line[..name_end].to_vec();
    if interp.is_empty() {
        return Err(Errno::ENOEXEC);
    }
    let rest = &line[name_end..];
    let rest = &rest[rest.iter().position(|b| !blank(b)).unwrap_or(rest.len())..];
    let arg = (!rest.is_empty()).then(|| rest.to_vec());
    Ok(Some((interp, arg)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shebang_lines_split_as_linux_does() {
        assert_eq!(parse_shebang(b"\x7fELF"), Ok(None));
        assert_eq!(parse_shebang(b"#"), Ok(None));
        assert_eq!(parse_shebang(b"#!/bin/sh\necho"), Ok(Some((b"/bin/sh".to_vec(), None))));
        assert_eq!(
            parse_shebang(b"#! \t/usr/bin/env  python3 -u \r\n"),
            Ok(Some((b"/usr/bin/env".to_vec(), Some(b"python3 -u \r".to_vec()))))
        );
        assert_eq!(parse_shebang(b"#!/bin/sh \n"), Ok(Some((b"/bin/sh".to_vec(), None))));
        assert_eq!(parse_shebang(b"#!/bin/echo   a  b  \n"), Ok(Some((b"/bin/echo".to_vec(), Some(b"a  b".to_vec())))));
        assert_eq!(parse_shebang(b"#!/bin/sh\r\n"), Ok(Some((b"/bin/sh\r".to_vec(), None))));
        assert_eq!(parse_shebang(b"#!\n/bin/sh"), Err(Errno::ENOEXEC));
        assert_eq!(parse_shebang(b"#!  "), Err(Errno::ENOEXEC));
    }
}
