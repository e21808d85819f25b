//! Fuzz check `policy`: arbitrary settings, TOML and JSON through validation, and the regex
//! proof against brute force.
//!
//! Every policy with credentials and `regex:` entries is checked the slow way: for each
//! accepted regex, strings drawn from it (and near misses of them) that are valid origins and
//! that it matches must be in its allowed language (https, or http on loopback, unless
//! `dangerously_allow_insecure_origins`; a loopback host or one whose registrable domain is a
//! candidate, unless `dangerously_reflect_any_origin_with_credentials`), decided with the
//! request grammar and the Public Suffix List directly; and the counterexample of every
//! refusal must be a valid origin the regex matches and that language refuses.

use std::fmt;

use arbitrary::{Arbitrary, Unstructured};

use super::regex_strings::{self, Rng};
use super::spec::{PolicySpec, RegexPolicySpec};
use crate::error::{IssueKind, PolicyError};
use crate::file::{to_toml, Format, PolicyFile};
use crate::origin::host::HostKind;
use crate::origin::{OriginPattern, RequestOrigin};
use crate::policy::PolicyBuilder;
use crate::reference::Reference;
use crate::{Cors, CorsRequest, Policy};

/// A policy file's text (TOML or JSON), or builder settings.
pub enum PolicyInput {
    /// First byte 0: the rest is TOML.
    Toml(String),
    /// First byte 1: the rest is JSON.
    Json(String),
    /// First byte 2: structured settings.
    Settings(PolicySpec),
    /// First byte 3: regex entries with credentials.
    Regexes(RegexPolicySpec),
}

impl<'a> Arbitrary<'a> for PolicyInput {
    fn arbitrary(u: &mut Unstructured<'a>) -> arbitrary::Result<Self> {
        let mode = u8::arbitrary(u)?;
        Ok(match mode % 4 {
            0 => PolicyInput::Toml(String::from_utf8_lossy(u.bytes(u.len())?).into_owned()),
            1 => PolicyInput::Json(String::from_utf8_lossy(u.bytes(u.len())?).into_owned()),
            2 => PolicyInput::Settings(PolicySpec::arbitrary(u)?),
            _ => PolicyInput::Regexes(RegexPolicySpec::arbitrary(u)?),
        })
    }

