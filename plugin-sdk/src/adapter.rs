//! The glue between a [`FormatPlugin`] and the generated `Guest` traits: what
//! [`crate::export_plugin!`] exports. Plain safe Rust; it compiles natively too, which is how
//! the [`crate::harness`] drives a plugin's usage tap exactly as the host does.

use std::cell::RefCell;
use std::marker::PhantomData;

use crate::bindings::exports::aether::plugin::format::{Guest, GuestStreamDecoder, GuestStreamEncoder, GuestUsageTap};
use crate::types::{
    ChatRequest, ChatResponse, Decoded, Encoded, EncodedRequest, ErrorInfo, Inspection, PluginError, PluginIdentity,
    RequestHead, SpliceKey, SplicedRun, SseEvent, StreamEvent, TestCase, UsageReport,
};
use crate::{CONTRACT_VERSION, FormatPlugin, StreamDecode, StreamEncode, splice, usage};

/// The exported component for plugin `P`.
pub struct Export<P>(PhantomData<P>);

impl<P: FormatPlugin> Guest for Export<P> {
    type UsageTap = Tap<P>;
    type StreamDecoder = Decoder<P>;
    type StreamEncoder = Encoder<P>;

    fn identity() -> PluginIdentity {
        identity::<P>()
    }

    fn inspect(head: RequestHead, body: Vec<u8>) -> Result<Inspection, PluginError> {
        P::inspect(&head, &body)
    }

    fn usage_from_body(body: Vec<u8>) -> UsageReport {
        P::usage_from_body(&body)
    }

    fn error_body(info: ErrorInfo) -> Vec<u8> {
        P::error_body(&info)
    }

    fn stream_error_event(info: ErrorInfo) -> Vec<u8> {
        P::stream_error_event(&info)
    }

    fn decode_error(status: u16, body: Vec<u8>) -> ErrorInfo {
        P::decode_error(status, &body)
    }

    fn decode_request(head: RequestHead, body: Vec<u8>) -> Result<ChatRequest, PluginError> {
        P::decode_request(&head, &body)
    }

    fn encode_request(request: ChatRequest) -> Result<EncodedRequest, PluginError> {
        P::encode_request(&request)
    }

    fn decode_response(body: Vec<u8>) -> Result<ChatResponse, PluginError> {
        P::decode_response(&body)
    }

    fn encode_response(response: ChatResponse) -> Result<Vec<u8>, PluginError> {
        P::encode_response(&response)
    }

    fn self_test() -> Vec<TestCase> {
        P::self_test()
    }
}

/// The plugin's identity record.
pub fn identity<P: FormatPlugin>() -> PluginIdentity {
    PluginIdentity {
        format: P::FORMAT.to_owned(),
        version: P::VERSION.to_owned(),
        contract: CONTRACT_VERSION.to_owned(),
        usage_markers: P::USAGE_MARKERS.iter().map(|m| (*m).to_owned()).collect(),
    }
}

/// One stream's usage tap: the report so far, updated by [`FormatPlugin::tap_event`].
pub struct Tap<P> {
    report: RefCell<UsageReport>,
    plugin: PhantomData<P>,
}

impl<P: FormatPlugin> GuestUsageTap for Tap<P> {
    fn new() -> Self {
        Tap {
            report: RefCell::new(usage::empty_report()),
            plugin: PhantomData,
        }
    }

    fn push(&self, events: Vec<SseEvent>) {
        let mut report = self.report.borrow_mut();
        for event in &events {
            P::tap_event(event, &mut report);
        }
    }

    fn report(&self) -> UsageReport {
        *self.report.borrow()
    }
}

/// One stream's decoder.
pub struct Decoder<P> {
    inner: RefCell<Box<dyn StreamDecode>>,
    plugin: PhantomData<P>,
}

impl<P: FormatPlugin> GuestStreamDecoder for Decoder<P> {
    fn new() -> Self {
        Decoder {
            inner: RefCell::new(P::stream_decoder()),
            plugin: PhantomData,
        }
    }

    fn push(&self, event: SseEvent) -> Result<Decoded, PluginError> {
        let mut inner = self.inner.borrow_mut();
        let events = inner.push(&event)?;
        // Only a lone delta can be spliced, and only by a splice that reproduces it.
        let splice = match events.as_slice() {
            [only] if splice::key_of(only).is_some() => {
                inner.splice(&event).filter(|s| splice::reproduces(s, &event, only))
            }
            _ => None,
        };
        Ok(Decoded { events, splice })
    }

    fn finish(&self) -> Result<Vec<StreamEvent>, PluginError> {
        self.inner.borrow_mut().finish()
    }
}

/// One stream's encoder.
pub struct Encoder<P> {
    inner: RefCell<Box<dyn StreamEncode>>,
    plugin: PhantomData<P>,
}

impl<P: FormatPlugin> GuestStreamEncoder for Encoder<P> {
    fn new(model: String) -> Self {
        Encoder {
            inner: RefCell::new(P::stream_encoder(&model)),
            plugin: PhantomData,
        }
    }

    fn push(
        &self,
        events: Vec<StreamEvent>,
        splice_for: Option<SpliceKey>,
        spliced: Option<SplicedRun>,
    ) -> Result<Encoded, PluginError> {
        let mut inner = self.inner.borrow_mut();
        if let Some(run) = &spliced {
            inner.spliced(run);
        }
        let bytes = inner.push(&events)?;
        let splice = splice_for.and_then(|key| inner.splice(key).filter(|s| s.key == key));
        Ok(Encoded { bytes, splice })
    }

    fn finish(&self) -> Result<Vec<u8>, PluginError> {
        self.inner.borrow_mut().finish()
    }
}
