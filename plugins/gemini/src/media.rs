//! Images and documents: Gemini `inlineData` / `fileData` parts ↔ IR media blocks, and the
//! MIME type of a URL guessed from its extension (Gemini's `fileData` wants one).

use std::borrow::Cow;

use aether_plugin_sdk::types::{ContentBlock, InlineData, MediaBlock, MediaSource, PluginError};

use crate::wire::{Blob, FileData, Part};

/// Which IR block a medium is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MediaKind {
    /// `image/…`.
    Image,
    /// Anything else (PDF, text, audio, video).
    Document,
}

impl MediaKind {
    /// The kind of a MIME type.
    pub fn of(mime_type: &str) -> Self {
        if mime_type.starts_with("image/") {
            MediaKind::Image
        } else {
            MediaKind::Document
        }
    }

    fn block(self, source: MediaSource) -> ContentBlock {
        let media = MediaBlock { source, cache: None };
        match self {
            MediaKind::Image => ContentBlock::Image(media),
            MediaKind::Document => ContentBlock::Document(media),
        }
    }
}

/// An `inlineData` part as an image or document block.
pub fn from_inline(blob: &Blob<'_>) -> ContentBlock {
    MediaKind::of(&blob.mime_type).block(MediaSource::Base64(InlineData {
        media_type: blob.mime_type.clone().into_owned(),
        data: blob.data.clone().into_owned(),
    }))
}

/// A `fileData` part as an image or document block with a URL source (the MIME type, when
/// absent, guessed from the URI).
pub fn from_file(file: &FileData<'_>) -> ContentBlock {
    let mime = file
        .mime_type
        .as_deref()
        .unwrap_or_else(|| guess_mime_type(&file.file_uri, MediaKind::Document));
    MediaKind::of(mime).block(MediaSource::Url(file.file_uri.clone().into_owned()))
}

/// An IR medium as a Gemini part: base64 and `data:` URLs as `inlineData`, other URLs as
/// `fileData` with a guessed MIME type. A provider file id of another format means nothing
/// to Gemini, except a Gemini file (`files/…` or a Files API URL).
pub fn to_part<'a>(source: &'a MediaSource, kind: MediaKind) -> Result<Part<'a>, PluginError> {
    let part = match source {
        MediaSource::Base64(inline) => Part {
            inline_data: Some(Blob {
                mime_type: Cow::Borrowed(&inline.media_type),
                data: Cow::Borrowed(&inline.data),
            }),
            ..Part::default()
        },
        MediaSource::Url(url) => match parse_data_url(url) {
            Some((mime_type, data)) => Part {
                inline_data: Some(Blob {
                    mime_type: Cow::Borrowed(mime_type),
                    data: Cow::Borrowed(data),
                }),
                ..Part::default()
            },
            None => file_part(url, kind),
        },
        MediaSource::FileId(id) if id.starts_with("files/") || id.starts_with("https://") => file_part(id, kind),
        MediaSource::FileId(id) => {
            return Err(PluginError::Unsupported(format!(
                "file id {id} belongs to another provider; Gemini can only read its own files (files/…) or URLs"
            )));
        }
    };
    Ok(part)
}

fn file_part(uri: &str, kind: MediaKind) -> Part<'_> {
    Part {
        file_data: Some(FileData {
            mime_type: Some(Cow::Borrowed(guess_mime_type(uri, kind))),
            file_uri: Cow::Borrowed(uri),
        }),
        ..Part::default()
    }
}

/// `data:<mime>;base64,<data>` split into MIME type and data.
pub fn parse_data_url(url: &str) -> Option<(&str, &str)> {
    let rest = url.strip_prefix("data:")?;
    let (meta, data) = rest.split_once(',')?;
    let mime = meta.strip_suffix(";base64")?;
    Some((mime, data))
}

/// The MIME type a URL's extension suggests; otherwise `image/jpeg` for an image and
/// `application/pdf` for a document.
pub fn guess_mime_type(uri: &str, kind: MediaKind) -> &'static str {
    let path = uri.split(['?', '#']).next().unwrap_or(uri);
    let ext = path
        .rsplit_once('.')
        .map(|(_, e)| e.to_ascii_lowercase())
        .unwrap_or_default();
    match ext.as_str() {
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        "webp" => "image/webp",
        "heic" => "image/heic",
        "heif" => "image/heif",
        "pdf" => "application/pdf",
        "txt" => "text/plain",
        "md" => "text/markdown",
        "html" | "htm" => "text/html",
        "csv" => "text/csv",
        "json" => "application/json",
        "mp3" => "audio/mpeg",
        "wav" => "audio/wav",
        "mp4" => "video/mp4",
        _ => match kind {
            MediaKind::Image => "image/jpeg",
            MediaKind::Document => "application/pdf",
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guesses_mime_types() {
        assert_eq!(guess_mime_type("https://x/a.PNG?x=1", MediaKind::Image), "image/png");
        assert_eq!(guess_mime_type("https://x/photo", MediaKind::Image), "image/jpeg");
        assert_eq!(guess_mime_type("gs://b/doc", MediaKind::Document), "application/pdf");
        assert_eq!(guess_mime_type("gs://b/notes.txt", MediaKind::Document), "text/plain");
    }

    #[test]
    fn sources_to_parts() {
        let b64 = MediaSource::Base64(InlineData {
            media_type: "image/png".into(),
            data: "AA==".into(),
        });
        let part = to_part(&b64, MediaKind::Image).unwrap();
        assert_eq!(part.inline_data.unwrap().mime_type, "image/png");
        let data_url = MediaSource::Url("data:image/gif;base64,R0lG".into());
        let part = to_part(&data_url, MediaKind::Image).unwrap();
        assert_eq!(part.inline_data.unwrap().data, "R0lG");
        let url = MediaSource::Url("https://e.com/cat.webp".into());
        let file = to_part(&url, MediaKind::Image).unwrap().file_data.unwrap();
        assert_eq!(
            (file.mime_type.as_deref(), &*file.file_uri),
            (Some("image/webp"), "https://e.com/cat.webp")
        );
        assert!(to_part(&MediaSource::FileId("file-abc".into()), MediaKind::Document).is_err());
        assert!(to_part(&MediaSource::FileId("files/abc".into()), MediaKind::Document).is_ok());
    }

    #[test]
    fn parts_to_blocks() {
        let blob = Blob {
            mime_type: "application/pdf".into(),
            data: "JVBE".into(),
        };
        assert!(matches!(from_inline(&blob), ContentBlock::Document(_)));
        let file = FileData {
            mime_type: None,
            file_uri: "https://e.com/a.png".into(),
        };
        assert!(
            matches!(from_file(&file), ContentBlock::Image(MediaBlock { source: MediaSource::Url(u), .. }) if u == "https://e.com/a.png")
        );
    }
}
