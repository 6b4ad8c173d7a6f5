//! Request bodies through the validators every handler uses: any bytes either parse and
//! validate, or are refused with an error; never a panic.
#![no_main]

use castellan_http::validate::Fields;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(value) = serde_json::from_slice::<serde_json::Value>(data) else {
        return;
    };
    if castellan_http::guard::reject_nul(&value).is_err() {
        return;
    }
    let Ok(mut f) = Fields::optional_body(Some(&value)) else {
        return;
    };
    let _ = f.email("email");
    let _ = f.string("password");
    let _ = f.optional_string("callbackURL");
    let _ = f.nullable_string("image");
    let _ = f.optional_bool("rememberMe");
    let _ = f.optional_count("expiresIn");
    let _ = f.optional_object("metadata");
    let _ = f.optional_string_list("scopes");
    let _ = f.optional_string_map("additionalParams");
    let _ = f.optional_string_or_list("role");
    let _ = f.optional_statements("permissions");
    f.only(&["email", "password", "callbackURL"]);
    let _ = f.finish();
});
