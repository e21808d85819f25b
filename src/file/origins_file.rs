//! `origins_file = "tenants.txt"`: a file of origin entries that join a policy's `origins`
//! (design §8). One entry a line; `#` starts a comment (a whole line, or after whitespace);
//! blank lines are ignored and surrounding whitespace is trimmed.
//!
//! The path is relative, has no `..` component and is resolved against the policy file's
//! directory, so that a policy file can only reach files beside it or below it. Only a regular
//! file (links followed, as ConfigMap volumes need) of at most [`MAX_POLICY_FILE_BYTES`] is
//! read, through [`read_regular_file`]. Every problem with the path or the file is an
//! `invalid_origins_file` error with a hint; an entry keeps its own line and column, so that
//! an issue about it points at `tenants.txt:LINE:COLUMN`.

use std::path::{Component, Path, PathBuf};
use std::sync::Arc;

use crate::error::{Field, Issue, IssueKind, Location};

use super::read::read_regular_file;
use super::section::Place;
use super::tree::{Node, Spanned};
use super::{PolicyFile, MAX_POLICY_FILE_BYTES};

/// Where an entry of an origins file is written: its 1-based line and column (in characters).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Position {
    pub(super) line: usize,
    pub(super) column: usize,
}

/// An origins file, read.
#[derive(Clone, Debug)]
pub(super) struct OriginsFile {
    /// Where it was read from.
    pub(super) path: PathBuf,
    /// How diagnostics name it: the policy file's directory joined with the path as written.
    pub(super) label: String,
    /// The entries, one a line, as the builders take them: a policy whose origins come from
    /// this file alone shares this list rather than copying it (`PolicyBuilder::append_origins`).
    pub(super) entries: Arc<Vec<String>>,
    /// Where each entry is written, by its position in `entries`.
    pub(super) positions: Vec<Position>,
}

impl OriginsFile {
    /// The location of entry `index` (of the file itself when there is no such entry).
    pub(super) fn location(&self, index: Option<usize>) -> Location {
        let (line, column) = index
            .and_then(|i| self.positions.get(i))
            .map_or((1, 1), |p| (p.line, p.column));
        Location {
            file: self.label.clone(),
            line,
            column,
        }
    }
}

/// Why a path written as `origins_file` cannot be used, or `None` when it can.
fn path_problem(written: &str) -> Option<(&'static str, &'static str)> {
    let path = Path::new(written);
    if written.is_empty() {
        return Some((
            "the path is empty",
            "write the file's name, e.g. origins_file = \"tenants.txt\"",
        ));
    }
    if written.contains('\0') {
        return Some(("the path holds a NUL byte", "write the file's name"));
    }
    if path.is_absolute() || written.starts_with('/') || written.starts_with('\\') {
        return Some((
            "the path is absolute",
            "write it relative to the policy file's directory, e.g. \"tenants.txt\"",
        ));
    }
    if path
        .components()
        .any(|c| matches!(c, Component::ParentDir | Component::Prefix(_)))
    {
        return Some((
            "the path has a `..` component: an origins file stays inside the policy file's directory",
            "move the file beside the policy file (or below it) and name it from there",
        ));
    }
    None
}

/// Resolves and reads the origins file `written` (as the policy file has it) against
/// `directory`. The error is an `invalid_origins_file` issue located at `at`.
pub(super) fn read(
    written: &str,
    directory: &Path,
    at: Location,
) -> Result<OriginsFile, Box<Issue>> {
    let invalid = |message: String, hint: &str| {
        Box::new(
            Issue::error(IssueKind::InvalidOriginsFile, Field::OriginsFile, message)
                .with_value(written)
                .with_hint(hint)
                .with_location(at.clone()),
        )
    };
    if let Some((why, hint)) = path_problem(written) {
        return Err(invalid(why.to_owned(), hint));
    }
    let path = directory.join(written);
    let label = path.display().to_string();
    let bytes = read_regular_file(&path, MAX_POLICY_FILE_BYTES).map_err(|e| {
        invalid(
            format!("cannot read origins_file {label}: {e}"),
            "an origins_file is a regular file of at most 16 MiB, one origin a line, beside the policy file",
        )
    })?;
    let text = String::from_utf8(bytes).map_err(|e| {
        invalid(
            format!(
                "cannot read origins_file {label}: not UTF-8 (invalid byte at offset {})",
                e.utf8_error().valid_up_to()
            ),
            "save the file as UTF-8",
        )
    })?;
    let (entries, positions) = entries(&text);
    Ok(OriginsFile {
        path,
        label,
        entries: Arc::new(entries),
        positions,
    })
}

