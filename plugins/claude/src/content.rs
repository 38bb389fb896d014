//! Claude content blocks ↔ IR content blocks, shared by requests and responses.
//!
//! Decoding reads each block into one flat [`WireBlock`] (every field optional) and checks
//! what its `type` needs, so a malformed block is reported by its place
//! (`messages[2].content[0]: tool_use block has no "id"`) rather than by serde's guess.
//! Server-side tool blocks and other types the IR cannot hold are dropped ([`Decoded::Dropped`]).
//!
//! Encoding writes borrowed [`OutBlock`]s; what goes out depends on the [`Audience`]:
//! an upstream rejects thinking without a valid signature, a client gets every block.

use aether_plugin_sdk::types::{
    CacheTtl, ContentBlock, InlineData, MediaBlock, MediaSource, PluginError, TextBlock, ThinkingBlock, ToolCall,
    ToolResult, ToolResultPart,
};
use std::borrow::Cow;
use std::fmt;

use serde::de::{self, Deserializer, SeqAccess, Visitor};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::base64;

/// One Claude content block as it arrives; which fields matter depends on `type`.
#[derive(Deserialize, Debug)]
pub struct WireBlock {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    text: Option<String>,
    #[serde(default)]
    source: Option<WireSource>,
    #[serde(default)]
    thinking: Option<String>,
    #[serde(default)]
    signature: Option<String>,
    #[serde(default)]
    data: Option<String>,
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    input: Option<Value>,
    #[serde(default)]
    tool_use_id: Option<String>,
    #[serde(default)]
    content: Option<WireContent>,
    #[serde(default)]
    is_error: Option<bool>,
    #[serde(default)]
    cache_control: Option<WireCache>,
}

/// A message's or a tool result's `content`: a string or a list of blocks. Read in one
/// pass (an untagged enum would buffer the whole history before trying each form).
#[derive(Debug)]
pub enum WireContent {
    /// The string form.
    Text(String),
    /// The list form.
    Blocks(Vec<WireBlock>),
}

impl<'de> Deserialize<'de> for WireContent {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = WireContent;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string or a list of content blocks")
            }
            fn visit_str<E: de::Error>(self, text: &str) -> Result<WireContent, E> {
                Ok(WireContent::Text(text.to_owned()))
            }
            fn visit_string<E: de::Error>(self, text: String) -> Result<WireContent, E> {
                Ok(WireContent::Text(text))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<WireContent, A::Error> {
                let mut blocks = Vec::with_capacity(seq.size_hint().unwrap_or(0));
                while let Some(block) = seq.next_element()? {
                    blocks.push(block);
                }
                Ok(WireContent::Blocks(blocks))
            }
        }
        deserializer.deserialize_any(V)
    }
}

/// An image's or a document's `source`.
#[derive(Deserialize, Debug)]
struct WireSource {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    media_type: Option<String>,
    #[serde(default)]
    data: Option<String>,
    #[serde(default)]
    url: Option<String>,
    #[serde(default)]
    file_id: Option<String>,
    #[serde(default)]
    content: Option<WireContent>,
}

/// `cache_control`: `{"type": "ephemeral", "ttl"?: "5m" | "1h"}`.
#[derive(Deserialize, Debug)]
pub struct WireCache {
    #[serde(default)]
    ttl: Option<String>,
}

impl WireCache {
    /// The IR's cache lifetime (5 minutes unless `ttl` says `1h`).
    pub fn ttl(&self) -> CacheTtl {
        match self.ttl.as_deref() {
            Some("1h") => CacheTtl::OneHour,
            _ => CacheTtl::FiveMinutes,
        }
    }
}

/// What a block became.
#[derive(Debug)]
pub enum Decoded {
    /// An IR block.
    Block(ContentBlock),
    /// A block the IR cannot hold (server tool use and results, search results, container
    /// uploads): dropped, as the README lists.
    Dropped,
}

/// The IR blocks of a `content` field (a string is one text block). `at` names the field
/// for error messages.
pub fn decode_content(content: WireContent, at: &dyn Fn() -> String) -> Result<Vec<ContentBlock>, PluginError> {
    match content {
        WireContent::Text(text) => Ok(vec![text_block(text, None)]),
        WireContent::Blocks(blocks) => {
            let mut out = Vec::with_capacity(blocks.len());
            for (i, block) in blocks.into_iter().enumerate() {
                if let Decoded::Block(b) = decode_block(block, &|| format!("{}[{i}]", at()))? {
                    out.push(b);
                }
            }
            Ok(out)
        }
    }
}

