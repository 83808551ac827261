//! Arbitrary text through the SQL front end (see `sluice_server::robustness::sql_frontend`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    sluice_server::robustness::sql_frontend(data);
});
