//! Config files are written by hand: any text is a configuration or an error message that says
//! what is wrong, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use remote_assist::config::Config;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Err(error) = Config::from_toml(text) {
        assert!(!error.to_string().is_empty(), "an error says what is wrong");
    }
});