fn text_block(text: String, cache: Option<CacheTtl>) -> ContentBlock {
    ContentBlock::Text(TextBlock { text, cache })
}

fn missing(at: &dyn Fn() -> String, kind: &str, field: &str) -> PluginError {
    PluginError::InvalidRequest(format!("{}: {kind} block has no \"{field}\"", at()))
}

/// One Claude block in the IR. `at` names the block for error messages.
pub fn decode_block(block: WireBlock, at: &dyn Fn() -> String) -> Result<Decoded, PluginError> {
    let cache = block.cache_control.as_ref().map(WireCache::ttl);
    let kind = block.kind.as_str();
    let ir = match kind {
        "text" => text_block(block.text.ok_or_else(|| missing(at, kind, "text"))?, cache),
        "image" => ContentBlock::Image(MediaBlock {
            source: decode_source(block.source.ok_or_else(|| missing(at, kind, "source"))?, at)?,
            cache,
        }),
        "document" => ContentBlock::Document(MediaBlock {
            source: decode_source(block.source.ok_or_else(|| missing(at, kind, "source"))?, at)?,
            cache,
        }),
        "thinking" => ContentBlock::Thinking(ThinkingBlock {
            text: block.thinking.ok_or_else(|| missing(at, kind, "thinking"))?,
            signature: block.signature.filter(|s| !s.is_empty()),
        }),
        "redacted_thinking" => ContentBlock::RedactedThinking(block.data.ok_or_else(|| missing(at, kind, "data"))?),
        "tool_use" => ContentBlock::ToolCall(ToolCall {
            id: block.id.ok_or_else(|| missing(at, kind, "id"))?,
            name: block.name.ok_or_else(|| missing(at, kind, "name"))?,
            arguments_json: match block.input {
                None | Some(Value::Null) => "{}".to_owned(),
                Some(v @ Value::Object(_)) => v.to_string(),
                Some(_) => {
                    return Err(PluginError::InvalidRequest(format!(
                        "{}: tool_use \"input\" must be an object",
                        at()
                    )));
                }
            },
            signature: None,
        }),
        "tool_result" => ContentBlock::ToolResult(ToolResult {
            call_id: block.tool_use_id.ok_or_else(|| missing(at, kind, "tool_use_id"))?,
            name: None,
            content: match block.content {
                None => Vec::new(),
                Some(c) => decode_result_content(c, &|| format!("{}.content", at()))?,
            },
            is_error: block.is_error.unwrap_or(false),
        }),
        _ => return Ok(Decoded::Dropped),
    };
    Ok(Decoded::Block(ir))
}

/// A tool result's content: text and images (documents and search results inside a tool
/// result have no IR form and are dropped).
fn decode_result_content(content: WireContent, at: &dyn Fn() -> String) -> Result<Vec<ToolResultPart>, PluginError> {
    let mut parts = Vec::new();
    for block in decode_content(content, at)? {
        match block {
            ContentBlock::Text(t) => parts.push(ToolResultPart::Text(t.text)),
            ContentBlock::Image(m) => parts.push(ToolResultPart::Image(m.source)),
            _ => {}
        }
    }
    Ok(parts)
}

fn decode_source(source: WireSource, at: &dyn Fn() -> String) -> Result<MediaSource, PluginError> {
    let need = |value: Option<String>, field: &str| {
        value.ok_or_else(|| {
            PluginError::InvalidRequest(format!("{}: a {} source has no \"{field}\"", at(), source.kind))
        })
    };
    Ok(match source.kind.as_str() {
        "base64" => MediaSource::Base64(InlineData {
            media_type: need(source.media_type.clone(), "media_type")?,
            data: need(source.data.clone(), "data")?,
        }),
        "url" => MediaSource::Url(need(source.url.clone(), "url")?),
        "file" => MediaSource::FileId(need(source.file_id.clone(), "file_id")?),
        // Plain text travels in the IR as base64 text/plain, like every other inline document.
        "text" => MediaSource::Base64(InlineData {
            media_type: source.media_type.clone().unwrap_or_else(|| "text/plain".into()),
            data: base64::encode(need(source.data.clone(), "data")?.as_bytes()),
        }),
        // A document made of content blocks: its text, joined (images in it are dropped).
        "content" => {
            let blocks = match source.content {
                Some(c) => decode_content(c, &|| format!("{}.source.content", at()))?,
                None => Vec::new(),
            };
            let text: Vec<String> = blocks
                .into_iter()
                .filter_map(|b| match b {
                    ContentBlock::Text(t) => Some(t.text),
                    _ => None,
                })
                .collect();
            MediaSource::Base64(InlineData {
                media_type: "text/plain".into(),
                data: base64::encode(text.join("\n\n").as_bytes()),
            })
        }
        other => {
            return Err(PluginError::InvalidRequest(format!(
                "{}: unknown source type \"{other}\"",
                at()
            )));
        }
    })
}

