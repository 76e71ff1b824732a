//! Encrypted objects come back from storage that is not trusted: any bytes given to the chunk
//! decryption (whole objects, Range reads from any chunk, tail journals) are refused or
//! decrypted, never a panic; and a real object survives the round trip while any one flipped
//! byte of it is refused.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use remote_assist::storage::crypto::{self, DataKey, Encryptor};

const OBJECT: &str = "recordings/fuzz.mp4.enc";

fn key() -> &'static DataKey {
    static KEY: OnceLock<DataKey> = OnceLock::new();
    KEY.get_or_init(DataKey::generate)
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let key = key();
    match mode % 4 {
        // Untrusted bytes as a whole object.
        0 => {
            let _ = crypto::decrypt_object(key, OBJECT, rest);
        }
        // Untrusted bytes as a Range read starting at some chunk of some object.
        1 => {
            if rest.len() < 2 {
                return;
            }
            let first = u64::from(rest[0]);
            let total = first + u64::from(rest[1]);
            let _ = crypto::decrypt_chunks(key, OBJECT, first, &rest[2..], total);
        }
        // Untrusted bytes as a tail journal.
        2 => {
            let _ = crypto::open_tail(key, OBJECT, rest);
        }
        // The input as plaintext: it round-trips, and one flipped byte is refused.
        _ => {
            let Some((&flip, plaintext)) = rest.split_first() else {
                return;
            };
            let mut encryptor = Encryptor::new(key.clone(), OBJECT);
            let mut object = encryptor.update(plaintext);
            object.extend(encryptor.finish());
            assert_eq!(
                crypto::decrypt_object(key, OBJECT, &object).expect("a real object decrypts"),
                plaintext
            );
            let at = usize::from(flip) * object.len() / 256;
            object[at] ^= 0x01;
            assert!(
                crypto::decrypt_object(key, OBJECT, &object).is_err(),
                "a flipped byte at {at} of {} went unnoticed",
                object.len()
            );
        }
    }
});