    fn arbitrary_take_rest(mut u: Unstructured<'a>) -> arbitrary::Result<Self> {
        let mode = u8::arbitrary(&mut u)?;
        Ok(match mode % 4 {
            0 => PolicyInput::Toml(String::from_utf8_lossy(u.bytes(u.len())?).into_owned()),
            1 => PolicyInput::Json(String::from_utf8_lossy(u.bytes(u.len())?).into_owned()),
            2 => PolicyInput::Settings(PolicySpec::arbitrary_take_rest(u)?),
            _ => PolicyInput::Regexes(RegexPolicySpec::arbitrary_take_rest(u)?),
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
            PolicyInput::Regexes(s) => write!(f, "policy.toml:\n{}", to_toml(&s.builder())),
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
    let mut environments: Vec<Option<&str>> = vec![None];
    environments.extend(file.environments().into_iter().map(Some));
    for env in environments {
        let Ok(builder) = file.builder(env) else {
            continue;
        };
        let result = file.policy(env);
        match &result {
            Ok(policy) => exercise(policy),
            Err(err) => check_error(err, true),
        }
        check_regex_proofs(&builder, &result);
    }
}

/// Checks one input; panics when a property fails.
pub fn check(input: &PolicyInput) {
    match input {
        PolicyInput::Toml(text) => check_file(text, Format::Toml),
        PolicyInput::Json(text) => check_file(text, Format::Json),
        PolicyInput::Regexes(spec) => {
            let builder = spec.builder();
            let result = builder.build();
            match &result {
                Ok(policy) => exercise(policy),
                Err(err) => check_error(err, false),
            }
            check_regex_proofs(&builder, &result);
        }
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
            let result = builder.build();
            check_regex_proofs(&builder, &result);
            let policy = match result {
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

/// Is `origin` in the allowed language of a regex with these candidate domains, given the
/// options? Brute force: the request grammar, then the Public Suffix List's registrable domain.
fn allowed(origin: &[u8], candidates: &[String], b: &PolicyBuilder) -> Option<bool> {
    let Ok(RequestOrigin::Tuple(t)) = RequestOrigin::parse(origin) else {
        return None;
    };
    let loopback = t.is_loopback();
    let host = String::from_utf8_lossy(t.host()).into_owned();
    let registrable = (t.host_kind() == HostKind::Domain)
        .then(|| crate::public_suffix::list().registrable_domain(&host))
        .flatten();
    let host_ok = loopback || registrable.is_some_and(|d| candidates.iter().any(|c| c == d));
    let scheme_ok = t.scheme() == b"https" || (t.scheme() == b"http" && loopback);
    Some(
        (scheme_ok || b.dangerously_allow_insecure_origins)
            && (host_ok || b.dangerously_reflect_any_origin_with_credentials),
    )
}

/// Near misses of a string a regex matches: one byte changed, a label added in front or
/// behind, the other scheme, a port.
fn near_misses(s: &str, rng: &mut Rng) -> Vec<String> {
    let mut out = Vec::new();
    let Some((scheme, rest)) = s.split_once("://") else {
        return out;
    };
    let bytes = s.as_bytes();
    if !bytes.is_empty() {
        let mut changed = bytes.to_vec();
        let at = scheme.len() + 3 + rng.below(rest.len().max(1));
        if at < changed.len() {
            changed[at] = b"ax0-._e:"[rng.below(8)];
            out.push(String::from_utf8_lossy(&changed).into_owned());
        }
    }
    let (host, port) = match rest.rfind(':') {
        Some(i) if !rest.ends_with(']') => (&rest[..i], &rest[i..]),
        _ => (rest, ""),
    };
    // Hosts of every kind: IP addresses, loopback names, a lone label, someone else's domain.
    for other in [
        "1.2.3.4",
        "10.0.0.1",
        "127.0.0.1",
        "0.0.0.0",
        "[::1]",
        "[::]",
        "[1::]",
        "a",
        "com",
        "localhost",
        "evil.com",
        "a.b",
        "x.localhost",
    ] {
        out.push(format!("{scheme}://{other}{port}"));
    }
    out.push(format!("{scheme}://evil.{rest}"));
    out.push(format!("{scheme}://{host}.evil{port}"));
    out.push(format!("{scheme}://{host}.evil.com{port}"));
    out.push(format!("{scheme}://{host}:8443"));
    let other = if scheme == "https" { "http" } else { "https" };
    out.push(format!("{other}://{rest}"));
    out
}

/// Names the Public Suffix List mentions beneath the candidates (at most 4,096 each).
fn names_beneath(candidates: &[String]) -> Vec<String> {
    let list = crate::public_suffix::list();
    let mut names = Vec::new();
    for k in candidates {
        names.push(k.clone());
        let start = names.len();
        list.visit_beneath(k, |name, _| {
            names.push(name.to_owned());
            names.len() - start < 4096
        });
    }
    names
}

/// Origins on names beneath the candidates (`s3.amazonaws.com`, `x.s3.amazonaws.com`), with the
/// sample's scheme and port: where a proof that forgot a rule beneath a candidate would let a
/// host through.
fn beneath_candidates(sample: &str, names: &[String], rng: &mut Rng) -> Vec<String> {
    let mut out = Vec::new();
    let Ok(RequestOrigin::Tuple(t)) = RequestOrigin::parse(sample.as_bytes()) else {
        return out;
    };
    let scheme = String::from_utf8_lossy(t.scheme()).into_owned();
    let port = t.port().map(|p| format!(":{p}")).unwrap_or_default();
    for _ in 0..names.len().min(6) {
        let name = &names[rng.below(names.len())];
        out.push(format!("{scheme}://{name}{port}"));
        out.push(format!("{scheme}://x.{name}{port}"));
        out.push(format!("{scheme}://x.{name}.{port}"));
    }
    out
}

/// The regex proof against brute force, for a policy with credentials (see the module
/// documentation).
fn check_regex_proofs(b: &PolicyBuilder, result: &Result<Policy, PolicyError>) {
    if !b.credentials {
        return;
    }
    match result {
        Ok(policy) => {
            for entry in policy.origins() {
                let OriginPattern::Regex(source) = entry.pattern() else {
                    continue;
                };
                brute_force(source, b);
            }
        }
        Err(err) => {
            for issue in err.errors() {
                let Some(source) = issue.value().and_then(|v| v.strip_prefix("regex:")) else {
                    continue;
                };
                if !matches!(
                    issue.kind(),
                    IssueKind::RegexReflection | IssueKind::InsecureOriginWithCredentials
                ) {
                    continue;
                }
                let Some(witness) = issue
                    .message()
                    .split_once("matches \"")
                    .and_then(|(_, rest)| rest.split_once('"'))
                    .map(|(w, _)| w.to_owned())
                else {
                    panic!("a refusal without a counterexample: {issue}");
                };
                let regex = anchored(source);
                let parsed = crate::origin::regex::parse(source).expect("refused regexes parse");
                let candidates = crate::origin::proof::candidates(&parsed.hir).unwrap_or_default();
                assert!(
                    regex.is_match(witness.as_bytes()),
                    "the counterexample {witness:?} does not match {source}"
                );
                assert_eq!(
                    allowed(witness.as_bytes(), &candidates, b),
                    Some(false),
                    "the counterexample {witness:?} of {source} is allowed (candidates \
                     {candidates:?}): {issue}"
                );
            }
        }
    }
}

fn anchored(source: &str) -> regex_automata::meta::Regex {
    regex_automata::meta::Regex::new(&format!("^(?:{source})$")).expect("accepted regexes compile")
}

/// Samples strings from an accepted regex and its near misses; every valid origin it
/// matches must be allowed.
fn brute_force(source: &str, b: &PolicyBuilder) {
    let regex = anchored(source);
    let Ok(parsed) = crate::origin::regex::parse(source) else {
        panic!("an accepted regex does not parse again: {source}");
    };
    let Ok(candidates) = crate::origin::proof::candidates(&parsed.hir) else {
        panic!("an accepted regex has no candidates: {source}");
    };
    let names = names_beneath(&candidates);
    let mut rng = Rng::new(source.len() as u64 ^ 0x5eed);
    for _ in 0..32 {
        let Some(sample) = regex_strings::sample_hir(&parsed.hir, &mut rng) else {
            continue;
        };
        let mut tries = near_misses(&sample, &mut rng);
        tries.extend(beneath_candidates(&sample, &names, &mut rng));
        tries.push(sample);
        for origin in tries {
            if !regex.is_match(origin.as_bytes()) {
                continue;
            }
            if allowed(origin.as_bytes(), &candidates, b) == Some(false) {
                panic!(
                    "{source} was accepted with credentials, yet it matches {origin:?}, which \
                     is outside its allowed language (candidates {candidates:?})"
                );
            }
        }
    }
}

/// Decodes fuzzer bytes and checks them.
pub fn check_bytes(data: &[u8]) {
    if let Some(input) = super::decode::<PolicyInput>(data) {
        check(&input);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn credentialed() -> PolicyBuilder {
        let mut b = PolicyBuilder::new();
        b.credentials(true);
        b
    }

    /// The oracle is strong enough to see each class of leak on its own: were the proof to
    /// accept these, the fuzz target would crash.
    #[test]
    fn brute_force_sees_every_class_of_leak() {
        for source in [
            r"https://([a-z0-9-]+\.)+amazonaws\.com",
            r"https://[a-z0-9-]+\.core\.windows\.net",
            r"https://.*:(8443|9443)",
            r"https?://app\.example\.com:\d+",
            r"https://example\.com(\.[a-z]{2})?",
            r"https://example\.[a-z]{2,}",
            r"https://[0-9.]+",
            r"https://a\.example\.com|http://b\.example\.com",
        ] {
            let result = std::panic::catch_unwind(|| brute_force(source, &credentialed()));
            assert!(result.is_err(), "brute force missed the leak in {source}");
        }
    }

    #[test]
    fn brute_force_accepts_what_the_proof_accepts() {
        for source in [
            r"https://pr-[0-9]+\.preview\.example\.com",
            r"https://(app|api)\.example\.(com|net)",
            r"http://localhost:[0-9]+",
            r"https://([a-z0-9-]+\.)*example\.com(:\d+)?",
        ] {
            brute_force(source, &credentialed());
        }
    }
}
