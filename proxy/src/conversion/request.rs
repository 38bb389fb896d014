//! The client's request on its way to an upstream of another format.
//!
//! Decoding happens at most once per request, and only when the failover loop first reaches
//! a candidate of another format: a request served in its own format never pays for it.
//! Encoding happens per candidate, because each may have another format and another
//! upstream model name.

use std::sync::{Arc, Mutex, PoisonError};

use http::{HeaderMap, HeaderName, HeaderValue};

use super::{ConversionError, Step, settle};
use crate::plugin_host::Plugin;
use crate::plugin_host::bindings::types::{ChatRequest, EncodedRequest, RequestHead};

/// The client's request, with its IR form made on first use.
///
/// The IR is kept behind a lock, not a `OnceLock`, so that each candidate's upstream model
/// name can be written into it in place: a renamed model used to mean a copy of the whole
/// IR per candidate, which for a long conversation is a copy of most of the request. The
/// lock is only ever taken by the request's own task, for the length of one plugin call.
#[derive(Debug)]
pub struct ClientRequest {
    plugin: Arc<Plugin>,
    head: RequestHead,
    body: bytes::Bytes,
    ir: Mutex<Option<Result<ChatRequest, ConversionError>>>,
}

/// A request ready for an upstream of another format.
#[derive(Debug)]
pub struct Encoded {
    /// The path (and query) the upstream's plugin chose.
    pub path: String,
    /// Headers the upstream's format needs (beta flags and the like).
    pub headers: HeaderMap,
    /// The body.
    pub body: bytes::Bytes,
}

impl ClientRequest {
    /// A request read by `plugin` (the client format's) when first needed.
    pub fn new(plugin: Arc<Plugin>, head: RequestHead, body: bytes::Bytes) -> Self {
        ClientRequest {
            plugin,
            head,
            body,
            ir: Mutex::new(None),
        }
    }

    /// Runs `f` on the request in the IR, decoding it on the first call.
    fn with_ir<T>(&self, f: impl FnOnce(&mut ChatRequest) -> T) -> Result<T, ConversionError> {
        // A panic in a plugin call leaves nothing half-written here: the IR is decoded whole
        // or not at all, and the model name is rewritten before each use.
        let mut slot = self.ir.lock().unwrap_or_else(PoisonError::into_inner);
        let ir =
            slot.get_or_insert_with(|| settle(Step::DecodeRequest, self.plugin.decode_request(&self.head, &self.body)));
        ir.as_mut().map(f).map_err(|e| e.clone())
    }

    /// A copy of the request in the IR, for the plugins' self-test; the request path never
    /// copies it. Its model is the client's until [`ClientRequest::encode`] renames it.
    pub fn ir(&self) -> Result<ChatRequest, ConversionError> {
        self.with_ir(|ir| ir.clone())
    }

    /// The request encoded by `upstream` (a plugin of another format) for `upstream_model`.
    pub fn encode(&self, upstream: &Plugin, upstream_model: &str) -> Result<Encoded, ConversionError> {
        let encoded = self.with_ir(|ir| {
            if ir.model != upstream_model {
                upstream_model.clone_into(&mut ir.model);
            }
            upstream.encode_request(ir)
        })?;
        let EncodedRequest { path, headers, body } = settle(Step::EncodeRequest, encoded)?;
        // The path goes to the upstream as it is: one that could mean another path (a `..`
        // segment, an unescaped space, `#`, a control character) is refused.
        if let Err(e) = aether_plugin_sdk::path::check(&path) {
            return Err(ConversionError::Plugin {
                step: Step::EncodeRequest,
                error: upstream.bad_output(format!("unsafe upstream path: {e}")),
            });
        }
        let mut map = HeaderMap::with_capacity(headers.len());
        for h in headers {
            // A header the plugin spelled wrongly is its bug; leaving it out beats failing.
            // Framing, hop-by-hop and credential headers are the host's alone.
            let Ok(name) = HeaderName::try_from(h.name) else {
                continue;
            };
            if crate::headers::is_hop_by_hop(name.as_str()) || crate::headers::is_credential(name.as_str()) {
                continue;
            }
            if let Ok(value) = HeaderValue::try_from(h.value) {
                map.append(name, value);
            }
        }
        Ok(Encoded {
            path,
            headers: map,
            body: body.into(),
        })
    }
}
