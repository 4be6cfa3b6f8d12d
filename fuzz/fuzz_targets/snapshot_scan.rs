//! Fuzz target for `scan_snapshot`: the bots' zero-allocation snapshot reader, held to agree with the decoder.
//! The checks live in `skirmish_fuzz` (src/lib.rs) so the stable runner uses the same ones.

#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    skirmish_fuzz::snapshot_scan(data);
});
