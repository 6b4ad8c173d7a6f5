//! A posted SAMLResponse before any signature is checked: the decoder and the pre-signature
//! XML scan face untrusted input and must refuse, never panic. The fuzzer's bytes are the XML;
//! they are base64-encoded as the HTTP-POST binding carries them.
#![no_main]

use base64::Engine as _;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let encoded = base64::engine::general_purpose::STANDARD.encode(data);
    let _ = castellan_sso::saml::claimed_request_id(&encoded);
    // And as sent: not base64 at all.
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = castellan_sso::saml::claimed_request_id(text);
    }
});
