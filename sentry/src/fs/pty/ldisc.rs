//! The line discipline of a pty (Linux's `n_tty`): what the master writes
//! becomes the slave's input after input processing (ICRNL, INLCR, IGNCR),
//! signal characters (ISIG), canonical line editing (ICANON: ERASE,
//! WERASE, KILL, EOF, EOL) and echo (ECHO, ECHOE, ECHOK, ECHOKE, ECHONL,
//! ECHOCTL); what the slave writes becomes the master's output after output
//! processing (OPOST: ONLCR, OCRNL, ONOCR, ONLRET, XTABS).
//!
//! Plain data, no locking or waking: the pty (`super`) owns one behind its
//! lock and turns what it reports into signals and wake-ups.

use std::collections::VecDeque;

use abi::types::Termios;
use libc::{
    ECHO, ECHOCTL, ECHOE, ECHOK, ECHOKE, ECHONL, ICANON, ICRNL, IEXTEN, IGNCR, INLCR, ISIG, ISTRIP, IUTF8, IXON,
    NOFLSH, OCRNL, ONLCR, ONLRET, ONOCR, OPOST, TABDLY, VEOF, VEOL, VEOL2, VERASE, VINTR, VKILL, VMIN, VQUIT, VSTART,
    VSTOP, VSUSP, VTIME, VWERASE, XTABS,
};

/// The slave's input buffer (`N_TTY_BUF_SIZE`): a canonical line holds at
/// most one byte less, so that its newline still fits.
pub const INPUT_MAX: usize = 4096;
/// Bytes the master may write ahead of the line discipline (Linux's flip
/// buffers hold about this much per pty).
pub const PENDING_MAX: usize = 65536;
/// Output the slave may write before the master reads it.
pub const OUTPUT_MAX: usize = 65536;

pub use abi::consts::{SIGINT, SIGQUIT, SIGTSTP};

/// A new pty slave's settings: Linux's `tty_std_termios` with the pty
/// driver's `c_cflag` (B38400, CS8, CREAD).
pub fn default_termios() -> Termios {
    let mut cc = [0u8; 19];
    let init = b"\x03\x1c\x7f\x15\x04\x00\x01\x00\x11\x13\x1a\x00\x12\x0f\x17\x16\x00";
    cc[..init.len()].copy_from_slice(init);
    Termios {
        c_iflag: ICRNL | IXON,
        c_oflag: OPOST | ONLCR,
        c_cflag: libc::B38400 | libc::CS8 | libc::CREAD,
        c_lflag: ISIG | ICANON | ECHO | ECHOE | ECHOK | ECHOCTL | ECHOKE | IEXTEN,
        c_line: 0,
        c_cc: cc,
    }
}

/// One pty's line discipline state.
pub struct Ldisc {
    termios: Termios,
    /// Written by the master, not yet through input processing (there was
    /// no room in `ready`).
    pending: VecDeque<u8>,
    /// Input the slave may read: whole lines in canonical mode, bytes
    /// otherwise.
    ready: VecDeque<u8>,
    /// Canonical mode: the length of each line in `ready`, in order (a line
    /// ended by EOF has no terminator; an empty one reads as end of file).
    lines: VecDeque<usize>,
    /// Canonical mode: the line being edited.
    edit: Vec<u8>,
    /// For the master to read: the slave's output and echoes.
    out: VecDeque<u8>,
    /// The output column (for ONOCR, tabs and erasing them).
    column: usize,
}

impl Default for Ldisc {
    fn default() -> Self {
        Ldisc::new(default_termios())
    }
}

/// What feeding input did beyond buffering it.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Effects {
    /// Signals for the foreground process group, in order.
    pub signals: Vec<u32>,
}

impl Ldisc {
    pub fn new(termios: Termios) -> Ldisc {
        Ldisc {
            termios,
            pending: VecDeque::new(),
            ready: VecDeque::new(),
            lines: VecDeque::new(),
            edit: Vec::new(),
            out: VecDeque::new(),
            column: 0,
        }
    }

