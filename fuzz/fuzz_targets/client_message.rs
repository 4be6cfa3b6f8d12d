//! Fuzz target for `decode_client_message`: every byte a client sends goes through it.
//! The checks live in `skirmish_fuzz` (src/lib.rs) so the stable runner uses the same ones.

#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    skirmish_fuzz::client_message(data);
});
