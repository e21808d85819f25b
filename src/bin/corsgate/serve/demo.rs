//! The demo API `serve` answers without `--upstream`: enough for a page to try simple and
//! preflighted requests (`GET /api/users`, `GET|PUT|DELETE /api/users/{id}`).

use bytes::Bytes;
use http::header::{self, HeaderValue};
use http::{Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, LengthLimitError, Limited};

use super::bodies::{full, BoxedBody, RequestBody};

/// Largest body `PUT /api/users/{id}` reads.
const MAX_BODY: usize = 1 << 20;

pub fn json(status: StatusCode, value: serde_json::Value) -> Response<BoxedBody> {
    let mut response = Response::new(full(value.to_string()));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

pub async fn demo(request: Request<RequestBody>) -> Response<BoxedBody> {
    let path = request.uri().path().to_owned();
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    let mut response = match (request.method().clone(), segments.as_slice()) {
        (Method::GET, ["api", "users"]) => json(
            StatusCode::OK,
            serde_json::json!([{"id": 1, "name": "Ada"}, {"id": 2, "name": "Grace"}]),
        ),
        (Method::GET, ["api", "users", id]) => match id.parse::<u64>() {
            Ok(id) => json(StatusCode::OK, serde_json::json!({"id": id, "name": "Ada"})),
            Err(_) => json(
                StatusCode::NOT_FOUND,
                serde_json::json!({"error": "no such user"}),
            ),
        },
        (Method::PUT, ["api", "users", id]) => {
            let id = id.to_string();
            match Limited::new(request.into_body(), MAX_BODY).collect().await {
                Ok(body) => {
                    let body = body.to_bytes();
                    let parsed: serde_json::Value =
                        serde_json::from_slice(&body).unwrap_or(serde_json::Value::Null);
                    json(
                        StatusCode::OK,
                        serde_json::json!({"id": id, "updated": parsed}),
                    )
                }
                Err(e) if e.is::<LengthLimitError>() => json(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    serde_json::json!({"error": "body over 1 MiB"}),
                ),
                // The body stalled past --io-timeout, or the client went away.
                Err(_) => json(
                    StatusCode::REQUEST_TIMEOUT,
                    serde_json::json!({"error": "the request body did not arrive"}),
                ),
            }
        }
        (Method::DELETE, ["api", "users", _]) => {
            let mut r = Response::new(full(Bytes::new()));
            *r.status_mut() = StatusCode::NO_CONTENT;
            r
        }
        _ => json(
            StatusCode::NOT_FOUND,
            serde_json::json!({"error": "not found", "path": path}),
        ),
    };
    let headers = response.headers_mut();
    headers.insert("x-request-id", HeaderValue::from_static("demo-1"));
    // A header no example policy exposes: pages cannot read it.
    headers.insert("x-demo-version", HeaderValue::from_static("1"));
    response
}
