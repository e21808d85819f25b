//! Fuzz check `differential`: a policy, then requests and reloads; the engine must give the
//! reference's decision — kind, allowed, status, complete header set — every time.

use std::fmt;

use arbitrary::{Arbitrary, Unstructured};
use serde::Deserialize;

use super::spec::{PolicySpec, Rendered, RequestSpec};
use crate::file::{to_toml, Format, PolicyFile};
use crate::policy::PolicyBuilder;
use crate::reference::Reference;
use crate::{Cors, CorsRequest, Policy};

/// One step after the first policy.
#[derive(Arbitrary, Clone, Debug)]
pub enum Op {
    /// Decide a request.
    Request(RequestSpec),
    /// Reload another policy.
    Reload(PolicySpec),
}

/// A first policy and up to 16 steps; or, when the first byte is 0, the same as JSON text
/// (`{"policy": {…}, "requests": [["GET", [["Origin", "…"]]], …]}`), which is how the seed
/// corpus carries the case tables.
pub enum DiffInput {
    /// Structured.
    Steps(PolicySpec, Vec<Op>),
    /// JSON text.
    Text(String),
}

impl<'a> Arbitrary<'a> for DiffInput {
    fn arbitrary(u: &mut Unstructured<'a>) -> arbitrary::Result<Self> {
        if u8::arbitrary(u)? == 0 {
            return Ok(DiffInput::Text(
                String::from_utf8_lossy(u.bytes(u.len())?).into_owned(),
            ));
        }
        Ok(DiffInput::Steps(
            PolicySpec::arbitrary(u)?,
            Vec::arbitrary(u)?,
        ))
    }

    fn arbitrary_take_rest(mut u: Unstructured<'a>) -> arbitrary::Result<Self> {
        if u8::arbitrary(&mut u)? == 0 {
            return Ok(DiffInput::Text(
                String::from_utf8_lossy(u.bytes(u.len())?).into_owned(),
            ));
        }
        let policy = PolicySpec::arbitrary(&mut u)?;
        Ok(DiffInput::Steps(policy, Vec::arbitrary_take_rest(u)?))
    }
}

/// The builder that builds, trying the relaxations in order.
fn first_that_builds(spec: &PolicySpec) -> Option<(PolicyBuilder, Policy)> {
    spec.relaxed_builders()
        .into_iter()
        .find_map(|b| b.build().ok().map(|p| (b, p)))
}

fn canonical_entries(policy: &Policy) -> Vec<String> {
    policy
        .origins()
        .iter()
        .map(|e| e.pattern().to_string())
        .collect()
}

impl fmt::Debug for DiffInput {
    /// A reproducer: the policy file, then one `corsgate decide` line per request (and each
    /// reload's policy file).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DiffInput::Text(t) => write!(f, "{t}"),
            DiffInput::Steps(first, ops) => {
                let Some((builder, mut policy)) = first_that_builds(first) else {
                    return write!(f, "(no policy builds from {first:?})");
                };
                writeln!(f, "# policy.toml\n{}", to_toml(&builder))?;
                for op in ops.iter().take(16) {
                    match op {
                        Op::Request(r) => {
                            writeln!(f, "{:?}", r.render(&canonical_entries(&policy)))?
                        }
                        Op::Reload(spec) => match first_that_builds(spec) {
                            Some((b, p)) => {
                                writeln!(f, "# reload: policy.toml\n{}", to_toml(&b))?;
                                policy = p;
                            }
                            None => writeln!(f, "# reload refused: {:?}", spec.builder())?,
                        },
                    }
                }
                Ok(())
            }
        }
    }
}

fn compare(cors: &Cors, policy: &Policy, request: &Rendered) {
    let pairs = request.pairs();
    let decision = cors.decide(&CorsRequest::from_pairs(&request.method, &pairs));
    let expected = Reference::new(policy).decide(&request.method, &pairs);
    let headers: Vec<(String, String)> = decision
        .headers()
        .map(|(h, v)| (h.as_str().to_owned(), v.to_str_lossy()))
        .collect();
    let got = (
        decision.kind().as_str(),
        decision.is_allowed(),
        decision.status().map(|s| s.as_u16()),
        &headers,
    );
    let want = (
        expected.kind,
        expected.allowed,
        expected.status,
        &expected.headers,
    );
    assert_eq!(got, want, "request {request:?}");
}

#[derive(Deserialize)]
struct TextInput {
    policy: serde_json::Value,
    #[serde(default)]
    requests: Vec<(String, Vec<(String, String)>)>,
}

/// Checks one input; panics when engine and reference disagree.
pub fn check(input: &DiffInput) {
    match input {
        DiffInput::Steps(first, ops) => {
            let Some((_, mut policy)) = first_that_builds(first) else {
                return;
            };
            let cors = Cors::new(policy.clone());
            for op in ops.iter().take(16) {
                match op {
                    Op::Request(r) => {
                        compare(&cors, &policy, &r.render(&canonical_entries(&policy)))
                    }
                    Op::Reload(spec) => match first_that_builds(spec) {
                        Some((_, next)) => {
                            cors.reload(next.clone());
                            policy = next;
                        }
                        None => {
                            let before = cors.generation();
                            assert!(cors.try_reload(&spec.builder()).is_err());
                            assert_eq!(cors.generation(), before, "a failed reload swapped");
                        }
                    },
                }
            }
        }
        DiffInput::Text(text) => {
            let Ok(parsed) = serde_json::from_str::<TextInput>(text) else {
                return;
            };
            let Ok(policy) =
                PolicyFile::parse(&parsed.policy.to_string(), "seed.json", Format::Json)
                    .and_then(|f| f.policy(None))
            else {
                return;
            };
            let cors = Cors::new(policy.clone());
            for (method, headers) in parsed.requests.iter().take(64) {
                let request = Rendered {
                    method: method.clone().into_bytes(),
                    headers: headers
                        .iter()
                        .map(|(n, v)| (n.clone().into_bytes(), v.clone().into_bytes()))
                        .collect(),
                };
                compare(&cors, &policy, &request);
            }
        }
    }
}

/// Decodes fuzzer bytes and checks them.
pub fn check_bytes(data: &[u8]) {
    if let Some(input) = super::decode::<DiffInput>(data) {
        check(&input);
    }
}
