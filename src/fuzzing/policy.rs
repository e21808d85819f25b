//! Fuzz check `policy`: arbitrary settings, TOML and JSON through validation.

use std::fmt;

use arbitrary::{Arbitrary, Unstructured};

use super::spec::PolicySpec;
use crate::error::{IssueKind, PolicyError};
use crate::file::{to_toml, Format, PolicyFile};
use crate::reference::Reference;
use crate::{Cors, CorsRequest, Policy};

/// A policy file's text (TOML or JSON), or builder settings.
pub enum PolicyInput {
    /// First byte 0: the rest is TOML.
    Toml(String),
    /// First byte 1: the rest is JSON.
    Json(String),
    /// Otherwise: structured settings.
    Settings(PolicySpec),
}

impl<'a> Arbitrary<'a> for PolicyInput {
    fn arbitrary(u: &mut Unstructured<'a>) -> arbitrary::Result<Self> {
        let mode = u8::arbitrary(u)?;
        Ok(match mode % 3 {
            0 => PolicyInput::Toml(String::from_utf8_lossy(u.bytes(u.len())?).into_owned()),
            1 => PolicyInput::Json(String::from_utf8_lossy(u.bytes(u.len())?).into_owned()),
            _ => PolicyInput::Settings(PolicySpec::arbitrary(u)?),
        })
    }

    fn arbitrary_take_rest(mut u: Unstructured<'a>) -> arbitrary::Result<Self> {
        let mode = u8::arbitrary(&mut u)?;
        Ok(match mode % 3 {
            0 => PolicyInput::Toml(String::from_utf8_lossy(u.bytes(u.len())?).into_owned()),
            1 => PolicyInput::Json(String::from_utf8_lossy(u.bytes(u.len())?).into_owned()),
            _ => PolicyInput::Settings(PolicySpec::arbitrary_take_rest(u)?),
        })
    }
}

impl fmt::Debug for PolicyInput {
    /// The policy as a file: save it and run `corsgate check` on it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PolicyInput::Toml(t) => write!(f, "policy.toml:\n{t}"),
            PolicyInput::Json(t) => write!(f, "policy.json:\n{t}"),
            PolicyInput::Settings(s) => write!(f, "policy.toml:\n{}", to_toml(&s.builder())),
        }
    }
}

fn check_error(err: &PolicyError, located: bool) {
    assert!(
        err.errors().next().is_some(),
        "a refusal without an error: {err:?}"
    );
    for issue in err.issues() {
        assert!(!issue.message().is_empty());
        assert_eq!(
            IssueKind::from_name(issue.kind().as_str()),
            Some(issue.kind())
        );
        if located {
            assert!(issue.location().is_some(), "no file position: {issue}");
        }
        let _ = issue.to_string();
    }
    let _ = err.to_string();
}

/// Compiles, decides a few requests with the engine and the reference, and explains them.
fn exercise(policy: &Policy) {
    let cors = Cors::new(policy.clone());
    let reference = Reference::new(policy);
    for request in super::smoke_requests() {
        let pairs = request.pairs();
        let decision = cors.decide(&CorsRequest::from_pairs(&request.method, &pairs));
        let _ = decision.explain().to_string();
        let _ = decision.reason();
        let expected = reference.decide(&request.method, &pairs);
        assert_eq!(decision.is_allowed(), expected.allowed, "{request:?}");
    }
}

fn check_file(text: &str, format: Format) {
    let label = match format {
        Format::Toml => "fuzz.toml",
        Format::Json => "fuzz.json",
    };
    let file = match PolicyFile::parse(text, label, format) {
        Ok(file) => file,
        Err(err) => return check_error(&err, true),
    };
    let report = file.check(None);
    for issue in &report.issues {
        assert!(issue.location().is_some(), "no file position: {issue}");
    }
    for (_, result) in &report.results {
        match result {
            Ok(policy) => exercise(policy),
            Err(err) => check_error(err, true),
        }
    }
}

/// Checks one input; panics when a property fails.
pub fn check(input: &PolicyInput) {
    match input {
        PolicyInput::Toml(text) => check_file(text, Format::Toml),
        PolicyInput::Json(text) => check_file(text, Format::Json),
        PolicyInput::Settings(spec) => {
            let builder = spec.builder();
            // The settings survive a trip through a policy file.
            let text = to_toml(&builder);
            let loaded = PolicyFile::parse(&text, "roundtrip.toml", Format::Toml)
                .and_then(|f| f.builder(None))
                .unwrap_or_else(|e| {
                    panic!("to_toml wrote a file that does not load:\n{text}\n{e}")
                });
            assert_eq!(loaded, builder, "round trip through:\n{text}");
            let policy = match builder.build() {
                Ok(policy) => policy,
                Err(err) => return check_error(&err, false),
            };
            exercise(&policy);
            // Canonical forms are fixed points: rebuilding from them changes nothing.
            let mut again = builder.clone();
            again.origins(policy.origins().iter().map(|e| e.pattern().to_string()));
            let rebuilt = again
                .build()
                .unwrap_or_else(|e| panic!("canonical origins refused: {e}"));
            let canonical = |p: &Policy| {
                p.origins()
                    .iter()
                    .map(|e| e.pattern().clone())
                    .collect::<Vec<_>>()
            };
            assert_eq!(canonical(&rebuilt), canonical(&policy));
            assert!(
                rebuilt
                    .warnings()
                    .iter()
                    .all(|w| w.kind() != IssueKind::NonCanonicalOrigin),
                "{:?}",
                rebuilt.warnings()
            );
        }
    }
}

/// Decodes fuzzer bytes and checks them.
pub fn check_bytes(data: &[u8]) {
    if let Some(input) = super::decode::<PolicyInput>(data) {
        check(&input);
    }
}
