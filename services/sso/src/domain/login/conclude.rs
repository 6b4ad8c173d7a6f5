//! Where every login ends: provisioning done or refused, a session opened, the audit entry written, the browser sent on.

use serde_json::json;

use castellan_session::{ClientInfo, SessionError};

use super::*;
use crate::domain::{AuditNote, Client, SsoService};
use crate::error::{LoginFailure, SsoError};

impl SsoService {
    /// Opens the session and records the outcome either way. Failures go to the flow's
    /// `errorCallbackURL`, else its `callbackURL`.
    pub(super) async fn conclude(
        &self,
        result: Result<crate::domain::provisioning::Provisioned, LoginFailure>,
        flow: &FlowState,
        org_id: Option<&str>,
        client: &Client,
    ) -> Finished {
        let (provider_id, protocol) = (flow.provider_id.as_str(), flow.protocol);
        let info = ClientInfo {
            ip_address: client.ip_address.clone().unwrap_or_default(),
            user_agent: client.user_agent.clone().unwrap_or_default(),
        };
        let session = match result {
            Ok(provisioned) => match self
                .sessions
                .create(
                    &provisioned.user,
                    castellan_session::Authentication::through("sso", provider_id),
                    &info,
                    false,
                )
                .await
            {
                Ok(session) => Ok((provisioned, session)),
                Err(SessionError::Banned) => Err(LoginFailure::new("banned", "the user is banned")),
                Err(e) => Err(LoginFailure::from(SsoError::from(e))),
            },
            Err(failure) => Err(failure),
        };
        match session {
            Ok((provisioned, session)) => {
                let recorded = self
                    .audit(
                        &self.db,
                        AuditNote {
                            org_id,
                            action: "sso.login",
                            actor_id: Some(provisioned.user.id.clone()),
                            target: provider_id,
                            details: json!({
                                "protocol": protocol.name(),
                                "email": provisioned.user.email,
                                "newUser": provisioned.is_new_user,
                                "role": provisioned.role,
                            }),
                        },
                        client,
                    )
                    .await;
                if let Err(e) = recorded {
                    tracing::error!(error = %e, "recording an SSO login failed");
                }
                let target = match (&flow.new_user_url, provisioned.is_new_user) {
                    (Some(url), true) => url.clone(),
                    _ => flow.callback_url.clone(),
                };
                Finished::SignedIn {
                    session_token: session.session.token,
                    redirect: target,
                }
            }
            Err(failure) => {
                tracing::info!(provider = provider_id, code = %failure.code, reason = %failure.reason, "SSO login rejected");
                let recorded = self
                    .audit(
                        &self.db,
                        AuditNote {
                            org_id,
                            action: "sso.login.rejected",
                            actor_id: None,
                            target: provider_id,
                            details: json!({ "protocol": protocol.name(), "error": failure.code, "reason": failure.reason }),
                        },
                        client,
                    )
                    .await;
                if let Err(e) = recorded {
                    tracing::error!(error = %e, "recording a rejected SSO login failed");
                }
                Finished::Failed {
                    redirect: with_params(
                        flow.error_url.as_deref().unwrap_or(&flow.callback_url),
                        &[
                            ("error", &failure.code),
                            ("error_description", &failure.description),
                        ],
                    ),
                }
            }
        }
    }
}
