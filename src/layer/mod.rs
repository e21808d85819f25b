//! [`CorsLayer`] and [`CorsService`] (feature `tower`): corsgate in front of any tower
//! service — axum routers, hyper services, proxies.
//!
//! Each request takes one snapshot of the serving generation, decides, and lets the snapshot go
//! before anything is awaited: a preflight corsgate answers is returned at once (the inner
//! service never sees it, unless the policy forwards denied preflights); everything else goes to
//! the inner service with the decision's headers held as owned values (four at most, no heap
//! allocation), applied to the response when it arrives — error responses included.
//! corsgate's `Access-Control-*` headers replace any the inner service set; `Vary` is merged
//! with the inner service's into one field line (each name once), since caches such as nginx
//! before 1.23 key on the last `Vary` line alone.
//!
//! With a policy set (design §8), the request's URI and `Host` choose the route: the URI's
//! authority when it has one (absolute form, HTTP/2), else `Host`; the path raw, never decoded.
//! **Put the layer after your own path normalisation** (or refuse paths with `.`/`..` segments
//! and percent-encoded `.`, `/` and `\`, as `corsgate serve` does): otherwise a request for
//! `/public/../admin` is decided by the `/public` route while the application serves `/admin`.
//! A request on an `off` route passes through untouched.
//!
//! Two more things a layer can do, for operating a policy on live traffic (design §9):
//! - **observe every decision** ([`CorsLayer::observe`]): a [`DecisionObserver`] is called
//!   with each request and its decision before the response — a [`ShadowCors`] comparing a
//!   shadow policy, a rejection log;
//! - **report only** ([`CorsLayer::report_only`]): decide and count, but change no response
//!   (preflights go to the inner service, and its `Access-Control-*` headers pass through);
//!   [`ReportOnly`] compares what a browser concludes from the inner service's response with
//!   what it would conclude from corsgate's, and counts where they differ.
//!
//! # Example: axum
//! ```
//! use std::sync::Arc;
//! use corsgate::{layer::CorsLayer, Cors, Policy};
//!
//! let cors = Arc::new(Cors::new(Policy::new(["https://app.example.com"])?));
//! let app: axum::Router = axum::Router::new()
//!     .route("/api", axum::routing::get(|| async { "hello" }))
//!     .layer(CorsLayer::new(cors.clone()));
//! // Later: cors.reload(new_policy) — the router keeps serving, with the new policy.
//! # Ok::<(), corsgate::PolicyError>(())
//! ```

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use http::{Request, Response};
use pin_project_lite::pin_project;
use tower_layer::Layer;
use tower_service::Service;

use crate::decision::Decision;
use crate::engine::Cors;
use crate::owned_headers::ForwardHeaders;
use crate::policy::Policy;
use crate::request::CorsRequest;
use crate::shadow::ShadowCors;

mod report_only;

pub use report_only::{ReportOnly, ReportedDisagreement};

/// Called by a [`CorsService`] with every request and the decision made for it, before the
/// response. Runs on the request path: keep it cheap and never block.
pub trait DecisionObserver: Send + Sync + 'static {
    /// One request and its decision.
    fn observe(&self, request: &CorsRequest<'_>, decision: &Decision<'_, '_>);
}

/// Compares the shadow policy's decision with every decision the layer makes.
impl DecisionObserver for ShadowCors {
    fn observe(&self, request: &CorsRequest<'_>, decision: &Decision<'_, '_>) {
        let _ = self.compare(request, decision);
    }
}

/// What a layer does besides deciding: shared by every clone of its service.
#[derive(Clone, Default)]
struct Extras {
    observer: Option<Arc<dyn DecisionObserver>>,
    report_only: Option<Arc<ReportOnly>>,
}

impl std::fmt::Debug for Extras {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Extras")
            .field("observer", &self.observer.is_some())
            .field("report_only", &self.report_only.is_some())
            .finish()
    }
}

/// Applies a [`Cors`] handle's decisions to a service. Cheap to clone: it shares the handle.
#[derive(Clone, Debug)]
pub struct CorsLayer {
    cors: Arc<Cors>,
    extras: Extras,
}

