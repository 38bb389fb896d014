//! Header policy between client and upstream.
//!
//! Upstream: client credentials and hop-by-hop headers never leave; every other client
//! header (`anthropic-beta`, `anthropic-version`, `user-agent`, `x-app`, …) is forwarded;
//! then the provider's extra headers; then the provider key, the way its format expects.
//! A converted request (client and upstream formats differ) leaves the client format's own
//! headers behind and carries those its upstream plugin chose instead.
//! Downstream: hop-by-hop and framing headers of the upstream response are dropped (Aether
//! frames the body itself) and every response carries `x-request-id`.

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

/// Whether an upstream response header may be relayed to the client.
pub fn relay_downstream(name: &str) -> bool {
    !(is_hop_by_hop(name) || name == "content-encoding")
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
    }
}
