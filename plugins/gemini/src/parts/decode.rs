//! Gemini parts → IR content blocks.
//!
//! - `{text, thought: true}` → thinking, with the part's `thoughtSignature` as its signature;
//! - `{text}` → text (an empty text is no block);
//! - `inlineData` / `fileData` → image (an `image/…` type) or document;
//! - `functionCall` → tool call (id per [`crate::ids`], `thoughtSignature` as its signature);
//! - `functionResponse` → tool result ([`crate::tool_result`]);
//! - a `thoughtSignature` on any part but a thought or a call → a thinking block with empty
//!   text and that signature, just before the part's own block;
//! - other parts (code execution, video metadata) are dropped.

use aether_plugin_sdk::types::{ContentBlock, TextBlock, ThinkingBlock, ToolCall, ToolResult, ToolResultPart};

use crate::ids::CallIds;
use crate::media;
use crate::tool_result::{self, Outcome};
use crate::wire::{Part, PartKind, TextKind};

/// The IR blocks of a turn's parts, in order.
pub fn blocks(parts: &[Part<'_>], ids: &mut CallIds) -> Vec<ContentBlock> {
    let mut out = Vec::with_capacity(parts.len());
    for part in parts {
        let signature = part.thought_signature.as_deref().map(str::to_owned);
        let kind = part.kind();
        let carries_own_signature = matches!(kind, PartKind::Text(_, TextKind::Thought) | PartKind::FunctionCall(_));
        if !carries_own_signature && let Some(signature) = &signature {
            out.push(signature_block(signature));
        }
        match kind {
            PartKind::Text(text, TextKind::Thought) => out.push(ContentBlock::Thinking(ThinkingBlock {
                text: text.to_owned(),
                signature,
            })),
            PartKind::Text(text, TextKind::Answer) => {
                if !text.is_empty() {
                    out.push(ContentBlock::Text(TextBlock {
                        text: text.to_owned(),
                        cache: None,
                    }));
                }
            }
            PartKind::InlineData(blob) => out.push(media::from_inline(blob)),
            PartKind::FileData(file) => out.push(media::from_file(file)),
            PartKind::FunctionCall(call) => out.push(ContentBlock::ToolCall(ToolCall {
                id: ids.call(call.id.as_deref(), &call.name),
                name: call.name.clone().into_owned(),
                arguments_json: call
                    .args
                    .as_ref()
                    .map_or_else(|| "{}".to_owned(), serde_json::Value::to_string),
                signature,
            })),
            PartKind::FunctionResponse(response) => {
                let (text, outcome) = tool_result::from_response(&response.response);
                out.push(ContentBlock::ToolResult(ToolResult {
                    call_id: ids.response(response.id.as_deref(), &response.name),
                    name: Some(response.name.clone().into_owned()),
                    content: vec![ToolResultPart::Text(text)],
                    is_error: outcome == Outcome::Error,
                }));
            }
            PartKind::Other => {}
        }
    }
    out
}

/// The thinking block that carries a signature found on a part that is not a thought.
pub fn signature_block(signature: &str) -> ContentBlock {
    ContentBlock::Thinking(ThinkingBlock {
        text: String::new(),
        signature: Some(signature.to_owned()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::Scope;
    use aether_plugin_sdk::types::{MediaBlock, MediaSource};

    fn decode(json: &str) -> Vec<ContentBlock> {
        let parts: Vec<Part<'_>> = serde_json::from_str(json).unwrap();
        blocks(&parts, &mut CallIds::new(Scope::Request))
    }

    #[test]
    fn thoughts_text_and_signatures() {
        let b = decode(
            r#"[{"text":"hmm","thought":true,"thoughtSignature":"s1"},{"text":"hi","thoughtSignature":"s2"},{"text":""}]"#,
        );
        assert_eq!(
            b,
            vec![
                ContentBlock::Thinking(ThinkingBlock {
                    text: "hmm".into(),
                    signature: Some("s1".into())
                }),
                signature_block("s2"),
                ContentBlock::Text(TextBlock {
                    text: "hi".into(),
                    cache: None
                }),
            ]
        );
    }

    #[test]
    fn calls_and_responses_pair_up() {
        let b = decode(
            r#"[{"functionCall":{"name":"f","args":{"a":1}},"thoughtSignature":"sig"},
                {"functionResponse":{"name":"f","response":{"error":"no"}}}]"#,
        );
        let ContentBlock::ToolCall(call) = &b[0] else { panic!() };
        assert_eq!(
            (call.id.as_str(), call.arguments_json.as_str()),
            ("call_0", r#"{"a":1}"#)
        );
        assert_eq!(call.signature.as_deref(), Some("sig"));
        let ContentBlock::ToolResult(result) = &b[1] else {
            panic!()
        };
        assert_eq!((result.call_id.as_str(), result.is_error), ("call_0", true));
        assert_eq!(result.content, vec![ToolResultPart::Text("no".into())]);
        assert_eq!(result.name.as_deref(), Some("f"));
    }

    #[test]
    fn media_and_dropped_parts() {
        let b = decode(
            r#"[{"inlineData":{"mimeType":"image/png","data":"AA"}},{"fileData":{"mimeType":"application/pdf","fileUri":"gs://d"}},
                {"executableCode":{"code":"x"}},{"functionCall":{"name":"g"}}]"#,
        );
        assert_eq!(b.len(), 3);
        assert!(matches!(&b[0], ContentBlock::Image(_)));
        assert!(
            matches!(&b[1], ContentBlock::Document(MediaBlock { source: MediaSource::Url(u), .. }) if u == "gs://d")
        );
        assert!(matches!(&b[2], ContentBlock::ToolCall(c) if c.arguments_json == "{}"));
    }
}
