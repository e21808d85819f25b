//! `Access-Control-Allow-Private-Network: true`, sent only when the policy enables private
//! network access and the preflight asked for it.

use super::{HeaderValueRef, Rendered, ResponseHeader};

#[derive(Debug)]
pub(crate) struct AllowPrivateNetwork(Rendered);

impl AllowPrivateNetwork {
    pub(crate) fn new() -> AllowPrivateNetwork {
        AllowPrivateNetwork(Rendered::new(ResponseHeader::AllowPrivateNetwork, "true"))
    }

    pub(crate) fn value(&self) -> HeaderValueRef<'_> {
        HeaderValueRef::rendered(&self.0)
    }
}
