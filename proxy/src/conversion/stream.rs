//! An upstream stream on its way to a client of another format, converted as it arrives.
//!
//! Each block of whole upstream SSE events (what one read from the upstream yields) goes
//! through the upstream plugin's stream decoder one event at a time; the IR events they
//! yield go to the client plugin's stream encoder in one call, and its bytes go to the
//! client. Nothing waits for the end of the stream. Both resources live in their plugins'
//! shard instances for the stream's whole life, on the plugin versions that were active
//! when the stream began.
//!
//! The fast path: most events of a long stream are one more piece of text for the open
//! block. When the decoder has offered a splice for events like its last one, and the
//! encoder (asked for a splice of the same key when its last events were encoded) has
//! offered one too, an event that fits is converted here by copying its JSON string's body
//! between the encoder's head and tail, without calling either plugin ([`super::splice`]).
//! Anything else goes through the plugins, which replaces both splices. An encoder that
//! numbers its events (Responses) offers a counted splice: the host writes each event's
//! number too, and tells the encoder's next call what it wrote. When the encoder declines a
//! splice (the Gemini encoder does for tool arguments, which it keeps until the call
//! stops), a fitting event is still decoded here, to the delta the decoder's splice
//! promises, and waits for the read's one encoder call.
//!
//! **Usage.** The decoder reads the upstream's usage anyway: its `start` event carries what
//! is known at the start, its `finish` the complete usage (IR.md), so a converted stream is
//! billed from them ([`StreamConverter::usage`]) and needs no usage tap of its own, which
//! saves the upstream plugin a resource and two or three calls per stream. A spliced event
//! cannot change that usage: outside one JSON string it is byte for byte the event the
//! decoder's splice was cut from, which the decoder has seen, and every format reports
//! usage cumulatively and outside its text. The stream is complete when the decoder
//! emitted `finish`; a decoder whose upstream ended without its terminal event says so
//! with an `error` instead. Should a plugin fail, the events from the one that failed on
//! are handed back ([`StreamConverter::push_block`]'s `after_failure`) for the usage tap,
//! since the upstream billed them all.

use std::sync::Arc;

use super::{ConversionError, Step, settle, splice};
use crate::plugin_host::bindings::types::{
    EncodeSplice, ErrorInfo, SpliceKey, SplicedRun, SseEvent, StreamEvent, UsageReport,
};
use crate::plugin_host::{Plugin, StreamResource};
use crate::sse;

/// Whether a converter takes the plugins' splices.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Splicing {
    /// Events the splices cover are converted by the host (the request path).
    On,
    /// Every event goes through the plugins (to compare the two paths).
    Off,
}

/// Which way an upstream event went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fit {
    /// Converted by the host through the splices, without the decoder.
    Spliced,
    /// It must go through the plugins.
    Plugins,
}

/// Whether the decoder has emitted the stream's `finish` event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Decoding {
    /// Not yet: at the upstream's end its `finish()` flushes what it holds, or reports the
    /// stream as cut short.
    Open,
    /// It has: a decoder emits `finish` exactly once, after its last block (IR.md), so its
    /// `finish()` has nothing left to give and is not called.
    Finished,
}

/// One stream's decoder and encoder.
#[derive(Debug)]
pub struct StreamConverter {
    decoder: StreamResource,
    encoder: StreamResource,
    /// IR events decoded and not yet encoded (those of the current block).
    pending: Vec<StreamEvent>,
    /// The decoder's promise about events like its last one, until it is called again.
    decode_splice: Option<splice::Matcher>,
    /// The encoder's promise about a delta of the decoder's splice key, until it is called
    /// again. A counted splice's `first` is moved on past each event spliced.
    encode_splice: Option<EncodeSplice>,
    /// What was written through a counted splice since the encoder's last call, for its next.
    run: Option<SplicedRun>,
    /// The key the encoder was last asked to splice and declined (the Gemini encoder does
    /// for tool arguments). Events of that key that fit the decoder's splice are decoded by the host
    /// (what the decoder's splice promises they decode to) and wait for the block's one
    /// encoder call; the next block's flush asks again.
    declined: Option<SpliceKey>,
    /// Events converted through the splices (copied between the encoder's bytes, or decoded
    /// by the decoder's splice for an encoder that declined), for tests and benchmarks.
    spliced: u64,
    /// Whether splices are taken at all.
    splicing: Splicing,
    /// Whether the decoder has finished the stream.
    decoding: Decoding,
    /// The upstream's usage as the decoder reported it.
    usage: UsageReport,
}