    pub fn termios(&self) -> Termios {
        self.termios
    }

    fn lflag(&self, f: u32) -> bool {
        self.termios.c_lflag & f != 0
    }

    fn iflag(&self, f: u32) -> bool {
        self.termios.c_iflag & f != 0
    }

    fn oflag(&self, f: u32) -> bool {
        self.termios.c_oflag & f != 0
    }

    fn canonical(&self) -> bool {
        self.lflag(ICANON)
    }

    /// The control character `i`, if enabled (`_POSIX_VDISABLE` is 0).
    fn cc(&self, i: usize) -> Option<u8> {
        self.termios.c_cc.get(i).copied().filter(|&c| c != 0)
    }

    fn is_cc(&self, c: u8, i: usize) -> bool {
        self.cc(i) == Some(c)
    }

    /// New settings (`TCSETS*`). Switching canonical mode off makes the
    /// line being edited readable; switching it on makes unread input the
    /// start of the line being edited, as `n_tty_set_termios` does.
    pub fn set_termios(&mut self, t: Termios) {
        let was = self.canonical();
        self.termios = t;
        match (was, self.canonical()) {
            (true, false) => {
                self.lines.clear();
                self.ready.extend(self.edit.drain(..));
            }
            (false, true) => {
                let mut line: Vec<u8> = self.ready.drain(..).collect();
                line.append(&mut self.edit);
                self.edit = line;
            }
            _ => {}
        }
        self.process_pending();
    }

    /// Bytes the master may still write before writes wait.
    pub fn input_room(&self) -> usize {
        PENDING_MAX.saturating_sub(self.pending.len())
    }

    /// The master writes `data`: as much as there is room for is taken
    /// (the count is returned) and processed as far as the slave's buffer
    /// allows.
    pub fn write_input(&mut self, data: &[u8], fx: &mut Effects) -> usize {
        let n = data.len().min(self.input_room());
        self.pending.extend(&data[..n]);
        self.process_pending_with(fx);
        n
    }

    fn process_pending(&mut self) {
        let mut fx = Effects::default();
        self.process_pending_with(&mut fx);
    }

    /// Move pending input through input processing while the slave's
    /// buffer has room.
    fn process_pending_with(&mut self, fx: &mut Effects) {
        while self.ready.len() + self.edit.len() < INPUT_MAX || self.canonical() && self.ready.len() < INPUT_MAX {
            let Some(c) = self.pending.pop_front() else { break };
            self.receive(c, fx);
        }
    }

    /// One input byte.
    fn receive(&mut self, mut c: u8, fx: &mut Effects) {
        if self.iflag(ISTRIP) {
            c &= 0x7f;
        }
        if c == b'\r' {
            if self.iflag(IGNCR) {
                return;
            }
            if self.iflag(ICRNL) {
                c = b'\n';
            }
        } else if c == b'\n' && self.iflag(INLCR) {
            c = b'\r';
        }
        if self.lflag(ISIG) {
            let sig = [(VINTR, SIGINT), (VQUIT, SIGQUIT), (VSUSP, SIGTSTP)]
                .into_iter()
                .find(|&(i, _)| self.is_cc(c, i))
                .map(|(_, s)| s);
            if let Some(sig) = sig {
                // What the master has yet to read was sent already: only
                // the slave's unread input goes.
                if !self.lflag(NOFLSH) {
                    self.flush_read();
                }
                fx.signals.push(sig);
                if self.lflag(ECHO) {
                    self.echo(c);
                }
                return;
            }
        }
        // Output flow control is not modelled: START and STOP are taken
        // and have no further effect.
        if self.iflag(IXON) && (self.is_cc(c, VSTART) || self.is_cc(c, VSTOP)) {
            return;
        }
        if !self.canonical() {
            self.ready.push_back(c);
            if self.lflag(ECHO) {
                self.echo(c);
            }
            return;
        }
        if self.is_cc(c, VERASE) {
            self.erase(false);
            return;
        }
        if self.is_cc(c, VWERASE) && self.lflag(IEXTEN) {
            self.erase(true);
            return;
        }
        if self.is_cc(c, VKILL) {
            self.kill(c);
            return;
        }
        if self.is_cc(c, VEOF) {
            self.end_line();
            return;
        }
        let eol = c == b'\n' || self.is_cc(c, VEOL) || (self.lflag(IEXTEN) && self.is_cc(c, VEOL2));
        if eol {
            if c == b'\n' {
                if self.lflag(ECHO) || self.lflag(ECHONL) {
                    self.emit(b'\n');
                }
            } else if self.lflag(ECHO) {
                self.echo(c);
            }
            self.edit.push(c);
            self.end_line();
            return;
        }
        // A full line takes only its terminator.
        if self.edit.len() >= INPUT_MAX - 1 {
            return;
        }
        self.edit.push(c);
        if self.lflag(ECHO) {
            self.echo(c);
        }
    }

