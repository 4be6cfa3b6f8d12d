//! Fuzz target for snapshot frames as a client's replica applies them (delta frames against a
//! state it holds, or full ones). The checks live in `skirmish_fuzz` (src/lib.rs) so the
//! stable runner uses the same ones.

#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    skirmish_fuzz::snapshot_frame(data);
});
