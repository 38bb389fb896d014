//! Ingress: which endpoint a request is for (and so which wire format the client speaks),
//! and the client key it presents.

use http::Method;
use sha2::{Digest, Sha256};

use crate::error::GatewayError;
use crate::format::WireFormat;

/// What a request asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Endpoint {
    /// A generation request in `format`.
    Generate {
        /// The client's format.
        format: WireFormat,
        /// For Gemini, the model and the streaming flag come from the path.
        gemini: Option<GeminiTarget>,
    },
    /// Token counting: `POST /v1/messages/count_tokens` (Claude) or `…:countTokens` (Gemini).
    CountTokens {
        /// The client's format.
        format: WireFormat,
        /// For Gemini, the model comes from the path.
        gemini: Option<GeminiTarget>,
    },
    /// `GET /v1/models` or `GET /v1beta/models`.
    ListModels,
    /// `GET /` or `HEAD /`: clients and load balancers probe it; 200, no key needed, no
    /// usage record.
    Probe,
}

/// The model and action of a Gemini path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GeminiTarget {
    /// The model named in the path.
    pub model: String,
    /// What the path asks for.
    pub action: GeminiAction,
}

/// The action after the colon of a Gemini path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GeminiAction {
    /// `generateContent`.
    Generate,
    /// `streamGenerateContent`.
    StreamGenerate,
    /// `countTokens`.
    CountTokens,
}

impl GeminiAction {
    /// The action's name in the path.
    pub fn as_str(self) -> &'static str {
        match self {
            GeminiAction::Generate => "generateContent",
            GeminiAction::StreamGenerate => "streamGenerateContent",
            GeminiAction::CountTokens => "countTokens",
        }
    }
}

/// A classified request: the endpoint, or the error with the format to render it in.
pub type Classified = Result<Endpoint, (WireFormat, GatewayError)>;

/// Classifies a request by method and path (the query is not part of `path`).
pub fn classify(method: &Method, path: &str) -> Classified {
    let post = |format: WireFormat, endpoint: Endpoint| -> Classified {
        if method == Method::POST {
            Ok(endpoint)
        } else {
            Err((format, method_not_allowed(method, path)))
        }
    };
    let generate = |format| Endpoint::Generate { format, gemini: None };
    match path.trim_end_matches('/') {
        "" if method == Method::GET || method == Method::HEAD => Ok(Endpoint::Probe),
        "/v1/messages" => post(WireFormat::Claude, generate(WireFormat::Claude)),
        "/v1/messages/count_tokens" => post(
            WireFormat::Claude,
            Endpoint::CountTokens {
                format: WireFormat::Claude,
                gemini: None,
            },
        ),
        "/v1/chat/completions" => post(WireFormat::OpenaiChat, generate(WireFormat::OpenaiChat)),
        "/v1/responses" => post(WireFormat::OpenaiResponses, generate(WireFormat::OpenaiResponses)),
        "/v1/models" | "/v1beta/models" => {
            let format = if path.starts_with("/v1beta") {
                WireFormat::Gemini
            } else {
                WireFormat::OpenaiChat
            };
            if method == Method::GET {
                Ok(Endpoint::ListModels)
            } else {
                Err((format, method_not_allowed(method, path)))
            }
        }
        p => match gemini_target(p) {
            Some(target) => {
                let format = WireFormat::Gemini;
                let endpoint = match target.action {
                    GeminiAction::CountTokens => Endpoint::CountTokens {
                        format,
                        gemini: Some(target),
                    },
                    GeminiAction::Generate | GeminiAction::StreamGenerate => Endpoint::Generate {
                        format,
                        gemini: Some(target),
                    },
                };
                post(format, endpoint)
            }
            None => {
                let format = if p.starts_with("/v1beta") {
                    WireFormat::Gemini
                } else {
                    WireFormat::OpenaiChat
                };
                Err((
                    format,
                    GatewayError::NotFound {
                        method: method.to_string(),
                        path: path.to_owned(),
                    },
                ))
            }
        },
    }
}

fn method_not_allowed(method: &Method, path: &str) -> GatewayError {
    GatewayError::MethodNotAllowed {
        method: method.to_string(),
        path: path.to_owned(),
    }
}

