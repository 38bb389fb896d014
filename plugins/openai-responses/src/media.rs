//! Images and files as the Responses API writes them: `input_image.image_url` (an https URL
//! or a `data:` URI) or `file_id`; `input_file.file_data` (a data URI, or bare base64 with a
//! `filename`), `file_url` or `file_id`.

use aether_plugin_sdk::types::{InlineData, MediaSource};
// Data URIs and document file names are the same in both OpenAI formats.
pub use aether_plugin_openai_chat::media::{data_uri, file_name, media_type_of_name, parse_data_uri};
use serde_json::{Value, json};

use crate::wire::Part;

/// The source of an `input_image` part; `None` when it names no image.
pub fn image_source(part: &Part<'_>) -> Option<MediaSource> {
    if let Some(url) = &part.image_url {
        let url = url.url();
        return Some(match parse_data_uri(url) {
            Some(inline) => MediaSource::Base64(inline),
            None => MediaSource::Url(url.to_owned()),
        });
    }
    part.file_id.as_deref().map(|id| MediaSource::FileId(id.to_owned()))
}

/// The source of an `input_file` part; `None` when it names no file.
pub fn file_source(part: &Part<'_>) -> Option<MediaSource> {
    if let Some(data) = part.file_data.as_deref() {
        return Some(MediaSource::Base64(parse_data_uri(data).unwrap_or_else(|| {
            InlineData {
                media_type: media_type_of_name(part.filename.as_deref()).to_owned(),
                data: data.to_owned(),
            }
        })));
    }
    if let Some(url) = part.file_url.as_deref() {
        return Some(MediaSource::Url(url.to_owned()));
    }
    part.file_id.as_deref().map(|id| MediaSource::FileId(id.to_owned()))
}

/// An `input_image` part for a source.
pub fn image_part(source: &MediaSource) -> Value {
    match source {
        MediaSource::Url(url) => json!({"type": "input_image", "image_url": url, "detail": "auto"}),
        MediaSource::Base64(inline) => json!({"type": "input_image", "image_url": data_uri(inline), "detail": "auto"}),
        MediaSource::FileId(id) => json!({"type": "input_image", "file_id": id, "detail": "auto"}),
    }
}

/// An `input_file` part for a source (OpenAI requires a `filename` with `file_data`).
pub fn file_part(source: &MediaSource) -> Value {
    match source {
        MediaSource::Url(url) => json!({"type": "input_file", "file_url": url}),
        MediaSource::Base64(inline) => json!({
            "type": "input_file", "filename": file_name(&inline.media_type), "file_data": data_uri(inline),
        }),
        MediaSource::FileId(id) => json!({"type": "input_file", "file_id": id}),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn part(json: &str) -> Part<'_> {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn images_by_url_data_uri_and_file_id() {
        let p = part(r#"{"type":"input_image","image_url":"https://x/y.png"}"#);
        assert_eq!(image_source(&p), Some(MediaSource::Url("https://x/y.png".into())));
        let p = part(r#"{"type":"input_image","image_url":"data:image/png;base64,AAA"}"#);
        let src = image_source(&p).unwrap();
        assert_eq!(
            src,
            MediaSource::Base64(InlineData {
                media_type: "image/png".into(),
                data: "AAA".into()
            })
        );
        assert_eq!(image_part(&src)["image_url"], "data:image/png;base64,AAA");
        let p = part(r#"{"type":"input_image","file_id":"file-1"}"#);
        assert_eq!(image_source(&p), Some(MediaSource::FileId("file-1".into())));
    }

    #[test]
    fn files_by_data_bare_base64_url_and_id() {
        let p = part(r#"{"type":"input_file","filename":"a.txt","file_data":"QUJD"}"#);
        assert_eq!(
            file_source(&p),
            Some(MediaSource::Base64(InlineData {
                media_type: "text/plain".into(),
                data: "QUJD".into()
            }))
        );
        let p = part(r#"{"type":"input_file","file_data":"data:application/pdf;base64,JVBE"}"#);
        let src = file_source(&p).unwrap();
        let out = file_part(&src);
        assert_eq!(out["filename"], "document.pdf");
        assert_eq!(out["file_data"], "data:application/pdf;base64,JVBE");
        let p = part(r#"{"type":"input_file","file_url":"https://x/a.pdf"}"#);
        assert_eq!(file_part(&file_source(&p).unwrap())["file_url"], "https://x/a.pdf");
        let p = part(r#"{"type":"input_file","file_id":"file-2"}"#);
        assert_eq!(file_part(&file_source(&p).unwrap())["file_id"], "file-2");
        assert_eq!(parse_data_uri("https://x"), None);
    }
}
