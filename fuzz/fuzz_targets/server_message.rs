//! Fuzz target for `decode_server_message`: what the Rust client and the bots decode.
//! The checks live in `skirmish_fuzz` (src/lib.rs) so the stable runner uses the same ones.

#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    skirmish_fuzz::server_message(data);
});
