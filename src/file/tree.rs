//! One spanned value tree for both file formats, so that every field check — and every
//! `file:line:column` — is written once. TOML comes from `toml`'s spanned parser; JSON from
//! `serde_json` raw values, whose position in the text gives their spans.

use std::borrow::Cow;
use std::fmt;
use std::ops::Range;

use serde::de::{Deserializer, MapAccess, Visitor};
use serde::Deserialize;
use serde_json::value::RawValue;

/// A value with the byte range it came from.
#[derive(Clone, Debug)]
pub(crate) struct Spanned<T> {
    pub(crate) value: T,
    pub(crate) span: Range<usize>,
}

/// A parsed value.
#[derive(Clone, Debug)]
pub(crate) enum Node {
    Str(String),
    Int(i64),
    Float,
    Bool(bool),
    Null,
    Datetime,
    Array(Vec<Spanned<Node>>),
    Table(Vec<(Spanned<String>, Spanned<Node>)>),
}

impl Node {
    pub(crate) fn type_name(&self) -> &'static str {
        match self {
            Node::Str(_) => "a string",
            Node::Int(_) => "an integer",
            Node::Float => "a float",
            Node::Bool(_) => "a boolean",
            Node::Null => "null",
            Node::Datetime => "a date",
            Node::Array(_) => "a list",
            Node::Table(_) => "a table",
        }
    }
}

/// A syntax error with its byte offset.
#[derive(Debug)]
pub(crate) struct SyntaxError {
    pub(crate) message: String,
    pub(crate) offset: usize,
}

// ---- TOML ---------------------------------------------------------------------------------

pub(crate) fn parse_toml(text: &str) -> Result<Spanned<Node>, Vec<SyntaxError>> {
    let (table, errors) = toml::de::DeTable::parse_recoverable(text);
    if !errors.is_empty() {
        // Errors after the first are mostly its echoes; report the first, precisely.
        return Err(errors
            .into_iter()
            .take(1)
            .map(|e| SyntaxError {
                message: e.message().trim().to_owned(),
                offset: e.span().map_or(0, |s| s.start),
            })
            .collect());
    }
    let span = table.span();
    Ok(Spanned {
        value: toml_table(table.get_ref()),
        span,
    })
}

fn toml_table(table: &toml::de::DeTable<'_>) -> Node {
    Node::Table(
        table
            .iter()
            .map(|(k, v)| {
                (
                    Spanned {
                        value: k.get_ref().to_string(),
                        span: k.span(),
                    },
                    toml_value(v),
                )
            })
            .collect(),
    )
}

fn toml_value(value: &toml::Spanned<toml::de::DeValue<'_>>) -> Spanned<Node> {
    use toml::de::DeValue;
    let node = match value.get_ref() {
        DeValue::String(s) => Node::Str(s.to_string()),
        DeValue::Integer(i) => match i64::from_str_radix(&i.as_str().replace('_', ""), i.radix()) {
            Ok(n) => Node::Int(n),
            Err(_) => Node::Float,
        },
        DeValue::Float(_) => Node::Float,
        DeValue::Boolean(b) => Node::Bool(*b),
        DeValue::Datetime(_) => Node::Datetime,
        DeValue::Array(items) => Node::Array(items.iter().map(toml_value).collect()),
        DeValue::Table(t) => toml_table(t),
    };
    Spanned {
        value: node,
        span: value.span(),
    }
}

// ---- JSON ---------------------------------------------------------------------------------

/// An object's members in order, duplicates kept, values raw.
struct RawObject<'a>(Vec<(Cow<'a, str>, &'a RawValue)>);

impl<'de> Deserialize<'de> for RawObject<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = RawObject<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut members = Vec::new();
                while let Some(key) = map.next_key::<Cow<'de, str>>()? {
                    let value: &'de RawValue = map.next_value()?;
                    members.push((key, value));
                }
                Ok(RawObject(members))
            }
        }
        deserializer.deserialize_map(V)
    }
}

fn offset_in(text: &str, part: &str) -> usize {
    (part.as_ptr() as usize).saturating_sub(text.as_ptr() as usize)
}

fn json_error(text: &str, e: &serde_json::Error) -> SyntaxError {
    // serde_json reports 1-based line and column; turn them back into an offset.
    let line_start: usize = text
        .split_inclusive('\n')
        .take(e.line().saturating_sub(1))
        .map(str::len)
        .sum();
    let offset = text[line_start.min(text.len())..]
        .char_indices()
        .nth(e.column().saturating_sub(1))
        .map_or(text.len(), |(i, _)| line_start + i);
    let message = e.to_string();
    let message = message
        .split(" at line ")
        .next()
        .unwrap_or(&message)
        .to_owned();
    SyntaxError { message, offset }
}

pub(crate) fn parse_json(text: &str) -> Result<Spanned<Node>, Vec<SyntaxError>> {
    // Validate the whole document first, for a precise position on syntax errors.
    let root: &RawValue = serde_json::from_str(text).map_err(|e| vec![json_error(text, &e)])?;
    json_value(text, root).map_err(|e| vec![json_error(text, &e)])
}

