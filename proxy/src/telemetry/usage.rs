//! The usage tap: finds the tokens of one response through the upstream format's plugin.
//!
//! A whole body goes to the plugin's `usage-from-body`. A stream is fed block by block (as
//! the relay forwards it); only events holding one of the plugin's declared usage markers
//! reach the plugin's per-stream `usage-tap` resource, so a long stream of text deltas
//! costs a substring search per event and no plugin call. The tap runs on the plugin
//! version that was active when the response began, to its end. A stream cut before its
//! final event keeps the tokens seen so far, and [`UsageTap::completed`] stays false.
//!
//! The per-format rules (where each format reports usage, how buckets map) live in the
//! plugins: `plugins/*/src/usage.rs`.

use std::sync::Arc;

use super::record::Usage;
use crate::plugin_host::bindings::types::{SseEvent, UsageReport};
use crate::plugin_host::{Plugin, PluginError, StreamResource};
use crate::sse;

/// Watches one response for usage.
#[derive(Debug)]
pub struct UsageTap {
    plugin: Arc<Plugin>,
    stream: Option<StreamResource>,
    usage: Usage,
    completed: bool,
    saw_usage: bool,
    failure: Option<PluginError>,
    /// Events offered and not yet shown to the plugin (those of the current block).
    pending: Vec<SseEvent>,
}

impl UsageTap {
    /// A tap reading responses through `plugin` (the upstream format's).
    pub fn new(plugin: Arc<Plugin>) -> Self {
        UsageTap {
            plugin,
            stream: None,
            usage: Usage::default(),
            completed: false,
            saw_usage: false,
            failure: None,
            pending: Vec::new(),
        }
    }

    /// Reads a whole (non-streamed) response body.
    pub fn body(&mut self, body: &[u8]) {
        match self.plugin.usage_from_body(body) {
            Ok(report) => self.take(&report),
            Err(e) => self.failure = Some(e),
        }
    }

    /// Takes the usage of a whole body that a conversion already decoded (the plugin's
    /// `decode-response` fills the same buckets as `usage-from-body`).
    pub fn decoded(&mut self, usage: &crate::plugin_host::bindings::types::Usage) {
        let seen = [
            usage.input,
            usage.output,
            usage.cache_creation5m,
            usage.cache_creation1h,
            usage.cache_read,
            usage.reasoning,
        ];
        self.take(&UsageReport {
            usage: *usage,
            saw_usage: seen.iter().any(|&n| n > 0),
            completed: true,
        });
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
            Ok(report) => self.take(&report),
            Err(e) => self.failure = Some(e),
        }
    }

    fn push(&mut self, events: &[SseEvent]) -> Result<UsageReport, PluginError> {
        let stream = match &mut self.stream {
            Some(stream) => stream,
            empty @ None => empty.insert(self.plugin.open_usage_tap()?),
        };
        stream.tap_push_and_report(events)
    }

    fn take(&mut self, report: &UsageReport) {
        let u = &report.usage;
        self.usage = Usage {
            input: u.input,
            output: u.output,
            cache_creation_5m: u.cache_creation5m,
            cache_creation_1h: u.cache_creation1h,
            cache_read: u.cache_read,
            reasoning: u.reasoning,
        };
        self.completed = report.completed;
        self.saw_usage = report.saw_usage;
    }

    /// The usage seen so far.
    pub fn usage(&self) -> Usage {
        self.usage
    }

    /// Whether the response's end was seen (the format's final event, or a whole body
    /// with usage).
    pub fn completed(&self) -> bool {
        self.completed
    }

    /// Whether any usage was reported at all (an OpenAI stream without
    /// `stream_options.include_usage` reports none).
    pub fn saw_usage(&self) -> bool {
        self.saw_usage
    }

    /// Why the plugin could not read the usage, if it failed.
    pub fn failure(&self) -> Option<&PluginError> {
        self.failure.as_ref()
    }
}