// ---- Encoding ----

/// Who receives the encoded blocks, which decides what happens to thinking.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Audience {
    /// An Anthropic upstream (a request's history): thinking goes back only with a
    /// signature and some text (Claude rejects the others, and signatures of other
    /// providers, which come with empty text); tool-call signatures are Gemini's and dropped.
    Upstream,
    /// A Claude client (a response): every thinking block, and a Gemini tool-call
    /// signature as an empty signed thinking block just before the call, so the client
    /// sends it back and the Gemini encoder can put it on the call again.
    Client,
}

/// A Claude content block to write.
#[derive(Serialize, Debug)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum OutBlock<'a> {
    /// `text`.
    Text {
        /// The text (never empty).
        text: Cow<'a, str>,
        /// A cache breakpoint.
        #[serde(skip_serializing_if = "Option::is_none")]
        cache_control: Option<OutCache>,
    },
    /// `image`.
    Image {
        /// Where it is.
        source: OutSource<'a>,
        /// A cache breakpoint.
        #[serde(skip_serializing_if = "Option::is_none")]
        cache_control: Option<OutCache>,
    },
    /// `document`.
    Document {
        /// Where it is.
        source: OutSource<'a>,
        /// A cache breakpoint.
        #[serde(skip_serializing_if = "Option::is_none")]
        cache_control: Option<OutCache>,
    },
    /// `thinking`.
    Thinking {
        /// The reasoning.
        thinking: &'a str,
        /// Its signature.
        signature: &'a str,
    },
    /// `redacted_thinking`.
    RedactedThinking {
        /// The opaque data.
        data: &'a str,
    },
    /// `tool_use`.
    ToolUse {
        /// The call id.
        id: &'a str,
        /// The tool.
        name: &'a str,
        /// The arguments object.
        input: Value,
    },
    /// `tool_result`.
    ToolResult {
        /// The call it answers.
        tool_use_id: &'a str,
        /// What the tool said.
        #[serde(skip_serializing_if = "Option::is_none")]
        content: Option<OutResultContent<'a>>,
        /// Set only when the tool failed.
        #[serde(skip_serializing_if = "Option::is_none")]
        is_error: Option<bool>,
    },
}

/// Which turns a block may appear in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// Only the user's turns (images, documents, tool results).
    User,
    /// Only the assistant's turns (thinking, tool calls).
    Assistant,
    /// Either (text).
    Both,
}

impl OutBlock<'_> {
    /// Whether this is a `tool_result` (which Claude wants first in its user turn).
    pub fn is_tool_result(&self) -> bool {
        matches!(self, OutBlock::ToolResult { .. })
    }

    /// The turns Claude accepts this block in.
    pub fn side(&self) -> Side {
        match self {
            OutBlock::Text { .. } => Side::Both,
            OutBlock::Image { .. } | OutBlock::Document { .. } | OutBlock::ToolResult { .. } => Side::User,
            OutBlock::Thinking { .. } | OutBlock::RedactedThinking { .. } | OutBlock::ToolUse { .. } => Side::Assistant,
        }
    }
}

/// A tool result's content: one text as a string, or a list of text and image blocks.
#[derive(Serialize, Debug)]
#[serde(untagged)]
pub enum OutResultContent<'a> {
    /// A single text.
    Text(&'a str),
    /// Several parts, or images.
    Blocks(Vec<OutBlock<'a>>),
}

/// An image's or a document's source.
#[derive(Serialize, Debug)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum OutSource<'a> {
    /// Inline data.
    Base64 {
        /// Its MIME type.
        media_type: &'a str,
        /// The data.
        data: &'a str,
    },
    /// A URL.
    Url {
        /// The URL.
        url: &'a str,
    },
    /// An uploaded file.
    File {
        /// The file id.
        file_id: &'a str,
    },
    /// A plain-text document.
    Text {
        /// Always `text/plain`.
        media_type: &'static str,
        /// The text.
        data: String,
    },
}

