//! `Access-Control-Expose-Headers`: the configured names (or `*` without credentials), rendered
//! once; absent when nothing is exposed.

use super::{HeaderValueRef, Rendered, ResponseHeader};
use crate::policy::Policy;

#[derive(Debug)]
pub(crate) struct ExposeHeaders(Option<Rendered>);

impl ExposeHeaders {
    pub(crate) fn new(policy: &Policy) -> ExposeHeaders {
        let exposed = policy.expose_headers();
        let value = if exposed.is_any() {
            Some("*".to_owned())
        } else if exposed.list().is_empty() {
            None
        } else {
            Some(exposed.list().join(","))
        };
        ExposeHeaders(value.map(|v| Rendered::new(ResponseHeader::ExposeHeaders, &v)))
    }

    pub(crate) fn value(&self) -> Option<HeaderValueRef<'_>> {
        self.0.as_ref().map(HeaderValueRef::rendered)
    }
}
