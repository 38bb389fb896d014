//! HTTP/2 over cleartext (prior knowledge): a streamed and a non-streamed answer.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use aether_mock::MockConfig;
use bytes::Bytes;
use support::{parse_sse, start};
use tokio::net::TcpStream;

async fn h2_post(
    client: &mut h2::client::SendRequest<Bytes>,
    authority: &str,
    path: &str,
    body: &'static [u8],
) -> (u16, Option<String>, Vec<u8>) {
    let request = http::Request::builder()
        .method("POST")
        .uri(format!("http://{authority}{path}"))
        .header("content-type", "application/json")
        .body(())
        .unwrap();
    let (response, mut send) = client.send_request(request, false).unwrap();
    send.send_data(Bytes::from_static(body), true).unwrap();
    let response = response.await.unwrap();
    let status = response.status().as_u16();
    let content_type = response
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned());
    let mut recv = response.into_body();
    let mut out = Vec::new();
    while let Some(chunk) = recv.data().await {
        let chunk = chunk.unwrap();
        recv.flow_control().release_capacity(chunk.len()).unwrap();
        out.extend_from_slice(&chunk);
    }
    (status, content_type, out)
}

#[tokio::test]
async fn h2c_prior_knowledge() {
    let server = start(MockConfig::default()).await;
    let tcp = TcpStream::connect(server.addr()).await.unwrap();
    let (mut client, connection) = h2::client::handshake(tcp).await.unwrap();
    tokio::spawn(async move {
        let _ = connection.await;
    });
    let authority = server.addr().to_string();

    let (status, content_type, body) = h2_post(
        &mut client,
        &authority,
        "/v1/messages",
        br#"{"model":"claude-x","max_tokens":8,"stream":true,"messages":[]}"#,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(content_type.as_deref(), Some("text/event-stream"));
    let events = parse_sse(&String::from_utf8(body).unwrap());
    assert_eq!(events.last().unwrap().name.as_deref(), Some("message_stop"));

    let (status, _, body) = h2_post(
        &mut client,
        &authority,
        "/v1/chat/completions",
        br#"{"model":"gpt-x","messages":[]}"#,
    )
    .await;
    assert_eq!(status, 200);
    let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(v["model"], "gpt-x");
    assert_eq!(server.request_count(), 2);
}
