//! The routing facts of an Anthropic Messages request.
//!
//! Capabilities: `tools` (a non-empty `tools` list), `vision` (an `image` block in a message
//! or a tool result), `thinking` (`thinking.type` `enabled` or `adaptive`), `structured-output`
//! (`output_format`), `context-1m` (an `anthropic-beta` header naming `context-1m-…`) and
//! `cache-1h` (any `cache_control` with `ttl: "1h"`, in tools, system or messages).
//!
//! The body is read once into small borrowed structs that skip everything else.

use std::borrow::Cow;
use std::fmt;

use aether_plugin_sdk::json;
use aether_plugin_sdk::types::{Capability, Inspection, PluginError, RequestHead};
use serde::de::{IgnoredAny, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer};

#[derive(Deserialize)]
struct Probe<'a> {
    #[serde(borrow, default)]
    model: Option<Cow<'a, str>>,
    #[serde(default)]
    stream: Option<bool>,
    #[serde(default)]
    max_tokens: Option<u64>,
    #[serde(default)]
    tools: BlockList,
    #[serde(borrow, default)]
    thinking: Option<Thinking<'a>>,
    #[serde(default)]
    output_format: Option<IgnoredAny>,
    #[serde(default)]
    system: BlockList,
    #[serde(default)]
    messages: MessageList,
}

#[derive(Deserialize)]
struct Thinking<'a> {
    #[serde(borrow, rename = "type")]
    kind: Cow<'a, str>,
}

/// What the blocks of a request say about its capabilities.
#[derive(Debug, Default, Clone, Copy)]
struct Flags {
    image: bool,
    cache_1h: bool,
}

impl Flags {
    fn or(self, other: Flags) -> Flags {
        Flags {
            image: self.image || other.image,
            cache_1h: self.cache_1h || other.cache_1h,
        }
    }
}

/// A content block, a system block or a tool definition: only what capabilities need.
#[derive(Deserialize)]
struct Block<'a> {
    #[serde(borrow, rename = "type", default)]
    kind: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    cache_control: Option<CacheControl<'a>>,
    /// A tool result's own content.
    #[serde(default)]
    content: BlockList,
}

#[derive(Deserialize)]
struct CacheControl<'a> {
    #[serde(borrow, default)]
    ttl: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
struct Message {
    #[serde(default)]
    content: BlockList,
}

/// A list of blocks (or a plain string), folded into [`Flags`] as it is read: a long
/// history is never collected into vectors.
#[derive(Default)]
struct BlockList {
    flags: Flags,
    len: usize,
}

/// The messages, folded the same way.
#[derive(Default)]
struct MessageList(Flags);

impl<'de> Deserialize<'de> for BlockList {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = BlockList;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string or a list of blocks")
            }
            fn visit_str<E: serde::de::Error>(self, _: &str) -> Result<BlockList, E> {
                Ok(BlockList::default())
            }
            fn visit_unit<E: serde::de::Error>(self) -> Result<BlockList, E> {
                Ok(BlockList::default())
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<BlockList, A::Error> {
                let mut list = BlockList::default();
                while let Some(block) = seq.next_element::<Block<'de>>()? {
                    let own = Flags {
                        image: block.kind.as_deref() == Some("image"),
                        cache_1h: block.cache_control.and_then(|c| c.ttl).as_deref() == Some("1h"),
                    };
                    list.flags = list.flags.or(own).or(block.content.flags);
                    list.len += 1;
                }
                Ok(list)
            }
        }
        deserializer.deserialize_any(V)
    }
}

impl<'de> Deserialize<'de> for MessageList {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = MessageList;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a list of messages")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<MessageList, A::Error> {
                let mut flags = Flags::default();
                while let Some(message) = seq.next_element::<Message>()? {
                    flags = flags.or(message.content.flags);
                }
                Ok(MessageList(flags))
            }
        }
        deserializer.deserialize_seq(V)
    }
}

/// Model, stream flag, capabilities and an input estimate.
pub fn inspect(head: &RequestHead, body: &[u8]) -> Result<Inspection, PluginError> {
    let probe: Probe<'_> = json::parse_request(body)?;
    let model = probe
        .model
        .ok_or_else(|| PluginError::InvalidRequest("request body has no \"model\" field".into()))?;
    let flags = probe.messages.0.or(probe.system.flags).or(probe.tools.flags);
    let mut caps = Vec::new();
    if probe.tools.len > 0 {
        caps.push(Capability::Tools);
    }
    if flags.image {
        caps.push(Capability::Vision);
    }
    if probe
        .thinking
        .as_ref()
        .is_some_and(|t| matches!(&*t.kind, "enabled" | "adaptive"))
    {
        caps.push(Capability::Thinking);
    }
    if probe.output_format.is_some() {
        caps.push(Capability::StructuredOutput);
    }
    let beta_1m = head
        .headers
        .iter()
        .filter(|h| h.name == "anthropic-beta")
        .flat_map(|h| h.value.split(','))
        .any(|b| b.trim().starts_with("context-1m"));
    if beta_1m {
        caps.push(Capability::Context1m);
    }
    if flags.cache_1h {
        caps.push(Capability::Cache1h);
    }
    Ok(Inspection {
        model_span: json::top_level_value_span(body, "model").and_then(json::byte_span),
        model: Some(model.into_owned()),
        stream: probe.stream.unwrap_or(false),
        capabilities: caps,
        estimated_input_tokens: u32::try_from(body.len() / 4).unwrap_or(u32::MAX),
        max_output_tokens: probe.max_tokens.map(|n| u32::try_from(n).unwrap_or(u32::MAX)),
    })
}
