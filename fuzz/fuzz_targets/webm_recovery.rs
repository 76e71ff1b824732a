//! WebM recovery reads a streamed recording back from disk after a crash, so it must take any
//! bytes: finalizing arbitrary input gives a file or an error, never a panic or a hang.
#![no_main]

use libfuzzer_sys::fuzz_target;
use remote_assist_sfu::record::webm;

fuzz_target!(|data: &[u8]| {
    let _ = webm::finalize(data);
});