    /// The line being edited becomes readable.
    fn end_line(&mut self) {
        self.lines.push_back(self.edit.len());
        self.ready.extend(self.edit.drain(..));
    }

    /// Echo `c`: control characters as `^X` with ECHOCTL (tab and newline
    /// as themselves).
    fn echo(&mut self, c: u8) {
        if self.lflag(ECHOCTL) && (c < 0x20 || c == 0x7f) && c != b'\t' && c != b'\n' {
            self.emit(b'^');
            self.emit(c ^ 0x40);
        } else {
            self.emit(c);
        }
    }

    /// How many columns `c` took when echoed.
    fn echo_width(&self, c: u8) -> usize {
        if self.lflag(ECHOCTL) && (c < 0x20 || c == 0x7f) && c != b'\t' {
            2
        } else if self.iflag(IUTF8) && c & 0xc0 == 0x80 {
            0
        } else {
            1
        }
    }

    /// ERASE (the last character) or WERASE (the last word).
    fn erase(&mut self, word: bool) {
        let mut seen_word = false;
        while let Some(&c) = self.edit.last() {
            if word {
                let space = c == b' ' || c == b'\t';
                if space && seen_word {
                    break;
                }
                seen_word |= !space;
            }
            self.edit.pop();
            // A UTF-8 character goes whole.
            if self.iflag(IUTF8) && c & 0xc0 == 0x80 {
                continue;
            }
            self.rub_out(c);
            if !word {
                break;
            }
        }
    }

    /// Show that `c` was erased.
    fn rub_out(&mut self, c: u8) {
        if !self.lflag(ECHO) {
            return;
        }
        if !self.lflag(ECHOE) {
            let erase = self.cc(VERASE).unwrap_or(0x7f);
            self.echo(erase);
            return;
        }
        let width = if c == b'\t' { 1 } else { self.echo_width(c).max(1) };
        for _ in 0..width {
            for b in *b"\x08 \x08" {
                self.emit(b);
            }
        }
    }

    /// KILL: erase the whole line.
    fn kill(&mut self, c: u8) {
        if self.lflag(ECHO) && self.lflag(ECHOE) && self.lflag(ECHOKE) {
            while let Some(b) = self.edit.pop() {
                if !(self.iflag(IUTF8) && b & 0xc0 == 0x80) {
                    self.rub_out(b);
                }
            }
            return;
        }
        self.edit.clear();
        if self.lflag(ECHO) {
            self.echo(c);
            if self.lflag(ECHOK) {
                self.emit(b'\n');
            }
        }
    }

    /// Drop the slave's unread input and what the master wrote that is
    /// not through input processing yet (`TCFLSH`, `TCSETSF`).
    pub fn flush_input(&mut self) {
        self.pending.clear();
        self.flush_read();
    }

    /// Drop the slave's unread input (a signal character): what follows
    /// it is still processed.
    fn flush_read(&mut self) {
        self.ready.clear();
        self.lines.clear();
        self.edit.clear();
    }

