//! What the command line writes, and how a write that fails ends it.
//!
//! `corsgate` is meant for pipelines (`corsgate check … | head`, `… > report.txt`), where the
//! reader may go away or the disk fill up. Every subcommand writes its output through
//! [`to_stdout`], which returns the error instead of panicking (as `println!` would), and
//! [`output_failed`] turns it into one line on standard error and exit status 2. Diagnostics go
//! through [`diagnostic`], which ignores a standard error that cannot be written: there is
//! nowhere left to report that, and it must not turn into a panic either.

use std::fmt;
use std::io::{self, BufWriter, Write};

use crate::EXIT_USAGE;

/// Runs `write` on a buffered, locked standard output and flushes it; any failure, the final
/// flush's included, is returned.
pub fn to_stdout(write: impl FnOnce(&mut dyn Write) -> io::Result<()>) -> io::Result<()> {
    let stdout = io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    write(&mut out)?;
    out.flush()
}

/// One line on standard error; a failure to write it is ignored.
pub fn diagnostic(line: fmt::Arguments<'_>) {
    let _ = writeln!(io::stderr().lock(), "{line}");
}

/// Reports a failed write of `command`'s output and returns exit status 2.
pub fn output_failed(command: &str, error: &io::Error) -> u8 {
    let why = match error.kind() {
        io::ErrorKind::BrokenPipe => " (the program reading it exited first)",
        io::ErrorKind::StorageFull => " (the disk is full)",
        _ => "",
    };
    diagnostic(format_args!(
        "corsgate {command}: cannot write the output: {error}{why}"
    ));
    EXIT_USAGE
}

/// `name` as it may be printed inside a line of output: as is when it is a valid environment
/// name (letters, digits, `-`, `_`, `.`), else quoted with every control character escaped,
/// so that a name can never start a line of its own.
pub fn printable_name(name: &str) -> String {
    if corsgate::file::is_valid_environment_name(name) {
        name.to_owned()
    } else {
        format!("{name:?}")
    }
}
