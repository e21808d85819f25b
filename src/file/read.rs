//! Reading a policy file safely: only a regular file, never blocking on what is not one, and
//! never more than a stated number of bytes.
//!
//! A file that a careless or hostile writer swapped in must not hang or exhaust the process
//! reading it: a FIFO blocks `open(2)` until a writer appears, a character device such as
//! `/dev/zero` never ends, and a directory or socket is not a policy at all. The file is opened
//! with `O_NONBLOCK` (so opening a FIFO returns at once), checked with `fstat(2)` on the opened
//! descriptor (so nothing can be swapped between the check and the read), refused unless it is
//! a regular file, and read with a cap. Symbolic links are followed on purpose: Kubernetes
//! ConfigMap volumes are links to links (`policy.toml -> ..data/policy.toml`).

use std::fs::File;
use std::io::{self, Read};
use std::path::Path;

use crate::error::{Field, Issue, IssueKind, Location, PolicyError};

/// The largest policy file corsgate reads: 16 MiB (about 400,000 origins).
pub const MAX_POLICY_FILE_BYTES: u64 = 16 << 20;

/// Reads `path` if it is a regular file (after following links) of at most `max_bytes` bytes.
///
/// Errors name what was wrong: `InvalidInput` for anything but a regular file (with its type),
/// `FileTooLarge` past the cap (also when the file grows past it while being read), and the
/// operating system's error otherwise. Never blocks on a FIFO or a device.
pub fn read_regular_file(path: &Path, max_bytes: u64) -> io::Result<Vec<u8>> {
    let file = open_without_blocking(path)?;
    let metadata = file.metadata()?;
    let file_type = metadata.file_type();
    if !file_type.is_file() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "not a regular file ({}); policy files are read only from regular files \
                 (symbolic links to them are followed)",
                describe(&file_type)
            ),
        ));
    }
    let too_large = |size: u64| {
        io::Error::new(
            io::ErrorKind::FileTooLarge,
            format!("{size} bytes or more, over the cap of {max_bytes} bytes on policy files"),
        )
    };
    if metadata.len() > max_bytes {
        return Err(too_large(metadata.len()));
    }
    // The size can change between fstat and read (an in-place rewrite): read one byte past
    // the cap to notice, never more.
    let expected = usize::try_from(metadata.len()).unwrap_or(0);
    let mut bytes = Vec::with_capacity(expected.saturating_add(1));
    file.take(max_bytes.saturating_add(1))
        .read_to_end(&mut bytes)?;
    if bytes.len() as u64 > max_bytes {
        return Err(too_large(bytes.len() as u64));
    }
    Ok(bytes)
}

#[cfg(unix)]
fn open_without_blocking(path: &Path) -> io::Result<File> {
    use std::os::unix::fs::OpenOptionsExt;
    // O_NONBLOCK: opening a FIFO with no writer returns at once instead of waiting for one
    // (regular files ignore the flag). O_NOCTTY: a terminal device never becomes the
    // process's controlling terminal. No O_NOFOLLOW: ConfigMap links must work.
    std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY)
        .open(path)
}

#[cfg(not(unix))]
fn open_without_blocking(path: &Path) -> io::Result<File> {
    File::open(path)
}

fn describe(file_type: &std::fs::FileType) -> &'static str {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if file_type.is_fifo() {
            return "a FIFO";
        }
        if file_type.is_char_device() {
            return "a character device";
        }
        if file_type.is_block_device() {
            return "a block device";
        }
        if file_type.is_socket() {
            return "a socket";
        }
    }
    if file_type.is_dir() {
        "a directory"
    } else {
        "not a file"
    }
}

/// Reads a policy file as text: a regular file of at most [`MAX_POLICY_FILE_BYTES`], in UTF-8.
/// Errors are `IssueKind::Io` issues located at the file, naming the file and the cap.
pub(crate) fn read_policy_text(path: &Path) -> Result<String, PolicyError> {
    let label = path.display().to_string();
    let bytes = read_regular_file(path, MAX_POLICY_FILE_BYTES).map_err(|e| io_error(&label, &e))?;
    policy_text(bytes, &label)
}

/// The bytes of a policy file as text, or an error naming the first byte that is not UTF-8.
pub(crate) fn policy_text(bytes: Vec<u8>, label: &str) -> Result<String, PolicyError> {
    String::from_utf8(bytes).map_err(|e| {
        let at = e.utf8_error().valid_up_to();
        file_error(
            label,
            format!("cannot read {label}: not UTF-8 (invalid byte at offset {at})"),
        )
    })
}

/// An I/O error reading `label`, as the one issue of a `PolicyError`.
pub(crate) fn io_error(label: &str, error: &io::Error) -> PolicyError {
    file_error(label, format!("cannot read {label}: {error}"))
}

fn file_error(label: &str, message: String) -> PolicyError {
    PolicyError::new(vec![Issue::error(IssueKind::Io, Field::Document, message)
        .with_location(Location {
            file: label.to_owned(),
            line: 1,
            column: 1,
        })])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("corsgate-read-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn regular_files_and_links_are_read() {
        let dir = scratch("regular");
        std::fs::write(dir.join("p.toml"), "origins = []\n").unwrap();
        assert_eq!(
            read_regular_file(&dir.join("p.toml"), 100).unwrap(),
            b"origins = []\n"
        );
        #[cfg(unix)]
        {
            std::os::unix::fs::symlink("p.toml", dir.join("link.toml")).unwrap();
            assert_eq!(
                read_regular_file(&dir.join("link.toml"), 100).unwrap(),
                b"origins = []\n"
            );
        }
    }

    #[test]
    fn the_cap_is_exact() {
        let dir = scratch("cap");
        std::fs::write(dir.join("p.toml"), [b'#'; 10]).unwrap();
        assert_eq!(
            read_regular_file(&dir.join("p.toml"), 10).unwrap().len(),
            10
        );
        let err = read_regular_file(&dir.join("p.toml"), 9).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::FileTooLarge);
        assert!(err.to_string().contains("cap of 9 bytes"), "{err}");
    }

    #[test]
    fn directories_are_refused() {
        let dir = scratch("dir");
        let err = read_regular_file(&dir, 100).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
        assert!(err.to_string().contains("a directory"), "{err}");
    }

    #[cfg(unix)]
    #[test]
    fn devices_and_fifos_are_refused_without_blocking() {
        let err = read_regular_file(Path::new("/dev/zero"), 100).unwrap_err();
        assert!(err.to_string().contains("a character device"), "{err}");
        let dir = scratch("fifo");
        let fifo = dir.join("p.toml");
        let status = std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap();
        assert!(status.success());
        // No writer: a blocking open would wait forever.
        let err = read_regular_file(&fifo, 100).unwrap_err();
        assert!(err.to_string().contains("a FIFO"), "{err}");
    }

    #[test]
    fn text_errors_name_the_file() {
        let err = policy_text(vec![b'a', 0xff], "p.toml").unwrap_err();
        assert!(err.to_string().contains("p.toml"), "{err}");
        assert!(err.to_string().contains("offset 1"), "{err}");
        let dir = scratch("missing");
        let err = read_policy_text(&dir.join("nope.toml")).unwrap_err();
        assert_eq!(err.kind(), IssueKind::Io);
    }
}
