//! `GET /v1/models` and `GET /v1beta/models`: the configured client-facing models, in the
//! shape of the format the caller's headers indicate (`x-api-key` + `anthropic-version` →
//! Anthropic; `x-goog-api-key`, `?key=` or a `/v1beta` path → Gemini; otherwise OpenAI),
//! filtered by what the caller's key may use.

use serde_json::{Value, json};

use crate::config::compile::{ClientKey, RuntimeConfig};
use crate::format::WireFormat;

/// Which listing shape to answer with.
pub fn listing_format(headers: &http::HeaderMap, path: &str, query: Option<&str>) -> WireFormat {
    if headers.contains_key("x-api-key") && headers.contains_key("anthropic-version") {
        WireFormat::Claude
    } else if headers.contains_key("x-goog-api-key")
        || path.starts_with("/v1beta")
        || query.is_some_and(|q| crate::ingress::query_param(q, "key").is_some())
    {
        WireFormat::Gemini
    } else {
        WireFormat::OpenaiChat
    }
}

/// The listing body.
pub fn listing(config: &RuntimeConfig, client: &ClientKey, format: WireFormat) -> Value {
    let names: Vec<String> = config
        .model_names()
        .into_iter()
        .filter(|m| client.models.allows(config.canonical_model(m)) || client.models.allows(m))
        .collect();
    match format {
        WireFormat::Claude => json!({
            "data": names.iter().map(|n| json!({
                "id": n, "type": "model", "display_name": n, "created_at": "2025-01-01T00:00:00Z",
            })).collect::<Vec<_>>(),
            "has_more": false,
            "first_id": names.first(),
            "last_id": names.last(),
        }),
        WireFormat::Gemini => json!({
            "models": names.iter().map(|n| json!({
                "name": format!("models/{n}"),
                "displayName": n,
                "supportedGenerationMethods": ["generateContent", "streamGenerateContent", "countTokens"],
            })).collect::<Vec<_>>(),
        }),
        WireFormat::OpenaiChat | WireFormat::OpenaiResponses => json!({
            "object": "list",
            "data": names.iter().map(|n| json!({
                "id": n, "object": "model", "created": 0, "owned_by": "aether",
            })).collect::<Vec<_>>(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn picks_shape_from_headers() {
        let mut h = http::HeaderMap::new();
        assert_eq!(listing_format(&h, "/v1/models", None), WireFormat::OpenaiChat);
        assert_eq!(listing_format(&h, "/v1beta/models", None), WireFormat::Gemini);
        assert_eq!(listing_format(&h, "/v1/models", Some("key=x")), WireFormat::Gemini);
        h.insert("x-api-key", "k".parse().unwrap());
        h.insert("anthropic-version", "2023-06-01".parse().unwrap());
        assert_eq!(listing_format(&h, "/v1/models", None), WireFormat::Claude);
    }
}
