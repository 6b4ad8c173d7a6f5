//! Passkeys (WebAuthn) on `@better-auth/passkey`'s wire and in its `passkey` rows.
//!
//! webauthn-rs-core runs both ceremonies: client data, challenge, origin, RP id hash, flags,
//! attestation, signature and the signature counter. What is ours: the challenge state, kept
//! in a `verification` row named by a random token that travels only in a signed, HttpOnly
//! cookie (so a ceremony is single use and bound to the browser that began it), and the
//! mapping between webauthn-rs' credential and Better Auth's row (the authenticator's own COSE
//! key bytes in standard base64, the credential id in base64url).

use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use castellan_data::entity::{passkey, user};
use castellan_data::repo::{passkeys, users, verifications};
use castellan_session::{AuthSession, Authentication, ClientInfo};
use chrono::TimeDelta;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use webauthn_rs_core::WebauthnCore;
use webauthn_rs_core::error::WebauthnError;
use webauthn_rs_core::proto::{
    AttestationConveyancePreference, AttestationFormat, AttestationMetadata, AuthenticationState,
    AuthenticatorAttachment, COSEAlgorithm, COSEKey, Credential, ParsedAttestation, ParsedAttestationData,
    PublicKeyCredential, RegisterPublicKeyCredential, RegisteredExtensions, RegistrationState,
    UserVerificationPolicy,
};

use super::IdentityService;
use crate::error::{IdentityError, IdentityResult};

/// How long a ceremony may take, and its cookie lives (Better Auth's `MAX_AGE_IN_SECONDS`).
pub const CEREMONY_SECONDS: u64 = 300;
/// What the browser is told to allow the authenticator (simplewebauthn's default).
const AUTHENTICATOR_TIMEOUT: Duration = Duration::from_secs(60);
/// A session's own authentication method, as `get-session` shows it.
pub const METHOD: &str = "passkey";

/// The registration options' `authenticatorAttachment` query value.
pub fn attachment(value: &str) -> Option<AuthenticatorAttachment> {
    match value {
        "platform" => Some(AuthenticatorAttachment::Platform),
        "cross-platform" => Some(AuthenticatorAttachment::CrossPlatform),
        _ => None,
    }
}

/// A ceremony begun: the options for `navigator.credentials`, and the token that names its
/// stored state (the route puts it in the signed challenge cookie).
pub struct Begun {
    pub options: Value,
    pub token: String,
}

/// The state stored between the two halves of a ceremony: Better Auth's fields (`type`,
/// `expectedChallenge`, `userData`), plus webauthn-rs' own.
#[derive(Serialize, Deserialize)]
struct Pending {
    #[serde(rename = "type")]
    kind: String,
    #[serde(rename = "expectedChallenge")]
    expected_challenge: String,
    #[serde(rename = "userData")]
    user_data: PendingUser,
    #[serde(default)]
    context: Option<String>,
    ceremony: Value,
}

#[derive(Serialize, Deserialize)]
struct PendingUser {
    id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    name: Option<String>,
    #[serde(default, rename = "displayName", skip_serializing_if = "Option::is_none")]
    display_name: Option<String>,
}

const REGISTRATION: &str = "registration";
const AUTHENTICATION: &str = "authentication";

/// Where a registration's credential came from, read off its attestation object.
struct AttestedKey {
    aaguid: String,
    cose_key: Vec<u8>,
}

impl AttestedKey {
    /// The AAGUID and the COSE public key from `authData` (WebAuthn §6.1: rpIdHash 32, flags 1,
    /// signCount 4, then aaguid 16, credentialIdLength 2, credentialId, credentialPublicKey).
    /// The key is the one CBOR item after the id; its bytes are kept exactly as the
    /// authenticator wrote them, as Better Auth stores them.
    fn read(attestation_object: &[u8]) -> Option<Self> {
        use serde_cbor_2::Value as Cbor;
        let Cbor::Map(object) = serde_cbor_2::from_slice::<Cbor>(attestation_object).ok()? else {
            return None;
        };
        let Some(Cbor::Bytes(auth_data)) = object.get(&Cbor::Text("authData".to_owned())) else {
            return None;
        };
        let aaguid = auth_data.get(37..53)?;
        let id_len = usize::from(u16::from_be_bytes([*auth_data.get(53)?, *auth_data.get(54)?]));
        let key_start = 55usize.checked_add(id_len)?;
        let rest = auth_data.get(key_start..)?;
        let mut de = serde_cbor_2::Deserializer::from_slice(rest);
        let _: Cbor = serde::Deserialize::deserialize(&mut de).ok()?;
        let cose_key = rest.get(..de.byte_offset())?.to_vec();
        Some(Self {
            aaguid: format_uuid(aaguid),
            cose_key,
        })
    }
}

