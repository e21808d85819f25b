//! The nesting-depth cap for policy files, checked on the raw text before any parser runs.
//!
//! The JSON and TOML parsers, the value tree built from them (`tree.rs`) and its destructor
//! all recurse once per level of nesting, so a file of 100,000 `[` would exhaust the stack and
//! abort the process (`check`, `decide`, `serve` at start or on reload). A policy file is a
//! few levels deep (`environments.NAME.origins[i]`), so anything deeper than [`MAX_DEPTH`] is
//! refused with the position of the bracket, brace or dot that went past it. The scan is one
//! pass, iterative, and never fails on malformed text: it measures what it can and leaves the
//! syntax errors to the parsers.
//!
//! What counts as a level: in JSON every `[` and `{`; in TOML every `[`/`{` of a value, every
//! segment of a dotted key (`a.b.c = 1` is three levels) and of a table header (`[a.b]`, one
//! more for `[[a.b]]`), inline tables' keys included.

/// Deepest nesting a policy file may have.
pub const MAX_DEPTH: usize = 32;

/// Where the nesting went past [`MAX_DEPTH`].
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct TooDeep {
    /// Byte offset of the bracket, brace or key segment that went past the cap.
    pub(crate) offset: usize,
}

/// JSON: every `[` and `{` outside strings.
pub(crate) fn check_json(text: &str) -> Result<(), TooDeep> {
    let mut depth = 0usize;
    let mut in_string = false;
    let mut escaped = false;
    for (i, &b) in text.as_bytes().iter().enumerate() {
        if in_string {
            if escaped {
                escaped = false;
            } else if b == b'\\' {
                escaped = true;
            } else if b == b'"' {
                in_string = false;
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'[' | b'{' => {
                depth += 1;
                if depth > MAX_DEPTH {
                    return Err(TooDeep { offset: i });
                }
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    Ok(())
}

/// A TOML reader that skips what does not nest (strings, comments, scalars).
struct Toml<'t> {
    text: &'t [u8],
    at: usize,
}

impl Toml<'_> {
    fn peek(&self) -> Option<u8> {
        self.text.get(self.at).copied()
    }

    fn starts_with(&self, s: &[u8]) -> bool {
        self.text[self.at.min(self.text.len())..].starts_with(s)
    }

    /// Spaces and tabs.
    fn skip_blanks(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\r')) {
            self.at += 1;
        }
    }

    /// Spaces, tabs, newlines and comments.
    fn skip_blank_lines(&mut self) {
        loop {
            self.skip_blanks();
            match self.peek() {
                Some(b'\n') => self.at += 1,
                Some(b'#') => self.skip_line(),
                _ => return,
            }
        }
    }

    fn skip_line(&mut self) {
        while let Some(b) = self.peek() {
            self.at += 1;
            if b == b'\n' {
                return;
            }
        }
    }

    /// A string starting at the current quote (basic or literal, one line or three quotes).
    fn skip_string(&mut self) {
        let Some(quote) = self.peek() else { return };
        let triple = [quote; 3];
        if self.starts_with(&triple) {
            self.at += 3;
            while self.at < self.text.len() {
                if quote == b'"' && self.peek() == Some(b'\\') {
                    self.at += 2;
                    continue;
                }
                if self.starts_with(&triple) {
                    self.at += 3;
                    // Up to two more quotes belong to the string.
                    while self.peek() == Some(quote) {
                        self.at += 1;
                    }
                    return;
                }
                self.at += 1;
            }
            return;
        }
        self.at += 1;
        while let Some(b) = self.peek() {
            self.at += 1;
            match b {
                b'\\' if quote == b'"' => self.at += 1,
                b'\n' => return,
                b if b == quote => return,
                _ => {}
            }
        }
    }

    /// A key (dotted, segments bare or quoted) up to `=` or `end`; returns its number of
    /// segments and the offset of each dot.
    fn key(&mut self, end: u8) -> (usize, Vec<usize>) {
        let mut dots = Vec::new();
        while let Some(b) = self.peek() {
            match b {
                b'"' | b'\'' => self.skip_string(),
                b'.' => {
                    dots.push(self.at);
                    self.at += 1;
                }
                b'\n' => break,
                b if b == end => break,
                _ => self.at += 1,
            }
        }
        (dots.len() + 1, dots)
    }
}

/// TOML: table headers, dotted keys, arrays and inline tables (see the module documentation).
pub(crate) fn check_toml(text: &str) -> Result<(), TooDeep> {
    let mut t = Toml {
        text: text.as_bytes(),
        at: 0,
    };
    // Past the cap at `offset`?
    let check = |depth: usize, offset: usize| {
        if depth > MAX_DEPTH {
            Err(TooDeep { offset })
        } else {
            Ok(())
        }
    };
    // The depth of the key's segments, given the depth they start from.
    let key_depth = |base: usize, segments: usize, dots: &[usize], start: usize| {
        let depth = base + segments;
        if depth > MAX_DEPTH {
            // The first segment past the cap.
            let past = MAX_DEPTH.saturating_sub(base);
            let offset = past
                .checked_sub(1)
                .and_then(|i| dots.get(i))
                .copied()
                .unwrap_or(start);
            return Err(TooDeep { offset });
        }
        Ok(depth)
    };
    let mut table_depth = 0usize;
    // Open arrays and inline tables: (is a table, depth of what is inside).
    let mut open: Vec<(bool, usize)> = Vec::new();
    loop {
        // At the top: a header, a key, or the end.
        t.skip_blank_lines();
        let Some(b) = t.peek() else { return Ok(()) };
        let start = t.at;
        if b == b'[' {
            let array = t.starts_with(b"[[");
            t.at += if array { 2 } else { 1 };
            let (segments, dots) = t.key(b']');
            table_depth = key_depth(usize::from(array), segments, &dots, start)?;
            t.skip_line();
            continue;
        }
        let (segments, dots) = t.key(b'=');
        if t.peek() != Some(b'=') {
            // Not a key-value pair: the parser will say why.
            t.skip_line();
            continue;
        }
        t.at += 1;
        let mut depth = key_depth(table_depth, segments, &dots, start)?;
        // A value, and whatever it opens, until the top level is reached again.
        'value: loop {
            t.skip_blanks();
            match t.peek() {
                Some(b'"' | b'\'') => t.skip_string(),
                Some(b'[') => {
                    check(depth + 1, t.at)?;
                    open.push((false, depth + 1));
                    t.at += 1;
                    depth += 1;
                    continue 'value;
                }
                Some(b'{') => {
                    // Its keys' depths start from the table's own.
                    check(depth + 1, t.at)?;
                    open.push((true, depth + 1));
                    t.at += 1;
                }
                _ => {
                    // A scalar (or nothing): up to what ends it.
                    while let Some(b) = t.peek() {
                        if matches!(b, b',' | b']' | b'}' | b'\n' | b'#') {
                            break;
                        }
                        t.at += 1;
                    }
                }
            }
            // After a value, or right after `{`: close what closes, find the next value or
            // key inside the innermost open container.
            loop {
                let Some(&(table, inner)) = open.last() else {
                    t.skip_line();
                    break 'value;
                };
                if table {
                    t.skip_blanks();
                    match t.peek() {
                        None => return Ok(()),
                        Some(b'}') => {
                            t.at += 1;
                            open.pop();
                            continue;
                        }
                        Some(b',') => t.at += 1,
                        _ => {}
                    }
                    t.skip_blank_lines();
                    if t.peek() == Some(b'}') {
                        continue;
                    }
                    let start = t.at;
                    let (segments, dots) = t.key(b'=');
                    if t.peek() != Some(b'=') {
                        // Malformed: give up on this container; the parser reports it.
                        open.pop();
                        continue;
                    }
                    t.at += 1;
                    depth = key_depth(inner, segments, &dots, start)?;
                    continue 'value;
                }
                t.skip_blank_lines();
                match t.peek() {
                    None => return Ok(()),
                    Some(b']') => {
                        t.at += 1;
                        open.pop();
                    }
                    // A stray brace in a list: malformed; step over it.
                    Some(b'}') => t.at += 1,
                    Some(b',') => {
                        t.at += 1;
                        t.skip_blank_lines();
                        if t.peek() == Some(b']') {
                            continue;
                        }
                        depth = inner;
                        continue 'value;
                    }
                    Some(_) => {
                        depth = inner;
                        continue 'value;
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_depth() {
        assert!(
            check_json(r#"{"origins": ["https://a", "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["]}"#)
                .is_ok()
        );
        let deep = format!("{}{}", "[".repeat(40), "]".repeat(40));
        assert_eq!(check_json(&deep), Err(TooDeep { offset: 32 }));
        let ok = format!("{}{}", "[".repeat(32), "]".repeat(32));
        assert!(check_json(&ok).is_ok());
        assert!(check_json(&"[".repeat(100_000)).is_err());
    }

    #[test]
    fn toml_depth() {
        let policy = "origins = [\"https://a\"] # [[[[\n\
                      [environments.staging]\n\
                      origins = ['[[[[[[[[', \"\"\"\n[[[[\n\"\"\"]\n\
                      x = { a.b = [1, [2, {c = 3}]] }\n";
        assert!(check_toml(policy).is_ok());
        let deep = format!("origins = {}{}", "[".repeat(40), "]".repeat(40));
        assert_eq!(check_toml(&deep), Err(TooDeep { offset: 10 + 31 }));
        let inline = format!("x = {}1{}", "{a = ".repeat(40), "}".repeat(40));
        assert!(check_toml(&inline).is_err());
        let dotted = format!("a{} = 1", ".a".repeat(40));
        let err = check_toml(&dotted).unwrap_err();
        assert_eq!(&dotted[err.offset..err.offset + 2], ".a");
        let header = format!("[a{}]\nx = 1", ".a".repeat(40));
        assert!(check_toml(&header).is_err());
        let nested_tables = (0..40)
            .map(|i| format!("[t{}]\n", ".t".repeat(i)))
            .collect::<String>();
        assert!(check_toml(&nested_tables).is_err());
        let ok = format!("a{} = 1", ".a".repeat(31));
        assert!(check_toml(&ok).is_ok());
        assert!(check_toml(&format!("x = {}", "[".repeat(100_000))).is_err());
    }

    #[test]
    fn malformed_text_never_fails_the_scan() {
        for text in [
            "[",
            "x = [1,",
            "x = {",
            "x = \"\"\"",
            "= = =",
            "[[a.b",
            "a.\"b.c\" = 1",
            "x = ['a\n",
            "x = [}]",
            "x = {a = 1 ] }",
            "x = [1 2 3]",
            "x = {,}",
            "x = [,]",
            "x = {a}",
            &"[".repeat(100_000),
        ] {
            let _ = check_toml(text);
            let _ = check_json(text);
        }
    }
}
