//! What `serve` does with each decision besides applying it: the rejection log and the shadow
//! comparison (`corsgate::layer::DecisionObserver`). Installed only when one of them is on.

use corsgate::layer::DecisionObserver;
use corsgate::{CorsRequest, Decision};

use super::rejections::Rejections;
use super::shadow::Shadowing;

pub struct Observer {
    pub rejections: Option<&'static Rejections>,
    pub shadow: Option<&'static Shadowing>,
}

impl DecisionObserver for Observer {
    fn observe(&self, request: &CorsRequest<'_>, decision: &Decision<'_, '_>) {
        if let Some(rejections) = self.rejections {
            rejections.observe(request, decision);
        }
        if let Some(shadow) = self.shadow {
            shadow.observe(request, decision);
        }
    }
}