fn gemini_target(path: &str) -> Option<GeminiTarget> {
    let rest = path
        .strip_prefix("/v1beta/models/")
        .or_else(|| path.strip_prefix("/v1/models/"))?;
    let (model, action) = rest.rsplit_once(':')?;
    if model.is_empty() || model.contains('/') {
        return None;
    }
    let action = match action {
        "generateContent" => GeminiAction::Generate,
        "streamGenerateContent" => GeminiAction::StreamGenerate,
        "countTokens" => GeminiAction::CountTokens,
        _ => return None,
    };
    Some(GeminiTarget {
        model: model.to_owned(),
        action,
    })
}

/// The client key a request presents, from whichever header its SDK uses: `x-api-key`
/// (Anthropic), `Authorization: Bearer` (OpenAI; Claude Code with a token),
/// `x-goog-api-key` or `?key=` (Gemini). Returned as its SHA-256; the key itself is not kept.
pub fn client_key_hash(headers: &http::HeaderMap, query: Option<&str>) -> Option<[u8; 32]> {
    let from_header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).map(str::trim);
    let key = from_header("x-api-key")
        .or_else(|| {
            from_header("authorization").and_then(|v| {
                v.strip_prefix("Bearer ")
                    .or_else(|| v.strip_prefix("bearer "))
                    .map(str::trim)
            })
        })
        .or_else(|| from_header("x-goog-api-key"))
        .or_else(|| query_param(query?, "key"))
        .filter(|k| !k.is_empty())?;
    Some(Sha256::digest(key.as_bytes()).into())
}

/// The raw value of a query parameter (no percent-decoding: keys and flags are plain).
pub fn query_param<'a>(query: &'a str, name: &str) -> Option<&'a str> {
    query.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        (k == name).then_some(v)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_each_format() {
        assert_eq!(
            classify(&Method::POST, "/v1/messages").ok(),
            Some(Endpoint::Generate {
                format: WireFormat::Claude,
                gemini: None
            })
        );
        assert_eq!(
            classify(&Method::POST, "/v1/messages/count_tokens").ok(),
            Some(Endpoint::CountTokens {
                format: WireFormat::Claude,
                gemini: None
            })
        );
        assert_eq!(
            classify(&Method::POST, "/v1beta/models/gemini-pro:streamGenerateContent").ok(),
            Some(Endpoint::Generate {
                format: WireFormat::Gemini,
                gemini: Some(GeminiTarget {
                    model: "gemini-pro".into(),
                    action: GeminiAction::StreamGenerate
                })
            })
        );
        assert!(matches!(
            classify(&Method::GET, "/v1beta/models"),
            Ok(Endpoint::ListModels)
        ));
        assert!(matches!(
            classify(&Method::POST, "/v1beta/models/g:countTokens"),
            Ok(Endpoint::CountTokens {
                format: WireFormat::Gemini,
                gemini: Some(GeminiTarget {
                    action: GeminiAction::CountTokens,
                    ..
                })
            })
        ));
        let (format, err) = classify(&Method::GET, "/v1/responses").unwrap_err();
        assert_eq!((format, err.status()), (WireFormat::OpenaiResponses, 405));
        let (format, err) = classify(&Method::POST, "/v1beta/nothing").unwrap_err();
        assert_eq!((format, err.status()), (WireFormat::Gemini, 404));
    }

    #[test]
    fn extracts_keys_from_every_header() {
        let want: [u8; 32] = Sha256::digest(b"sk-1").into();
        for (name, value) in [
            ("x-api-key", "sk-1"),
            ("authorization", "Bearer sk-1"),
            ("x-goog-api-key", "sk-1"),
        ] {
            let mut h = http::HeaderMap::new();
            h.insert(name, value.parse().unwrap());
            assert_eq!(client_key_hash(&h, None), Some(want), "{name}");
        }
        assert_eq!(
            client_key_hash(&http::HeaderMap::new(), Some("alt=sse&key=sk-1")),
            Some(want)
        );
        assert_eq!(client_key_hash(&http::HeaderMap::new(), Some("alt=sse")), None);
    }
}
