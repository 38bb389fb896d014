//! The decision for one request: from its route, body and effective configuration to the
//! answer to send (or to hang), with faults applied. No I/O happens here.

use bytes::Bytes;

use crate::config::{Fault, MockConfig};
use crate::formats::content::DEFAULT_TOOL;
use crate::formats::{
    self, Exchange, Format, GeminiFraming, Obfuscation, Probe, Reply, Route, Usage, claude, gemini, openai_chat,
    responses,
};

/// The model named in answers when the request names none.
const DEFAULT_MODEL: &str = "mock-model";

/// The models the list endpoints report.
const MODELS: [&str; 4] = ["mock-model", "claude-sonnet-4-5", "gpt-4o-mini", "gemini-2.5-flash"];

/// How a response ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Ending {
    /// Completely, and the connection may be reused.
    Complete,
    /// After this many stream events (or half of a complete body), by dropping the connection.
    ResetAfter(usize),
    /// After this many stream events, with an event that never ends, then a dropped connection.
    Unterminated(usize),
    /// Completely, with a gigabyte of SSE comments after the first event.
    Flood,
}

/// What to do with a request.
#[derive(Debug, Clone)]
pub(crate) enum Action {
    /// Send this answer.
    Respond {
        /// The answer.
        reply: Reply,
        /// How it ends.
        ending: Ending,
        /// The format it is in (for format-specific headers).
        format: Format,
    },
    /// Never answer.
    Hang,
}

/// Answers that do not depend on the request, built once per server.
#[derive(Debug, Clone)]
pub(crate) struct Prebuilt {
    /// `GET /v1/models`, OpenAI shape.
    openai_models: Bytes,
    /// `GET /v1/models`, Anthropic shape.
    claude_models: Bytes,
    /// `GET /v1beta/models`, Google shape.
    gemini_models: Bytes,
}

impl Prebuilt {
    /// Build the fixed answers.
    pub(crate) fn new() -> Prebuilt {
        Prebuilt {
            openai_models: openai_chat::model_list(&MODELS),
            claude_models: claude::model_list(&MODELS),
            gemini_models: gemini::model_list(&MODELS),
        }
    }

    /// The model list in `format`.
    fn models(&self, format: Format) -> Bytes {
        match format {
            Format::Claude => self.claude_models.clone(),
            Format::Gemini => self.gemini_models.clone(),
            Format::Chat | Format::Responses => self.openai_models.clone(),
        }
    }
}

/// A complete error answer.
fn error(format: Format, status: u16, message: &str) -> Action {
    Action::Respond {
        reply: Reply::json(status, formats::error_body(format, status, message)),
        ending: Ending::Complete,
        format,
    }
}

/// The answer to a request whose body exceeded the size limit.
pub(crate) fn too_large(route: &Route) -> Action {
    error(route.format(), 413, formats::status_message(413))
}

/// Decide the answer to a request.
pub(crate) fn decide(route: &Route, body: &[u8], plan: &MockConfig, prebuilt: &Prebuilt) -> Action {
    let format = route.format();
    if let Route::NotFound(_) = route {
        return error(format, 404, formats::status_message(404));
    }
    match plan.fault {
        Fault::Status(status) => return error(format, status, formats::status_message(status)),
        Fault::Hang => return Action::Hang,
        Fault::None
        | Fault::StreamError
        | Fault::ResetMidStream { .. }
        | Fault::Unterminated { .. }
        | Fault::Flood
        | Fault::EarlyHints(_) => {}
    }
    let ending = match plan.fault {
        Fault::ResetMidStream { after_events } => Ending::ResetAfter(after_events),
        Fault::Unterminated { after_events } => Ending::Unterminated(after_events),
        Fault::Flood => Ending::Flood,
        _ => Ending::Complete,
    };
    let respond = |reply: Reply| Action::Respond { reply, ending, format };
    let overloaded = || {
        let status = formats::overloaded_status(format);
        error(format, status, formats::status_message(status))
    };

    if let Route::ListModels(format) = route {
        if plan.fault == Fault::StreamError {
            return overloaded();
        }
        return respond(Reply::json(200, prebuilt.models(*format)));
    }

    let probe = match Probe::parse(body) {
        Ok(probe) => probe,
        Err(message) => return error(format, 400, &message),
    };
    let usage = Usage::compute(format, body, plan.scenario, plan.chunks);
    if let Route::CountTokens(format) = route {
        if plan.fault == Fault::StreamError {
            return overloaded();
        }
        let body = match format {
            Format::Gemini => gemini::count_tokens(&usage),
            _ => claude::count_tokens(&usage),
        };
        return respond(Reply::json(200, body));
    }

    let (model, gemini_stream) = match route {
        Route::GeminiGenerate { model, stream } => (model.clone(), *stream),
        _ => (probe.model.clone().unwrap_or_else(|| DEFAULT_MODEL.to_owned()), None),
    };
    let streaming = match route {
        Route::GeminiGenerate { stream, .. } => stream.is_some(),
        _ => probe.stream.unwrap_or(false),
    };

    if plan.fault == Fault::StreamError {
        if !streaming {
            return overloaded();
        }
        let status = formats::overloaded_status(format);
        let message = formats::status_message(status);
        let event = match (format, gemini_stream) {
            (Format::Claude, _) => claude::error_event(status, message),
            (Format::Chat, _) => openai_chat::error_event(status, message),
            (Format::Responses, _) => responses::error_event(status, message),
            (Format::Gemini, framing) => gemini::error_event(status, message, framing.unwrap_or(GeminiFraming::Sse)),
        };
        let mut reply = Reply::events(vec![event]);
        if gemini_stream == Some(GeminiFraming::JsonArray) {
            reply.content_type = formats::JSON;
        }
        return respond(reply);
    }

    let exchange = Exchange {
        model,
        include_usage: probe
            .stream_options
            .as_ref()
            .and_then(|o| o.include_usage)
            .unwrap_or(false),
        obfuscation: match probe.stream_options.as_ref().and_then(|o| o.include_obfuscation) {
            Some(false) => Obfuscation::Off,
            Some(true) | None => Obfuscation::Padded,
        },
        tool: probe.first_tool().unwrap_or(DEFAULT_TOOL).to_owned(),
        scenario: plan.scenario,
        chunks: plan.chunks,
        usage,
    };
    let reply = match (format, streaming) {
        (Format::Claude, false) => Reply::json(200, claude::complete(&exchange)),
        (Format::Claude, true) => Reply::events(claude::stream(&exchange)),
        (Format::Chat, false) => Reply::json(200, openai_chat::complete(&exchange)),
        (Format::Chat, true) => Reply::events(openai_chat::stream(&exchange)),
        (Format::Responses, false) => Reply::json(200, responses::complete(&exchange)),
        (Format::Responses, true) => Reply::events(responses::stream(&exchange)),
        (Format::Gemini, false) => Reply::json(200, gemini::complete(&exchange)),
        (Format::Gemini, true) => {
            let framing = gemini_stream.unwrap_or(GeminiFraming::Sse);
            let mut reply = Reply::events(gemini::stream(&exchange, framing));
            if framing == GeminiFraming::JsonArray {
                reply.content_type = formats::JSON;
            }
            reply
        }
    };
    respond(reply)
}
