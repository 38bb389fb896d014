//! A provider's `base_url`, split into what Pingora's connector needs (TLS or not, host,
//! port, SNI) and the path prefix that upstream paths are appended to.
//!
//! Not the `url` crate (compiled in already, through sqlx): it normalises what it parses (it
//! lower-cases the host, drops a default port and percent-encodes the path), while the
//! gateway sends the `Host` and the prefix as the config wrote them; and a base URL's grammar
//! here is only a scheme, an authority and a path.

use thiserror::Error;

/// A problem with a `base_url`.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum UrlError {
    /// Not `http://` or `https://`.
    #[error("base_url must start with http:// or https://")]
    Scheme,
    /// No host.
    #[error("base_url has no host")]
    NoHost,
    /// The port is not a number.
    #[error("base_url has an invalid port")]
    Port,
    /// Query strings and fragments have no place in a base URL.
    #[error("base_url must not contain a query or fragment")]
    Query,
}

/// A parsed base URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpstreamUrl {
    /// Whether the connection uses TLS.
    pub tls: bool,
    /// Host name or IP literal (without brackets).
    pub host: String,
    /// TCP port.
    pub port: u16,
    /// Path prefix without a trailing slash (may be empty).
    pub prefix: String,
    /// The `Host` header value (`host` or `host:port` for non-default ports).
    pub authority: String,
}

impl UpstreamUrl {
    /// Parses `http(s)://host[:port][/prefix]`.
    pub fn parse(raw: &str) -> Result<Self, UrlError> {
        let (tls, rest) = if let Some(r) = raw.strip_prefix("https://") {
            (true, r)
        } else if let Some(r) = raw.strip_prefix("http://") {
            (false, r)
        } else {
            return Err(UrlError::Scheme);
        };
        if rest.contains(['?', '#']) {
            return Err(UrlError::Query);
        }
        let (authority, prefix) = match rest.find('/') {
            Some(i) => (&rest[..i], rest[i..].trim_end_matches('/')),
            None => (rest, ""),
        };
        let default_port = if tls { 443 } else { 80 };
        let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
            let end = v6.find(']').ok_or(UrlError::NoHost)?;
            let port = match v6[end + 1..].strip_prefix(':') {
                Some(p) => p.parse().map_err(|_| UrlError::Port)?,
                None => default_port,
            };
            (v6[..end].to_owned(), port)
        } else {
            match authority.rsplit_once(':') {
                Some((h, p)) => (h.to_owned(), p.parse().map_err(|_| UrlError::Port)?),
                None => (authority.to_owned(), default_port),
            }
        };
        if host.is_empty() {
            return Err(UrlError::NoHost);
        }
        Ok(UpstreamUrl {
            tls,
            host,
            port,
            prefix: prefix.to_owned(),
            authority: authority.to_owned(),
        })
    }

    /// Joins the prefix and a format path, dropping a duplicated version segment
    /// (`https://x/v1` + `/v1/chat/completions` → `/v1/chat/completions`).
    pub fn join(&self, path: &str) -> String {
        for version in ["/v1beta", "/v1"] {
            if self.prefix.ends_with(version) && path.starts_with(version) {
                let next = path.as_bytes().get(version.len());
                if matches!(next, Some(b'/') | None) {
                    return format!("{}{}", &self.prefix[..self.prefix.len() - version.len()], path);
                }
            }
        }
        format!("{}{}", self.prefix, path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_joins() {
        let u = UpstreamUrl::parse("https://api.openai.com/v1").unwrap();
        assert!(u.tls);
        assert_eq!((u.host.as_str(), u.port), ("api.openai.com", 443));
        assert_eq!(u.join("/v1/chat/completions"), "/v1/chat/completions");
        let u = UpstreamUrl::parse("http://127.0.0.1:9100/").unwrap();
        assert_eq!(
            (u.port, u.prefix.as_str(), u.authority.as_str()),
            (9100, "", "127.0.0.1:9100")
        );
        let u = UpstreamUrl::parse("https://gw.example/openai").unwrap();
        assert_eq!(u.join("/v1/responses"), "/openai/v1/responses");
        let u = UpstreamUrl::parse("http://[::1]:8000").unwrap();
        assert_eq!((u.host.as_str(), u.port), ("::1", 8000));
        assert_eq!(UpstreamUrl::parse("ftp://x"), Err(UrlError::Scheme));
        assert_eq!(UpstreamUrl::parse("http://x:abc"), Err(UrlError::Port));
    }
}
