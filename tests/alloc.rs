//! `decide` performs no heap allocation: actual requests allowed and denied (exact, wildcard,
//! regex, malformed), preflights from the verdict cache and not, fed from raw bytes and from a
//! `HeaderMap`. Counted with a global allocator that counts on this thread only.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use corsgate::{Cors, CorsRequest, Policy};

struct Counting;

thread_local! {
    static ALLOCATIONS: Cell<usize> = const { Cell::new(0) };
}

// SAFETY: forwards every call to the system allocator unchanged; only counts.
#[allow(unsafe_code)]
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let _ = ALLOCATIONS.try_with(|n| n.set(n.get() + 1));
        // SAFETY: same contract as our caller's.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as our caller's.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let _ = ALLOCATIONS.try_with(|n| n.set(n.get() + 1));
        // SAFETY: same contract as our caller's.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn allocations_during(f: impl FnOnce()) -> usize {
    let before = ALLOCATIONS.with(Cell::get);
    f();
    ALLOCATIONS.with(Cell::get) - before
}

#[test]
fn the_counter_counts() {
    let n = allocations_during(|| {
        let v: Vec<u8> = Vec::with_capacity(16);
        std::hint::black_box(v);
    });
    assert_eq!(n, 1);
}

fn cors() -> Cors {
    Cors::new(
        Policy::builder()
            .origins([
                "https://app.example.com",
                "https://*.example.org",
                "http://localhost:*",
                r"regex:https://pr-[0-9]+\.preview\.example\.net",
            ])
            .methods(["GET", "PUT", "DELETE"])
            .allow_headers([
                "content-type",
                "x-token",
                "authorization",
                "x-a",
                "x-b",
                "x-c",
                "x-d",
                "x-e",
                "x-f",
            ])
            .expose_headers(["x-request-id"])
            .credentials(true)
            .max_age(600)
            .build()
            .expect("valid policy"),
    )
}

/// Decides, and touches every part of the decision a gateway reads without writing it out.
fn decide(cors: &Cors, request: &CorsRequest<'_>) -> (bool, usize) {
    let decision = cors.decide(request);
    let headers = decision.headers().map(|(_, v)| v.is_echo() as usize).sum();
    (
        decision.is_allowed() && decision.status().is_some() == decision.is_allowed(),
        headers,
    )
}

#[test]
fn decide_does_not_allocate() {
    let cors = cors();
    let actual: Vec<(&[u8], bool)> = vec![
        (b"https://app.example.com", true),
        (b"https://a.b.example.org", true),
        (b"http://localhost:3000", true),
        (b"https://pr-42.preview.example.net", true),
        (b"https://evil.example", false),
        (b"https://app.example.com/", false),
        (b"null", false),
        (b"not an origin at all", false),
        (b"https://example.org", false),
        (b"https://pr-x.preview.example.net", false),
    ];
    let hostile: Vec<String> = (0..1_000)
        .map(|i| format!("content-type,x-unknown-{i}"))
        .collect();
    let allowed_lines: Vec<String> = (0..1_000)
        .map(|i| ["content-type", "x-token", "x-a", "x-b", "x-c"][..1 + i % 5].join(","))
        .collect();

    // Warm-up: the first decision on a thread registers it with arc-swap and creates its regex
    // search cache; neither happens again.
    for (origin, _) in &actual {
        decide(&cors, &CorsRequest::new(b"GET").origin(origin));
    }

    for (origin, allowed) in &actual {
        let request = CorsRequest::new(b"GET").origin(origin);
        let n = allocations_during(|| {
            let decision = cors.decide(&request);
            assert_eq!(
                decision.is_allowed(),
                *allowed,
                "{}",
                String::from_utf8_lossy(origin)
            );
            let _ = decision.headers().count();
        });
        assert_eq!(
            n,
            0,
            "actual request from {}",
            String::from_utf8_lossy(origin)
        );
    }

    // A policy's verdict cache is allocated on its first preflight, once; from then on, nothing.
    let _ = cors
        .decide(
            &CorsRequest::new(b"OPTIONS")
                .origin(b"https://app.example.com")
                .request_method(b"PUT"),
        )
        .is_allowed();

    // Uncached preflights: every request-headers value is new, allowed or not.
    for lines in [&allowed_lines, &hostile] {
        let n = allocations_during(|| {
            for (i, line) in lines.iter().enumerate().take(300) {
                let headers = [line.as_bytes()];
                let request = CorsRequest::new(b"OPTIONS")
                    .origin(b"https://app.example.com")
                    .request_method(if i % 2 == 0 { b"PUT" } else { b"PATCH" })
                    .request_headers(&headers);
                let decision = cors.decide(&request);
                let _ = decision.headers().count();
            }
        });
        assert_eq!(n, 0, "uncached preflights");
    }

    // Cached preflights: the same value again and again.
    let headers: [&[u8]; 1] = [b"content-type,x-token"];
    let request = CorsRequest::new(b"OPTIONS")
        .origin(b"https://app.example.com")
        .request_method(b"PUT")
        .request_headers(&headers);
    assert!(cors.decide(&request).is_allowed());
    let n = allocations_during(|| {
        for _ in 0..1_000 {
            assert!(cors.decide(&request).is_allowed());
        }
    });
    assert_eq!(n, 0, "cached preflights");

    // Denied preflight (origin), and several request-headers lines (never cached).
    let lines: [&[u8]; 3] = [b"content-type", b" x-token , x-a", b""];
    let n = allocations_during(|| {
        let denied = CorsRequest::new(b"OPTIONS")
            .origin(b"https://evil.example")
            .request_method(b"PUT");
        assert!(!cors.decide(&denied).is_allowed());
        let multi = CorsRequest::new(b"OPTIONS")
            .origin(b"https://app.example.com")
            .request_method(b"PUT")
            .request_headers(&lines);
        assert!(cors.decide(&multi).is_allowed());
    });
    assert_eq!(n, 0, "denied and multi-line preflights");
}