impl PolicyFile {
    /// Reads an `origins_file` value and the file it names (once per path, however many
    /// sections name it). Returns the path as written and the file's position in
    /// `origins_files` when it could be read; every problem goes to `issues`.
    pub(super) fn read_origins_file(
        &mut self,
        value: &Spanned<Node>,
        place: Place<'_>,
        issues: &mut Vec<Issue>,
    ) -> Option<(Spanned<String>, Option<usize>)> {
        let Node::Str(written) = &value.value else {
            issues.push(
                place.tag(
                    self.wrong_type(
                        Field::OriginsFile,
                        "a string",
                        &value.value,
                        value.span.start,
                    )
                    .with_hint("for example: origins_file = \"tenants.txt\""),
                ),
            );
            return None;
        };
        let spanned = Spanned {
            value: written.clone(),
            span: value.span.clone(),
        };
        let at = self.location(value.span.start);
        let resolved = self.directory.join(written);
        if let Some(i) = self.origins_files.iter().position(|f| f.path == resolved) {
            return Some((spanned, Some(i)));
        }
        match read(written, &self.directory, at) {
            Ok(file) => {
                self.origins_files.push(file);
                Some((spanned, Some(self.origins_files.len() - 1)))
            }
            Err(issue) => {
                issues.push(place.tag(*issue));
                Some((spanned, None))
            }
        }
    }
}

/// The entries of an origins file's text, each with its 1-based line and column (in
/// characters). One allocation an entry (its text); an ASCII line is scanned a byte at a time.
fn entries(text: &str) -> (Vec<String>, Vec<Position>) {
    let mut values = Vec::new();
    let mut positions = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let ascii = line.is_ascii();
        let content = strip_comment(line);
        let (lead, trimmed) = if ascii {
            trim_ascii_line(content)
        } else {
            let trimmed = content.trim();
            (content.len() - content.trim_start().len(), trimmed)
        };
        if trimmed.is_empty() {
            continue;
        }
        let column = if ascii {
            lead + 1
        } else {
            line[..lead].chars().count() + 1
        };
        values.push(trimmed.to_owned());
        positions.push(Position {
            line: n + 1,
            column,
        });
    }
    (values, positions)
}

/// `(content.len() - content.trim_start().len(), content.trim())` for ASCII text, where
/// `str::trim`'s whitespace is U+0009 to U+000D and the space (`u8::is_ascii_whitespace`
/// leaves out U+000B, so it is not used).
fn trim_ascii_line(content: &str) -> (usize, &str) {
    let is_space = |b: &u8| matches!(b, b'\t'..=b'\r' | b' ');
    let bytes = content.as_bytes();
    let lead = bytes
        .iter()
        .position(|b| !is_space(b))
        .unwrap_or(bytes.len());
    let end = bytes
        .iter()
        .rposition(|b| !is_space(b))
        .map_or(lead, |i| i + 1);
    (lead, &content[lead..end])
}

/// The line without its comment: `#` at the start of the line or after whitespace. (A `#`
/// inside an entry, as in `https://a.example#x`, is left for the origin check to refuse.)
fn strip_comment(line: &str) -> &str {
    let bytes = line.as_bytes();
    // Most lines have no `#` at all: one fast search, not a loop over every byte.
    if !bytes.contains(&b'#') {
        return line;
    }
    for (i, &b) in bytes.iter().enumerate() {
        if b == b'#' && (i == 0 || bytes[i - 1].is_ascii_whitespace()) {
            return &line[..i];
        }
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_comments_and_blank_lines() {
        let text = "# tenants\n\n  https://a.example  \nhttps://b.example # second\n\t\nhttps://c.example#frag\r\n";
        let (values, positions) = entries(text);
        let found: Vec<(String, usize, usize)> = values
            .into_iter()
            .zip(positions)
            .map(|(v, p)| (v, p.line, p.column))
            .collect();
        assert_eq!(
            found,
            [
                ("https://a.example".to_owned(), 3, 3),
                ("https://b.example".to_owned(), 4, 1),
                ("https://c.example#frag".to_owned(), 6, 1),
            ]
        );
    }

    /// The byte-wise trim of ASCII lines finds what `str::trim` finds, U+000B included.
    #[test]
    fn ascii_lines_trim_as_str_trim_does() {
        for content in [
            "",
            " ",
            "\u{b}",
            "\u{b}https://a.example\u{b}",
            "\t\u{c} https://a.example \r",
            "https://a.example",
            "  a b  ",
        ] {
            let lead = content.len() - content.trim_start().len();
            assert_eq!(
                trim_ascii_line(content),
                (lead, content.trim()),
                "{content:?}"
            );
        }
        let (values, _) = entries("\u{b}https://a.example\n \u{a0}https://b.example\u{a0}\n");
        assert_eq!(values, ["https://a.example", "https://b.example"]);
    }

    #[test]
    fn paths_that_leave_the_directory_are_refused() {
        for bad in ["", "/etc/passwd", "../x.txt", "a/../../x.txt", "a/.."] {
            assert!(path_problem(bad).is_some(), "{bad:?} accepted");
        }
        for good in [
            "tenants.txt",
            "lists/tenants.txt",
            "./tenants.txt",
            "..data/t.txt",
        ] {
            assert!(path_problem(good).is_none(), "{good:?} refused");
        }
    }
}
