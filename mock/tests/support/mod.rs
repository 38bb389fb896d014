//! A minimal raw HTTP/1.1 client and SSE parser for the mock's integration tests.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::net::SocketAddr;

use aether_mock::{MockConfig, MockServer};
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Start a mock on an ephemeral port.
pub async fn start(config: MockConfig) -> MockServer {
    MockServer::start("127.0.0.1:0".parse().unwrap(), config).await.unwrap()
}

/// One HTTP response as read off the wire.
#[derive(Debug)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// False when the connection ended before the body did.
    pub complete: bool,
    /// Whether the body was chunked.
    pub chunked: bool,
}

impl Response {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| panic!("body is not JSON ({e}): {}", self.text()))
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The body parsed as SSE events.
    pub fn events(&self) -> Vec<Event> {
        parse_sse(&self.text())
    }
}

/// One SSE event.
#[derive(Debug, Clone)]
pub struct Event {
    pub name: Option<String>,
    pub data: String,
}

impl Event {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.data).unwrap_or_else(|e| panic!("event data is not JSON ({e}): {}", self.data))
    }
}

/// Parse an SSE body; every event must end with a blank line.
pub fn parse_sse(text: &str) -> Vec<Event> {
    let mut events = Vec::new();
    let mut rest = text;
    while let Some(end) = rest.find("\n\n") {
        let block = &rest[..end];
        rest = &rest[end + 2..];
        let mut name = None;
        let mut data = Vec::new();
        for line in block.lines() {
            if let Some(v) = line.strip_prefix("event: ") {
                name = Some(v.to_owned());
            } else if let Some(v) = line.strip_prefix("data: ") {
                data.push(v);
            } else {
                panic!("unexpected SSE line {line:?}");
            }
        }
        events.push(Event {
            name,
            data: data.join("\n"),
        });
    }
    assert!(rest.is_empty(), "trailing partial event {rest:?}");
    events
}

/// The names of named events.
pub fn names(events: &[Event]) -> Vec<String> {
    events.iter().filter_map(|e| e.name.clone()).collect()
}

/// One client connection.
pub struct Conn {
    stream: TcpStream,
    buf: Vec<u8>,
}

impl Conn {
    pub async fn connect(addr: SocketAddr) -> Conn {
        Conn {
            stream: TcpStream::connect(addr).await.unwrap(),
            buf: Vec::new(),
        }
    }

    pub async fn send_raw(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).await.unwrap();
    }

    /// Send a request head (with `content-length` of `body_len`).
    pub async fn send_head(&mut self, method: &str, path: &str, headers: &[(&str, &str)], body_len: usize) {
        let mut head = format!("{method} {path} HTTP/1.1\r\nhost: mock\r\ncontent-length: {body_len}\r\n");
        for (k, v) in headers {
            head.push_str(&format!("{k}: {v}\r\n"));
        }
        head.push_str("\r\n");
        self.send_raw(head.as_bytes()).await;
    }

    /// Send a request and read its final response.
    pub async fn request(&mut self, method: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) -> Response {
        self.send_head(method, path, headers, body.len()).await;
        self.send_raw(body).await;
        self.read_response().await
    }

    /// Read more bytes; 0 at end of stream (or on a reset).
    async fn fill(&mut self) -> usize {
        let mut chunk = [0u8; 65536];
        let n = self.stream.read(&mut chunk).await.unwrap_or(0);
        self.buf.extend_from_slice(&chunk[..n]);
        n
    }

    /// Read one response head, 1xx included.
    pub async fn read_head(&mut self) -> (u16, Vec<(String, String)>) {
        loop {
            if let Some(end) = self.buf.windows(4).position(|w| w == b"\r\n\r\n") {
                let head = String::from_utf8(self.buf[..end].to_vec()).unwrap();
                self.buf.drain(..end + 4);
                let mut lines = head.split("\r\n");
                let status_line = lines.next().unwrap();
                let status = status_line.split(' ').nth(1).unwrap().parse().unwrap();
                let headers = lines
                    .map(|l| {
                        let (k, v) = l.split_once(':').unwrap();
                        (k.trim().to_ascii_lowercase(), v.trim().to_owned())
                    })
                    .collect();
                return (status, headers);
            }
            assert!(self.fill().await > 0, "connection closed before a response head");
        }
    }

    /// Read the next final response (skipping 1xx heads) with its body.
    pub async fn read_response(&mut self) -> Response {
        let (status, headers) = loop {
            let (status, headers) = self.read_head().await;
            if status >= 200 {
                break (status, headers);
            }
        };
        let find = |name: &str| headers.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
        let chunked = find("transfer-encoding").is_some_and(|v| v.contains("chunked"));
        let (body, complete) = if chunked {
            self.read_chunked().await
        } else if let Some(len) = find("content-length") {
            let len: usize = len.parse().unwrap();
            while self.buf.len() < len {
                if self.fill().await == 0 {
                    break;
                }
            }
            let complete = self.buf.len() >= len;
            let take = len.min(self.buf.len());
            (self.buf.drain(..take).collect(), complete)
        } else {
            while self.fill().await > 0 {}
            (std::mem::take(&mut self.buf), true)
        };
        Response {
            status,
            headers,
            body,
            complete,
            chunked,
        }
    }

    /// Decode a chunked body; `complete` is false when the stream ends before the last chunk.
    async fn read_chunked(&mut self) -> (Vec<u8>, bool) {
        let mut body = Vec::new();
        loop {
            let line_end = loop {
                if let Some(pos) = self.buf.windows(2).position(|w| w == b"\r\n") {
                    break pos;
                }
                if self.fill().await == 0 {
                    return (body, false);
                }
            };
            let size_text = String::from_utf8(self.buf[..line_end].to_vec()).unwrap();
            let size = usize::from_str_radix(size_text.split(';').next().unwrap().trim(), 16).unwrap();
            self.buf.drain(..line_end + 2);
            while self.buf.len() < size + 2 {
                if self.fill().await == 0 {
                    let take = size.min(self.buf.len());
                    body.extend(self.buf.drain(..take));
                    return (body, false);
                }
            }
            body.extend(self.buf.drain(..size));
            assert_eq!(&self.buf[..2], b"\r\n", "chunk not followed by CRLF");
            self.buf.drain(..2);
            if size == 0 {
                return (body, true);
            }
        }
    }

    /// Whether the server closed the connection (reads end of stream).
    pub async fn closed(&mut self) -> bool {
        self.buf.is_empty() && self.fill().await == 0
    }
}

/// One request on a fresh connection.
pub async fn post(server: &MockServer, path: &str, headers: &[(&str, &str)], body: &Value) -> Response {
    let body = serde_json::to_vec(body).unwrap();
    let mut conn = Conn::connect(server.addr()).await;
    conn.request("POST", path, headers, &body).await
}
