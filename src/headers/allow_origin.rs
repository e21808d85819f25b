//! `Access-Control-Allow-Origin`: `*` (rendered once) or the request's Origin bytes, echoed
//! exactly.

use super::{HeaderValueRef, Rendered, ResponseHeader};
use crate::request::Line;

#[derive(Debug)]
pub(crate) struct AllowOrigin {
    any: Rendered,
}

impl AllowOrigin {
    pub(crate) fn new() -> AllowOrigin {
        AllowOrigin {
            any: Rendered::new(ResponseHeader::AllowOrigin, "*"),
        }
    }

    pub(crate) fn any(&self) -> HeaderValueRef<'_> {
        HeaderValueRef::rendered(&self.any)
    }

    pub(crate) fn echo<'r>(origin: Line<'r>) -> HeaderValueRef<'r> {
        HeaderValueRef::echo(origin.bytes, origin.value)
    }
}
