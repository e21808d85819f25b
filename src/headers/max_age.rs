//! `Access-Control-Max-Age`: absent when unset (browsers then cache a preflight for 5 s), else
//! the configured seconds, `0` included.

use super::{HeaderValueRef, Rendered, ResponseHeader};
use crate::policy::Policy;

#[derive(Debug)]
pub(crate) struct MaxAge(Option<Rendered>);

impl MaxAge {
    pub(crate) fn new(policy: &Policy) -> MaxAge {
        MaxAge(
            policy
                .max_age()
                .map(|s| Rendered::new(ResponseHeader::MaxAge, &s.to_string())),
        )
    }

    pub(crate) fn value(&self) -> Option<HeaderValueRef<'_>> {
        self.0.as_ref().map(HeaderValueRef::rendered)
    }
}