    /// Drop what the master wrote that is not through input processing
    /// yet (the master's `TCOFLUSH`).
    pub fn flush_pending(&mut self) {
        self.pending.clear();
    }

    /// Drop output the master has not read (the master's `TCIFLUSH`).
    pub fn flush_output(&mut self) {
        self.out.clear();
    }

    /// Put one byte of output (slave writes and echoes) through output
    /// processing; `false` if there was no room.
    fn emit(&mut self, c: u8) -> bool {
        if self.out.len() + 2 > OUTPUT_MAX {
            return false;
        }
        if !self.oflag(OPOST) {
            self.out.push_back(c);
            return true;
        }
        match c {
            b'\n' => {
                if self.oflag(ONLCR) {
                    self.out.extend(b"\r\n");
                    self.column = 0;
                    return true;
                }
                if self.oflag(ONLRET) {
                    self.column = 0;
                }
                self.out.push_back(c);
            }
            b'\r' => {
                if self.oflag(ONOCR) && self.column == 0 {
                    return true;
                }
                if self.oflag(OCRNL) {
                    if self.oflag(ONLRET) {
                        self.column = 0;
                    }
                    self.out.push_back(b'\n');
                    return true;
                }
                self.column = 0;
                self.out.push_back(c);
            }
            b'\t' => {
                let spaces = 8 - self.column % 8;
                self.column += spaces;
                if self.termios.c_oflag & TABDLY == XTABS {
                    self.out.extend(std::iter::repeat_n(b' ', spaces));
                } else {
                    self.out.push_back(c);
                }
            }
            0x08 => {
                self.column = self.column.saturating_sub(1);
                self.out.push_back(c);
            }
            _ => {
                if !(c < 0x20 || c == 0x7f || (self.iflag(IUTF8) && c & 0xc0 == 0x80)) {
                    self.column += 1;
                }
                self.out.push_back(c);
            }
        }
        true
    }

    /// The slave writes `data`: the count taken (0 when the output is full).
    pub fn write_output(&mut self, data: &[u8]) -> usize {
        data.iter().take_while(|&&c| self.emit(c)).count()
    }

    /// Bytes the master can read.
    pub fn output_len(&self) -> usize {
        self.out.len()
    }

    /// Whether the slave may write without waiting.
    pub fn output_room(&self) -> bool {
        self.out.len() + 2 <= OUTPUT_MAX
    }

    /// The master reads up to `buf.len()` bytes of output.
    pub fn read_output(&mut self, buf: &mut [u8]) -> usize {
        let n = buf.len().min(self.out.len());
        for (b, c) in buf.iter_mut().zip(self.out.drain(..n)) {
            *b = c;
        }
        n
    }

    /// Input the slave can read now (`FIONREAD`): in canonical mode the
    /// bytes of complete lines.
    pub fn input_len(&self) -> usize {
        self.ready.len()
    }

    /// `VMIN` and `VTIME` (tenths of a second).
    pub fn min_time(&self) -> (u8, u8) {
        (self.termios.c_cc[VMIN], self.termios.c_cc[VTIME])
    }

    /// Whether a read of the slave would return data now: a whole line in
    /// canonical mode, else at least `VMIN` bytes (one with `VTIME` set or
    /// `VMIN` 0).
    pub fn input_ready(&self) -> bool {
        if self.canonical() {
            return !self.lines.is_empty();
        }
        let (min, time) = self.min_time();
        let want = if time == 0 && min > 0 { usize::from(min) } else { 1 };
        self.ready.len() >= want
    }

