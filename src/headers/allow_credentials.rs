//! `Access-Control-Allow-Credentials: true`, only for policies with credentials.

use super::{HeaderValueRef, Rendered, ResponseHeader};
use crate::policy::Policy;

#[derive(Debug)]
pub(crate) struct AllowCredentials(Option<Rendered>);

impl AllowCredentials {
    pub(crate) fn new(policy: &Policy) -> AllowCredentials {
        AllowCredentials(
            policy
                .credentials()
                .then(|| Rendered::new(ResponseHeader::AllowCredentials, "true")),
        )
    }

    pub(crate) fn value(&self) -> Option<HeaderValueRef<'_>> {
        self.0.as_ref().map(HeaderValueRef::rendered)
    }
}
