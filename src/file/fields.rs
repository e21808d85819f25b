//! The policy fields a file may set, written once: each field's name (from [`Field`]), how its
//! value is written, how it applies to a [`PolicyBuilder`] (as the base or as an environment on
//! top of it), and how the TOML writer writes it back. Parsing, unknown-field suggestions,
//! environment merging, the `dangerously_*` warnings and [`to_toml`](super::to_toml) all read
//! this table, so a new field is one row here (and one in `Field`).

use crate::error::Field;
use crate::policy::PolicyBuilder;

use super::tree::Spanned;

/// How a field's value is written in a file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Shape {
    /// A list of strings.
    List,
    /// A whole number.
    Number,
    /// `true` or `false`.
    Bool,
}

/// A field's value as read from a file.
#[derive(Clone, Debug)]
pub(super) enum Value {
    List(Vec<Spanned<String>>),
    Number(i64),
    Bool(bool),
}

impl Value {
    fn strings(&self) -> Vec<String> {
        match self {
            Value::List(items) => items.iter().map(|s| s.value.clone()).collect(),
            _ => Vec::new(),
        }
    }

    fn number(&self) -> Option<i64> {
        match self {
            Value::Number(n) => Some(*n),
            _ => None,
        }
    }

    pub(super) fn is_true(&self) -> bool {
        matches!(self, Value::Bool(true))
    }
}

/// One row of the table.
pub(super) struct FieldSpec {
    pub(super) field: Field,
    pub(super) shape: Shape,
    /// A value of the right shape, for the hint of a wrong type.
    pub(super) example: &'static str,
    /// A `dangerously_*` opt-out: set to `true` in an environment, it draws a warning.
    pub(super) dangerous: bool,
    /// Applies a value read from a file; the flag says it is an environment's, on top of the
    /// base (origins are then appended; every other field replaces the base's).
    apply: fn(&mut PolicyBuilder, &Value, bool),
    /// The field as the builder holds it, written as a TOML value; `None` when it is at its
    /// default and the writer leaves it out.
    write: fn(&PolicyBuilder) -> Option<String>,
}

impl FieldSpec {
    pub(super) fn name(&self) -> &'static str {
        self.field.as_str()
    }

    pub(super) fn apply(&self, b: &mut PolicyBuilder, value: &Value, is_environment: bool) {
        (self.apply)(b, value, is_environment);
    }

    pub(super) fn write(&self, b: &PolicyBuilder) -> Option<String> {
        (self.write)(b)
    }
}

/// A bool field: applied with its builder setter, written only when `true`.
macro_rules! flag {
    ($field:ident, $name:ident, dangerous: $dangerous:expr) => {
        FieldSpec {
            field: Field::$field,
            shape: Shape::Bool,
            example: "true",
            dangerous: $dangerous,
            apply: |b, v, _| {
                b.$name(v.is_true());
            },
            write: |b| b.$name.then(|| "true".to_owned()),
        }
    };
}

/// The fields, in the order of `Field` (the order of the "the fields are" hint and of the
/// TOML writer's lines).
pub(super) const FIELDS: [FieldSpec; 13] = [
    FieldSpec {
        field: Field::Origins,
        shape: Shape::List,
        example: "[\"https://app.example.com\"]",
        dangerous: false,
        apply: |b, v, is_environment| {
            if is_environment {
                for s in v.strings() {
                    b.origin(s);
                }
            } else {
                b.origins(v.strings());
            }
        },
        // Always written: an empty allowlist is a choice the file must show.
        write: |b| Some(list(&b.origins)),
    },
    FieldSpec {
        field: Field::Methods,
        shape: Shape::List,
        example: "[\"GET\", \"PUT\"]",
        dangerous: false,
        apply: |b, v, _| {
            b.methods(v.strings());
        },
        write: |b| b.methods.as_deref().map(list),
    },
    FieldSpec {
        field: Field::AllowHeaders,
        shape: Shape::List,
        example: "[\"Content-Type\"]",
        dangerous: false,
        apply: |b, v, _| {
            b.allow_headers(v.strings());
        },
        write: |b| (!b.allow_headers.is_empty()).then(|| list(&b.allow_headers)),
    },
    FieldSpec {
        field: Field::ExposeHeaders,
        shape: Shape::List,
        example: "[\"X-Request-Id\"]",
        dangerous: false,
        apply: |b, v, _| {
            b.expose_headers(v.strings());
        },
        write: |b| (!b.expose_headers.is_empty()).then(|| list(&b.expose_headers)),
    },
    flag!(Credentials, credentials, dangerous: false),
    FieldSpec {
        field: Field::MaxAge,
        shape: Shape::Number,
        example: "7200",
        dangerous: false,
        apply: |b, v, _| {
            b.max_age_raw(v.number());
        },
        write: |b| b.max_age.map(|n| n.to_string()),
    },
    flag!(PrivateNetwork, private_network, dangerous: false),
    FieldSpec {
        field: Field::PreflightStatus,
        shape: Shape::Number,
        example: "204",
        dangerous: false,
        apply: |b, v, _| {
            b.preflight_status_raw(v.number());
        },
        write: |b| b.preflight_status.map(|n| n.to_string()),
    },
    flag!(PreflightPassthrough, preflight_passthrough, dangerous: false),
    flag!(DangerouslyAllowNullOrigin, dangerously_allow_null_origin, dangerous: true),
    flag!(DangerouslyAllowInsecureOrigins, dangerously_allow_insecure_origins, dangerous: true),
    flag!(
        DangerouslyAllowPublicSuffixWildcards,
        dangerously_allow_public_suffix_wildcards,
        dangerous: true
    ),
    flag!(
        DangerouslyReflectAnyOriginWithCredentials,
        dangerously_reflect_any_origin_with_credentials,
        dangerous: true
    ),
];

/// The row of a field, if a file can set it.
pub(super) fn position(field: Field) -> Option<usize> {
    FIELDS.iter().position(|spec| spec.field == field)
}

/// The row named `name`.
pub(super) fn named(name: &str) -> Option<usize> {
    FIELDS.iter().position(|spec| spec.name() == name)
}

/// A TOML list of strings.
fn list(values: &[String]) -> String {
    let items: Vec<String> = values.iter().map(|v| quote(v)).collect();
    format!("[{}]", items.join(", "))
}

/// A TOML basic string.
pub(super) fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                out.push_str(&format!("\\u{:04X}", c as u32))
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}
