//! `BrowserCheck::of_decision` concludes what `BrowserCheck::of_response` concludes from the
//! headers the decision writes, and agrees with the decision's own outcome, for every kind of
//! decision (the comparison's case table is in `src/browser_check/tests.rs`).

use corsgate::{BrowserCheck, Cors, CorsRequest, Policy};
use http::{HeaderMap, StatusCode};

#[test]
/// A decision's conclusion is the conclusion from the headers it writes, for every kind of
/// decision the policies below make.
fn a_decision_concludes_what_its_headers_say() {
    let policies = [
        Policy::builder()
            .origins(["https://a.example", "https://*.b.example"])
            .methods(["PUT", "DELETE"])
            .allow_headers(["content-type", "x-token"])
            .expose_headers(["x-request-id"])
            .credentials(true)
            .build(),
        Policy::builder()
            .origins(["*"])
            .expose_headers(["x-trace"])
            .build(),
        Policy::builder()
            .origins(["https://a.example"])
            .methods(["PUT"])
            .preflight_passthrough(true)
            .build(),
    ];
    type Request<'a> = (&'a [u8], Option<&'a [u8]>, Option<&'a [u8]>, &'a [&'a [u8]]);
    let requests: [Request<'_>; 8] = [
        (b"GET", None, None, &[]),
        (b"GET", Some(b"https://a.example"), None, &[]),
        (b"POST", Some(b"https://x.b.example"), None, &[]),
        (b"GET", Some(b"https://evil.example"), None, &[]),
        (
            b"OPTIONS",
            Some(b"https://a.example"),
            Some(b"PUT"),
            &[b"content-type"],
        ),
        (
            b"OPTIONS",
            Some(b"https://a.example"),
            Some(b"PUT"),
            &[b"x-other"],
        ),
        (b"OPTIONS", Some(b"https://a.example"), Some(b"PATCH"), &[]),
        (b"OPTIONS", Some(b"https://evil.example"), Some(b"PUT"), &[]),
    ];
    let mut allowed = 0;
    let mut denied = 0;
    for policy in policies {
        let cors = Cors::new(policy.unwrap());
        for (method, origin, acrm, acrh) in requests {
            let mut request = CorsRequest::new(method).request_headers(acrh);
            if let Some(origin) = origin {
                request = request.origin(origin);
            }
            if let Some(acrm) = acrm {
                request = request.request_method(acrm);
            }
            let decision = cors.decide(&request);
            let mut headers = HeaderMap::new();
            decision.apply(&mut headers);
            let status = decision.status().unwrap_or(StatusCode::OK);
            let from_headers = BrowserCheck::of_response(&request, status, &headers);
            let from_decision = BrowserCheck::of_decision(&request, &decision);
            assert_eq!(from_decision, from_headers, "{:?}", decision.explain());
            if request.has_origin() {
                assert_eq!(
                    from_decision.is_allowed(),
                    decision.is_allowed(),
                    "{:?}",
                    decision.explain()
                );
                if decision.is_allowed() {
                    allowed += 1;
                } else {
                    denied += 1;
                }
            }
        }
    }
    assert!(
        allowed >= 6 && denied >= 6,
        "{allowed} allowed, {denied} denied"
    );
}
