//! The layer order of the crate docs' module table, enforced: every file under `src/` (the
//! binary aside, a crate of its own) may use only modules of lower layers, and within its layer
//! only the modules listed above it. The table in `src/lib.rs` is the single source: a module
//! missing from it, or listed but absent, fails too.
//!
//! An import is any path that names a module of the crate: `use crate::a::b;`, grouped and
//! nested (`use crate::{a, b::{c, d}};`), inline (`crate::a::f()`), relative (`super::` chains
//! resolved from the file's place, inline `mod` blocks included; `self::`), re-exports
//! (`pub use`), and names the crate root re-exports (`crate::Cors` counts as `engine`).
//! Comments, doc comments and string literals are not code and are skipped.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

/// One row of the table: a top-level module, its layer number and its position.
#[derive(Clone, Debug)]
struct Row {
    layer: u32,
    layer_name: String,
    position: usize,
}

/// Reads the module → layer table from the crate docs.
fn table(lib: &str) -> BTreeMap<String, Row> {
    let mut rows = BTreeMap::new();
    for line in lib.lines() {
        let Some(rest) = line.strip_prefix("//! | ") else {
            continue;
        };
        let cells: Vec<&str> = rest.split(" | ").collect();
        let Some((number, name)) = cells[0].split_once(' ') else {
            continue;
        };
        let Ok(layer) = number.parse::<u32>() else {
            continue;
        };
        let module = cells[1]
            .trim_matches(|c| c == '[' || c == ']')
            .trim_matches('`')
            .to_owned();
        let position = rows.len();
        let row = Row {
            layer,
            layer_name: name.to_owned(),
            position,
        };
        assert!(
            rows.insert(module.clone(), row).is_none(),
            "{module} is listed twice"
        );
    }
    rows
}

/// The source with comments and string/char literals blanked (newlines kept, so line numbers
/// stay right).
fn code_only(source: &str) -> String {
    let bytes = source.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    let blank = |out: &mut Vec<u8>, b: u8| out.push(if b == b'\n' { b'\n' } else { b' ' });
    while i < bytes.len() {
        let b = bytes[i];
        if b == b'/' && bytes.get(i + 1) == Some(&b'/') {
            while i < bytes.len() && bytes[i] != b'\n' {
                blank(&mut out, bytes[i]);
                i += 1;
            }
        } else if b == b'/' && bytes.get(i + 1) == Some(&b'*') {
            let mut depth = 0;
            while i < bytes.len() {
                if bytes[i] == b'/' && bytes.get(i + 1) == Some(&b'*') {
                    depth += 1;
                    out.extend_from_slice(b"  ");
                    i += 2;
                } else if bytes[i] == b'*' && bytes.get(i + 1) == Some(&b'/') {
                    depth -= 1;
                    out.extend_from_slice(b"  ");
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    blank(&mut out, bytes[i]);
                    i += 1;
                }
            }
        } else if b == b'r'
            && matches!(bytes.get(i + 1), Some(b'#' | b'"'))
            && !ident_byte_before(bytes, i)
        {
            // A raw string: r"…", r#"…"#.
            let mut j = i + 1;
            let mut hashes = 0;
            while bytes.get(j) == Some(&b'#') {
                hashes += 1;
                j += 1;
            }
            if bytes.get(j) != Some(&b'"') {
                out.push(b);
                i += 1;
                continue;
            }
            let closing: Vec<u8> = std::iter::once(b'"')
                .chain(std::iter::repeat_n(b'#', hashes))
                .collect();
            let end = find(bytes, j + 1, &closing).map_or(bytes.len(), |e| e + closing.len());
            for &c in &bytes[i..end] {
                blank(&mut out, c);
            }
            i = end;
        } else if b == b'"' {
            out.push(b' ');
            i += 1;
            while i < bytes.len() && bytes[i] != b'"' {
                if bytes[i] == b'\\' {
                    blank(&mut out, bytes[i]);
                    i += 1;
                }
                if i < bytes.len() {
                    blank(&mut out, bytes[i]);
                    i += 1;
                }
            }
            out.push(b' ');
            i += 1;
        } else if b == b'\'' && is_char_literal(bytes, i) {
            let end = char_literal_end(bytes, i);
            for &c in &bytes[i..end] {
                blank(&mut out, c);
            }
            i = end;
        } else {
            out.push(b);
            i += 1;
        }
    }
    String::from_utf8(out).expect("blanking keeps UTF-8 outside literals")
}