#[test]
fn decide_from_a_header_map_does_not_allocate() {
    let cors = cors();
    let mut map = http::HeaderMap::new();
    map.insert(
        http::header::ORIGIN,
        http::HeaderValue::from_static("https://app.example.com"),
    );
    map.insert(
        http::header::ACCESS_CONTROL_REQUEST_METHOD,
        http::HeaderValue::from_static("PUT"),
    );
    map.insert(
        http::header::ACCESS_CONTROL_REQUEST_HEADERS,
        http::HeaderValue::from_static("content-type"),
    );
    let get = http::Method::GET;
    let options = http::Method::OPTIONS;
    decide(&cors, &CorsRequest::from_headers(&get, &map));
    // The first preflight allocates the policy's verdict cache, once.
    decide(&cors, &CorsRequest::from_headers(&options, &map));
    let n = allocations_during(|| {
        for method in [&get, &options, &options] {
            let decision = cors.decide(&CorsRequest::from_headers(method, &map));
            assert!(decision.is_allowed());
            let _ = decision.headers().count();
        }
    });
    assert_eq!(n, 0);
}

#[test]
fn writing_http1_into_a_reserved_buffer_does_not_allocate() {
    let cors = cors();
    let request = CorsRequest::new(b"GET").origin(b"https://app.example.com");
    let mut out = Vec::with_capacity(1024);
    cors.decide(&request).write_http1(&mut out);
    out.clear();
    let n = allocations_during(|| cors.decide(&request).write_http1(&mut out));
    assert_eq!(n, 0);
    assert!(out.starts_with(b"Access-Control-Allow-Origin: https://app.example.com\r\n"));
    // Merging an upstream's Vary that needs nothing added, or none at all, allocates nothing
    // either.
    for upstream in [&[][..], &[b"Accept-Encoding, Origin".as_slice()][..]] {
        out.clear();
        let n = allocations_during(|| {
            cors.decide(&request)
                .write_http1_merging_vary(upstream, &mut out)
        });
        assert_eq!(n, 0, "{upstream:?}");
        assert_eq!(
            out.windows(6).filter(|w| w == b"Vary: ").count(),
            1,
            "{upstream:?}"
        );
        // The owned headers, as a raw proxy carries them across its upstream's await.
        let owned = cors.decide(&request).to_response_headers();
        out.clear();
        let n = allocations_during(|| owned.write_http1_merging_vary(upstream, &mut out));
        assert_eq!(n, 0, "owned, {upstream:?}");
        assert!(out.starts_with(b"Access-Control-Allow-Origin: https://app.example.com\r\n"));
    }
}

/// Merging `Vary` into one line costs nothing when the upstream sent none (the common case),
/// nor when its one line already names `Origin`: `apply` into a map with room allocates
/// nothing.
#[test]
fn applying_without_an_upstream_vary_does_not_allocate() {
    let cors = cors();
    let mut request = http::HeaderMap::new();
    request.insert(
        http::header::ORIGIN,
        http::HeaderValue::from_static("https://app.example.com"),
    );
    let get = http::Method::GET;
    for upstream_vary in [None, Some("Accept-Encoding, origin")] {
        let mut response = http::HeaderMap::with_capacity(32);
        response.insert(
            http::header::CONTENT_TYPE,
            http::HeaderValue::from_static("text/plain"),
        );
        if let Some(v) = upstream_vary {
            response.insert(http::header::VARY, http::HeaderValue::from_static(v));
        }
        cors.decide(&CorsRequest::from_headers(&get, &request))
            .apply(&mut response.clone());
        let n = allocations_during(|| {
            let decision = cors.decide(&CorsRequest::from_headers(&get, &request));
            decision.apply(&mut response);
        });
        assert_eq!(n, 0, "upstream Vary {upstream_vary:?}");
        assert_eq!(response.get_all(http::header::VARY).iter().count(), 1);
    }
}

