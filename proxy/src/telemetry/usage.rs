//! The usage tap: finds the tokens of one response through the upstream format's plugin.
//!
//! A whole body goes to the plugin's `usage-from-body`. A stream is fed block by block (as
//! the relay forwards it); only events holding one of the plugin's declared usage markers
//! reach the plugin's per-stream `usage-tap` resource, so a long stream of text deltas
//! costs a substring search per event and no plugin call. The tap runs on the plugin
//! version that was active when the response began, to its end. A stream cut before its
//! final event keeps the tokens seen so far, and [`UsageTap::completed`] stays false.
//!
//! A conversion decodes the upstream's answer anyway, and its IR carries the same buckets:
//! a converted body's usage comes from `decode-response` ([`UsageTap::decoded`]), a
//! converted stream's from its decoder's `start` and `finish` events
//! ([`UsageTap::converted`]), and neither calls the plugin's tap.
//!
//! The per-format rules (where each format reports usage, how buckets map) live in the
//! plugins: `plugins/*/src/usage.rs`.

use std::sync::Arc;

use super::record::Usage;
use crate::plugin_host::bindings::types::{SseEvent, Usage as WitUsage, UsageReport};
use crate::plugin_host::{CallError, Plugin, StreamResource};
use crate::sse;

/// Watches one response for usage.
#[derive(Debug)]
pub struct UsageTap {
    plugin: Arc<Plugin>,
    stream: Option<StreamResource>,
    /// What the plugin reported (or a decoded body held).
    tapped: Option<UsageReport>,
    failure: Option<CallError>,
    /// Events offered and not yet shown to the plugin (those of the current block).
    pending: Vec<SseEvent>,
    /// Usage a stream converter's decoder reported, under what the tap reads itself.
    converted: Option<UsageReport>,
}

/// No tokens, nothing seen: the report of a response not read yet.
pub fn empty_report() -> UsageReport {
    UsageReport {
        usage: WitUsage {
            input: 0,
            output: 0,
            cache_creation5m: 0,
            cache_creation1h: 0,
            cache_read: 0,
            reasoning: 0,
        },
        saw_usage: false,
        completed: false,
    }
}

/// Whether `usage` counts any token.
pub fn any_tokens(usage: &WitUsage) -> bool {
    [
        usage.input,
        usage.output,
        usage.cache_creation5m,
        usage.cache_creation1h,
        usage.cache_read,
        usage.reasoning,
    ]
    .iter()
    .any(|&n| n > 0)
}

impl UsageTap {
    /// A tap reading responses through `plugin` (the upstream format's).
    pub fn new(plugin: Arc<Plugin>) -> Self {
        UsageTap {
            plugin,
            stream: None,
            tapped: None,
            failure: None,
            pending: Vec::new(),
            converted: None,
        }
    }

    /// Reads a whole (non-streamed) response body.
    pub fn body(&mut self, body: &[u8]) {
        match self.plugin.usage_from_body(body) {
            Ok(report) => self.tapped = Some(report),
            Err(e) => self.failure = Some(e),
        }
    }

    /// Takes the usage of a whole body that a conversion already decoded (the plugin's
    /// `decode-response` fills the same buckets as `usage-from-body`).
    pub fn decoded(&mut self, usage: &WitUsage) {
        self.tapped = Some(UsageReport {
            usage: *usage,
            saw_usage: any_tokens(usage),
            completed: true,
        });
    }

    /// Takes the usage a stream converter's decoder has reported so far
    /// ([`crate::conversion::stream::StreamConverter::usage`]): a converted stream needs no
    /// plugin tap. Events the tap reads after this (a block's rest, after a plugin failed)
    /// add to it: every bucket is the larger of the two, since both are cumulative.
    pub fn converted(&mut self, report: &UsageReport) {
        self.converted = Some(*report);
    }

    /// Reads a block of one or more complete SSE events (as [`crate::sse::SseFramer`] yields).
    pub fn events(&mut self, block: &[u8]) {
        for raw in sse::raw_events(block) {
            self.offer(raw);
        }
        self.flush();
    }

    /// Offers one raw event (as [`crate::sse::raw_events`] yields); it waits for
    /// [`UsageTap::flush`] when it holds one of the plugin's usage markers, so that a block's
    /// events reach the plugin in one call.
    pub fn offer(&mut self, raw: &[u8]) {
        if self.failure.is_some() || !self.plugin.is_usage_event(raw) {
            return;
        }
        if let Some(event) = sse::event(raw) {
            self.pending.push(SseEvent {
                name: event.name.map(str::to_owned),
                data: event.data.into_owned(),
            });
        }
    }

    /// Shows the plugin the events offered since the last flush, if any.
    pub fn flush(&mut self) {
        if self.pending.is_empty() {
            return;
        }
        let marked = std::mem::take(&mut self.pending);
        match self.push(&marked) {
            Ok(report) => self.tapped = Some(report),
            Err(e) => self.failure = Some(e),
        }
    }

    fn push(&mut self, events: &[SseEvent]) -> Result<UsageReport, CallError> {
        let stream = match &mut self.stream {
            Some(stream) => stream,
            empty @ None => empty.insert(self.plugin.open_usage_tap()?),
        };
        stream.tap_push_and_report(events)
    }

    /// What is known: the plugin's report, the converter's, or each bucket the larger of
    /// the two (both count cumulatively).
    fn report(&self) -> Option<UsageReport> {
        match (&self.tapped, &self.converted) {
            (Some(one), None) | (None, Some(one)) => Some(*one),
            (None, None) => None,
            (Some(t), Some(c)) => {
                let (a, b) = (&t.usage, &c.usage);
                let mut usage = *a;
                usage.input = a.input.max(b.input);
                usage.output = a.output.max(b.output);
                usage.cache_creation5m = a.cache_creation5m.max(b.cache_creation5m);
                usage.cache_creation1h = a.cache_creation1h.max(b.cache_creation1h);
                usage.cache_read = a.cache_read.max(b.cache_read);
                usage.reasoning = a.reasoning.max(b.reasoning);
                Some(UsageReport {
                    usage,
                    saw_usage: t.saw_usage || c.saw_usage,
                    completed: t.completed || c.completed,
                })
            }
        }
    }

    /// The usage seen so far.
    pub fn usage(&self) -> Usage {
        self.report().map_or_else(Usage::default, |r| {
            let u = &r.usage;
            Usage {
                input: u.input,
                output: u.output,
                cache_creation_5m: u.cache_creation5m,
                cache_creation_1h: u.cache_creation1h,
                cache_read: u.cache_read,
                reasoning: u.reasoning,
            }
        })
    }

    /// Whether the response's end was seen (the format's final event, or a whole body
    /// with usage).
    pub fn completed(&self) -> bool {
        self.report().is_some_and(|r| r.completed)
    }

    /// Whether any usage was reported at all (an OpenAI stream without
    /// `stream_options.include_usage` reports none).
    pub fn saw_usage(&self) -> bool {
        self.report().is_some_and(|r| r.saw_usage)
    }

    /// Why the plugin could not read the usage, if it failed.
    pub fn failure(&self) -> Option<&CallError> {
        self.failure.as_ref()
    }
}
