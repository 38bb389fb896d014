//! Header policy between client and upstream.
//!
//! Upstream: client credentials and hop-by-hop headers never leave; every other client
//! header (`anthropic-beta`, `anthropic-version`, `user-agent`, `x-app`, …) is forwarded;
//! then the provider's extra headers; then the provider key, the way its format expects.
//! A converted request (client and upstream formats differ) leaves the client format's own
//! headers behind and carries those its upstream plugin chose instead.
//! Headers the client named in its own `Connection` header are hop-by-hop too, and stay.
//! `OpenAI-Organization` and `OpenAI-Project` choose what the operator's key bills: they go
//! only to providers whose config allows it (`client_billing_headers = "forward"`).
//! Downstream: an allow-list. The content type, the provider's rate-limit and retry
//! headers (clients back off on them) and its request id reach the client; nothing else
//! does (no `set-cookie`, no organization ids, no server banners). Every response carries
//! `x-request-id`.

/// Headers that carry a client's credentials to Aether; never forwarded.
pub fn is_credential(name: &str) -> bool {
    matches!(
        name,
        "authorization" | "x-api-key" | "x-goog-api-key" | "cookie" | "proxy-authorization"
    )
}

/// Hop-by-hop and framing headers (RFC 9110 §7.6.1, plus those Aether recomputes).
pub fn is_hop_by_hop(name: &str) -> bool {
    matches!(
        name,
        "connection"
            | "keep-alive"
            | "proxy-connection"
            | "proxy-authenticate"
            | "te"
            | "trailer"
            | "transfer-encoding"
            | "upgrade"
            | "host"
            | "content-length"
            | "expect"
            | "http2-settings"
    )
}

/// Client headers Aether does not forward for other reasons: forwarding metadata (Aether
/// is the client of the upstream) and `accept-encoding` (Aether reads the response to tap
/// usage and rewrite the model name, so it asks for identity encoding).
fn is_client_only(name: &str) -> bool {
    matches!(
        name,
        "accept-encoding"
            | "x-forwarded-for"
            | "x-forwarded-proto"
            | "x-forwarded-host"
            | "x-forwarded-port"
            | "x-real-ip"
            | "forwarded"
            | "x-request-id"
    )
}

/// Whether a client request header may be forwarded upstream.
pub fn forward_upstream(name: &str) -> bool {
    !(is_credential(name) || is_hop_by_hop(name) || is_client_only(name))
}

/// Whether a client header may go upstream with a converted request: as
/// [`forward_upstream`], less the client format's own headers (`anthropic-beta` means
/// nothing to Gemini, and the upstream's plugin sets what its format needs).
pub fn forward_converted(name: &str) -> bool {
    forward_upstream(name) && !["anthropic-", "openai-", "x-goog-"].iter().any(|p| name.starts_with(p))
}

/// Client headers that choose which organization or project the operator's key bills.
pub fn is_billing_choice(name: &str) -> bool {
    matches!(name, "openai-organization" | "openai-project")
}

/// Whether `name` is one of the headers the client's `Connection` header lists (so
/// hop-by-hop for this request: RFC 9110 §7.6.1).
pub fn named_by_connection(name: &str, connection: Option<&http::HeaderValue>) -> bool {
    connection
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|token| token.trim().eq_ignore_ascii_case(name)))
}

/// Whether an upstream response header may be relayed to the client: the allow-list.
pub fn relay_downstream(name: &str) -> bool {
    matches!(
        name,
        "content-type" | "retry-after" | "request-id" | "openai-processing-ms" | "x-goog-request-id"
    ) || name.starts_with("anthropic-ratelimit-")
        || name.starts_with("x-ratelimit-")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policy() {
        for h in [
            "authorization",
            "x-api-key",
            "x-goog-api-key",
            "connection",
            "host",
            "accept-encoding",
        ] {
            assert!(!forward_upstream(h), "{h}");
        }
        for h in [
            "anthropic-beta",
            "anthropic-version",
            "user-agent",
            "x-app",
            "content-type",
            "openai-beta",
        ] {
            assert!(forward_upstream(h), "{h}");
        }
        assert!(!forward_converted("anthropic-beta") && !forward_converted("x-goog-api-client"));
        assert!(forward_converted("user-agent") && forward_converted("x-mock-scenario"));
        assert!(!relay_downstream("transfer-encoding"));
        assert!(relay_downstream("anthropic-ratelimit-requests-remaining"));
        for h in [
            "x-ratelimit-remaining-tokens",
            "retry-after",
            "content-type",
            "request-id",
        ] {
            assert!(relay_downstream(h), "{h}");
        }
        for h in [
            "set-cookie",
            "openai-organization",
            "anthropic-organization-id",
            "server",
            "cf-ray",
            "x-request-id",
            "content-encoding",
        ] {
            assert!(!relay_downstream(h), "{h}");
        }
        let connection = http::HeaderValue::from_static("keep-alive, X-Trace-Token");
        assert!(named_by_connection("x-trace-token", Some(&connection)));
        assert!(!named_by_connection("x-trace", Some(&connection)));
        assert!(is_billing_choice("openai-organization") && !is_billing_choice("openai-beta"));
    }
}
