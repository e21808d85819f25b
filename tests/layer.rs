//! `CorsLayer` in front of a real axum server on loopback, spoken to over HTTP/1.

mod support;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::routing::{get, options};
use axum::Router;
use corsgate::layer::CorsLayer;
use corsgate::{Cors, Policy};
use http::Method;

struct Server {
    address: SocketAddr,
    inner_options_calls: Arc<AtomicUsize>,
    cors: Arc<Cors>,
}

async fn start(policy: Policy) -> Server {
    let cors = Arc::new(Cors::new(policy));
    let calls = Arc::new(AtomicUsize::new(0));
    let counted = calls.clone();
    let app = Router::new()
        .route(
            "/ok",
            get(|| async {
                (
                    [
                        ("vary", "Accept-Encoding"),
                        ("access-control-allow-origin", "*"),
                        ("access-control-max-age", "99999"),
                    ],
                    "ok",
                )
            }),
        )
        .route(
            "/fail",
            get(|| async { (StatusCode::INTERNAL_SERVER_ERROR, "boom").into_response() }),
        )
        .route(
            "/options",
            options(move || {
                counted.fetch_add(1, Ordering::SeqCst);
                async { (StatusCode::IM_A_TEAPOT, "inner saw the preflight") }
            }),
        )
        .layer(CorsLayer::new(cors.clone()));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
    });
    Server {
        address,
        inner_options_calls: calls,
        cors,
    }
}

async fn send(
    server: &Server,
    method: Method,
    path: &str,
    headers: &[(&str, &str)],
) -> (StatusCode, HeaderMap, String) {
    support::http_client::send(&format!("http://{}{path}", server.address), method, headers).await
}

fn values(headers: &HeaderMap, name: &str) -> Vec<String> {
    headers
        .get_all(name)
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect()
}

fn policy() -> Policy {
    Policy::builder()
        .origins(["https://app.example.com"])
        .methods(["GET", "PUT"])
        .allow_headers(["x-token"])
        .expose_headers(["x-request-id"])
        .credentials(true)
        .max_age(600)
        .build()
        .unwrap()
}

const ORIGIN: (&str, &str) = ("origin", "https://app.example.com");

