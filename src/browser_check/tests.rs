//! The comparison's case table (`tests/browser_check.rs` checks `of_decision` against
//! `of_response` of the same headers).

use http::header::{HeaderMap, HeaderName, HeaderValue};
use http::StatusCode;

use super::*;

/// (what the case shows, request, first response, second response, expected difference).
/// A request is (method, Origin, Access-Control-Request-Method, Access-Control-Request-Headers);
/// a response is a status and its header lines.
type Response<'a> = (u16, &'a [(&'a str, &'a str)]);
type Case<'a> = (
    &'a str,
    (&'a str, Option<&'a str>, Option<&'a str>, Option<&'a str>),
    Response<'a>,
    Response<'a>,
    Option<Difference>,
);

const APP: &str = "https://app.example";

const CASES: &[Case<'static>] = &[
    // Formatting is never a difference.
    (
        "star against an echo with Vary, no credentials",
        ("GET", Some(APP), None, None),
        (
            200,
            &[("access-control-allow-origin", APP), ("vary", "Origin")],
        ),
        (200, &[("access-control-allow-origin", "*")]),
        None,
    ),
    (
        "spaces around the origin",
        ("GET", Some(APP), None, None),
        (
            200,
            &[("access-control-allow-origin", APP), ("vary", "origin")],
        ),
        (
            200,
            &[
                ("access-control-allow-origin", " https://app.example "),
                ("vary", "ORIGIN"),
            ],
        ),
        None,
    ),
    (
        "Vary in one line or in two",
        ("GET", Some(APP), None, None),
        (
            200,
            &[
                ("access-control-allow-origin", APP),
                ("vary", "Accept-Encoding, Origin"),
            ],
        ),
        (
            200,
            &[
                ("access-control-allow-origin", APP),
                ("vary", "Accept-Encoding"),
                ("vary", "Origin"),
            ],
        ),
        None,
    ),
    (
        "Vary star covers Origin",
        ("GET", Some(APP), None, None),
        (200, &[("access-control-allow-origin", APP), ("vary", "*")]),
        (
            200,
            &[("access-control-allow-origin", APP), ("vary", "Origin")],
        ),
        None,
    ),
    (
        "exposed names in another order and case, repeated",
        ("GET", Some(APP), None, None),
        (
            200,
            &[
                ("access-control-allow-origin", "*"),
                ("access-control-expose-headers", "X-A, x-b"),
            ],
        ),
        (
            200,
            &[
                ("access-control-allow-origin", "*"),
                ("access-control-expose-headers", "x-b,X-A,x-a"),
            ],
        ),
        None,
    ),
    (
        "exposed names in two lines",
        ("GET", Some(APP), None, None),
        (
            200,
            &[
                ("access-control-allow-origin", "*"),
                ("access-control-expose-headers", "x-a, x-b"),
            ],
        ),
        (
            200,
            &[
                ("access-control-allow-origin", "*"),
                ("access-control-expose-headers", "x-a"),
                ("access-control-expose-headers", "x-b"),
            ],
        ),
        None,
    ),
    (
        "both deny, differently worded",
        ("GET", Some(APP), None, None),
        (
            200,
            &[
                ("access-control-allow-origin", "https://other.example"),
                ("vary", "Origin"),
            ],
        ),
        (200, &[]),
        None,
    ),
    (
        "methods in another order and with spaces",
        ("OPTIONS", Some(APP), Some("PUT"), Some("content-type")),
        (
            204,
            &[
                ("access-control-allow-origin", APP),
                ("access-control-allow-methods", "PUT, DELETE"),
                ("access-control-allow-headers", "Content-Type"),
            ],
        ),
        (
            200,
            &[
                ("access-control-allow-origin", APP),
                ("access-control-allow-methods", "DELETE,PUT"),
                ("access-control-allow-headers", "x-other, content-type"),
                ("access-control-max-age", "60"),
            ],
        ),
        None,
    ),
    (
        "a safelisted method needs no Allow-Methods",
        ("OPTIONS", Some(APP), Some("POST"), None),
        (
            204,
            &[
                ("access-control-allow-origin", APP),
                ("access-control-allow-methods", "POST"),
            ],
        ),
        (204, &[("access-control-allow-origin", APP)]),
        None,
    ),
    (
        "no Origin: nothing a browser checks",
        ("GET", None, None, None),
        (200, &[("access-control-allow-origin", "*")]),
        (200, &[]),
        None,
    ),
    // Outcomes.
    (
        "echo against nothing",
        ("GET", Some(APP), None, None),
        (
            200,
            &[("access-control-allow-origin", APP), ("vary", "Origin")],
        ),
        (200, &[]),
        Some(Difference::AllowedToDenied),
    ),
    (
        "nothing against star",
        ("GET", Some(APP), None, None),
        (200, &[]),
        (200, &[("access-control-allow-origin", "*")]),
        Some(Difference::DeniedToAllowed),
    ),
    (
        "two Allow-Origin lines fail the check",
        ("GET", Some(APP), None, None),
        (
            200,
            &[("access-control-allow-origin", APP), ("vary", "Origin")],
        ),
        (
            200,
            &[
                ("access-control-allow-origin", APP),
                ("access-control-allow-origin", APP),
                ("vary", "Origin"),
            ],
        ),
        Some(Difference::AllowedToDenied),
    ),
    (
        "another origin's echo",
        ("GET", Some(APP), None, None),
        (
            200,
            &[("access-control-allow-origin", "https://app.example.evil")],
        ),
        (
            200,
            &[("access-control-allow-origin", APP), ("vary", "Origin")],
        ),
        Some(Difference::DeniedToAllowed),
    ),
    (
        "the origin compared byte for byte",
        ("GET", Some(APP), None, None),
        (
            200,
            &[
                ("access-control-allow-origin", "HTTPS://APP.EXAMPLE"),
                ("vary", "Origin"),
            ],
        ),
        (
            200,
            &[("access-control-allow-origin", APP), ("vary", "Origin")],
        ),
        Some(Difference::DeniedToAllowed),
    ),
    (
        "preflight method not allowed",
        ("OPTIONS", Some(APP), Some("PUT"), None),
        (
            204,
            &[
                ("access-control-allow-origin", APP),
                ("access-control-allow-methods", "PUT"),
            ],
        ),
        (
            204,
            &[
                ("access-control-allow-origin", APP),
                ("access-control-allow-methods", "GET, DELETE"),
            ],
        ),
        Some(Difference::AllowedToDenied),
    ),
    (
        "preflight methods compared case-sensitively",
        ("OPTIONS", Some(APP), Some("PATCH"), None),
        (
            204,
            &[
                ("access-control-allow-origin", APP),
                ("access-control-allow-methods", "PATCH"),
            ],
        ),
        (
            204,
            &[
                ("access-control-allow-origin", APP),
                ("access-control-allow-methods", "patch"),
            ],
        ),
        Some(Difference::AllowedToDenied),
    ),
    (
        "preflight header not allowed",
        (
            "OPTIONS",
            Some(APP),
            Some("PUT"),
            Some("content-type,x-token"),
        ),
        (
            204,
            &[
                ("access-control-allow-origin", APP),
                ("access-control-allow-methods", "PUT"),
                ("access-control-allow-headers", "content-type, x-token"),
            ],
        ),
        (
            204,
            &[
                ("access-control-allow-origin", APP),
                ("access-control-allow-methods", "PUT"),
                ("access-control-allow-headers", "content-type"),
            ],
        ),
        Some(Difference::AllowedToDenied),
    ),
    (
        "a preflight's status must be ok",
        ("OPTIONS", Some(APP), Some("PUT"), None),
        (
            403,
            &[
                ("access-control-allow-origin", APP),
                ("access-control-allow-methods", "PUT"),
            ],
        ),
        (
            204,
            &[
                ("access-control-allow-origin", APP),
                ("access-control-allow-methods", "PUT"),
            ],
        ),
        Some(Difference::DeniedToAllowed),
    ),
    (
        "star does not cover Authorization",
        ("OPTIONS", Some(APP), Some("GET"), Some("authorization")),
        (
            204,
            &[
                ("access-control-allow-origin", "*"),
                ("access-control-allow-headers", "*"),
            ],
        ),
        (
            204,
            &[
                ("access-control-allow-origin", "*"),
                ("access-control-allow-headers", "*, Authorization"),
            ],
        ),
        Some(Difference::DeniedToAllowed),
    ),
    (
        "a list that is not tokens fails the preflight",
        ("OPTIONS", Some(APP), Some("PUT"), None),
        (
            204,
            &[
                ("access-control-allow-origin", APP),
                ("access-control-allow-methods", "PUT"),
            ],
        ),
        (
            204,
            &[
                ("access-control-allow-origin", APP),
                ("access-control-allow-methods", "PUT, \"DELETE\""),
            ],
        ),
        Some(Difference::AllowedToDenied),
    ),
    // Both allow, the browser concludes something else.
    (
        "credentials",
        ("GET", Some(APP), None, None),
        (
            200,
            &[
                ("access-control-allow-origin", APP),
                ("access-control-allow-credentials", "true"),
                ("vary", "Origin"),
            ],
        ),
        (
            200,
            &[("access-control-allow-origin", APP), ("vary", "Origin")],
        ),
        Some(Difference::Headers),
    ),
    (
        "credentials are `true`, exactly",
        ("GET", Some(APP), None, None),
        (
            200,
            &[
                ("access-control-allow-origin", APP),
                ("access-control-allow-credentials", "true"),
                ("vary", "Origin"),
            ],
        ),
        (
            200,
            &[
                ("access-control-allow-origin", APP),
                ("access-control-allow-credentials", "True"),
                ("vary", "Origin"),
            ],
        ),
        Some(Difference::Headers),
    ),
    (
        "star against an echo with credentials",
        ("GET", Some(APP), None, None),
        (
            200,
            &[
                ("access-control-allow-origin", APP),
                ("access-control-allow-credentials", "true"),
                ("vary", "Origin"),
            ],
        ),
        (
            200,
            &[
                ("access-control-allow-origin", "*"),
                ("access-control-allow-credentials", "true"),
            ],
        ),
        Some(Difference::Headers),
    ),
    (
        "an exposed header more",
        ("GET", Some(APP), None, None),
        (
            200,
            &[
                ("access-control-allow-origin", "*"),
                ("access-control-expose-headers", "x-a"),
            ],
        ),
        (
            200,
            &[
                ("access-control-allow-origin", "*"),
                ("access-control-expose-headers", "x-a, x-b"),
            ],
        ),
        Some(Difference::Headers),
    ),
    (
        "exposed star against names",
        ("GET", Some(APP), None, None),
        (
            200,
            &[
                ("access-control-allow-origin", "*"),
                ("access-control-expose-headers", "*"),
            ],
        ),
        (
            200,
            &[
                ("access-control-allow-origin", "*"),
                ("access-control-expose-headers", "x-a"),
            ],
        ),
        Some(Difference::Headers),
    ),
    (
        "an echo without Vary: Origin",
        ("GET", Some(APP), None, None),
        (
            200,
            &[("access-control-allow-origin", APP), ("vary", "Origin")],
        ),
        (
            200,
            &[
                ("access-control-allow-origin", APP),
                ("vary", "Accept-Encoding"),
            ],
        ),
        Some(Difference::Headers),
    ),
    (
        "a method star covers no credentialed preflight",
        ("OPTIONS", Some(APP), Some("PUT"), None),
        (
            204,
            &[
                ("access-control-allow-origin", APP),
                ("access-control-allow-credentials", "true"),
                ("access-control-allow-methods", "PUT"),
            ],
        ),
        (
            204,
            &[
                ("access-control-allow-origin", APP),
                ("access-control-allow-credentials", "true"),
                ("access-control-allow-methods", "*"),
            ],
        ),
        Some(Difference::Headers),
    ),
];

