//! Who may use the admin API. Two checks, made before any route is looked at:
//!
//! - **Token.** With `admin.token = "env:NAME"`, every request but `GET /healthz` (a
//!   liveness probe that reveals nothing) must carry `Authorization: Bearer <token>`;
//!   compared in constant time. Required with `exposure = "public"` (the config check
//!   refuses a public admin without one).
//! - **Host.** On a loopback listener, the `Host` header must name the loopback
//!   (`localhost`, `127.0.0.1`, `[::1]`, any port). A page in a browser whose domain an
//!   attacker re-pointed at 127.0.0.1 (DNS rebinding) sends its own domain as `Host`, so it
//!   cannot read `/admin/requests/{id}` or trigger a reload. A public admin answers any
//!   `Host` (it is behind its token and, usually, a proxy that names it).

use subtle::ConstantTimeEq;

use crate::config::file::{AdminExposure, AdminSection};
use crate::config::secret::{Secret, SecretRef};

/// The admin listener's access rules.
#[derive(Debug, Clone)]
pub struct AdminAccess {
    token: Option<Secret>,
    exposure: AdminExposure,
}

/// Why a request was turned away.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Denied {
    /// No token, or the wrong one (401).
    Token,
    /// A loopback admin asked under a foreign `Host` (403).
    Host,
}

impl Denied {
    /// The status and the client-safe message.
    pub fn answer(self) -> (u16, &'static str) {
        match self {
            Denied::Token => (401, "a bearer token is required (admin.token)"),
            Denied::Host => (
                403,
                "this admin listener is loopback-only and answers only to Host: localhost, 127.0.0.1 or [::1]",
            ),
        }
    }
}

impl AdminAccess {
    /// Rules from a token value (already resolved) and the exposure.
    pub fn new(token: Option<String>, exposure: AdminExposure) -> Self {
        AdminAccess {
            token: token.and_then(|t| SecretRef::Literal(&t).resolve()),
            exposure,
        }
    }

    /// Rules from `[admin]`: the token's `env:` variable is read now (the config check has
    /// made sure it is set where it is required).
    pub fn from_section(admin: &AdminSection) -> Self {
        AdminAccess {
            token: admin.token.as_deref().and_then(|t| SecretRef::parse(t).resolve()),
            exposure: admin.exposure,
        }
    }

    /// Checks one request's `Host` and `Authorization` for `path`.
    pub fn check(&self, path: &str, host: Option<&[u8]>, authorization: Option<&[u8]>) -> Result<(), Denied> {
        if self.exposure == AdminExposure::LoopbackOnly && !host.is_some_and(is_loopback_host) {
            return Err(Denied::Host);
        }
        if path == "/healthz" {
            return Ok(());
        }
        let Some(token) = &self.token else { return Ok(()) };
        let presented = authorization
            .and_then(|v| v.strip_prefix(b"Bearer "))
            .unwrap_or_default();
        if bool::from(presented.ct_eq(token.expose().as_bytes())) {
            Ok(())
        } else {
            Err(Denied::Token)
        }
    }
}

/// Whether a `Host` value names the loopback: `localhost`, `127.0.0.1` or `[::1]`, with or
/// without a port.
fn is_loopback_host(host: &[u8]) -> bool {
    let Ok(host) = std::str::from_utf8(host) else {
        return false;
    };
    let name = if let Some(v6) = host.strip_prefix('[') {
        match v6.split_once(']') {
            Some((addr, rest)) if rest.is_empty() || rest.strip_prefix(':').is_some_and(is_port) => addr,
            _ => return false,
        }
    } else {
        match host.rsplit_once(':') {
            Some((name, port)) if is_port(port) => name,
            Some(_) => return false,
            None => host,
        }
    };
    name.eq_ignore_ascii_case("localhost") || name.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

fn is_port(s: &str) -> bool {
    !s.is_empty() && s.len() <= 5 && s.bytes().all(|b| b.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_hosts() {
        for ok in [
            "localhost",
            "LOCALHOST:9090",
            "127.0.0.1",
            "127.0.0.1:9090",
            "[::1]",
            "[::1]:9090",
            "127.1.2.3",
        ] {
            assert!(is_loopback_host(ok.as_bytes()), "{ok}");
        }
        for bad in [
            "evil.example",
            "localhost.evil.example",
            "127.0.0.1.nip.io",
            "[::1]x",
            "127.0.0.1:90a",
            "",
            "::1",
        ] {
            assert!(!is_loopback_host(bad.as_bytes()), "{bad}");
        }
    }

    #[test]
    fn token_and_host() {
        let a = AdminAccess::new(Some("tok".into()), AdminExposure::LoopbackOnly);
        let host = Some(&b"localhost:9090"[..]);
        assert_eq!(a.check("/admin/providers", host, Some(b"Bearer tok")), Ok(()));
        assert_eq!(
            a.check("/admin/providers", host, Some(b"Bearer tok2")),
            Err(Denied::Token)
        );
        assert_eq!(a.check("/admin/providers", host, Some(b"tok")), Err(Denied::Token));
        assert_eq!(a.check("/admin/providers", host, None), Err(Denied::Token));
        assert_eq!(a.check("/healthz", host, None), Ok(()));
        assert_eq!(a.check("/healthz", Some(b"evil.example"), None), Err(Denied::Host));
        let public = AdminAccess::new(Some("tok".into()), AdminExposure::Public);
        assert_eq!(
            public.check("/metrics", Some(b"admin.example"), Some(b"Bearer tok")),
            Ok(())
        );
        let open = AdminAccess::new(None, AdminExposure::LoopbackOnly);
        assert_eq!(open.check("/metrics", host, None), Ok(()));
    }
}