impl CorsLayer {
    /// A layer over a shared handle; reload the handle to change the policy.
    pub fn new(cors: Arc<Cors>) -> CorsLayer {
        CorsLayer {
            cors,
            extras: Extras::default(),
        }
    }

    /// Calls `observer` with every request and its decision (a [`ShadowCors`], say; for
    /// several, write one observer that calls each).
    pub fn observe(mut self, observer: Arc<dyn DecisionObserver>) -> CorsLayer {
        self.extras.observer = Some(observer);
        self
    }

    /// Decides and counts every request, but changes no response: preflights go to the inner
    /// service like any request, and its headers pass through untouched; `report` counts the
    /// responses where a browser would conclude something else from corsgate's headers.
    ///
    /// Each request with an `Origin` keeps its CORS fields and corsgate's conclusion until
    /// the response (a small allocation); requests without one cost what they cost before.
    pub fn report_only(mut self, report: Arc<ReportOnly>) -> CorsLayer {
        self.extras.report_only = Some(report);
        self
    }

    /// A layer over a fixed policy.
    pub fn from_policy(policy: Policy) -> CorsLayer {
        CorsLayer::new(Arc::new(Cors::new(policy)))
    }

    /// The handle this layer decides with.
    pub fn cors(&self) -> &Arc<Cors> {
        &self.cors
    }
}

impl<S> Layer<S> for CorsLayer {
    type Service = CorsService<S>;

    fn layer(&self, inner: S) -> CorsService<S> {
        CorsService {
            inner,
            cors: self.cors.clone(),
            extras: self.extras.clone(),
        }
    }
}

/// The service [`CorsLayer`] produces.
#[derive(Clone, Debug)]
pub struct CorsService<S> {
    inner: S,
    cors: Arc<Cors>,
    extras: Extras,
}

impl<S> CorsService<S> {
    /// Wraps `inner`.
    pub fn new(inner: S, cors: Arc<Cors>) -> CorsService<S> {
        CorsService {
            inner,
            cors,
            extras: Extras::default(),
        }
    }

    /// The wrapped service.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }
}

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for CorsService<S>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
    ResBody: Default,
{
    type Response = Response<ResBody>;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future, ResBody>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<ReqBody>) -> Self::Future {
        if let Some(report) = &self.extras.report_only {
            let pending = {
                let cors_request = CorsRequest::from_request(&request);
                let decision = self.cors.decide(&cors_request);
                if let Some(observer) = &self.extras.observer {
                    observer.observe(&cors_request, &decision);
                }
                report_only::Pending::new(report, &request, &cors_request, &decision)
            };
            return ResponseFuture {
                kind: Kind::Reported {
                    future: self.inner.call(request),
                    pending,
                },
            };
        }
        let headers = {
            let cors_request = CorsRequest::from_request(&request);
            let decision = self.cors.decide(&cors_request);
            if let Some(observer) = &self.extras.observer {
                observer.observe(&cors_request, &decision);
            }
            if let Some(response) = decision.preflight_response::<ResBody>() {
                return ResponseFuture {
                    kind: Kind::Answered {
                        response: Some(response),
                    },
                };
            }
            decision.forward_headers()
            // The decision, and with it the generation snapshot, ends here: nothing is held
            // across the inner service's await.
        };
        ResponseFuture {
            kind: Kind::Forwarded {
                future: self.inner.call(request),
                headers: Some(headers),
            },
        }
    }
}

pin_project! {
    /// The future of [`CorsService`].
    pub struct ResponseFuture<F, B> {
        #[pin]
        kind: Kind<F, B>,
    }
}

