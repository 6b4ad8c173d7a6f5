//! Finishing an OIDC login: the callback, the browser check, the code exchange and the ID token.

use serde_json::Value;

use super::*;
use crate::domain::provisioning::{ExternalIdentity, Protocol, groups_from};
use crate::domain::{Client, SsoService};
use crate::error::LoginFailure;
use crate::provider::{Connection, open_secret};
use castellan_oauth::{CodeExchange, IdTokenCheck};

impl SsoService {
    /// `GET /sso/callback/:providerId`.
    pub async fn finish_oidc(
        &self,
        provider_id: &str,
        callback: OidcCallback,
        state_cookie: Option<String>,
        client: &Client,
    ) -> Finished {
        let OidcCallback {
            code,
            state,
            error,
            error_description,
        } = callback;
        let Some(state) = state.filter(|s| !s.is_empty()) else {
            return Finished::Failed {
                redirect: self.error_page("invalid_state"),
            };
        };
        // The signed cookie ties the callback to the browser that started the login. A callback
        // without it (another browser, a forwarded link) is refused without consuming the flow,
        // so the right browser can still finish.
        if state_cookie.as_deref() != Some(state.as_str()) {
            return self.refuse_stranger(provider_id, &state, client).await;
        }
        let flow = match self.take_flow(&state).await {
            Ok(Some(flow)) if flow.protocol == Protocol::Oidc && flow.provider_id == provider_id => flow,
            Ok(_) => {
                return Finished::Failed {
                    redirect: self.error_page("invalid_state"),
                };
            }
            Err(e) => {
                tracing::error!(error = %e, "reading the SSO state failed");
                return Finished::Failed {
                    redirect: self.error_page("internal_error"),
                };
            }
        };
        let connection = self.flow_connection(Some(&flow), provider_id).await.ok();
        let org_id = connection.as_ref().and_then(|c| c.row.organization_id.clone());
        let vouched = match connection {
            None => Err(LoginFailure::new(
                "invalid_provider",
                "the connection no longer exists",
            )),
            Some(connection) => {
                let parts = (code.filter(|c| !c.is_empty()), error, error_description);
                self.complete_oidc(&connection, &flow, parts)
                    .await
                    .map(|v| (connection, v))
            }
        };
        self.admit(vouched, &flow, org_id.as_deref(), client).await
    }

    /// A callback for a flow this browser did not start: `state_mismatch` (audited against the
    /// flow's organization when the flow exists), the flow left in place.
    async fn refuse_stranger(&self, provider_id: &str, state: &str, client: &Client) -> Finished {
        let peeked = self.read_flow(state, false).await.ok().flatten();
        let Some(flow) = peeked.filter(|f| f.protocol == Protocol::Oidc && f.provider_id == provider_id)
        else {
            return Finished::Failed {
                redirect: self.error_page("invalid_state"),
            };
        };
        let org_id = self
            .connection(provider_id)
            .await
            .ok()
            .and_then(|c| c.row.organization_id.clone());
        let refused = LoginFailure::new("state_mismatch", "the state does not belong to this browser");
        self.conclude(Err(refused), &flow, org_id.as_deref(), client)
            .await
    }

    async fn complete_oidc(
        &self,
        connection: &Connection,
        flow: &FlowState,
        callback: (Option<String>, Option<String>, Option<String>),
    ) -> Result<Vouched, LoginFailure> {
        let (code, error, error_description) = callback;
        // The IdP's own error (`access_denied`, ...) is passed on, as Better Auth does.
        if let Some(error) = error {
            let plain = !error.is_empty()
                && error.len() <= 64
                && error.chars().all(|c| c.is_ascii_lowercase() || c == '_');
            return Err(LoginFailure::new(
                if plain { error } else { "idp_error".to_owned() },
                error_description.unwrap_or_default(),
            ));
        }
        let code = code.ok_or_else(|| LoginFailure::new("invalid_request", "the IdP returned no code"))?;
        if fingerprint(connection) != flow.fingerprint {
            return Err(LoginFailure::new(
                "invalid_state",
                "sso_provider_changed_during_authentication",
            ));
        }
        if flow.setup.is_none() {
            self.require_verified_domain(connection)?;
        }
        let oidc = connection.oidc.as_ref().ok_or_else(|| {
            LoginFailure::new("invalid_provider", "the connection has no OIDC configuration")
        })?;
        let secret = open_secret(&self.settings.secrets, &oidc.client_secret)
            .map_err(|_| LoginFailure::new("invalid_provider", "the client secret cannot be decrypted"))?;
        let nonce = flow.nonce.as_deref().unwrap_or_default();
        let redirect_uri = self.oidc_redirect_uri(connection.provider_id());
        let (verified, _tokens) = self
            .outbound
            .rp
            .complete(
                &oidc.registration(),
                &CodeExchange {
                    client_secret: &secret,
                    redirect_uri: &redirect_uri,
                    code: &code,
                    code_verifier: flow.code_verifier.as_deref(),
                },
                &IdTokenCheck {
                    nonce: Some(nonce),
                    clock_skew: self.settings.sso.clock_skew,
                    now: self.now(),
                },
            )
            .await?;
        let mapping = oidc.mapping.clone().unwrap_or_default();
        let settings = self.provisioning_of(connection.provider_id()).await?;
        let claim = |key: Option<&String>, default: &str| {
            verified.claims.get(key.map_or(default, String::as_str)).cloned()
        };
        let text = |v: Option<Value>| v.and_then(|v| v.as_str().map(str::to_owned));
        let email = text(claim(mapping.email.as_ref(), "email"))
            .ok_or_else(|| LoginFailure::new("missing_user_info", "the IdP sent no email"))?;
        let email_verified = claim(mapping.email_verified.as_ref(), "email_verified")
            .and_then(|v| castellan_oauth::claim_bool(&v));
        let name = text(claim(mapping.name.as_ref(), "name")).unwrap_or_else(|| email.clone());
        let identity = ExternalIdentity {
            account_id: verified.subject.clone(),
            email,
            email_verified,
            name,
            image: text(claim(mapping.image.as_ref(), "picture")),
            groups: groups_from(verified.claims.get(&settings.groups_claim)),
        };
        Ok(Vouched {
            identity,
            override_profile: oidc.override_user_info == Some(true),
            settings,
        })
    }
}
