//! [`to_toml`]: a builder's settings written as a policy file, field by field from the table
//! of `fields`.

use crate::policy::PolicyBuilder;

use super::fields::FIELDS;

/// Writes a builder's settings as a policy file (TOML) that loads back into the same settings.
///
/// ```
/// use corsgate::file::{to_toml, Format, PolicyFile};
/// use corsgate::Policy;
///
/// let mut builder = Policy::builder();
/// builder.origins(["https://a.example", "regex:https://[a-z]+\\.b\\.example"]).credentials(true).max_age(60);
/// let text = to_toml(&builder);
/// let loaded = PolicyFile::parse(&text, "policy.toml", Format::Toml)?.builder(None)?;
/// assert_eq!(loaded, builder);
/// # Ok::<(), corsgate::PolicyError>(())
/// ```
pub fn to_toml(builder: &PolicyBuilder) -> String {
    let mut out = String::new();
    for spec in &FIELDS {
        if let Some(value) = spec.write(builder) {
            out.push_str(spec.name());
            out.push_str(" = ");
            out.push_str(&value);
            out.push('\n');
        }
    }
    out
}