    /// The slave reads into `buf`. Canonical mode: at most one line (`Some(0)`
    /// for a line ended by EOF alone). Otherwise: what there is once it is
    /// at least `VMIN` bytes (or `buf.len()`), or with `force` (a `VTIME`
    /// expiry, or `VMIN` and `VTIME` both 0) whatever there is. `None` when
    /// the reader must wait.
    pub fn read_input(&mut self, buf: &mut [u8], force: bool) -> Option<usize> {
        let n = if self.canonical() {
            let len = *self.lines.front()?;
            let n = len.min(buf.len());
            if n == len {
                self.lines.pop_front();
            } else if let Some(l) = self.lines.front_mut() {
                *l -= n;
            }
            n
        } else {
            let (min, _) = self.min_time();
            let want = usize::from(min).min(buf.len()).max(1);
            if self.ready.len() < want && !force {
                return None;
            }
            self.ready.len().min(buf.len())
        };
        for (b, c) in buf.iter_mut().zip(self.ready.drain(..n)) {
            *b = c;
        }
        self.process_pending();
        Some(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fed(ld: &mut Ldisc, input: &[u8]) -> Effects {
        let mut fx = Effects::default();
        assert_eq!(ld.write_input(input, &mut fx), input.len());
        fx
    }

    fn output(ld: &mut Ldisc) -> Vec<u8> {
        let mut buf = vec![0u8; OUTPUT_MAX];
        let n = ld.read_output(&mut buf);
        buf.truncate(n);
        buf
    }

    fn input(ld: &mut Ldisc) -> Option<Vec<u8>> {
        let mut buf = vec![0u8; INPUT_MAX];
        let n = ld.read_input(&mut buf, false)?;
        buf.truncate(n);
        Some(buf)
    }

    fn raw() -> Termios {
        let mut t = default_termios();
        t.c_lflag &= !(ICANON | ECHO);
        t
    }

    #[test]
    fn canonical_input_is_read_a_line_at_a_time_and_echoed_with_crlf() {
        let mut ld = Ldisc::default();

        fed(&mut ld, b"ab\rcd");

        assert_eq!(input(&mut ld), Some(b"ab\n".to_vec()));
        assert_eq!(input(&mut ld), None);
        assert_eq!(output(&mut ld), b"ab\r\ncd");
    }

    #[test]
    fn erase_and_kill_edit_the_line_and_rub_it_out() {
        let mut ld = Ldisc::default();

        fed(&mut ld, b"abx\x7fc\n");
        fed(&mut ld, b"junk\x15ok\n");

        assert_eq!(input(&mut ld), Some(b"abc\n".to_vec()));
        assert_eq!(input(&mut ld), Some(b"ok\n".to_vec()));
        assert_eq!(output(&mut ld), b"abx\x08 \x08c\r\njunk\x08 \x08\x08 \x08\x08 \x08\x08 \x08ok\r\n");
    }

    #[test]
    fn werase_removes_the_last_word_and_the_spaces_after_it() {
        let mut ld = Ldisc::default();

        fed(&mut ld, b"one two  \x17three\n");

        assert_eq!(input(&mut ld), Some(b"one three\n".to_vec()));
    }

    #[test]
    fn eof_ends_a_line_without_itself_and_alone_reads_as_end_of_file() {
        let mut ld = Ldisc::default();

        fed(&mut ld, b"abc\x04\x04");

        assert_eq!(input(&mut ld), Some(b"abc".to_vec()));
        assert_eq!(input(&mut ld), Some(Vec::new()));
        assert_eq!(input(&mut ld), None);
        assert_eq!(output(&mut ld), b"abc");
    }

    #[test]
    fn intr_quit_and_susp_raise_signals_flush_input_and_echo_as_caret() {
        let mut ld = Ldisc::default();

        let fx = fed(&mut ld, b"half\x03\x1c\x1a");

        assert_eq!(fx.signals, vec![SIGINT, SIGQUIT, SIGTSTP]);
        assert_eq!(input(&mut ld), None);
        assert_eq!(output(&mut ld), b"half^C^\\^Z");
    }

    #[test]
    fn without_isig_the_interrupt_character_is_data() {
        let mut t = raw();
        t.c_lflag &= !ISIG;
        let mut ld = Ldisc::new(t);

        let fx = fed(&mut ld, b"\x03");

        assert_eq!((fx.signals, input(&mut ld)), (vec![], Some(b"\x03".to_vec())));
    }

    #[test]
    fn echonl_echoes_only_newlines_and_onlcr_off_keeps_them_bare() {
        let mut t = default_termios();
        t.c_lflag = (t.c_lflag & !ECHO) | ECHONL;
        t.c_oflag &= !ONLCR;
        let mut ld = Ldisc::new(t);

        fed(&mut ld, b"secret\n");

        assert_eq!(output(&mut ld), b"\n");
        assert_eq!(input(&mut ld), Some(b"secret\n".to_vec()));
    }

    #[test]
    fn input_cr_and_nl_mapping_follow_igncr_and_inlcr() {
        let mut t = raw();
        t.c_iflag = IGNCR | INLCR;
        let mut ld = Ldisc::new(t);

        fed(&mut ld, b"a\rb\n");

        assert_eq!(input(&mut ld), Some(b"ab\r".to_vec()));
    }

    #[test]
    fn output_processing_maps_newlines_and_expands_tabs() {
        let mut t = default_termios();
        t.c_oflag = OPOST | ONLCR | XTABS;
        let mut ld = Ldisc::new(t);

        let n = ld.write_output(b"ab\tc\n");

        assert_eq!(n, 5);
        assert_eq!(output(&mut ld), b"ab      c\r\n");
    }

    #[test]
    fn output_without_opost_is_unchanged() {
        let mut ld = Ldisc::new(raw());
        let mut t = raw();
        t.c_oflag = 0;
        ld.set_termios(t);

        ld.write_output(b"a\nb\r");

        assert_eq!(output(&mut ld), b"a\nb\r");
    }

    #[test]
    fn noncanonical_read_waits_for_vmin_bytes_unless_forced() {
        let mut t = raw();
        t.c_cc[VMIN] = 3;
        let mut ld = Ldisc::new(t);
        let mut buf = [0u8; 8];

        fed(&mut ld, b"ab");
        assert_eq!(ld.read_input(&mut buf, false), None);
        assert!(!ld.input_ready());
        fed(&mut ld, b"c");

        assert!(ld.input_ready());
        assert_eq!(ld.read_input(&mut buf, false), Some(3));
        assert_eq!(&buf[..3], b"abc");
        assert_eq!(ld.read_input(&mut buf, true), Some(0));
    }

    #[test]
    fn leaving_canonical_mode_makes_the_edited_line_readable() {
        let mut ld = Ldisc::default();
        fed(&mut ld, b"par");

        ld.set_termios(raw());

        assert_eq!(input(&mut ld), Some(b"par".to_vec()));
    }

    #[test]
    fn a_full_canonical_line_drops_characters_but_takes_its_newline() {
        let mut ld = Ldisc::default();
        let long = vec![b'x'; INPUT_MAX + 10];

        fed(&mut ld, &long);
        fed(&mut ld, b"\n");

        let line = input(&mut ld).expect("a line");
        assert_eq!(line.len(), INPUT_MAX);
        assert_eq!(line.last(), Some(&b'\n'));
    }

    #[test]
    fn raw_input_beyond_the_buffer_waits_in_pending_until_read() {
        let mut ld = Ldisc::new(raw());
        let data = vec![b'y'; INPUT_MAX + 100];

        fed(&mut ld, &data);
        let mut buf = vec![0u8; INPUT_MAX * 2];
        let first = ld.read_input(&mut buf, false);
        let second = ld.read_input(&mut buf, false);

        assert_eq!((first, second), (Some(INPUT_MAX), Some(100)));
    }

    #[test]
    fn disabled_control_characters_match_nothing() {
        let mut t = default_termios();
        t.c_cc[VINTR] = 0;
        let mut ld = Ldisc::new(t);

        let fx = fed(&mut ld, b"\x00\x03\n");

        assert_eq!(fx.signals, vec![]);
        assert_eq!(input(&mut ld), Some(b"\x00\x03\n".to_vec()));
    }
}
