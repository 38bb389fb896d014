//! An upstream stream on its way to a client of another format, converted as it arrives.
//!
//! Each block of whole upstream SSE events (what one read from the upstream yields) goes
//! through the upstream plugin's stream decoder one event at a time; the IR events they
//! yield go to the client plugin's stream encoder in one call, and its bytes go to the
//! client. Nothing waits for the end of the stream. Both resources live in their plugins'
//! shard instances for the stream's whole life, on the plugin versions that were active
//! when the stream began.

use std::sync::Arc;

use super::{ConversionError, Step, settle};
use crate::plugin_host::bindings::types::{ErrorInfo, SseEvent, StreamEvent};
use crate::plugin_host::{Plugin, StreamResource};
use crate::sse;

/// One stream's decoder and encoder.
#[derive(Debug)]
pub struct StreamConverter {
    decoder: StreamResource,
    encoder: StreamResource,
    /// IR events of the current block, kept to reuse the allocation.
    pending: Vec<StreamEvent>,
}

impl StreamConverter {
    /// A converter from `upstream`'s format to `client`'s, whose events report `client_model`.
    pub fn open(upstream: &Arc<Plugin>, client: &Arc<Plugin>, client_model: &str) -> Result<Self, ConversionError> {
        let decoder = upstream
            .open_stream_decoder()
            .map_err(|error| ConversionError::Plugin {
                step: Step::DecodeStream,
                error,
            })?;
        let encoder = client
            .open_stream_encoder(client_model)
            .map_err(|error| ConversionError::Plugin {
                step: Step::EncodeStream,
                error,
            })?;
        Ok(StreamConverter {
            decoder,
            encoder,
            pending: Vec::new(),
        })
    }

    /// Converts a block of whole upstream events; the client's bytes (possibly none).
    pub fn push_block(&mut self, block: &[u8]) -> Result<Vec<u8>, ConversionError> {
        for event in sse::events(block) {
            let event = SseEvent {
                name: event.name.map(str::to_owned),
                data: event.data.into_owned(),
            };
            self.push_event(&event)?;
        }
        self.flush()
    }

    /// Decodes one upstream event; its IR events wait for [`StreamConverter::flush`].
    pub fn push_event(&mut self, event: &SseEvent) -> Result<(), ConversionError> {
        let events = settle(Step::DecodeStream, self.decoder.decode_push(event))?;
        self.pending.extend(events);
        Ok(())
    }

    /// Encodes the IR events decoded since the last flush.
    pub fn flush(&mut self) -> Result<Vec<u8>, ConversionError> {
        if self.pending.is_empty() {
            return Ok(Vec::new());
        }
        let out = settle(Step::EncodeStream, self.encoder.encode_push(&self.pending));
        self.pending.clear();
        out
    }

    /// The upstream stream ended: what the decoder still had, and the encoder's closing
    /// bytes.
    pub fn finish(&mut self) -> Result<Vec<u8>, ConversionError> {
        let events = settle(Step::DecodeStream, self.decoder.decode_finish())?;
        self.pending.extend(events);
        let mut out = self.flush()?;
        out.extend(settle(Step::EncodeStream, self.encoder.encode_finish())?);
        Ok(out)
    }

    /// The upstream broke: the client's error event, rendered by the encoder so it fits
    /// the stream so far (a Responses stream still begins with `response.created`).
    pub fn fail(&mut self, info: ErrorInfo) -> Result<Vec<u8>, ConversionError> {
        self.pending.clear();
        self.pending.push(StreamEvent::Error(info));
        self.flush()
    }
}