/// `00000000-0000-0000-0000-000000000000` form.
fn format_uuid(bytes: &[u8]) -> String {
    let hex = hex::encode(bytes);
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

/// The COSE key of a stored passkey (standard base64, as Better Auth writes it).
fn stored_key(row: &passkey::Model) -> Option<COSEKey> {
    let bytes = STANDARD.decode(&row.public_key).ok()?;
    let value: serde_cbor_2::Value = serde_cbor_2::from_slice(&bytes).ok()?;
    COSEKey::try_from(&value).ok()
}

/// A stored passkey as webauthn-rs' credential. Better Auth keeps no attestation and no
/// user-verification flag, so neither is asserted later; `multiDevice` is backup eligible.
fn stored_credential(row: &passkey::Model) -> Option<Credential> {
    Some(Credential {
        cred_id: URL_SAFE_NO_PAD.decode(&row.credential_id).ok()?.into(),
        cred: stored_key(row)?,
        counter: u32::try_from(row.counter).ok()?,
        transports: None,
        user_verified: false,
        backup_eligible: row.device_type == "multiDevice",
        backup_state: row.backed_up,
        registration_policy: UserVerificationPolicy::Preferred,
        extensions: RegisteredExtensions::none(),
        attestation: ParsedAttestation {
            data: ParsedAttestationData::None,
            metadata: AttestationMetadata::None,
        },
        attestation_format: AttestationFormat::None,
    })
}

/// The transports the browser reported (`response.transports`), kept as Better Auth keeps
/// them (comma-joined) when they look like transport names.
fn reported_transports(response: &Value) -> String {
    response
        .pointer("/response/transports")
        .and_then(Value::as_array)
        .map(|list| {
            list.iter()
                .filter_map(Value::as_str)
                .filter(|t| {
                    !t.is_empty() && t.len() <= 16 && t.bytes().all(|b| b.is_ascii_lowercase() || b == b'-')
                })
                .take(8)
                .collect::<Vec<_>>()
                .join(",")
        })
        .unwrap_or_default()
}

fn rejected(e: &WebauthnError) {
    tracing::debug!(error = ?e, "a passkey ceremony was refused");
}

impl IdentityService {
    /// The relying party for this deployment: `PASSKEY_RP_ID` (or `BASE_URL`'s host),
    /// `PASSKEY_RP_NAME` (or `APP_NAME`), and the origins a ceremony may come from:
    /// `PASSKEY_ORIGIN`, or else the request's own (already checked to be trusted).
    fn relying_party(&self, request_origin: Option<&str>) -> IdentityResult<WebauthnCore> {
        let passkey = &self.settings.passkey;
        let rp_id = passkey
            .rp_id
            .clone()
            .or_else(|| self.settings.base_url.host_str().map(str::to_owned))
            .unwrap_or_else(|| "localhost".to_owned());
        let rp_name = passkey.rp_name.as_deref().unwrap_or(&self.settings.app_name);
        let origins: Vec<String> = if passkey.origins.is_empty() {
            vec![request_origin.map_or_else(|| self.settings.origin(), str::to_owned)]
        } else {
            passkey.origins.clone()
        };
        let origins = origins
            .iter()
            .map(|o| url::Url::parse(o))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|_| IdentityError::PasskeyOriginMissing)?;
        Ok(WebauthnCore::new_unsafe_experts_only(
            rp_name,
            &rp_id,
            origins,
            AUTHENTICATOR_TIMEOUT,
            None,
            None,
        ))
    }

    async fn store_pending(&self, pending: &Pending) -> IdentityResult<String> {
        let token = castellan_crypto::random::alphanumeric(32);
        let now = self.now();
        let value = serde_json::to_string(pending).map_err(|e| IdentityError::Internal(e.to_string()))?;
        verifications::insert(
            &self.db,
            token.clone(),
            value,
            now + TimeDelta::seconds(CEREMONY_SECONDS as i64),
            now,
        )
        .await?;
        Ok(token)
    }

    /// Takes a ceremony's state, once: a replayed or foreign token finds nothing.
    async fn take_pending(&self, token: Option<&str>, kind: &str) -> IdentityResult<Pending> {
        let token = token
            .filter(|t| !t.is_empty() && t.len() <= 64)
            .ok_or(IdentityError::ChallengeNotFound)?;
        let row = verifications::consume(&self.db, token, self.now())
            .await?
            .ok_or(IdentityError::ChallengeNotFound)?;
        serde_json::from_str::<Pending>(&row.value)
            .ok()
            .filter(|p| p.kind == kind)
            .ok_or(IdentityError::ChallengeNotFound)
    }

    /// `generate-register-options`: a registration for the signed-in user, excluding the
    /// authenticators they already registered, asking for a discoverable credential where the
    /// authenticator can make one (so it can sign in without a name later).
    ///
    /// # Errors
    /// Storage failures.
    pub async fn begin_passkey_registration(
        &self,
        user: &user::Model,
        name: Option<&str>,
        attachment: Option<AuthenticatorAttachment>,
        context: Option<String>,
    ) -> IdentityResult<Begun> {
        let existing = passkeys::list_for_user(&self.db, &user.id).await?;
        let exclude = existing
            .iter()
            .filter_map(|p| URL_SAFE_NO_PAD.decode(&p.credential_id).ok().map(Into::into))
            .collect();
        let label = if user.email.is_empty() {
            user.id.clone()
        } else {
            user.email.clone()
        };
        // A random user handle, as Better Auth makes: the authenticator never learns the id.
        let handle = castellan_crypto::random::lower_alphanumeric(32);
        let core = self.relying_party(None)?;
        let builder = core
            .new_challenge_register_builder(handle.as_bytes(), name.unwrap_or(&label), &label)
            .map_err(|e| IdentityError::Internal(e.to_string()))?
            .attestation(AttestationConveyancePreference::None)
            .user_verification_policy(UserVerificationPolicy::Preferred)
            .exclude_credentials(Some(exclude))
            // simplewebauthn's defaults, in its order: Ed25519, P-256, RSA.
            .credential_algorithms(vec![
                COSEAlgorithm::EDDSA,
                COSEAlgorithm::ES256,
                COSEAlgorithm::RS256,
            ])
            .authenticator_attachment(attachment);
        let (challenge, state) = core
            .generate_challenge_register(builder)
            .map_err(|e| IdentityError::Internal(e.to_string()))?;
        let mut options = serde_json::to_value(&challenge.public_key)
            .map_err(|e| IdentityError::Internal(e.to_string()))?;
        if let Some(selection) = options
            .get_mut("authenticatorSelection")
            .and_then(Value::as_object_mut)
        {
            selection.insert("residentKey".into(), "preferred".into());
            selection.insert("requireResidentKey".into(), false.into());
        }
        let pending = Pending {
            kind: REGISTRATION.to_owned(),
            expected_challenge: options["challenge"].as_str().unwrap_or_default().to_owned(),
            user_data: PendingUser {
                id: user.id.clone(),
                name: Some(label.clone()),
                display_name: Some(label),
            },
            context,
            ceremony: serde_json::to_value(&state).map_err(|e| IdentityError::Internal(e.to_string()))?,
        };
        let token = self.store_pending(&pending).await?;
        Ok(Begun { options, token })
    }

    /// `verify-registration`: checks the authenticator's answer to the challenge named by
    /// `token` and stores the new passkey for `user`, who must be the one who began it.
    ///
    /// # Errors
    /// `ChallengeNotFound` (no, spent or expired ceremony), `PasskeyNotAllowed` (begun by
    /// someone else), `PasskeyRegistrationFailed` (the answer does not verify),
    /// `PasskeyPreviouslyRegistered`, storage failures.
    pub async fn finish_passkey_registration(
        &self,
        user: &user::Model,
        token: Option<&str>,
        request_origin: Option<&str>,
        response: &Value,
        name: Option<String>,
    ) -> IdentityResult<passkey::Model> {
        if request_origin.is_none() && self.settings.passkey.origins.is_empty() {
            return Err(IdentityError::PasskeyRegistrationFailed);
        }
        let pending = self.take_pending(token, REGISTRATION).await?;
        if pending.user_data.id != user.id {
            return Err(IdentityError::PasskeyNotAllowed);
        }
        let state: RegistrationState =
            serde_json::from_value(pending.ceremony).map_err(|_| IdentityError::ChallengeNotFound)?;
        let answer: RegisterPublicKeyCredential =
            serde_json::from_value(response.clone()).map_err(|_| IdentityError::PasskeyRegistrationFailed)?;
        let core = self.relying_party(request_origin)?;
        let credential = core.register_credential(&answer, &state, None).map_err(|e| {
            rejected(&e);
            IdentityError::PasskeyRegistrationFailed
        })?;
        let attested = AttestedKey::read(answer.response.attestation_object.as_slice())
            .ok_or(IdentityError::PasskeyRegistrationFailed)?;
        // The stored bytes must be the key webauthn-rs verified.
        let reread: Option<COSEKey> = serde_cbor_2::from_slice::<serde_cbor_2::Value>(&attested.cose_key)
            .ok()
            .and_then(|v| COSEKey::try_from(&v).ok());
        if reread.as_ref() != Some(&credential.cred) {
            return Err(IdentityError::PasskeyRegistrationFailed);
        }
        let credential_id = URL_SAFE_NO_PAD.encode(&credential.cred_id);
        if passkeys::find_by_credential_id(&self.db, &credential_id)
            .await?
            .is_some()
        {
            return Err(IdentityError::PasskeyPreviouslyRegistered);
        }
        let row = passkey::Model {
            id: castellan_crypto::random::generate_id(),
            name: name.filter(|n| !n.is_empty()),
            public_key: STANDARD.encode(&attested.cose_key),
            user_id: user.id.clone(),
            credential_id,
            counter: i32::try_from(credential.counter)
                .map_err(|_| IdentityError::PasskeyRegistrationFailed)?,
            device_type: if credential.backup_eligible {
                "multiDevice"
            } else {
                "singleDevice"
            }
            .to_owned(),
            backed_up: credential.backup_state,
            transports: Some(reported_transports(response)),
            created_at: Some(self.now()),
            aaguid: Some(attested.aaguid),
        };
        Ok(passkeys::insert(&self.db, row).await?)
    }

    /// `generate-authenticate-options`: a challenge any of the deployment's passkeys may
    /// answer (discoverable sign-in), or, for a signed-in user, one of theirs.
    ///
    /// # Errors
    /// Storage failures.
    pub async fn begin_passkey_authentication(&self, user: Option<&user::Model>) -> IdentityResult<Begun> {
        let allowed: Vec<Credential> = match user {
            Some(u) => passkeys::list_for_user(&self.db, &u.id)
                .await?
                .iter()
                .filter_map(stored_credential)
                .collect(),
            None => Vec::new(),
        };
        let core = self.relying_party(None)?;
        let builder = core
            .new_challenge_authenticate_builder(allowed, Some(UserVerificationPolicy::Preferred))
            .map_err(|e| IdentityError::Internal(e.to_string()))?
            .allow_backup_eligible_upgrade(true);
        let (challenge, state) = core
            .generate_challenge_authenticate(builder)
            .map_err(|e| IdentityError::Internal(e.to_string()))?;
        let options = serde_json::to_value(&challenge.public_key)
            .map_err(|e| IdentityError::Internal(e.to_string()))?;
        let pending = Pending {
            kind: AUTHENTICATION.to_owned(),
            expected_challenge: options["challenge"].as_str().unwrap_or_default().to_owned(),
            user_data: PendingUser {
                id: user.map(|u| u.id.clone()).unwrap_or_default(),
                name: None,
                display_name: None,
            },
            context: None,
            ceremony: serde_json::to_value(&state).map_err(|e| IdentityError::Internal(e.to_string()))?,
        };
        let token = self.store_pending(&pending).await?;
        Ok(Begun { options, token })
    }

    /// `verify-authentication`: checks the assertion against the stored passkey it names and
    /// signs its owner in. The signature counter must move forward (a counter that does not
    /// is a cloned authenticator, and is refused); a passkey is both factors, so no
    /// two-factor challenge follows.
    ///
    /// # Errors
    /// `ChallengeNotFound`, `UnknownPasskey`, `PasskeyAuthenticationFailed` (with
    /// `PasskeyAssertionRefused` for answers that do not fit the challenge), a banned owner,
    /// storage failures.
    pub async fn finish_passkey_authentication(
        &self,
        token: Option<&str>,
        request_origin: Option<&str>,
        response: &Value,
        client: &ClientInfo,
    ) -> IdentityResult<AuthSession> {
        if request_origin.is_none() && self.settings.passkey.origins.is_empty() {
            return Err(IdentityError::PasskeyOriginMissing);
        }
        let pending = self.take_pending(token, AUTHENTICATION).await?;
        let mut state: AuthenticationState =
            serde_json::from_value(pending.ceremony).map_err(|_| IdentityError::ChallengeNotFound)?;
        let answer: PublicKeyCredential =
            serde_json::from_value(response.clone()).map_err(|_| IdentityError::PasskeyAssertionRefused)?;
        let credential_id = URL_SAFE_NO_PAD.encode(answer.raw_id.as_slice());
        let row = passkeys::find_by_credential_id(&self.db, &credential_id)
            .await?
            .ok_or(IdentityError::UnknownPasskey)?;
        let credential = stored_credential(&row).ok_or(IdentityError::PasskeyAuthenticationFailed)?;
        let core = self.relying_party(request_origin)?;
        // The credential is known only now, from the assertion (discoverable sign-in).
        state.set_allowed_credentials(vec![credential]);
        let result = core
            .authenticate_credential(&answer, &state)
            .map_err(|e| match e {
                WebauthnError::CredentialPossibleCompromise => {
                    tracing::warn!(passkey = %row.id, user = %row.user_id,
                        "a passkey's signature counter went backwards: possibly a cloned authenticator");
                    IdentityError::PasskeyAuthenticationFailed
                }
                WebauthnError::AuthenticationFailure => IdentityError::PasskeyAuthenticationFailed,
                other => {
                    rejected(&other);
                    IdentityError::PasskeyAssertionRefused
                }
            })?;
        if result.needs_update() {
            let next =
                i32::try_from(result.counter()).map_err(|_| IdentityError::PasskeyAuthenticationFailed)?;
            // Two sign-ins with one counter value: only the first moves it.
            if !passkeys::advance_counter(&self.db, &row.id, row.counter, next, result.backup_state()).await?
            {
                return Err(IdentityError::PasskeyAuthenticationFailed);
            }
        }
        let user = users::find_by_id(&self.db, &row.user_id)
            .await?
            .ok_or(IdentityError::UnknownPasskey)?;
        Ok(self
            .sessions
            .create(&user, Authentication::by(METHOD), client, false)
            .await?)
    }

    /// `list-user-passkeys`.
    ///
    /// # Errors
    /// Storage failures.
    pub async fn passkeys_of(&self, user: &user::Model) -> IdentityResult<Vec<passkey::Model>> {
        Ok(passkeys::list_for_user(&self.db, &user.id).await?)
    }

    /// `update-passkey`: renames one of `user`'s passkeys.
    ///
    /// # Errors
    /// `PasskeyNotFound` for a passkey that is not theirs; storage failures.
    pub async fn rename_passkey(
        &self,
        user: &user::Model,
        id: &str,
        name: &str,
    ) -> IdentityResult<passkey::Model> {
        passkeys::rename(&self.db, &user.id, id, name)
            .await?
            .ok_or(IdentityError::PasskeyNotFound)
    }

    /// `delete-passkey`: removes one of `user`'s passkeys.
    ///
    /// # Errors
    /// `PasskeyNotFound` for a passkey that is not theirs; storage failures.
    pub async fn delete_passkey(&self, user: &user::Model, id: &str) -> IdentityResult<()> {
        if passkeys::delete_owned(&self.db, &user.id, id).await? {
            Ok(())
        } else {
            Err(IdentityError::PasskeyNotFound)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_aaguid_reads_as_a_uuid() {
        let bytes: Vec<u8> = (0u8..16).collect();
        assert_eq!(format_uuid(&bytes), "00010203-0405-0607-0809-0a0b0c0d0e0f");
    }

    #[test]
    fn a_truncated_attestation_object_yields_no_key() {
        assert!(AttestedKey::read(b"").is_none());
        assert!(AttestedKey::read(&[0xa0]).is_none());
    }

    #[test]
    fn transports_are_kept_only_when_they_look_like_transports() {
        let response = serde_json::json!({"response": {"transports": ["internal", "hybrid", "x\r\ny", 3]}});
        assert_eq!(reported_transports(&response), "internal,hybrid");
        assert_eq!(reported_transports(&serde_json::json!({})), "");
    }
}
