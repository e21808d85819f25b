//! `Access-Control-Allow-Headers`, sent only when a preflight requested headers: the configured
//! list rendered once, `*` or `*,authorization` without credentials, or — with credentials and
//! `*` — the request's list echoed once every name in it is allowed.

use super::{HeaderValueRef, Rendered, ResponseHeader};
use crate::policy::Policy;
use crate::request::Lines;

#[derive(Debug)]
pub(crate) enum AllowHeaders {
    Rendered(Rendered),
    Echo,
}

impl AllowHeaders {
    pub(crate) fn new(policy: &Policy) -> AllowHeaders {
        let headers = policy.allow_headers();
        if headers.is_any() {
            if policy.credentials() {
                AllowHeaders::Echo
            } else if headers.lists_authorization() {
                AllowHeaders::Rendered(Rendered::new(
                    ResponseHeader::AllowHeaders,
                    "*,authorization",
                ))
            } else {
                AllowHeaders::Rendered(Rendered::new(ResponseHeader::AllowHeaders, "*"))
            }
        } else {
            AllowHeaders::Rendered(Rendered::new(
                ResponseHeader::AllowHeaders,
                &headers.list().join(","),
            ))
        }
    }

    pub(crate) fn value<'a>(&'a self, requested: Lines<'a>) -> HeaderValueRef<'a> {
        match self {
            AllowHeaders::Rendered(r) => HeaderValueRef::rendered(r),
            AllowHeaders::Echo => HeaderValueRef::echo_lines(requested),
        }
    }
}
