//! Arbitrary bytes as a client's byte stream (see `sluice_server::robustness::wire_decoder`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    sluice_server::robustness::wire_decoder(data);
});
