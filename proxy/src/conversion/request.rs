//! The client's request on its way to an upstream of another format.
//!
//! Decoding happens at most once per request, and only when the failover loop first reaches
//! a candidate of another format: a request served in its own format never pays for it.
//! Encoding happens per candidate, because each may have another format and another
//! upstream model name.

use std::sync::{Arc, OnceLock};

use http::{HeaderMap, HeaderName, HeaderValue};

use super::{ConversionError, Step, settle};
use crate::plugin_host::Plugin;
use crate::plugin_host::bindings::types::{ChatRequest, EncodedRequest, RequestHead};

/// The client's request, with its IR form made on first use.
#[derive(Debug)]
pub struct ClientRequest {
    plugin: Arc<Plugin>,
    head: RequestHead,
    body: bytes::Bytes,
    ir: OnceLock<Result<ChatRequest, ConversionError>>,
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
            ir: OnceLock::new(),
        }
    }

    /// The request in the IR (decoded on the first call).
    pub fn ir(&self) -> Result<&ChatRequest, ConversionError> {
        self.ir
            .get_or_init(|| settle(Step::DecodeRequest, self.plugin.decode_request(&self.head, &self.body)))
            .as_ref()
            .map_err(Clone::clone)
    }

    /// The request encoded by `upstream` (a plugin of another format) for `upstream_model`.
    pub fn encode(&self, upstream: &Plugin, upstream_model: &str) -> Result<Encoded, ConversionError> {
        let ir = self.ir()?;
        let encoded = if ir.model == upstream_model {
            upstream.encode_request(ir)
        } else {
            let mut renamed = ir.clone();
            renamed.model = upstream_model.to_owned();
            upstream.encode_request(&renamed)
        };
        let EncodedRequest { path, headers, body } = settle(Step::EncodeRequest, encoded)?;
        let mut map = HeaderMap::with_capacity(headers.len());
        for h in headers {
            // A header the plugin spelled wrongly is its bug; leaving it out beats failing.
            if let (Ok(name), Ok(value)) = (HeaderName::try_from(h.name), HeaderValue::try_from(h.value)) {
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