fn json_value(text: &str, raw: &RawValue) -> Result<Spanned<Node>, serde_json::Error> {
    let src = raw.get();
    let start = offset_in(text, src);
    let span = start..start + src.len();
    let node = match src.as_bytes().first() {
        Some(b'{') => {
            let object: RawObject<'_> = serde_json::from_str(src)?;
            let mut members = Vec::with_capacity(object.0.len());
            let mut search_end = start;
            for (key, value) in object.0 {
                let value = json_value(text, value)?;
                // The key sits before its value: find its quoted spelling.
                let quoted = serde_json::to_string(&key)?;
                let key_start = text[search_end..value.span.start]
                    .rfind(&quoted)
                    .map_or(value.span.start, |i| search_end + i);
                search_end = value.span.end;
                members.push((
                    Spanned {
                        value: key.into_owned(),
                        span: key_start..key_start + quoted.len(),
                    },
                    value,
                ));
            }
            Node::Table(members)
        }
        Some(b'[') => {
            let items: Vec<&RawValue> = serde_json::from_str(src)?;
            Node::Array(
                items
                    .into_iter()
                    .map(|item| json_value(text, item))
                    .collect::<Result<_, _>>()?,
            )
        }
        Some(b'"') => Node::Str(serde_json::from_str(src)?),
        Some(b't' | b'f') => Node::Bool(serde_json::from_str(src)?),
        Some(b'n') => Node::Null,
        _ => match serde_json::from_str::<i64>(src) {
            Ok(n) => Node::Int(n),
            Err(_) => Node::Float,
        },
    };
    Ok(Spanned { value: node, span })
}

/// 1-based line and column (in characters) of a byte offset.
#[cfg(test)]
pub(crate) fn line_column(text: &str, offset: usize) -> (usize, usize) {
    LineIndex::new(text).line_column(text, offset)
}

/// Turns byte offsets into 1-based lines and columns (in characters) in logarithmic time, so
/// that locating every issue of a large file stays linear: the offsets of the newlines, and
/// the number of characters before every 64-byte block.
#[derive(Clone, Debug, Default)]
pub(crate) struct LineIndex {
    newlines: Vec<usize>,
    chars_before_block: Vec<usize>,
}

const BLOCK: usize = 64;

/// UTF-8 bytes that start a character.
fn char_starts(bytes: &[u8]) -> usize {
    bytes.iter().filter(|&&b| b & 0xc0 != 0x80).count()
}

impl LineIndex {
    pub(crate) fn new(text: &str) -> LineIndex {
        let bytes = text.as_bytes();
        let mut chars = 0;
        LineIndex {
            newlines: bytes
                .iter()
                .enumerate()
                .filter(|(_, &b)| b == b'\n')
                .map(|(i, _)| i)
                .collect(),
            chars_before_block: bytes
                .chunks(BLOCK)
                .map(|block| {
                    let before = chars;
                    chars += char_starts(block);
                    before
                })
                .collect(),
        }
    }

    fn chars_before(&self, text: &str, offset: usize) -> usize {
        let block = offset / BLOCK;
        let base = self.chars_before_block.get(block).copied().unwrap_or(0);
        base + char_starts(&text.as_bytes()[block * BLOCK..offset])
    }

    pub(crate) fn line_column(&self, text: &str, offset: usize) -> (usize, usize) {
        let offset = text.floor_char_boundary_compat(offset.min(text.len()));
        // Newlines before the offset.
        let line = self.newlines.partition_point(|&n| n < offset);
        let line_start = if line == 0 {
            0
        } else {
            self.newlines[line - 1] + 1
        };
        let column = self.chars_before(text, offset) - self.chars_before(text, line_start) + 1;
        (line + 1, column)
    }
}

trait FloorCharBoundary {
    fn floor_char_boundary_compat(&self, index: usize) -> usize;
}

impl FloorCharBoundary for str {
    fn floor_char_boundary_compat(&self, mut index: usize) -> usize {
        while index > 0 && !self.is_char_boundary(index) {
            index -= 1;
        }
        index
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(node: &Spanned<Node>, text: &str) -> Vec<(String, (usize, usize))> {
        match &node.value {
            Node::Table(members) => members
                .iter()
                .map(|(k, v)| (k.value.clone(), line_column(text, v.span.start)))
                .collect(),
            _ => panic!("not a table"),
        }
    }

    #[test]
    fn toml_spans() {
        let text = "origins = [\"https://a\"]\nmax_age = 600\n";
        let node = parse_toml(text).unwrap();
        assert_eq!(
            keys(&node, text),
            [
                ("origins".to_owned(), (1, 11)),
                ("max_age".to_owned(), (2, 11))
            ]
        );
    }

    #[test]
    fn json_spans() {
        let text = "{\n  \"origins\": [\"https://a\", \"b\"],\n  \"max_age\": 600\n}";
        let node = parse_json(text).unwrap();
        assert_eq!(
            keys(&node, text),
            [
                ("origins".to_owned(), (2, 14)),
                ("max_age".to_owned(), (3, 14))
            ]
        );
        let Node::Table(members) = &node.value else {
            unreachable!()
        };
        let Node::Array(items) = &members[0].1.value else {
            unreachable!()
        };
        assert_eq!(line_column(text, items[1].span.start), (2, 28));
        assert_eq!(line_column(text, members[1].0.span.start), (3, 3));
    }

    #[test]
    fn line_index_agrees_with_counting() {
        let text = "ab\nçé€x\n\n".repeat(40) + &"z".repeat(200) + "\n🦀y";
        let slow = |offset: usize| {
            let before = &text[..offset];
            let line = before.matches('\n').count() + 1;
            let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
            (line, column)
        };
        let index = LineIndex::new(&text);
        for offset in (0..=text.len()).filter(|&o| text.is_char_boundary(o)) {
            assert_eq!(index.line_column(&text, offset), slow(offset), "{offset}");
        }
    }

    #[test]
    fn syntax_errors_have_positions() {
        let errors = parse_json("{\n  \"origins\": [\"a\",]\n}").unwrap_err();
        assert_eq!(
            line_column("{\n  \"origins\": [\"a\",]\n}", errors[0].offset).0,
            2
        );
        let errors = parse_toml("origins = [\n\"a\"\nmax_age = 1").unwrap_err();
        assert!(!errors.is_empty());
    }
}
