//! # aether-conformance
//!
//! The cross-format conversion corpus and its native runner.
//!
//! `cases/<from>--<to>.json` holds the cases of one pair, in the plugin fixture format (see
//! `aether_plugin_sdk::harness`): `convert_request` cases are client requests of format
//! `<from>` encoded for an upstream of format `<to>`; `convert_response` and `convert_stream`
//! cases are upstream answers of format `<from>` encoded for a client of format `<to>`.
//! `expect` is matched as a subset, streams event by event (the same number of events, each
//! matching). The files where `<from>` and `<to>` are the same format are round trips
//! through one plugin; each plugin ships its own as part of its load-time self-test.
//!
//! The corpus runs twice: natively here ([`run_native`], the `corpus` test) and through the
//! gateway's Wasm host (`proxy/tests/conformance.rs`), which also checks that both runs give
//! the same output, case by case.

use std::path::{Path, PathBuf};

use aether_plugin_claude::Claude;
use aether_plugin_gemini::Gemini;
use aether_plugin_openai_chat::OpenaiChat;
use aether_plugin_openai_responses::OpenaiResponses;
use aether_plugin_sdk::types::{TestCase, Usage};
use aether_plugin_sdk::{FormatPlugin, harness};
use serde_json::Value;

/// The four formats, by the names the corpus files use.
pub const FORMATS: [&str; 4] = ["claude", "openai-chat", "openai-responses", "gemini"];

/// One pair's cases.
#[derive(Debug)]
pub struct PairFile {
    /// The source format (the client's for requests, the upstream's for answers).
    pub from: String,
    /// The target format.
    pub to: String,
    /// The file, for messages.
    pub path: PathBuf,
    /// Its cases.
    pub cases: Vec<TestCase>,
}

/// The corpus directory.
pub fn corpus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("cases")
}

/// Every pair file in the corpus, sorted by name. A file whose name is not
/// `<format>--<format>.json` is an error, not skipped.
pub fn load() -> Result<Vec<PairFile>, String> {
    let dir = corpus_dir();
    let mut files = Vec::new();
    let entries = std::fs::read_dir(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    for entry in entries {
        let path = entry.map_err(|e| e.to_string())?.path();
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .ok_or_else(|| format!("{}: not a UTF-8 name", path.display()))?;
        let pair = name
            .strip_suffix(".json")
            .and_then(|stem| stem.split_once("--"))
            .filter(|(f, t)| FORMATS.contains(f) && FORMATS.contains(t))
            .ok_or_else(|| format!("{name}: corpus files are named <format>--<format>.json"))?;
        let text = std::fs::read_to_string(&path).map_err(|e| format!("{name}: {e}"))?;
        files.push(PairFile {
            from: pair.0.to_owned(),
            to: pair.1.to_owned(),
            cases: harness::cases_from_fixtures(&text),
            path,
        });
    }
    files.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(files)
}

/// Runs one case natively: decoded by the `from` plugin, encoded by the `to` plugin.
/// `None` for an unknown format name.
pub fn run_native(from: &str, to: &str, case: &TestCase) -> Option<Value> {
    use aether_plugin_sdk::types::TestCheck;
    // A check that is not a conversion (an upstream error read back, say) is the source
    // plugin's alone.
    let conversion = matches!(
        case.check,
        TestCheck::ConvertRequest(_) | TestCheck::ConvertResponse(_) | TestCheck::ConvertStream(_)
    );
    macro_rules! to {
        ($d:ty) => {
            match to {
                _ if !conversion => Some(harness::evaluate::<$d>(&case.check)),
                "claude" => Some(harness::convert::<$d, Claude>(&case.check)),
                "openai-chat" => Some(harness::convert::<$d, OpenaiChat>(&case.check)),
                "openai-responses" => Some(harness::convert::<$d, OpenaiResponses>(&case.check)),
                "gemini" => Some(harness::convert::<$d, Gemini>(&case.check)),
                _ => None,
            }
        };
    }
    match from {
        "claude" => to!(Claude),
        "openai-chat" => to!(OpenaiChat),
        "openai-responses" => to!(OpenaiResponses),
        "gemini" => to!(Gemini),
        _ => None,
    }
}

/// For a whole upstream body of format `from`: the usage its plugin's `decode-response`
/// reports and the usage its `usage-from-body` reports (the gateway bills a converted body by
/// the first, a same-format one by the second, so they must agree). `None` when the body
/// does not decode or the format is unknown.
pub fn decoded_and_tapped_usage(from: &str, body: &[u8]) -> Option<(Usage, Usage)> {
    fn both<P: FormatPlugin>(body: &[u8]) -> Option<(Usage, Usage)> {
        let decoded = P::decode_response(body).ok()?.usage;
        Some((decoded, P::usage_from_body(body).usage))
    }
    match from {
        "claude" => both::<Claude>(body),
        "openai-chat" => both::<OpenaiChat>(body),
        "openai-responses" => both::<OpenaiResponses>(body),
        "gemini" => both::<Gemini>(body),
        _ => None,
    }
}

/// The failures of a case given its actual output (`expect` matched as a subset).
pub fn check(case: &TestCase, actual: &Value) -> Result<(), String> {
    harness::check(case, actual).map_err(|f| f.reason)
}
