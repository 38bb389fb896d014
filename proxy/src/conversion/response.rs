//! A whole upstream answer on its way back to a client of another format: a success through
//! the IR, an error re-rendered in the client's shape under the same status.

use super::{ConversionError, Step, settle};
use crate::plugin_host::Plugin;
use crate::plugin_host::bindings::types::Usage;

/// A successful upstream body as the client's format, reporting `client_model`; and the
/// usage the upstream plugin read while decoding it (the usage tap's buckets, so the body
/// is not parsed a second time for billing).
pub fn success(
    upstream: &Plugin,
    client: &Plugin,
    client_model: &str,
    body: &[u8],
) -> Result<(Vec<u8>, Usage), ConversionError> {
    let mut ir = settle(Step::DecodeResponse, upstream.decode_response(body))?;
    client_model.clone_into(&mut ir.model);
    let converted = settle(Step::EncodeResponse, client.encode_response(&ir))?;
    Ok((converted, ir.usage))
}

/// An upstream error body (`status` is its HTTP status) in the client's error shape. The
/// status stays; the class and message come from the upstream plugin's reading of the body.
pub fn error(upstream: &Plugin, client: &Plugin, status: u16, body: &[u8]) -> Result<Vec<u8>, ConversionError> {
    let info = upstream
        .decode_error(status, body)
        .map_err(|error| ConversionError::Plugin {
            step: Step::DecodeResponse,
            error,
        })?;
    client.error_body(&info).map_err(|error| ConversionError::Plugin {
        step: Step::EncodeResponse,
        error,
    })
}