fn ident_byte_before(bytes: &[u8], i: usize) -> bool {
    i > 0 && (bytes[i - 1].is_ascii_alphanumeric() || bytes[i - 1] == b'_')
}

fn find(bytes: &[u8], from: usize, needle: &[u8]) -> Option<usize> {
    bytes[from..]
        .windows(needle.len())
        .position(|w| w == needle)
        .map(|p| p + from)
}

/// `'x'`, `'\n'`, `'\u{..}'` and not a lifetime (`'a`).
fn is_char_literal(bytes: &[u8], i: usize) -> bool {
    if bytes.get(i + 1) == Some(&b'\\') {
        return true;
    }
    // One character (possibly multi-byte) then a quote.
    let rest = &bytes[i + 1..];
    let len = match rest.first() {
        Some(&c) if c < 0x80 => 1,
        Some(&c) if c >= 0xf0 => 4,
        Some(&c) if c >= 0xe0 => 3,
        Some(_) => 2,
        None => return false,
    };
    rest.get(len) == Some(&b'\'')
}

fn char_literal_end(bytes: &[u8], i: usize) -> usize {
    let mut j = i + 1;
    if bytes[j] == b'\\' {
        j += 2;
    } else {
        j += 1;
    }
    while j < bytes.len() && bytes[j] != b'\'' {
        j += 1;
    }
    j + 1
}

/// One import found in a file: the line and the top-level module it reaches.
#[derive(Debug, PartialEq, Eq)]
struct Import {
    line: usize,
    module: String,
    text: String,
}

