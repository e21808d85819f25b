//! Shared by the integration tests: case tables in `tests/data/*.toml`, a policy description
//! that maps onto `PolicyBuilder`, and one way to run a request through every engine.

#![allow(dead_code)]

use std::path::PathBuf;

use corsgate::reference::{Reference, ReferenceDecision};
use corsgate::{Cors, CorsRequest, Policy, PolicyBuilder, PolicyError};
use serde::{Deserialize, Serialize};

fn is_false(b: &bool) -> bool {
    !*b
}

/// A policy as the case tables write it (the policy file's field names). Serialises to the
/// same fields, so the CLI tests can write the tables out as policy files.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct TestPolicy {
    #[serde(default)]
    pub origins: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub methods: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allow_headers: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub expose_headers: Vec<String>,
    #[serde(default, skip_serializing_if = "is_false")]
    pub credentials: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_age: Option<u32>,
    #[serde(default, skip_serializing_if = "is_false")]
    pub private_network: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub preflight_status: Option<u16>,
    #[serde(default, skip_serializing_if = "is_false")]
    pub preflight_passthrough: bool,
    #[serde(default, skip_serializing_if = "is_false")]
    pub dangerously_allow_null_origin: bool,
    #[serde(default, skip_serializing_if = "is_false")]
    pub dangerously_allow_insecure_origins: bool,
    #[serde(default, skip_serializing_if = "is_false")]
    pub dangerously_allow_public_suffix_wildcards: bool,
    #[serde(default, skip_serializing_if = "is_false")]
    pub dangerously_reflect_any_origin_with_credentials: bool,
}

impl TestPolicy {
    pub fn builder(&self) -> PolicyBuilder {
        let mut b = Policy::builder();
        b.origins(self.origins.iter().cloned())
            .allow_headers(self.allow_headers.iter().cloned())
            .expose_headers(self.expose_headers.iter().cloned())
            .credentials(self.credentials)
            .private_network(self.private_network)
            .preflight_passthrough(self.preflight_passthrough)
            .dangerously_allow_null_origin(self.dangerously_allow_null_origin)
            .dangerously_allow_insecure_origins(self.dangerously_allow_insecure_origins)
            .dangerously_allow_public_suffix_wildcards(
                self.dangerously_allow_public_suffix_wildcards,
            )
            .dangerously_reflect_any_origin_with_credentials(
                self.dangerously_reflect_any_origin_with_credentials,
            );
        if let Some(m) = &self.methods {
            b.methods(m.iter().cloned());
        }
        if let Some(a) = self.max_age {
            b.max_age(a);
        }
        if let Some(s) = self.preflight_status {
            b.preflight_status(s);
        }
        b
    }

    pub fn build(&self) -> Result<Policy, PolicyError> {
        self.builder().build()
    }
}

/// One request of a case, and what must come out.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TestRequest {
    pub method: Option<String>,
    pub origin: Option<String>,
    /// Several Origin field lines.
    pub origins: Option<Vec<String>>,
    pub request_method: Option<String>,
    #[serde(default)]
    pub request_headers: Vec<String>,
    pub private_network: Option<String>,
    // expectations
    pub allowed: bool,
    pub kind: Option<String>,
    pub status: Option<u16>,
    /// `true`: the request goes upstream (no status of corsgate's own).
    pub forwarded: Option<bool>,
    pub headers: Option<Vec<(String, String)>>,
    /// Index into the policy's `origins` as written.
    pub matched: Option<usize>,
    /// Substrings the explanation must contain.
    #[serde(default)]
    pub explain: Vec<String>,
    /// Status codes the client may see; a forwarded request gets its upstream's 200.
    pub status_in: Option<Vec<u16>>,
    /// A header and the values it may have (several field lines joined with `,`).
    #[serde(default)]
    pub header_in: std::collections::BTreeMap<String, Vec<String>>,
    /// Compare `header_in` values with spaces removed on both sides.
    #[serde(default)]
    pub ignore_whitespace: bool,
    /// Headers the response must not have.
    #[serde(default)]
    pub absent: Vec<String>,
}

impl TestRequest {
    /// Checks `status_in`, `header_in` and `absent` (the Gateway API conformance suite's kind
    /// of expectation) against what a client received: `status` is corsgate's own, `None`
    /// when the request went on to an upstream that answered 200.
    pub fn check_client_view(&self, ctx: &str, status: Option<u16>, headers: &[(String, String)]) {
        let seen = status.unwrap_or(200);
        if let Some(accepted) = &self.status_in {
            assert!(
                accepted.contains(&seen),
                "{ctx}: status {seen}, expected one of {accepted:?}"
            );
        }
        let strip = |v: &str| -> String {
            if self.ignore_whitespace {
                v.replace(' ', "")
            } else {
                v.to_owned()
            }
        };
        for (name, accepted) in &self.header_in {
            let lines: Vec<&str> = headers
                .iter()
                .filter(|(n, _)| n.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.as_str())
                .collect();
            assert!(!lines.is_empty(), "{ctx}: no {name} in {headers:?}");
            let value = strip(&lines.join(","));
            assert!(
                accepted.iter().any(|a| strip(a) == value),
                "{ctx}: {name}: {value:?}, expected one of {accepted:?}"
            );
        }
        for name in &self.absent {
            assert!(
                !headers.iter().any(|(n, _)| n.eq_ignore_ascii_case(name)),
                "{ctx}: {name} must be absent: {headers:?}"
            );
        }
    }

    pub fn method(&self) -> &str {
        self.method.as_deref().unwrap_or("GET")
    }