/// A request to a set: host, path, the policy that must decide, an origin it allows.
type Case = (
    Option<&'static [u8]>,
    &'static [u8],
    &'static str,
    &'static [u8],
);

/// A policy set: exact, wildcard, hostless, prefixed and `off` routes, each policy with its own
/// origins. After the first preflight of each policy (which allocates its verdict cache), no
/// decision allocates: choosing the route included, for raw setters and an `http::Request`.
#[test]
fn set_decisions_do_not_allocate_after_each_policys_first_preflight() {
    let origins = |o: &str| {
        let mut b = Policy::builder();
        b.origins([o, "https://*.shared.example"])
            .methods(["GET", "PUT"])
            .allow_headers(["content-type", "x-token"]);
        b
    };
    let set = corsgate::PolicySet::builder(origins("https://default.example"))
        .policy("exact", origins("https://exact.example"))
        .policy("wild", origins("https://wild.example"))
        .policy("hostless", origins("https://hostless.example"))
        .policy("prefixed", origins("https://prefixed.example"))
        .route(corsgate::RouteBuilder::new("exact").hosts(["api.example.com"]))
        .route(
            corsgate::RouteBuilder::new("prefixed")
                .hosts(["api.example.com"])
                .path_prefix("/v1/public"),
        )
        .route(corsgate::RouteBuilder::new("wild").hosts(["*.example.com"]))
        .route(corsgate::RouteBuilder::new("hostless").path_prefix("/status"))
        .route(corsgate::RouteBuilder::new("off").hosts(["internal.example.com"]))
        .build()
        .expect("valid set");
    let cors = Cors::with_set(set);
    // (host, path, policy, its origin)
    let cases: [Case; 8] = [
        (
            Some(b"api.example.com"),
            b"/",
            "exact",
            b"https://exact.example",
        ),
        (
            Some(b"API.example.com:8443"),
            b"/v1/public/x?y=1",
            "prefixed",
            b"https://prefixed.example",
        ),
        (
            Some(b"a.b.example.com."),
            b"/v1/public",
            "wild",
            b"https://wild.example",
        ),
        (
            Some(b"[2001:db8::1]"),
            b"/status/x",
            "hostless",
            b"https://hostless.example",
        ),
        (None, b"/status", "hostless", b"https://hostless.example"),
        (
            Some(b"other.test"),
            b"",
            "default",
            b"https://default.example",
        ),
        (Some(b"a..b"), b"/x", "default", b"https://default.example"),
        (
            Some(b"internal.example.com"),
            b"/",
            "off",
            b"https://exact.example",
        ),
    ];
    let request = |host: Option<&'static [u8]>,
                   path: &'static [u8],
                   origin: &'static [u8],
                   preflight: bool| {
        let mut r = CorsRequest::new(if preflight { b"OPTIONS" } else { b"GET" })
            .origin(origin)
            .path(path);
        if preflight {
            r = r.request_method(b"PUT");
        }
        if let Some(h) = host {
            r = r.host(h);
        }
        r
    };
    // Warm-up: each policy's first preflight allocates its verdict cache; then the first
    // decision on this thread registers it with arc-swap.
    for (host, path, policy, origin) in cases {
        let d = cors.decide(&request(host, path, origin, true));
        assert_eq!(d.policy_name(), policy);
    }
    let (_, capacity) = cors.verdict_cache_usage();
    for (host, path, policy, origin) in cases {
        for preflight in [false, true] {
            let r = request(host, path, origin, preflight);
            let n = allocations_during(|| {
                let d = cors.decide(&r);
                assert_eq!(d.policy_name(), policy);
                assert!(d.is_allowed());
                assert_eq!(d.is_off(), policy == "off");
                let _ = d.route_name();
                let _ = d.headers().count();
            });
            assert_eq!(n, 0, "{policy} (preflight {preflight})");
        }
    }
    // Through an http::Request, absolute form too.
    let req = http::Request::builder()
        .method("OPTIONS")
        .uri("http://x.example.com/v1/public")
        .header("host", "api.example.com")
        .header("origin", "https://wild.example")
        .header("access-control-request-method", "PUT")
        .body(())
        .expect("valid request");
    let n = allocations_during(|| {
        let d = cors.decide(&CorsRequest::from_request(&req));
        assert_eq!(d.policy_name(), "wild");
        assert!(d.is_allowed());
    });
    assert_eq!(n, 0, "from_request");
    assert_eq!(cors.verdict_cache_usage().1, capacity, "no new cache");
}
