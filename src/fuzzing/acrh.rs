//! Fuzz check `acrh`: arbitrary `Access-Control-Request-Headers` lines through the bounded
//! parser and through whole preflights.

use std::fmt;

use arbitrary::{Arbitrary, Unstructured};

use crate::preflight::{
    parse_request_header_list, PreflightDenial, MAX_REQUEST_HEADERS_BYTES,
    MAX_REQUEST_HEADERS_EMPTY, MAX_REQUEST_HEADERS_NAMES,
};
use crate::reference::Reference;
use crate::{Cors, CorsRequest, Policy};

/// Field lines, and the policy they are checked against.
pub struct AcrhInput {
    /// Bit 0: `allow_headers` is `*`; bit 1: `Authorization` listed; bit 2: credentials.
    pub flags: u8,
    /// The field lines (the rest of the input, split at `\n`).
    pub lines: Vec<Vec<u8>>,
}

impl<'a> Arbitrary<'a> for AcrhInput {
    fn arbitrary(u: &mut Unstructured<'a>) -> arbitrary::Result<Self> {
        let flags = u8::arbitrary(u)?;
        let rest = u.bytes(u.len())?;
        Ok(AcrhInput {
            flags,
            lines: rest.split(|&b| b == b'\n').map(<[u8]>::to_vec).collect(),
        })
    }

    fn arbitrary_take_rest(mut u: Unstructured<'a>) -> arbitrary::Result<Self> {
        AcrhInput::arbitrary(&mut u)
    }
}

impl fmt::Debug for AcrhInput {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{:?}", self.policy_settings())?;
        for line in &self.lines {
            writeln!(
                f,
                "Access-Control-Request-Headers: {:?}",
                String::from_utf8_lossy(line)
            )?;
        }
        Ok(())
    }
}

impl AcrhInput {
    fn policy_settings(&self) -> crate::PolicyBuilder {
        let mut names = vec!["content-type", "x-token", "x-a"];
        if self.flags & 1 != 0 {
            names.push("*");
        }
        if self.flags & 2 != 0 {
            names.push("authorization");
        }
        let mut b = Policy::builder();
        b.origins(["https://app.example"])
            .allow_headers(names)
            .credentials(self.flags & 4 != 0);
        b
    }
}

fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// An independent model of the parser: the first violated rule in input order.
fn model(lines: &[&[u8]]) -> Result<Vec<Vec<u8>>, PreflightDenial> {
    if lines.iter().map(|l| l.len()).sum::<usize>() > MAX_REQUEST_HEADERS_BYTES {
        return Err(PreflightDenial::RequestHeadersTooLong);
    }
    let (mut names, mut empty) = (Vec::new(), 0);
    for line in lines {
        for element in line.split(|&b| b == b',') {
            let trimmed: Vec<u8> = {
                let s = element
                    .iter()
                    .position(|&b| b != b' ' && b != b'\t')
                    .unwrap_or(element.len());
                let e = element
                    .iter()
                    .rposition(|&b| b != b' ' && b != b'\t')
                    .map_or(s, |i| i + 1);
                element[s..e].to_vec()
            };
            if trimmed.is_empty() {
                empty += 1;
                if empty > MAX_REQUEST_HEADERS_EMPTY {
                    return Err(PreflightDenial::TooManyEmptyElements);
                }
                continue;
            }
            if names.len() == MAX_REQUEST_HEADERS_NAMES {
                return Err(PreflightDenial::TooManyRequestHeaders);
            }
            if !trimmed.iter().all(|&b| is_tchar(b)) {
                return Err(PreflightDenial::InvalidRequestHeaderName);
            }
            names.push(trimmed);
        }
    }
    Ok(names)
}

/// Checks one input; panics when a property fails.
pub fn check(input: &AcrhInput) {
    let lines: Vec<&[u8]> = input.lines.iter().take(8).map(Vec::as_slice).collect();
    let parsed = parse_request_header_list(&lines);
    let expected = model(&lines);
    let parsed_owned = parsed
        .clone()
        .map(|v| v.into_iter().map(<[u8]>::to_vec).collect::<Vec<_>>());
    assert_eq!(parsed_owned, expected, "{input:?}");
    if let Ok(names) = &parsed {
        assert!(names.len() <= MAX_REQUEST_HEADERS_NAMES);
        assert!(lines.iter().map(|l| l.len()).sum::<usize>() <= MAX_REQUEST_HEADERS_BYTES);
    }

    // Whole preflights: engine (cached and not) against the reference.
    let Ok(policy) = input.policy_settings().build() else {
        return;
    };
    let cors = Cors::new(policy.clone());
    let mut pairs: Vec<(&[u8], &[u8])> = vec![
        (b"origin", b"https://app.example"),
        (b"access-control-request-method", b"GET"),
    ];
    pairs.extend(
        lines
            .iter()
            .map(|l| (&b"access-control-request-headers"[..], *l)),
    );
    let expected = Reference::new(&policy).decide(b"OPTIONS", &pairs);
    for _ in 0..2 {
        let decision = cors.decide(&CorsRequest::from_pairs(b"OPTIONS", &pairs));
        let headers: Vec<(String, String)> = decision
            .headers()
            .map(|(h, v)| (h.as_str().to_owned(), v.to_str_lossy()))
            .collect();
        assert_eq!(decision.is_allowed(), expected.allowed, "{input:?}");
        assert_eq!(headers, expected.headers, "{input:?}");
        if parsed.is_err() {
            assert!(
                !decision.is_allowed(),
                "a preflight past the bounds was allowed: {input:?}"
            );
        }
    }
}

/// Decodes fuzzer bytes and checks them.
pub fn check_bytes(data: &[u8]) {
    if let Some(input) = super::decode::<AcrhInput>(data) {
        check(&input);
    }
}
