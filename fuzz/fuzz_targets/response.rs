//! Each plugin's answer path: usage, error decoding, decode to the IR, encode for every format.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&selector, body)) = data.split_first() else { return };
    aether_fuzz::response(aether_fuzz::format_of(selector), body);
});