fn response_headers(lines: &[(&str, &str)]) -> HeaderMap {
    let mut map = HeaderMap::new();
    for (name, value) in lines {
        map.append(
            HeaderName::from_bytes(name.as_bytes()).unwrap(),
            HeaderValue::from_str(value).unwrap(),
        );
    }
    map
}

#[test]
fn case_table() {
    for (what, (method, origin, acrm, acrh), (status_a, a), (status_b, b), expected) in CASES {
        let acrh_lines: Vec<&[u8]> = acrh.iter().map(|h| h.as_bytes()).collect();
        let mut request = CorsRequest::new(method.as_bytes()).request_headers(&acrh_lines);
        if let Some(origin) = origin {
            request = request.origin(origin.as_bytes());
        }
        if let Some(acrm) = acrm {
            request = request.request_method(acrm.as_bytes());
        }
        let check = |status: &u16, lines: &[(&str, &str)]| {
            BrowserCheck::of_response(
                &request,
                StatusCode::from_u16(*status).unwrap(),
                &response_headers(lines),
            )
        };
        let (first, second) = (check(status_a, a), check(status_b, b));
        assert_eq!(first.difference(&second), *expected, "{what}");
        // Reversed, the outcome difference turns round; the others stay.
        let reversed = expected.map(|d| match d {
            Difference::AllowedToDenied => Difference::DeniedToAllowed,
            Difference::DeniedToAllowed => Difference::AllowedToDenied,
            Difference::Headers => Difference::Headers,
        });
        assert_eq!(second.difference(&first), reversed, "{what}, reversed");
        assert_eq!(first.difference(&first), None, "{what}, with itself");
    }
}