impl StreamConverter {
    /// A converter from `upstream`'s format to `client`'s, whose events report `client_model`.
    pub fn open(upstream: &Arc<Plugin>, client: &Arc<Plugin>, client_model: &str) -> Result<Self, ConversionError> {
        Self::open_with(upstream, client, client_model, Splicing::On)
    }

    /// [`StreamConverter::open`], splicing or not.
    pub fn open_with(
        upstream: &Arc<Plugin>,
        client: &Arc<Plugin>,
        client_model: &str,
        splicing: Splicing,
    ) -> Result<Self, ConversionError> {
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
            decode_splice: None,
            encode_splice: None,
            run: None,
            declined: None,
            spliced: 0,
            splicing,
            decoding: Decoding::Open,
            usage: crate::telemetry::usage::empty_report(),
        })
    }

    /// Converts a block of whole upstream events; the client's bytes (possibly none).
    /// Should a plugin fail, `after_failure` sees each raw event (as [`sse::raw_events`]
    /// yields) from the one that failed to the block's end: the events the usage tap must
    /// read (see the module docs), since the upstream billed them all.
    pub fn push_block(&mut self, block: &[u8], after_failure: impl FnMut(&[u8])) -> Result<Vec<u8>, ConversionError> {
        // Converted events are about as long as the upstream's; a little more saves a regrowth.
        let mut out = Vec::with_capacity(block.len() + block.len() / 4);
        let mut events = sse::raw_events(block);
        let mut last = &block[..0];
        let failed = events.by_ref().find_map(|raw| {
            last = raw;
            self.push_raw(raw, &mut out).err()
        });
        if let Some(e) = failed {
            std::iter::once(last).chain(events).for_each(after_failure);
            return Err(e);
        }
        // What waits for the encoder goes now; a run written through a counted splice waits
        // for its next call, which it needs for nothing else.
        if !self.pending.is_empty() {
            self.flush(&mut out)?;
        }
        Ok(out)
    }

    /// One raw upstream event: spliced into `out`, or decoded.
    fn push_raw(&mut self, raw: &[u8], out: &mut Vec<u8>) -> Result<(), ConversionError> {
        // The common event, a text delta framed on one line, is matched as it came.
        let framed = match self.decode_splice.as_ref().and_then(|m| m.raw_body(raw)) {
            Some(body) => Some(self.fit(body, out)?),
            None => None,
        };
        if framed == Some(Fit::Spliced) {
            return Ok(());
        }
        let Some(event) = sse::event(raw) else {
            return Ok(());
        };
        let fit = match framed {
            Some(fit) => fit,
            None => self.splice(event.name, &event.data, out)?,
        };
        match fit {
            Fit::Spliced => Ok(()),
            Fit::Plugins => self.decode(event.name, &event.data),
        }
    }

    /// Converts one upstream event on its own; the client's bytes.
    pub fn push_event(&mut self, event: &SseEvent) -> Result<Vec<u8>, ConversionError> {
        let mut out = Vec::new();
        let name = event.name.as_deref();
        if self.splice(name, &event.data, &mut out)? == Fit::Plugins {
            self.decode(name, &event.data)?;
        }
        if !self.pending.is_empty() {
            self.flush(&mut out)?;
        }
        Ok(out)
    }

    /// The upstream's usage as the decoder reported it so far: `start`'s, then `finish`'s;
    /// complete once the decoder emitted `finish`.
    pub fn usage(&self) -> &UsageReport {
        &self.usage
    }

    /// Takes what the decoder's events say about usage.
    fn observe(&mut self, events: &[StreamEvent]) {
        for event in events {
            let (usage, finished) = match event {
                StreamEvent::Start(start) => (&start.usage, false),
                StreamEvent::Finish(finish) => (&finish.usage, true),
                _ => continue,
            };
            self.usage.saw_usage |= crate::telemetry::usage::any_tokens(usage);
            self.usage.usage = *usage;
            if finished {
                self.usage.completed = true;
                self.decoding = Decoding::Finished;
            }
        }
    }

    /// How many events were converted by splicing so far.
    pub fn spliced(&self) -> u64 {
        self.spliced
    }

    /// Splices one upstream event into `out` when both plugins' splices cover it; decodes it
    /// by the decoder's splice when only the decoder's does and the encoder declined.
    fn splice(&mut self, name: Option<&str>, data: &str, out: &mut Vec<u8>) -> Result<Fit, ConversionError> {
        match self.decode_splice.as_ref().and_then(|m| m.body(name, data)) {
            Some(body) => self.fit(body, out),
            None => Ok(Fit::Plugins),
        }
    }

    /// [`StreamConverter::splice`] for an event that fits the decoder's splice with string
    /// body `body`.
    fn fit(&mut self, body: &str, out: &mut Vec<u8>) -> Result<Fit, ConversionError> {
        let Some(key) = self.decode_splice.as_ref().map(splice::Matcher::key) else {
            return Ok(Fit::Plugins);
        };
        if self.declined == Some(key) {
            // The decoder's splice promises this event decodes to one delta of the body
            // and changes nothing else: the host decodes it, and the encoder gets it with
            // the rest of the block.
            let Some(delta) = splice::delta(key, body) else {
                return Ok(Fit::Plugins);
            };
            self.pending.push(delta);
            self.spliced += 1;
            return Ok(Fit::Spliced);
        }
        if !self.pending.is_empty() || self.encode_splice.as_ref().is_none_or(|e| e.key != key) {
            // What came before goes first; the encoder is asked for this key as it does.
            self.flush(out)?;
        }
        let Some(encode) = self.encode_splice.as_mut().filter(|e| e.key == key) else {
            return Ok(Fit::Plugins);
        };
        match &mut encode.counter {
            None => out.extend_from_slice(&encode.head),
            Some(counter) => {
                // The encoder numbers its events and repeats their text later: the host
                // numbers this one and keeps what its next call must catch up on.
                let Some(text) = splice::unescape(body) else {
                    return Ok(Fit::Plugins);
                };
                let run = self.run.get_or_insert_with(|| SplicedRun {
                    key,
                    count: 0,
                    text: String::new(),
                });
                let Some(count) = run.count.checked_add(1) else {
                    return Ok(Fit::Plugins);
                };
                run.count = count;
                run.text.push_str(&text);
                let (before, after) = encode.head.split_at(counter.at as usize);
                out.extend_from_slice(before);
                out.extend_from_slice(itoa::Buffer::new().format(counter.first).as_bytes());
                out.extend_from_slice(after);
                counter.first += 1;
            }
        }
        out.extend_from_slice(body.as_bytes());
        out.extend_from_slice(&encode.tail);
        self.spliced += 1;
        Ok(Fit::Spliced)
    }

    /// Decodes one upstream event; its IR events wait for [`StreamConverter::flush`].
    fn decode(&mut self, name: Option<&str>, data: &str) -> Result<(), ConversionError> {
        let event = SseEvent {
            name: name.map(str::to_owned),
            data: data.to_owned(),
        };
        let decoded = settle(Step::DecodeStream, self.decoder.decode_push(&event))?;
        self.decode_splice = decoded
            .splice
            .filter(|_| self.splicing == Splicing::On)
            .map(splice::Matcher::new);
        self.observe(&decoded.events);
        self.pending.extend(decoded.events);
        Ok(())
    }

    /// Encodes the IR events decoded since the last flush into `out` (after the run written
    /// through its counted splice, if any), asking the encoder for a splice of the decoder's
    /// current key.
    fn flush(&mut self, out: &mut Vec<u8>) -> Result<(), ConversionError> {
        if self.pending.is_empty() && self.run.is_none() {
            return Ok(());
        }
        let splice_for = self.decode_splice.as_ref().map(splice::Matcher::key);
        self.encode_splice = None;
        let run = self.run.take();
        let encoded = settle(
            Step::EncodeStream,
            self.encoder.encode_push(&self.pending, splice_for, run.as_ref()),
        );
        self.pending.clear();
        let encoded = encoded?;
        // A counter must fall inside the head it numbers.
        self.encode_splice = encoded
            .splice
            .filter(|e| e.counter.as_ref().is_none_or(|c| c.at as usize <= e.head.len()));
        self.declined = splice_for.filter(|_| self.encode_splice.is_none());
        out.extend(encoded.bytes);
        Ok(())
    }

    /// The upstream stream ended: what the decoder still had (unless it has finished the
    /// stream already), and the encoder's closing bytes.
    pub fn finish(&mut self) -> Result<Vec<u8>, ConversionError> {
        self.decode_splice = None;
        if self.decoding == Decoding::Open {
            let events = settle(Step::DecodeStream, self.decoder.decode_finish())?;
            self.observe(&events);
            self.pending.extend(events);
        }
        let mut out = Vec::new();
        self.flush(&mut out)?;
        self.encode_splice = None;
        out.extend(settle(Step::EncodeStream, self.encoder.encode_finish())?);
        Ok(out)
    }

    /// The upstream broke: the client's error event, rendered by the encoder so it fits
    /// the stream so far (a Responses stream still begins with `response.created`).
    pub fn fail(&mut self, info: ErrorInfo) -> Result<Vec<u8>, ConversionError> {
        self.decode_splice = None;
        self.pending.clear();
        self.pending.push(StreamEvent::Error(info));
        let mut out = Vec::new();
        self.flush(&mut out)?;
        Ok(out)
    }
}