fn is_ident(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

/// Reads one identifier at `i` (after spaces); returns it and the index after it.
fn ident_at(code: &[u8], mut i: usize) -> (String, usize) {
    while i < code.len() && code[i].is_ascii_whitespace() {
        i += 1;
    }
    let start = i;
    while i < code.len() && is_ident(code[i]) {
        i += 1;
    }
    (String::from_utf8_lossy(&code[start..i]).into_owned(), i)
}

/// After `::` at `i`: either one identifier, or a `{…}` group whose top-level items each start
/// with an identifier (or `self`, meaning the path so far).
fn first_segments(code: &[u8], mut i: usize) -> Vec<String> {
    while i < code.len() && code[i].is_ascii_whitespace() {
        i += 1;
    }
    if code.get(i) != Some(&b'{') {
        let (name, _) = ident_at(code, i);
        return vec![name];
    }
    let mut names = Vec::new();
    let mut depth = 0;
    let mut expect_item = true;
    let mut j = i;
    while j < code.len() {
        match code[j] {
            b'{' => {
                depth += 1;
                if depth == 1 {
                    expect_item = true;
                }
                j += 1;
            }
            b'}' => {
                depth -= 1;
                j += 1;
                if depth == 0 {
                    break;
                }
            }
            b',' if depth == 1 => {
                expect_item = true;
                j += 1;
            }
            c if depth == 1 && expect_item && is_ident(c) => {
                let (name, next) = ident_at(code, j);
                names.push(name);
                expect_item = false;
                j = next;
            }
            _ => j += 1,
        }
    }
    names
}

/// The module path (from the crate root) of every byte of a file, inline `mod x { … }` blocks
/// included.
fn module_paths(code: &[u8], file_module: &[String]) -> Vec<Vec<String>> {
    let mut paths = Vec::with_capacity(code.len());
    let mut stack: Vec<(String, usize)> = Vec::new();
    let mut depth = 0usize;
    let mut i = 0;
    let mut pending: Option<String> = None;
    while i < code.len() {
        let c = code[i];
        if c == b'm' && code[i..].starts_with(b"mod ") && (i == 0 || !is_ident(code[i - 1])) {
            let (name, next) = ident_at(code, i + 3);
            let mut k = next;
            while k < code.len() && code[k].is_ascii_whitespace() {
                k += 1;
            }
            if code.get(k) == Some(&b'{') {
                pending = Some(name);
            }
        }
        if c == b'{' {
            depth += 1;
            if let Some(name) = pending.take() {
                stack.push((name, depth));
            }
        }
        let mut path = file_module.to_vec();
        path.extend(stack.iter().map(|(n, _)| n.clone()));
        paths.push(path);
        if c == b'}' {
            if stack.last().is_some_and(|(_, d)| *d == depth) {
                stack.pop();
            }
            depth = depth.saturating_sub(1);
        }
        i += 1;
    }
    paths
}

/// Every path in `source` (the file of module `file_module`) that reaches a top-level module.
/// `root_names` maps what the crate root re-exports to the module that defines it.
fn imports(
    source: &str,
    file_module: &[String],
    root_names: &BTreeMap<String, String>,
) -> Vec<Import> {
    let code = code_only(source);
    let bytes = code.as_bytes();
    let paths = module_paths(bytes, file_module);
    let line_of = |i: usize| bytes[..i].iter().filter(|&&b| b == b'\n').count() + 1;
    let text_of = |i: usize| {
        let start = bytes[..i]
            .iter()
            .rposition(|&b| b == b'\n')
            .map_or(0, |p| p + 1);
        let end = find(bytes, i, b"\n").unwrap_or(bytes.len());
        code[start..end].trim().to_owned()
    };
    let mut found = Vec::new();
    let mut push = |i: usize, base: Vec<String>, names: Vec<String>| {
        for name in names {
            let mut full = base.clone();
            if name != "self" && !name.is_empty() {
                full.push(name);
            }
            let Some(top) = full.first() else {
                continue;
            };
            let module = if full.len() == 1 && root_names.contains_key(top) {
                root_names[top].clone()
            } else {
                top.clone()
            };
            found.push(Import {
                line: line_of(i),
                module,
                text: text_of(i),
            });
        }
    };
    let mut i = 0;
    while i < bytes.len() {
        if i > 0 && (is_ident(bytes[i - 1]) || bytes[i - 1] == b'$') {
            i += 1;
            continue;
        }
        let rest = &bytes[i..];
        if rest.starts_with(b"crate")
            && rest
                .get(5)
                .is_some_and(|&b| b == b':' || b.is_ascii_whitespace())
        {
            let mut j = i + 5;
            while j < bytes.len() && bytes[j].is_ascii_whitespace() {
                j += 1;
            }
            if bytes[j..].starts_with(b"::") {
                push(i, Vec::new(), first_segments(bytes, j + 2));
            }
            i += 5;
        } else if rest.starts_with(b"super") || rest.starts_with(b"self") {
            // A chain `super::super::…` or `self::…`, resolved from where it stands.
            let mut base = paths[i].clone();
            let mut j = i;
            loop {
                let (word, next) = ident_at(bytes, j);
                let mut k = next;
                while k < bytes.len() && bytes[k].is_ascii_whitespace() {
                    k += 1;
                }
                let followed = bytes[k..].starts_with(b"::");
                match word.as_str() {
                    "super" if followed => {
                        base.pop();
                        j = k + 2;
                    }
                    "self" if followed => j = k + 2,
                    _ => break,
                }
            }
            if j > i {
                if base.is_empty() {
                    push(i, base, first_segments(bytes, j));
                } else {
                    push(i, base, vec![String::new()]);
                }
                i = j;
            } else {
                i += 4;
            }
        } else {
            i += 1;
        }
    }
    found
}

/// What the crate root re-exports: each name and the module it comes from.
fn root_names(lib_code: &str) -> BTreeMap<String, String> {
    let mut names = BTreeMap::new();
    let bytes = lib_code.as_bytes();
    let mut i = 0;
    while let Some(p) = find(bytes, i, b"pub use ") {
        let (module, next) = ident_at(bytes, p + 8);
        let mut j = next + 2;
        let group = first_segments(bytes, j);
        if group.len() == 1 && group[0].is_empty() {
            j = next;
        }
        for name in group {
            names.insert(name, module.clone());
        }
        i = j.max(p + 8);
    }
    names
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The module path of a file under `src/`: `src/origin/proof/mod.rs` is `origin::proof`.
fn file_module(relative: &Path) -> Vec<String> {
    let mut parts: Vec<String> = relative
        .iter()
        .map(|p| p.to_string_lossy().into_owned())
        .collect();
    let last = parts.pop().unwrap();
    let stem = last.trim_end_matches(".rs");
    if stem != "mod" && stem != "lib" {
        parts.push(stem.to_owned());
    }
    parts
}

/// Every import that runs back up the table, as readable lines.
fn violations(src: &Path) -> (Vec<String>, BTreeMap<String, Row>, Vec<String>) {
    let lib = fs::read_to_string(src.join("lib.rs")).unwrap();
    let rows = table(&lib);
    let names = root_names(&code_only(&lib));
    let mut files = Vec::new();
    rust_files(src, &mut files);
    files.sort();
    let mut bad = Vec::new();
    let mut seen_modules = Vec::new();
    for file in files {
        let relative = file.strip_prefix(src).unwrap();
        if relative.starts_with("bin") || relative == Path::new("lib.rs") {
            continue;
        }
        let module = file_module(relative);
        let top = &module[0];
        if !seen_modules.contains(top) {
            seen_modules.push(top.clone());
        }
        let Some(from) = rows.get(top) else {
            bad.push(format!(
                "src/{}: module `{top}` is not in the layer table of src/lib.rs",
                relative.display()
            ));
            continue;
        };
        let source = fs::read_to_string(&file).unwrap();
        for import in imports(&source, &module, &names) {
            if &import.module == top {
                continue;
            }
            let Some(to) = rows.get(&import.module) else {
                bad.push(format!(
                    "src/{}:{}: `{}` is not in the layer table ({})",
                    relative.display(),
                    import.line,
                    import.module,
                    import.text
                ));
                continue;
            };
            let allowed =
                to.layer < from.layer || (to.layer == from.layer && to.position < from.position);
            if !allowed {
                bad.push(format!(
                    "src/{}:{}: `{top}` (layer {} {}) uses `{}` (layer {} {}), which is not below it: {}",
                    relative.display(),
                    import.line,
                    from.layer,
                    from.layer_name,
                    import.module,
                    to.layer,
                    to.layer_name,
                    import.text
                ));
            }
        }
    }
    (bad, rows, seen_modules)
}

#[test]
fn no_module_uses_a_higher_layer() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let (bad, rows, seen) = violations(&src);
    assert!(
        bad.is_empty(),
        "imports that run back up the layers:\n{}",
        bad.join("\n")
    );
    let unlisted: Vec<_> = rows.keys().filter(|m| !seen.contains(m)).collect();
    assert!(
        unlisted.is_empty(),
        "listed in the table but not in src/: {unlisted:?}"
    );
}

#[test]
fn the_table_lists_layers_in_order() {
    let lib = fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("src/lib.rs")).unwrap();
    let rows = table(&lib);
    assert!(rows.len() > 20, "the table was not found: {rows:?}");
    let mut by_position: Vec<_> = rows.values().collect();
    by_position.sort_by_key(|r| r.position);
    assert!(by_position.windows(2).all(|w| w[0].layer <= w[1].layer));
}

/// The reader itself, on every form an import takes.
#[test]
fn every_form_of_import_is_seen() {
    let mut root = BTreeMap::new();
    root.insert("Cors".to_owned(), "engine".to_owned());
    let source = r#"
use crate::a::b;
use crate::{c, d::{e, f}, Cors};
pub use crate::g as h;
pub(crate) use self::inner::x;
// use crate::comment;
/// [`crate::doc`]
const S: &str = "crate::string";
const C: char = '"';
fn f() { crate::inline::call(); let _ = super::super::up::y; }
mod tests {
    use super::*;
    use super::super::sibling;
}
"#;
    let found: Vec<_> = imports(source, &["top".to_owned(), "sub".to_owned()], &root)
        .into_iter()
        .map(|i| i.module)
        .collect();
    assert_eq!(
        found,
        ["a", "c", "d", "engine", "g", "top", "inline", "up", "top", "top"]
    );
    // At a folder's `mod.rs`, `super::` is the crate root.
    let found: Vec<_> = imports("use super::{x, y::z};", &["top".to_owned()], &root)
        .into_iter()
        .map(|i| i.module)
        .collect();
    assert_eq!(found, ["x", "y"]);
}