/// `cache_control`.
#[derive(Serialize, Debug)]
pub struct OutCache {
    #[serde(rename = "type")]
    kind: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    ttl: Option<&'static str>,
}

/// The `cache_control` of an IR cache hint (the 5-minute cache is the default `ttl`).
pub fn out_cache(cache: Option<CacheTtl>) -> Option<OutCache> {
    cache.map(|ttl| OutCache {
        kind: "ephemeral",
        ttl: match ttl {
            CacheTtl::FiveMinutes => None,
            CacheTtl::OneHour => Some("1h"),
        },
    })
}

/// A tool call's arguments as a JSON object (empty text is `{}`); `at` names the block.
pub fn tool_arguments(call: &ToolCall, at: &dyn Fn() -> String) -> Result<Value, PluginError> {
    if call.arguments_json.trim().is_empty() {
        return Ok(Value::Object(serde_json::Map::new()));
    }
    match serde_json::from_str::<Value>(&call.arguments_json) {
        Ok(v @ Value::Object(_)) => Ok(v),
        Ok(_) => Err(PluginError::InvalidRequest(format!(
            "{}: the arguments of tool call \"{}\" are not a JSON object",
            at(),
            call.id
        ))),
        Err(e) => Err(PluginError::InvalidRequest(format!(
            "{}: the arguments of tool call \"{}\" are not valid JSON: {e}",
            at(),
            call.id
        ))),
    }
}

fn out_source(source: &MediaSource, kind: MediaKind) -> OutSource<'_> {
    match source {
        MediaSource::Url(url) => OutSource::Url { url },
        MediaSource::FileId(file_id) => OutSource::File { file_id },
        MediaSource::Base64(d) => {
            if kind == MediaKind::Document
                && d.media_type.starts_with("text/")
                && let Some(text) = base64::decode(&d.data).and_then(|b| String::from_utf8(b).ok())
            {
                return OutSource::Text {
                    media_type: "text/plain",
                    data: text,
                };
            }
            OutSource::Base64 {
                media_type: &d.media_type,
                data: &d.data,
            }
        }
    }
}

/// Images and documents take their sources differently (a text document goes as text).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum MediaKind {
    Image,
    Document,
}

/// Appends the Claude blocks of one IR block to `out`. `at` names the block for errors.
pub fn encode_block<'a>(
    block: &'a ContentBlock,
    audience: Audience,
    out: &mut Vec<OutBlock<'a>>,
    at: &dyn Fn() -> String,
) -> Result<(), PluginError> {
    match block {
        ContentBlock::Text(t) => {
            if !t.text.is_empty() {
                out.push(OutBlock::Text {
                    text: Cow::Borrowed(&t.text),
                    cache_control: out_cache(t.cache),
                });
            }
        }
        ContentBlock::Image(m) => out.push(OutBlock::Image {
            source: out_source(&m.source, MediaKind::Image),
            cache_control: out_cache(m.cache),
        }),
        ContentBlock::Document(m) => out.push(OutBlock::Document {
            source: out_source(&m.source, MediaKind::Document),
            cache_control: out_cache(m.cache),
        }),
        ContentBlock::Thinking(t) => {
            let signature = t.signature.as_deref().unwrap_or("");
            let keep = match audience {
                Audience::Upstream => !signature.is_empty() && !t.text.is_empty(),
                Audience::Client => !signature.is_empty() || !t.text.is_empty(),
            };
            if keep {
                out.push(OutBlock::Thinking {
                    thinking: &t.text,
                    signature,
                });
            }
        }
        ContentBlock::RedactedThinking(data) => out.push(OutBlock::RedactedThinking { data }),
        ContentBlock::ToolCall(call) => {
            if audience == Audience::Client
                && let Some(sig) = call.signature.as_deref().filter(|s| !s.is_empty())
                && !matches!(out.last(), Some(OutBlock::Thinking { signature, .. }) if *signature == sig)
            {
                out.push(OutBlock::Thinking {
                    thinking: "",
                    signature: sig,
                });
            }
            out.push(OutBlock::ToolUse {
                id: &call.id,
                name: &call.name,
                input: tool_arguments(call, at)?,
            });
        }
        ContentBlock::ToolResult(r) => out.push(encode_result(r)),
    }
    Ok(())
}

