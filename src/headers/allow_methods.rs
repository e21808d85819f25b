//! `Access-Control-Allow-Methods`: the configured list rendered once, `*` without credentials,
//! or — with credentials and `*` — the requested method echoed (normalised).

use super::{HeaderValueRef, Rendered, ResponseHeader};
use crate::policy::Policy;

#[derive(Debug)]
pub(crate) enum AllowMethods {
    /// `methods = []`: only the safelisted methods, which need no header.
    Nothing,
    /// The configured list, or `*`.
    Rendered(Rendered),
    /// Credentials with `*`: echo the requested method.
    Echo,
}

impl AllowMethods {
    pub(crate) fn new(policy: &Policy) -> AllowMethods {
        let methods = policy.methods();
        if methods.is_any() {
            if policy.credentials() {
                AllowMethods::Echo
            } else {
                AllowMethods::Rendered(Rendered::new(ResponseHeader::AllowMethods, "*"))
            }
        } else if methods.list().is_empty() {
            AllowMethods::Nothing
        } else {
            AllowMethods::Rendered(Rendered::new(
                ResponseHeader::AllowMethods,
                &methods.list().join(","),
            ))
        }
    }

    /// `requested` is the normalised `Access-Control-Request-Method`.
    pub(crate) fn value<'a>(&'a self, requested: &'a [u8]) -> Option<HeaderValueRef<'a>> {
        match self {
            AllowMethods::Nothing => None,
            AllowMethods::Rendered(r) => Some(HeaderValueRef::rendered(r)),
            AllowMethods::Echo => Some(HeaderValueRef::echo(requested, None)),
        }
    }
}
