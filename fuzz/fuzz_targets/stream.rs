//! Each plugin's stream decoder (and usage tap) on streams framed by the host's framer, cut
//! at fuzzed places; what decodes goes through every stream encoder.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // [format] [number of cuts] [cuts…] [body]
    let Some((&selector, rest)) = data.split_first() else { return };
    let Some((&count, rest)) = rest.split_first() else { return };
    let count = usize::from(count % 8).min(rest.len());
    let (cuts, body) = rest.split_at(count);
    aether_fuzz::stream(aether_fuzz::format_of(selector), cuts, body);
});