fn encode_result(r: &ToolResult) -> OutBlock<'_> {
    let parts: Vec<&ToolResultPart> = r
        .content
        .iter()
        .filter(|p| !matches!(p, ToolResultPart::Text(t) if t.is_empty()))
        .collect();
    let content = match parts.as_slice() {
        [] => None,
        [ToolResultPart::Text(text)] => Some(OutResultContent::Text(text)),
        parts => Some(OutResultContent::Blocks(
            parts
                .iter()
                .map(|p| match p {
                    ToolResultPart::Text(text) => OutBlock::Text {
                        text: Cow::Borrowed(text),
                        cache_control: None,
                    },
                    ToolResultPart::Image(source) => OutBlock::Image {
                        source: out_source(source, MediaKind::Image),
                        cache_control: None,
                    },
                })
                .collect(),
        )),
    };
    OutBlock::ToolResult {
        tool_use_id: &r.call_id,
        content,
        is_error: r.is_error.then_some(true),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn decode(v: Value) -> Result<Vec<ContentBlock>, PluginError> {
        decode_content(serde_json::from_value(v).unwrap(), &|| "content".into())
    }

    fn encode(blocks: &[ContentBlock], audience: Audience) -> Value {
        let mut out = Vec::new();
        for b in blocks {
            encode_block(b, audience, &mut out, &|| "x".into()).unwrap();
        }
        serde_json::to_value(out).unwrap()
    }

    #[test]
    fn string_content_is_one_text_block() {
        let blocks = decode(json!("hi")).unwrap();
        assert!(matches!(&blocks[..], [ContentBlock::Text(t)] if t.text == "hi" && t.cache.is_none()));
    }

    #[test]
    fn every_block_type_decodes() {
        let blocks = decode(json!([
            {"type": "text", "text": "a", "cache_control": {"type": "ephemeral", "ttl": "1h"}},
            {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "AA=="}},
            {"type": "image", "source": {"type": "url", "url": "https://x/y.png"}},
            {"type": "document", "source": {"type": "file", "file_id": "file_1"}, "cache_control": {"type": "ephemeral"}},
            {"type": "document", "source": {"type": "text", "media_type": "text/plain", "data": "hello"}},
            {"type": "thinking", "thinking": "hm", "signature": "sig"},
            {"type": "redacted_thinking", "data": "enc"},
            {"type": "tool_use", "id": "toolu_1", "name": "f", "input": {"a": 1}},
            {"type": "tool_result", "tool_use_id": "toolu_1", "content": [{"type": "text", "text": "r"},
                {"type": "image", "source": {"type": "url", "url": "u"}}], "is_error": true},
            {"type": "server_tool_use", "id": "srvtoolu_1", "name": "web_search", "input": {}}
        ]))
        .unwrap();
        assert_eq!(blocks.len(), 9);
        assert!(matches!(&blocks[0], ContentBlock::Text(t) if t.cache == Some(CacheTtl::OneHour)));
        assert!(
            matches!(&blocks[1], ContentBlock::Image(m) if matches!(&m.source, MediaSource::Base64(d) if d.media_type == "image/png"))
        );
        assert!(matches!(&blocks[2], ContentBlock::Image(m) if m.source == MediaSource::Url("https://x/y.png".into())));
        assert!(matches!(&blocks[3], ContentBlock::Document(m) if m.cache == Some(CacheTtl::FiveMinutes)));
        assert!(
            matches!(&blocks[4], ContentBlock::Document(m) if matches!(&m.source, MediaSource::Base64(d) if d.data == "aGVsbG8="))
        );
        assert!(matches!(&blocks[5], ContentBlock::Thinking(t) if t.signature.as_deref() == Some("sig")));
        assert!(matches!(&blocks[6], ContentBlock::RedactedThinking(d) if d == "enc"));
        assert!(matches!(&blocks[7], ContentBlock::ToolCall(c) if c.arguments_json == r#"{"a":1}"#));
        assert!(
            matches!(&blocks[8], ContentBlock::ToolResult(r) if r.is_error && r.content.len() == 2 && r.call_id == "toolu_1")
        );
    }

    #[test]
    fn content_of_the_wrong_shape_is_an_error() {
        assert!(serde_json::from_value::<WireContent>(json!(5)).is_err());
        assert!(serde_json::from_value::<WireContent>(json!([{"text": "no type"}])).is_err());
    }

    #[test]
    fn malformed_blocks_name_their_place() {
        let err = decode(json!([{"type": "text"}, {"type": "tool_use", "name": "f"}])).unwrap_err();
        assert_eq!(
            err,
            PluginError::InvalidRequest("content[0]: text block has no \"text\"".into())
        );
        let err = decode(json!([{"type": "tool_use", "name": "f"}])).unwrap_err();
        assert!(matches!(&err, PluginError::InvalidRequest(m) if m.contains("content[0]") && m.contains("\"id\"")));
        let err = decode(json!([{"type": "image", "source": {"type": "base64", "data": "x"}}])).unwrap_err();
        assert!(matches!(&err, PluginError::InvalidRequest(m) if m.contains("media_type")));
        let err = decode(json!([{"type": "tool_use", "id": "i", "name": "f", "input": [1]}])).unwrap_err();
        assert!(matches!(&err, PluginError::InvalidRequest(m) if m.contains("object")));
    }

    #[test]
    fn encoding_drops_empty_text_and_unsigned_thinking_for_upstreams() {
        let blocks = vec![
            text_block(String::new(), None),
            ContentBlock::Thinking(ThinkingBlock {
                text: "t".into(),
                signature: None,
            }),
            ContentBlock::Thinking(ThinkingBlock {
                text: String::new(),
                signature: Some("gemini-sig".into()),
            }),
            ContentBlock::Thinking(ThinkingBlock {
                text: "t".into(),
                signature: Some("s".into()),
            }),
            ContentBlock::ToolCall(ToolCall {
                id: "c".into(),
                name: "f".into(),
                arguments_json: String::new(),
                signature: Some("gsig".into()),
            }),
        ];
        assert_eq!(
            encode(&blocks, Audience::Upstream),
            json!([{"type": "thinking", "thinking": "t", "signature": "s"},
                {"type": "tool_use", "id": "c", "name": "f", "input": {}}])
        );
        assert_eq!(
            encode(&blocks, Audience::Client),
            json!([{"type": "thinking", "thinking": "t", "signature": ""},
                {"type": "thinking", "thinking": "", "signature": "gemini-sig"},
                {"type": "thinking", "thinking": "t", "signature": "s"},
                {"type": "thinking", "thinking": "", "signature": "gsig"},
                {"type": "tool_use", "id": "c", "name": "f", "input": {}}])
        );
    }

    #[test]
    fn media_and_results_encode() {
        let blocks = vec![
            ContentBlock::Document(MediaBlock {
                source: MediaSource::Base64(InlineData {
                    media_type: "text/plain".into(),
                    data: "aGVsbG8=".into(),
                }),
                cache: Some(CacheTtl::OneHour),
            }),
            ContentBlock::Image(MediaBlock {
                source: MediaSource::FileId("file_9".into()),
                cache: None,
            }),
            ContentBlock::ToolResult(ToolResult {
                call_id: "c".into(),
                name: None,
                content: vec![ToolResultPart::Text("ok".into())],
                is_error: false,
            }),
            ContentBlock::ToolResult(ToolResult {
                call_id: "d".into(),
                name: None,
                content: vec![
                    ToolResultPart::Text("bad".into()),
                    ToolResultPart::Image(MediaSource::Url("u".into())),
                ],
                is_error: true,
            }),
        ];
        assert_eq!(
            encode(&blocks, Audience::Upstream),
            json!([
                {"type": "document", "source": {"type": "text", "media_type": "text/plain", "data": "hello"},
                 "cache_control": {"type": "ephemeral", "ttl": "1h"}},
                {"type": "image", "source": {"type": "file", "file_id": "file_9"}},
                {"type": "tool_result", "tool_use_id": "c", "content": "ok"},
                {"type": "tool_result", "tool_use_id": "d", "is_error": true, "content": [
                    {"type": "text", "text": "bad"}, {"type": "image", "source": {"type": "url", "url": "u"}}]}
            ])
        );
    }

    #[test]
    fn bad_tool_arguments_are_invalid() {
        let call = ToolCall {
            id: "c".into(),
            name: "f".into(),
            arguments_json: "{oops".into(),
            signature: None,
        };
        assert!(matches!(
            tool_arguments(&call, &|| "m".into()),
            Err(PluginError::InvalidRequest(_))
        ));
    }
}
