//! Signaling messages from browsers, phones and WHIP clients: any text either parses into a
//! message or is refused with a reason, never a panic; whatever parses survives a round trip
//! through its JSON form unchanged (what the server reads is what the client meant).
#![no_main]

use libfuzzer_sys::fuzz_target;
use remote_assist::live::protocol::{client_message_type, parse_client_message};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match parse_client_message(text) {
        Ok(message) => {
            assert!(!client_message_type(&message).is_empty());
            let again = serde_json::to_string(&message).expect("a parsed message serializes");
            assert_eq!(
                parse_client_message(&again).expect("its own JSON parses"),
                message
            );
        }
        Err(reason) => assert!(!reason.is_empty(), "a refusal says why"),
    }
});
