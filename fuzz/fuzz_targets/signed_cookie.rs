//! Signed cookie values and bearer tokens as clients send them: verification never panics, and
//! accepts only what was signed with the secret.
#![no_main]

use libfuzzer_sys::fuzz_target;

const SECRET: &str = "fuzz-secret-0123456789abcdef0123456789";

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    for verify in [
        castellan_crypto::signing::verify_cookie_value,
        castellan_crypto::signing::verify_lenient,
    ] {
        if let Some(value) = verify(SECRET, text) {
            // Whatever verifies must be what signing that value gives.
            let resigned = castellan_crypto::signing::sign_cookie_value(SECRET, value);
            assert!(verify(SECRET, &resigned) == Some(value));
        }
    }
});
