//! Server-sent events: framing an event for a client, and splitting SSE text into events
//! (for test fixtures and encoders; the host frames upstream streams itself).

use crate::types::SseEvent;

/// `event: NAME\ndata: DATA\n\n` (no `event:` line without a name). Multi-line data gets
/// one `data:` line per line.
pub fn frame(name: Option<&str>, data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len() + 32);
    frame_into(&mut out, name, data);
    out
}

/// [`frame`], appended to `out`.
pub fn frame_into(out: &mut Vec<u8>, name: Option<&str>, data: &[u8]) {
    event_head(out, name);
    if memchr::memchr(b'\n', data).is_none() {
        // The common event, one line of JSON.
        out.extend_from_slice(data);
    } else {
        for (i, line) in data.split(|b| *b == b'\n').enumerate() {
            if i > 0 {
                out.extend_from_slice(b"\ndata: ");
            }
            out.extend_from_slice(line);
        }
    }
    out.extend_from_slice(b"\n\n");
}

/// `value` as one event of JSON data, serialised straight into `out` (compact JSON holds no
/// line break, so it is one `data:` line).
pub fn json_event<T: serde::Serialize + ?Sized>(
    out: &mut Vec<u8>,
    name: Option<&str>,
    value: &T,
) -> Result<(), serde_json::Error> {
    let start = out.len();
    event_head(out, name);
    if let Err(e) = serde_json::to_writer(&mut *out, value) {
        out.truncate(start);
        return Err(e);
    }
    out.extend_from_slice(b"\n\n");
    Ok(())
}

/// The `event:` line, if named, and the first `data: `: the start of an event whose data
/// is one line, written by hand.
pub fn event_head(out: &mut Vec<u8>, name: Option<&str>) {
    if let Some(name) = name {
        out.extend_from_slice(b"event: ");
        out.extend_from_slice(name.as_bytes());
        out.push(b'\n');
    }
    out.extend_from_slice(b"data: ");
}

/// The events in SSE text: blank-line separated, `event:` and `data:` fields, comments and
/// other fields ignored, `\r\n` accepted.
pub fn parse(text: &str) -> Vec<SseEvent> {
    let mut events = Vec::new();
    let mut name: Option<String> = None;
    let mut data: Option<String> = None;
    for line in text.split('\n') {
        let line = line.strip_suffix('\r').unwrap_or(line);
        if line.is_empty() {
            if let Some(data) = data.take() {
                events.push(SseEvent {
                    name: name.take(),
                    data,
                });
            }
            name = None;
            continue;
        }
        let (field, value) = line.split_once(':').unwrap_or((line, ""));
        let value = value.strip_prefix(' ').unwrap_or(value);
        match field {
            "event" => name = Some(value.to_owned()),
            "data" => match &mut data {
                Some(d) => {
                    d.push('\n');
                    d.push_str(value);
                }
                None => data = Some(value.to_owned()),
            },
            _ => {}
        }
    }
    if let Some(data) = data {
        events.push(SseEvent { name, data });
    }
    events
}

/// Which of `names` an event is: its `event:` name, or, for an event sent without one, the
/// quoted `"type"` value among the first bytes of its data (formats put `type` first).
pub fn event_type<'n>(event: &SseEvent, names: &[&'n str]) -> Option<&'n str> {
    if let Some(name) = event.name.as_deref() {
        return names.iter().copied().find(|n| *n == name);
    }
    let data = &event.data;
    let head = data.get(..data.len().min(96)).unwrap_or(data);
    names.iter().copied().find(|n| {
        head.match_indices(n)
            .any(|(i, _)| head[..i].ends_with('"') && head[i + n.len()..].starts_with('"'))
    })
}

/// Whether an event's name or data holds one of `markers` (every event when there are none):
/// the filter the host applies before it calls a usage tap.
pub fn is_marked(markers: &[&str], event: &SseEvent) -> bool {
    markers.is_empty()
        || markers
            .iter()
            .any(|m| event.data.contains(m) || event.name.as_deref().is_some_and(|n| n.contains(m)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_and_parses_back() {
        let framed = frame(Some("message_stop"), br#"{"type":"message_stop"}"#);
        let text = String::from_utf8(framed).unwrap();
        assert_eq!(text, "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n");
        let events = parse(&format!("{text}: comment\r\ndata: a\r\ndata: b\r\n\r\ndata: [DONE]"));
        assert_eq!(events.len(), 3);
        assert_eq!(events[0].name.as_deref(), Some("message_stop"));
        assert_eq!(events[1].data, "a\nb");
        assert_eq!(events[2].data, "[DONE]");
    }

    #[test]
    fn several_lines_of_data_are_several_data_lines() {
        assert_eq!(frame(None, b"a\nb\n"), b"data: a\ndata: b\ndata: \n\n");
        let mut out = b"x".to_vec();
        frame_into(&mut out, Some("e"), b"{}");
        assert_eq!(out, b"xevent: e\ndata: {}\n\n");
    }

    #[test]
    fn a_json_event_is_the_framed_serialisation() {
        let value = serde_json::json!({"type": "delta", "text": "a\nb\"c"});
        let mut out = Vec::new();
        json_event(&mut out, Some("delta"), &value).unwrap();
        assert_eq!(out, frame(Some("delta"), &serde_json::to_vec(&value).unwrap()));
        assert_eq!(parse(std::str::from_utf8(&out).unwrap())[0].data, value.to_string());
    }

    #[test]
    fn event_types_by_name_or_data() {
        let names = ["message_start", "message_stop"];
        let named = SseEvent {
            name: Some("message_stop".into()),
            data: "{}".into(),
        };
        assert_eq!(event_type(&named, &names), Some("message_stop"));
        let unnamed = SseEvent {
            name: None,
            data: r#"{"type":"message_start","message":{}}"#.into(),
        };
        assert_eq!(event_type(&unnamed, &names), Some("message_start"));
        let other = SseEvent {
            name: Some("ping".into()),
            data: r#"{"type":"message_start"}"#.into(),
        };
        assert_eq!(event_type(&other, &names), None);
    }

    #[test]
    fn markers_filter() {
        let e = SseEvent {
            name: Some("ping".into()),
            data: "{}".into(),
        };
        assert!(is_marked(&[], &e));
        assert!(is_marked(&["ping"], &e));
        assert!(!is_marked(&["usage"], &e));
    }
}
