//! Images and files as OpenAI Chat writes them: `data:<mime>;base64,<data>` URIs for inline
//! data, plain URLs otherwise, and a file name for inline documents (OpenAI requires one).

use aether_plugin_sdk::types::{InlineData, MediaSource};

/// The media source an OpenAI `image_url.url` (or `file.file_data`) names: inline data for a
/// base64 data URI, a URL for anything else.
pub fn source_from_url(url: &str) -> MediaSource {
    match parse_data_uri(url) {
        Some(inline) => MediaSource::Base64(inline),
        None => MediaSource::Url(url.to_owned()),
    }
}

/// `data:<mime>[;params];base64,<data>` as inline data; `None` for any other string
/// (including percent-encoded data URIs, which are passed on as URLs).
pub fn parse_data_uri(uri: &str) -> Option<InlineData> {
    let rest = uri.strip_prefix("data:")?;
    let (meta, data) = rest.split_once(',')?;
    let mime = meta.strip_suffix(";base64")?;
    let mime = mime.split(';').next().unwrap_or(mime);
    Some(InlineData {
        media_type: if mime.is_empty() {
            "application/octet-stream"
        } else {
            mime
        }
        .to_owned(),
        data: data.to_owned(),
    })
}

/// Inline data as a data URI.
pub fn data_uri(inline: &InlineData) -> String {
    format!("data:{};base64,{}", inline.media_type, inline.data)
}

/// The URL OpenAI accepts in `image_url.url` for a source, if it can express it (a file id
/// cannot be: `None`).
pub fn url_of(source: &MediaSource) -> Option<String> {
    match source {
        MediaSource::Url(url) => Some(url.clone()),
        MediaSource::Base64(inline) => Some(data_uri(inline)),
        MediaSource::FileId(_) => None,
    }
}

/// A file name for an inline document, from its media type (OpenAI's `file.filename`).
pub fn file_name(media_type: &str) -> String {
    let ext = match media_type {
        "application/pdf" => "pdf",
        "text/plain" => "txt",
        "text/markdown" => "md",
        "text/html" => "html",
        "text/csv" => "csv",
        "application/json" => "json",
        _ => return "document".to_owned(),
    };
    format!("document.{ext}")
}

/// The media type a file name implies (for `file_data` sent as bare base64 without a data
/// URI); PDF when it says nothing else, since that is what OpenAI's file input reads.
pub fn media_type_of_name(name: Option<&str>) -> &'static str {
    let ext = name
        .and_then(|n| n.rsplit_once('.'))
        .map(|(_, e)| e.to_ascii_lowercase());
    match ext.as_deref() {
        Some("txt") => "text/plain",
        Some("md") => "text/markdown",
        Some("html" | "htm") => "text/html",
        Some("csv") => "text/csv",
        Some("json") => "application/json",
        _ => "application/pdf",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_uris_round_trip() {
        let inline = parse_data_uri("data:image/png;base64,iVBORw0KGgo=").unwrap();
        assert_eq!(inline.media_type, "image/png");
        assert_eq!(inline.data, "iVBORw0KGgo=");
        assert_eq!(data_uri(&inline), "data:image/png;base64,iVBORw0KGgo=");
        let with_params = parse_data_uri("data:text/plain;charset=utf-8;base64,aGk=").unwrap();
        assert_eq!(with_params.media_type, "text/plain");
    }

    #[test]
    fn urls_and_non_base64_data_stay_urls() {
        assert_eq!(
            source_from_url("https://x.test/a.png"),
            MediaSource::Url("https://x.test/a.png".into())
        );
        assert!(matches!(source_from_url("data:text/plain,hello"), MediaSource::Url(_)));
        assert!(url_of(&MediaSource::FileId("file-1".into())).is_none());
    }

    #[test]
    fn file_names_and_types() {
        assert_eq!(file_name("application/pdf"), "document.pdf");
        assert_eq!(file_name("image/heic"), "document");
        assert_eq!(media_type_of_name(Some("notes.TXT")), "text/plain");
        assert_eq!(media_type_of_name(None), "application/pdf");
    }
}