#[tokio::test]
async fn preflights_are_answered_and_never_reach_the_inner_service() {
    let server = start(policy()).await;
    let (status, headers, body) = send(
        &server,
        Method::OPTIONS,
        "/options",
        &[
            ORIGIN,
            ("access-control-request-method", "PUT"),
            ("access-control-request-headers", "x-token"),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(body, "");
    assert_eq!(
        values(&headers, "access-control-allow-origin"),
        ["https://app.example.com"]
    );
    assert_eq!(
        values(&headers, "access-control-allow-methods"),
        ["GET,PUT"]
    );
    assert_eq!(
        values(&headers, "access-control-allow-headers"),
        ["x-token"]
    );
    assert_eq!(values(&headers, "access-control-max-age"), ["600"]);
    assert_eq!(
        values(&headers, "vary"),
        ["Origin, Access-Control-Request-Method, Access-Control-Request-Headers"]
    );

    // Denied: 403 from corsgate, still not forwarded.
    let (status, headers, _) = send(
        &server,
        Method::OPTIONS,
        "/options",
        &[ORIGIN, ("access-control-request-method", "DELETE")],
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(headers.get("access-control-allow-origin").is_none());
    assert_eq!(
        values(&headers, "vary"),
        ["Origin, Access-Control-Request-Method, Access-Control-Request-Headers"]
    );
    let (status, _, _) = send(
        &server,
        Method::OPTIONS,
        "/options",
        &[
            ("origin", "https://evil.example"),
            ("access-control-request-method", "GET"),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(server.inner_options_calls.load(Ordering::SeqCst), 0);

    // An OPTIONS without Access-Control-Request-Method is an actual request: forwarded.
    let (status, headers, body) = send(&server, Method::OPTIONS, "/options", &[ORIGIN]).await;
    assert_eq!(
        (status, body.as_str()),
        (StatusCode::IM_A_TEAPOT, "inner saw the preflight")
    );
    assert_eq!(
        values(&headers, "access-control-allow-origin"),
        ["https://app.example.com"]
    );
    assert_eq!(server.inner_options_calls.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn actual_responses_get_the_decision_applied() {
    let server = start(policy()).await;
    let (status, headers, body) = send(&server, Method::GET, "/ok", &[ORIGIN]).await;
    assert_eq!((status, body.as_str()), (StatusCode::OK, "ok"));
    // The upstream's `*` and its max-age are replaced, never duplicated.
    assert_eq!(
        values(&headers, "access-control-allow-origin"),
        ["https://app.example.com"]
    );
    assert!(headers.get("access-control-max-age").is_none());
    assert_eq!(
        values(&headers, "access-control-allow-credentials"),
        ["true"]
    );
    assert_eq!(
        values(&headers, "access-control-expose-headers"),
        ["x-request-id"]
    );
    // Vary merged with the inner service's, as one field line.
    assert_eq!(values(&headers, "vary"), ["Accept-Encoding, Origin"]);

    // Denied origin: forwarded, no CORS headers at all (the upstream's are removed), Vary.
    let (status, headers, _) = send(
        &server,
        Method::GET,
        "/ok",
        &[("origin", "https://evil.example")],
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        headers
            .keys()
            .all(|k| !k.as_str().starts_with("access-control-")),
        "{headers:?}"
    );
    assert_eq!(values(&headers, "vary"), ["Accept-Encoding, Origin"]);

    // Not CORS: Vary: Origin still, because the answer depends on the Origin.
    let (_, headers, _) = send(&server, Method::GET, "/ok", &[]).await;
    assert_eq!(values(&headers, "vary"), ["Accept-Encoding, Origin"]);
}

#[tokio::test]
async fn error_responses_carry_cors_headers() {
    let server = start(policy()).await;
    let (status, headers, body) = send(&server, Method::GET, "/fail", &[ORIGIN]).await;
    assert_eq!(
        (status, body.as_str()),
        (StatusCode::INTERNAL_SERVER_ERROR, "boom")
    );
    assert_eq!(
        values(&headers, "access-control-allow-origin"),
        ["https://app.example.com"]
    );
    assert_eq!(values(&headers, "vary"), ["Origin"]);
    // A 404 from the router too.
    let (status, headers, _) = send(&server, Method::GET, "/missing", &[ORIGIN]).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(
        values(&headers, "access-control-allow-origin"),
        ["https://app.example.com"]
    );
}

#[tokio::test]
async fn passthrough_forwards_denied_preflights() {
    let mut b = Policy::builder();
    b.origins(["https://app.example.com"])
        .preflight_passthrough(true);
    let server = start(b.build().unwrap()).await;
    let (status, headers, _) = send(
        &server,
        Method::OPTIONS,
        "/options",
        &[ORIGIN, ("access-control-request-method", "DELETE")],
    )
    .await;
    assert_eq!(status, StatusCode::IM_A_TEAPOT);
    assert_eq!(
        values(&headers, "vary"),
        ["Origin, Access-Control-Request-Method, Access-Control-Request-Headers"]
    );
    assert_eq!(server.inner_options_calls.load(Ordering::SeqCst), 1);
    // Allowed preflights are still answered by corsgate.
    let (status, _, _) = send(
        &server,
        Method::OPTIONS,
        "/options",
        &[ORIGIN, ("access-control-request-method", "GET")],
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(server.inner_options_calls.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_reload_changes_the_next_request() {
    let server = start(policy()).await;
    let (_, headers, _) = send(
        &server,
        Method::GET,
        "/ok",
        &[("origin", "https://new.example.com")],
    )
    .await;
    assert!(headers.get("access-control-allow-origin").is_none());
    server
        .cors
        .reload(Policy::new(["https://new.example.com"]).unwrap());
    let (_, headers, _) = send(
        &server,
        Method::GET,
        "/ok",
        &[("origin", "https://new.example.com")],
    )
    .await;
    assert_eq!(
        values(&headers, "access-control-allow-origin"),
        ["https://new.example.com"]
    );
}

/// A policy set through the layer: the request's Host and URI choose the policy, and an `off`
/// route leaves the inner service's response exactly as it was, its own CORS headers included.
#[tokio::test]
async fn a_policy_set_chooses_by_host_and_path_and_off_leaves_the_response_alone() {
    use corsgate::{PolicySet, RouteBuilder};
    use tower::ServiceExt;

    let mut default = Policy::builder();
    default.origins(["https://app.example"]);
    let mut public = Policy::builder();
    public.origins(["*"]);
    let set = PolicySet::builder(default)
        .policy("public", public)
        .route(
            RouteBuilder::new("public")
                .hosts(["api.example"])
                .path_prefix("/public"),
        )
        .route(RouteBuilder::new("off").hosts(["*.internal.example"]))
        .build()
        .unwrap();
    let cors = Arc::new(Cors::with_set(set));
    let inner = tower::service_fn(|_req: http::Request<String>| async {
        Ok::<_, std::convert::Infallible>(
            http::Response::builder()
                .header("access-control-allow-origin", "https://inner.example")
                .header("vary", "Cookie")
                .body(String::new())
                .unwrap(),
        )
    });
    let service = tower::ServiceBuilder::new()
        .layer(CorsLayer::new(cors))
        .service(inner);
    let call = |host: &'static str, uri: &'static str| {
        let service = service.clone();
        async move {
            let request = http::Request::get(uri)
                .header("host", host)
                .header("origin", "https://anyone.example")
                .body(String::new())
                .unwrap();
            let response = service.oneshot(request).await.unwrap();
            let header = |name: &str| {
                response
                    .headers()
                    .get_all(name)
                    .iter()
                    .map(|v| v.to_str().unwrap().to_owned())
                    .collect::<Vec<_>>()
            };
            (header("access-control-allow-origin"), header("vary"))
        }
    };
    // The public prefix: `*` replaces the inner service's value.
    assert_eq!(call("api.example", "/public/x").await.0, ["*"]);
    // /publicity is not under /public: the default policy refuses, the inner value is removed.
    let (acao, vary) = call("api.example", "/publicity").await;
    assert!(acao.is_empty());
    assert_eq!(vary, ["Cookie, Origin"]);
    // An absolute-form URI's authority wins over Host.
    assert_eq!(
        call("elsewhere.example", "http://api.example/public/x")
            .await
            .0,
        ["*"]
    );
    // `off`: untouched.
    let (acao, vary) = call("a.b.internal.example:8443", "/anything").await;
    assert_eq!(acao, ["https://inner.example"]);
    assert_eq!(vary, ["Cookie"]);
}