    /// The request as `(name, value)` pairs.
    pub fn pairs(&self) -> Vec<(Vec<u8>, Vec<u8>)> {
        let mut pairs = Vec::new();
        if let Some(o) = &self.origin {
            pairs.push((b"Origin".to_vec(), o.as_bytes().to_vec()));
        }
        for o in self.origins.iter().flatten() {
            pairs.push((b"Origin".to_vec(), o.as_bytes().to_vec()));
        }
        if let Some(m) = &self.request_method {
            pairs.push((
                b"Access-Control-Request-Method".to_vec(),
                m.as_bytes().to_vec(),
            ));
        }
        for line in &self.request_headers {
            pairs.push((
                b"Access-Control-Request-Headers".to_vec(),
                line.as_bytes().to_vec(),
            ));
        }
        if let Some(p) = &self.private_network {
            pairs.push((
                b"Access-Control-Request-Private-Network".to_vec(),
                p.as_bytes().to_vec(),
            ));
        }
        pairs
    }
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Case {
    pub name: String,
    pub policy: TestPolicy,
    #[serde(default)]
    pub request: Vec<TestRequest>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Refused {
    pub name: String,
    pub policy: TestPolicy,
    /// Error kinds, in order.
    pub errors: Vec<String>,
    /// Substrings that must appear in the hints, in order of errors (optional).
    #[serde(default)]
    pub hints: Vec<String>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Canonical {
    pub name: String,
    pub policy: TestPolicy,
    /// The allowlist after canonicalisation and merging.
    pub expect_origins: Vec<String>,
    /// Warning kinds, in order.
    pub warnings: Vec<String>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Table {
    #[serde(default)]
    pub case: Vec<Case>,
    #[serde(default)]
    pub refused: Vec<Refused>,
    #[serde(default)]
    pub canonical: Vec<Canonical>,
}

/// Every table in `tests/data`, with its file name.
pub fn tables() -> Vec<(String, Table)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .expect("tests/data exists")
        .map(|e| e.expect("readable entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|path| {
            let text = std::fs::read_to_string(&path).expect("readable table");
            let table: Table =
                toml::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            (
                path.file_name().unwrap().to_string_lossy().into_owned(),
                table,
            )
        })
        .collect()
}

/// A decision in the shape every engine can produce.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Observed {
    pub kind: String,
    pub allowed: bool,
    pub status: Option<u16>,
    pub headers: Vec<(String, String)>,
}

impl From<ReferenceDecision> for Observed {
    fn from(d: ReferenceDecision) -> Observed {
        Observed {
            kind: d.kind.to_owned(),
            allowed: d.allowed,
            status: d.status,
            headers: d.headers,
        }
    }
}

pub fn observe(decision: &corsgate::Decision<'_, '_>) -> Observed {
    Observed {
        kind: decision.kind().as_str().to_owned(),
        allowed: decision.is_allowed(),
        status: decision.status().map(|s| s.as_u16()),
        headers: decision
            .headers()
            .map(|(h, v)| (h.as_str().to_owned(), v.to_str_lossy()))
            .collect(),
    }
}

/// The engine, fed through `CorsRequest::from_pairs`.
pub fn engine_pairs(cors: &Cors, method: &str, pairs: &[(Vec<u8>, Vec<u8>)]) -> Observed {
    let borrowed: Vec<(&[u8], &[u8])> = pairs.iter().map(|(n, v)| (&n[..], &v[..])).collect();
    observe(&cors.decide(&CorsRequest::from_pairs(method.as_bytes(), &borrowed)))
}

/// The engine, fed through an `http::HeaderMap` (when every value is a valid header value).
pub fn engine_header_map(
    cors: &Cors,
    method: &str,
    pairs: &[(Vec<u8>, Vec<u8>)],
) -> Option<Observed> {
    let method = http::Method::from_bytes(method.as_bytes()).ok()?;
    let mut map = http::HeaderMap::new();
    for (n, v) in pairs {
        let name = http::HeaderName::from_bytes(n).ok()?;
        let value = http::HeaderValue::from_bytes(v).ok()?;
        map.append(name, value);
    }
    Some(observe(
        &cors.decide(&CorsRequest::from_headers(&method, &map)),
    ))
}

/// The engine, fed through the raw setters.
pub fn engine_raw(cors: &Cors, method: &str, pairs: &[(Vec<u8>, Vec<u8>)]) -> Observed {
    let lines = |name: &str| -> Vec<&[u8]> {
        pairs
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name.as_bytes()))
            .map(|(_, v)| &v[..])
            .collect()
    };
    let origin = lines("origin");
    let acrm = lines("access-control-request-method");
    let acrh = lines("access-control-request-headers");
    let pna = lines("access-control-request-private-network");
    let mut request = CorsRequest::new(method.as_bytes())
        .origin_lines(&origin)
        .request_method_lines(&acrm)
        .request_headers(&acrh);
    if let Some(p) = pna.first() {
        request = request.request_private_network(p);
    }
    if pna.len() > 1 {
        // The raw setter takes one line; fall back to pairs for several.
        return engine_pairs(cors, method, pairs);
    }
    observe(&cors.decide(&request))
}

pub fn reference(policy: &Policy, method: &str, pairs: &[(Vec<u8>, Vec<u8>)]) -> Observed {
    let borrowed: Vec<(&[u8], &[u8])> = pairs.iter().map(|(n, v)| (&n[..], &v[..])).collect();
    Reference::new(policy)
        .decide(method.as_bytes(), &borrowed)
        .into()
}
