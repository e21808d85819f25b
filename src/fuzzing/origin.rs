//! Fuzz check `origin`: arbitrary bytes through the request-side Origin parser.

use std::fmt;

use arbitrary::Arbitrary;

use crate::origin::RequestOrigin;
use crate::{Cors, CorsRequest, Policy};

/// Raw `Origin` bytes (the whole fuzzer input).
#[derive(Arbitrary)]
pub struct OriginInput {
    /// The header value.
    pub bytes: Vec<u8>,
}

impl fmt::Debug for OriginInput {
    /// `Origin: "<escaped bytes>"`, and the `corsgate explain` command that shows it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = String::from_utf8_lossy(&self.bytes);
        write!(
            f,
            "Origin: {text:?}\n(corsgate explain policy.toml --origin {text:?})"
        )
    }
}

const OPAQUE: [&[u8]; 5] = [b"file", b"data", b"about", b"blob", b"javascript"];

/// Checks one input; panics when a property fails.
pub fn check(input: &OriginInput) {
    let bytes = &input.bytes;
    let parsed = RequestOrigin::parse(bytes);
    assert_eq!(
        parsed.is_ok(),
        crate::reference::is_valid_origin(bytes),
        "engine and reference disagree on {input:?}: engine {parsed:?}"
    );
    let Ok(origin) = parsed else {
        return;
    };
    assert_eq!(
        origin.to_string().as_bytes(),
        &bytes[..],
        "re-serialisation differs"
    );
    let RequestOrigin::Tuple(tuple) = origin else {
        return;
    };
    // What a browser can send, configuration accepts as is: the same canonical form, no
    // warning, and an allowed request. Excluded: schemes whose pages are opaque (refused as
    // configuration with a hint), xn-- labels (validated as Punycode only on the config side),
    // and IPv4-mapped IPv6 (refused as configuration with a hint naming the IPv4 origin).
    let host = tuple.host();
    let excluded = OPAQUE.contains(&tuple.scheme())
        || host.split(|&b| b == b'.').any(|l| l.starts_with(b"xn--"))
        || host.starts_with(b"[::ffff:");
    if excluded {
        return;
    }
    let text = String::from_utf8_lossy(bytes).into_owned();
    let policy = Policy::new([text.as_str()])
        .unwrap_or_else(|e| panic!("a valid request origin is refused as configuration: {e}"));
    assert!(
        policy.warnings().is_empty(),
        "warnings: {:?}",
        policy.warnings()
    );
    assert_eq!(policy.origins()[0].pattern().to_string(), text);
    let cors = Cors::new(policy);
    assert!(cors
        .decide(&CorsRequest::new(b"GET").origin(bytes))
        .is_allowed());
}

/// Decodes fuzzer bytes and checks them.
pub fn check_bytes(data: &[u8]) {
    if let Some(input) = super::decode::<OriginInput>(data) {
        check(&input);
    }
}
