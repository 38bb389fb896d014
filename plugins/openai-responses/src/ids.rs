//! The ids the Responses encoders write: `resp_…` for a response, `msg_…`, `rs_…` and
//! `fc_…` for its output items. Derived from the IR response id (which another format may
//! have made, e.g. `msg_01…` or `chatcmpl-…`), so the same response always gets the same ids.

/// The kind of an output item, which decides its id prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ItemPrefix {
    /// A `message` item: `msg_`.
    Message,
    /// A `reasoning` item: `rs_`.
    Reasoning,
    /// A `function_call` item: `fc_`.
    FunctionCall,
}

/// The body of an id without a known prefix, keeping only `[A-Za-z0-9]`.
fn stem(id: &str) -> String {
    let bare = ["resp_", "msg_", "chatcmpl-", "rs_"]
        .iter()
        .find_map(|p| id.strip_prefix(p))
        .unwrap_or(id);
    let s: String = bare.chars().filter(char::is_ascii_alphanumeric).collect();
    if s.is_empty() { "0".to_owned() } else { s }
}

/// A `resp_…` id for an IR response id (kept as is when it already is one).
pub fn response_id(id: &str) -> String {
    if id.starts_with("resp_") {
        id.to_owned()
    } else {
        format!("resp_{}", stem(id))
    }
}

/// The id of the `n`-th output item of response `id`.
pub fn item_id(prefix: ItemPrefix, id: &str, n: usize) -> String {
    let p = match prefix {
        ItemPrefix::Message => "msg",
        ItemPrefix::Reasoning => "rs",
        ItemPrefix::FunctionCall => "fc",
    };
    format!("{p}_{}{n:02}", stem(id))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids() {
        assert_eq!(response_id("resp_abc"), "resp_abc");
        assert_eq!(response_id("msg_01XY"), "resp_01XY");
        assert_eq!(response_id("chatcmpl-9z"), "resp_9z");
        assert_eq!(response_id(""), "resp_0");
        assert_eq!(item_id(ItemPrefix::FunctionCall, "resp_abc", 2), "fc_abc02");
        assert_eq!(item_id(ItemPrefix::Message, "x-y", 0), "msg_xy00");
        assert_eq!(item_id(ItemPrefix::Reasoning, "resp_abc", 1), "rs_abc01");
    }
}
