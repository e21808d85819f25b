//! Properties of the engine as a whole: thread safety of the public types, allowlists from
//! one to 100,000 entries, and the verdict cache under a flood of hostile preflights.

use corsgate::{Cors, CorsRequest, Policy};

/// `Decision` is the one public type that is deliberately not `Send`: it borrows the deciding
/// thread's snapshot of the generation (see `Cors::decide`); `ResponseHeaders` carries its
/// headers across threads and `.await`s.
#[test]
fn public_types_are_send_and_sync() {
    fn check<T: Send + Sync>() {}
    check::<Cors>();
    check::<Policy>();
    check::<corsgate::PolicyBuilder>();
    check::<corsgate::PolicyError>();
    check::<corsgate::Issue>();
    check::<corsgate::ResponseHeaders>();
    check::<corsgate::Explanation>();
    check::<corsgate::CorsRequest<'static>>();
    check::<corsgate::HeaderValueRef<'static>>();
    check::<corsgate::origin::RequestOrigin<'static>>();
    check::<corsgate::origin::OriginPattern>();
}

fn exact_origins(n: usize) -> Vec<String> {
    (0..n)
        .map(|i| format!("https://app{i}.tenant{}.example.com", i % 97))
        .collect()
}

#[test]
fn allowlists_of_one_to_a_hundred_thousand_exact_origins() {
    for n in [1, 1_000, 100_000] {
        let origins = exact_origins(n);
        let policy = Policy::new(origins.clone()).unwrap();
        assert_eq!(policy.origins().len(), n);
        let cors = Cors::new(policy);
        for i in [0, n / 2, n - 1] {
            let d = cors.decide(&CorsRequest::new(b"GET").origin(origins[i].as_bytes()));
            assert!(d.is_allowed(), "{}", origins[i]);
            assert_eq!(d.matched_entry().map(|e| e.index()), Some(i));
        }
        for miss in [
            "https://app0.tenant1.example.com",
            "https://nope.example.com",
            "https://app1.tenant1.example.com.",
        ] {
            assert!(
                !cors
                    .decide(&CorsRequest::new(b"GET").origin(miss.as_bytes()))
                    .is_allowed(),
                "{miss}"
            );
        }
    }
}

#[test]
fn ten_thousand_wildcards() {
    let patterns: Vec<String> = (0..10_000)
        .map(|i| format!("https://*.tenant{i}.example.com"))
        .collect();
    let cors = Cors::new(Policy::new(patterns).unwrap());
    for (origin, allowed, entry) in [
        ("https://a.tenant0.example.com", true, Some(0)),
        ("https://a.b.c.tenant9999.example.com", true, Some(9999)),
        ("https://tenant5000.example.com", false, None),
        ("https://a.tenant10000.example.com", false, None),
        ("https://a.tenant1.example.com.evil.com", false, None),
    ] {
        let d = cors.decide(&CorsRequest::new(b"GET").origin(origin.as_bytes()));
        assert_eq!(d.is_allowed(), allowed, "{origin}");
        assert_eq!(d.matched_entry().map(|e| e.index()), entry, "{origin}");
    }
}

#[test]
fn hostile_preflights_cannot_grow_the_cache() {
    let cors = Cors::new(
        Policy::builder()
            .origins(["https://app.example.com"])
            .methods(["PUT"])
            .allow_headers(["content-type", "x-token"])
            .build()
            .unwrap(),
    );
    // The verdict cache costs nothing until the policy's first preflight.
    assert_eq!(cors.verdict_cache_usage(), (0, 0));
    let good: [&[u8]; 1] = [b"content-type,x-token"];
    let good_request = CorsRequest::new(b"OPTIONS")
        .origin(b"https://app.example.com")
        .request_method(b"PUT")
        .request_headers(&good);
    assert!(cors.decide(&good_request).is_allowed());
    let (_, capacity) = cors.verdict_cache_usage();
    assert!(capacity > 0);
    for i in 0..100_000u32 {
        let line = format!("content-type,x-hostile-{i}");
        let lines = [line.as_bytes()];
        let hostile = CorsRequest::new(b"OPTIONS")
            .origin(b"https://app.example.com")
            .request_method(b"PUT")
            .request_headers(&lines);
        assert!(!cors.decide(&hostile).is_allowed());
        // A real browser keeps sending its usual preflight in between.
        if i % 16 == 0 {
            assert!(cors.decide(&good_request).is_allowed());
        }
        if i % 10_000 == 0 {
            assert!(cors.verdict_cache_usage().0 <= capacity);
        }
    }
    let (used, capacity) = cors.verdict_cache_usage();
    assert!(used <= capacity, "{used} > {capacity}");
    assert!(
        used > capacity / 2,
        "the flood should have filled the table: {used}"
    );
    assert!(cors.decide(&good_request).is_allowed());
}