pin_project! {
    #[project = KindProj]
    enum Kind<F, B> {
        Answered { response: Option<Response<B>> },
        Forwarded { #[pin] future: F, headers: Option<ForwardHeaders> },
        Reported { #[pin] future: F, pending: Option<Box<report_only::Pending>> },
    }
}

impl<F, B, E> Future for ResponseFuture<F, B>
where
    F: Future<Output = Result<Response<B>, E>>,
{
    type Output = Result<Response<B>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project().kind.project() {
            KindProj::Answered { response } => match response.take() {
                Some(r) => Poll::Ready(Ok(r)),
                // Polled again after completion: a caller bug; never panic on the request path.
                None => Poll::Pending,
            },
            KindProj::Forwarded { future, headers } => {
                let mut response = match future.poll(cx) {
                    Poll::Pending => return Poll::Pending,
                    Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                    Poll::Ready(Ok(r)) => r,
                };
                if let Some(headers) = headers.take() {
                    headers.apply(response.headers_mut());
                }
                Poll::Ready(Ok(response))
            }
            KindProj::Reported { future, pending } => {
                let response = match future.poll(cx) {
                    Poll::Pending => return Poll::Pending,
                    Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                    Poll::Ready(Ok(r)) => r,
                };
                if let Some(pending) = pending.take() {
                    pending.finish(&response);
                }
                Poll::Ready(Ok(response))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use http::header::{HeaderMap, ACCESS_CONTROL_ALLOW_ORIGIN, ACCESS_CONTROL_MAX_AGE, VARY};
    use http::HeaderValue;

    use crate::{Cors, CorsRequest, Policy};

    /// The upstream responses the headers are applied to.
    fn upstreams() -> Vec<HeaderMap> {
        let mut plain = HeaderMap::new();
        plain.insert("content-type", HeaderValue::from_static("text/plain"));
        let mut guessed = plain.clone();
        guessed.insert(ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*"));
        guessed.insert(ACCESS_CONTROL_MAX_AGE, HeaderValue::from_static("5"));
        guessed.append(VARY, HeaderValue::from_static("Cookie"));
        guessed.append(VARY, HeaderValue::from_static("Accept-Encoding, origin"));
        let mut star = plain.clone();
        star.insert(VARY, HeaderValue::from_static("*"));
        vec![HeaderMap::new(), plain, guessed, star]
    }

    /// `ForwardHeaders`, the layer's specialised copy, applies exactly what the decision's own
    /// headers apply, for every request the layer forwards.
    #[test]
    fn forwarded_headers_equal_the_decisions() {
        let policies = [
            Policy::builder()
                .origins(["https://a.example", "https://*.b.example"])
                .expose_headers(["x-request-id"])
                .credentials(true)
                .build(),
            Policy::builder()
                .origins(["*"])
                .expose_headers(["x-trace"])
                .build(),
            Policy::builder()
                .origins(["*"])
                .credentials(true)
                .dangerously_reflect_any_origin_with_credentials(true)
                .build(),
            Policy::builder()
                .origins(["https://a.example"])
                .methods(["PUT"])
                .preflight_passthrough(true)
                .build(),
        ];
        // (method, Origin, Access-Control-Request-Method)
        type Request<'a> = (&'a [u8], Option<&'a [u8]>, Option<&'a [u8]>);
        let requests: [Request<'_>; 7] = [
            (b"GET", None, None),
            (b"GET", Some(b"https://a.example"), None),
            (b"POST", Some(b"https://x.b.example"), None),
            (b"GET", Some(b"https://evil.example"), None),
            (b"GET", Some(b"HTTPS://A.EXAMPLE"), None),
            (b"OPTIONS", Some(b"https://a.example"), Some(b"DELETE")),
            (b"OPTIONS", Some(b"https://evil.example"), Some(b"PUT")),
        ];
        let mut compared = 0;
        for policy in policies {
            let cors = Cors::new(policy.unwrap());
            for (method, origin, requested) in requests {
                let mut request = CorsRequest::new(method);
                if let Some(origin) = origin {
                    request = request.origin(origin);
                }
                if let Some(requested) = requested {
                    request = request.request_method(requested);
                }
                let decision = cors.decide(&request);
                if decision.preflight_response::<()>().is_some() {
                    continue;
                }
                for upstream in upstreams() {
                    let mut general = upstream.clone();
                    decision.apply(&mut general);
                    let mut owned = upstream.clone();
                    decision.to_response_headers().apply(&mut owned);
                    let mut forwarded = upstream;
                    decision.forward_headers().apply(&mut forwarded);
                    assert_eq!(forwarded, general, "{:?}", decision.explain());
                    assert_eq!(owned, general, "{:?}", decision.explain());
                    compared += 1;
                }
            }
        }
        assert!(compared > 60, "{compared}");
    }
}
