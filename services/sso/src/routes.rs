//! Route table and thin handlers: Better Auth's SSO plugin paths (under `/api/auth`), plus
//! Castellan's `sso/provisioning` settings; SCIM's routes come from [`crate::scim`].

use std::collections::BTreeMap;

use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::{Map, Value, json};

use castellan_http::body::{query_object, read_limited};
use castellan_http::routes::Routes;
use castellan_http::state::registered;
use castellan_http::validate::validated;
use castellan_http::{ApiError, AuthState, Body, Fields, MaybeSession, Service, respond};

use crate::domain::connections::{Provisioning, ProvisioningChange, Registration, Update};
use crate::domain::login::{Finished, OidcCallback, SignIn};
use crate::domain::{Client, Outbound, SsoService};
use crate::saml::MAX_RESPONSE_BYTES;

/// The signed cookie binding an OIDC login to the browser that started it.
const STATE_COOKIE: &str = "state";
/// The signed cookie holding a setup portal session's secret (the IT admin has no account).
const SETUP_COOKIE: &str = "sso_setup";

pub fn configure(routes: &mut Routes<'_>) {
    routes
        .shared(|state| Outbound::new(state.settings.sso.dns_server))
        .post("/sso/register", register)
        .post("/sign-in/sso", sign_in)
        .get("/sso/callback/{provider_id}", oidc_callback)
        .post("/sso/saml2/sp/acs/{provider_id}", saml_acs)
        .get("/sso/saml2/sp/acs/{provider_id}", saml_acs_without_response)
        .get("/sso/saml2/sp/metadata", sp_metadata)
        .get("/sso/providers", list)
        .get("/sso/get-provider", get_provider)
        .post("/sso/update-provider", update)
        .post("/sso/delete-provider", delete)
        .post("/sso/request-domain-verification", request_domain_verification)
        .post("/sso/verify-domain", verify_domain)
        .get("/sso/provisioning", get_provisioning)
        .post("/sso/provisioning", set_provisioning)
        .get("/sso/sign-in", sign_in_link)
        .get("/sso/settings", get_settings)
        .post("/sso/update-settings", update_settings)
        .post("/sso/setup-link", create_setup_link)
        .post("/sso/setup/open", open_setup)
        .get("/sso/setup", setup_state)
        .get("/sso/setup/sp-metadata", setup_sp_metadata)
        .post("/sso/setup/connection", save_setup_connection)
        .post("/sso/setup/verify-domain", verify_setup_domain)
        .post("/sso/setup/test", begin_setup_test)
        .post("/sso/setup/enable", enable_setup);
    crate::scim::configure(routes);
}

fn client(req: &HttpRequest, state: &AuthState) -> Client {
    let info = state.client(req);
    Client {
        ip_address: Some(info.ip_address).filter(|s| !s.is_empty()),
        user_agent: Some(info.user_agent).filter(|s| !s.is_empty()),
    }
}

impl castellan_http::FromRegistered for SsoService {
    fn build(req: &HttpRequest) -> Result<Self, ApiError> {
        let http = registered::<AuthState>(req)?;
        Ok(Self::new(
            http.settings.clone(),
            http.db.clone(),
            registered::<castellan_authz::Authorizer>(req)?.into_inner(),
            http.sessions.clone(),
            http.clock.clone(),
            http.origins.clone(),
            registered::<Outbound>(req)?.get_ref().clone(),
        ))
    }
}

async fn register(
    Service(sso): Service<SsoService>,
    state: web::Data<AuthState>,
    req: HttpRequest,
    body: Body,
    current: MaybeSession,
) -> Result<HttpResponse, ApiError> {
    let mut f = Fields::body(body.get())?;
    let provider_id = f.string("providerId");
    let issuer = f.string("issuer");
    let domain = f.string("domain");
    let organization_id = f.optional_string("organizationId");
    let oidc = f.optional_object("oidcConfig");
    let saml = f.optional_object("samlConfig");
    let override_user_info = f.optional_bool("overrideUserInfo");
    f.finish()?;
    let actor = current.actor(&req, &state)?;
    let registered = sso
        .register(
            &actor,
            Registration {
                provider_id: validated(provider_id)?,
                issuer: validated(issuer)?,
                domain: validated(domain)?,
                organization_id,
                oidc,
                saml,
                override_user_info,
            },
        )
        .await?;
    let mut view = registered
        .connection
        .registered(&state.settings.auth_url(), registered.client_secret.as_deref());
    if let (Some(token), Value::Object(map)) = (registered.domain_verification_token, &mut view) {
        map.insert("domainVerificationToken".into(), json!(token));
    }
    Ok(respond::json(&view))
}

async fn sign_in(
    Service(sso): Service<SsoService>,
    state: web::Data<AuthState>,
    body: Body,
) -> Result<HttpResponse, ApiError> {
    let mut f = Fields::body(body.get())?;
    let callback_url = f.string("callbackURL");
    let email = f.optional_string("email");
    let organization_slug = f.optional_string("organizationSlug");
    let provider_id = f.optional_string("providerId");
    let domain = f.optional_string("domain");
    let error_callback_url = f.optional_string("errorCallbackURL");
    let new_user_callback_url = f.optional_string("newUserCallbackURL");
    let login_hint = f.optional_string("loginHint");
    let provider_type = f.optional_string("providerType");
    let _request_sign_up = f.optional_bool("requestSignUp");
    let additional_params = f.optional_string_map("additionalParams").unwrap_or_default();
    let scopes = f.optional_string_list("scopes");
    f.finish()?;
    let started = sso
        .begin_sign_in(SignIn {
            callback_url: validated(callback_url)?,
            email,
            organization_slug,
            provider_id,
            domain,
            error_callback_url,
            new_user_callback_url,
            scopes,
            login_hint,
            provider_type,
            additional_params,
        })
        .await?;
    Ok(to_the_idp(&state, started))
}

/// `GET /sso/sign-in?providerId=&callbackURL=` (Castellan's own): the SSO sign-in as a link,
/// which a password sign-in for an address under an SSO requirement answers with.
async fn sign_in_link(
    Service(sso): Service<SsoService>,
    state: web::Data<AuthState>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let query = query_object(&req);
    let mut f = Fields::query(&query);
    let provider_id = f.string("providerId");
    let callback_url = f.optional_string("callbackURL");
    let error_callback_url = f.optional_string("errorCallbackURL");
    let login_hint = f.optional_string("loginHint");
    f.finish()?;
    castellan_http::body::check_callback_params(&req, &state, None)?;
    let started = sso
        .begin_sign_in(SignIn {
            callback_url: callback_url.unwrap_or_else(|| "/".to_owned()),
            email: None,
            organization_slug: None,
            provider_id: Some(validated(provider_id)?),
            domain: None,
            error_callback_url,
            new_user_callback_url: None,
            scopes: None,
            login_hint,
            provider_type: None,
            additional_params: Vec::new(),
        })
        .await?;
    let res = respond::redirect(&started.url);
    Ok(binding_state(&state, res, started.state_cookie))
}

/// `{url, redirect: true}` for the client to follow to the IdP, with the login's binding cookie.
fn to_the_idp(state: &AuthState, started: crate::domain::login::Started) -> HttpResponse {
    let res = respond::json(&json!({ "url": started.url, "redirect": true }));
    binding_state(state, res, started.state_cookie)
}

/// `res` with the cookie that binds an OIDC login to this browser, when the login has one.
fn binding_state(state: &AuthState, res: HttpResponse, state_cookie: Option<String>) -> HttpResponse {
    match state_cookie {
        Some(value) => respond::with_cookies(res, &[state.cookies.signed(STATE_COOKIE, &value, Some(600))]),
        None => res,
    }
}

fn policy_view(policy: &crate::domain::policy::SsoPolicy) -> Value {
    json!({
        "organizationId": policy.organization_id,
        "requireSso": policy.require_sso,
        "updatedAt": policy.updated_at.as_ref().map(respond::iso),
    })
}

async fn get_settings(
    Service(sso): Service<SsoService>,
    state: web::Data<AuthState>,
    req: HttpRequest,
    current: MaybeSession,
) -> Result<HttpResponse, ApiError> {
    let org_id = required_query(&req, "organizationId")?;
    let actor = current.actor(&req, &state)?;
    let policy = sso.sso_policy(&actor, &org_id).await?;
    Ok(respond::json(&policy_view(&policy)))
}

async fn update_settings(
    Service(sso): Service<SsoService>,
    state: web::Data<AuthState>,
    req: HttpRequest,
    body: Body,
    current: MaybeSession,
) -> Result<HttpResponse, ApiError> {
    let mut f = Fields::body(body.get())?;
    let org_id = f.string("organizationId");
    let require_sso = f.boolean("requireSso");
    f.finish()?;
    let actor = current.actor(&req, &state)?;
    let policy = sso
        .set_sso_policy(&actor, &validated(org_id)?, validated(require_sso)?)
        .await?;
    Ok(respond::json(&policy_view(&policy)))
}

fn finished(state: &AuthState, outcome: Finished, clear_state: bool) -> HttpResponse {
    let mut cookies = Vec::new();
    if clear_state {
        cookies.push(state.cookies.expired(STATE_COOKIE));
    }
    match outcome {
        Finished::SignedIn {
            session_token,
            redirect: to,
        } => {
            cookies.extend(respond::session_cookies(state, &session_token, false));
            respond::with_cookies(respond::redirect(&to), &cookies)
        }
        Finished::Failed { redirect: to } | Finished::Tested { redirect: to } => {
            respond::with_cookies(respond::redirect(&to), &cookies)
        }
    }
}

async fn oidc_callback(
    Service(sso): Service<SsoService>,
    state: web::Data<AuthState>,
    req: HttpRequest,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let query = query_object(&req);
    let text = |k: &str| query.get(k).and_then(Value::as_str).map(str::to_owned);
    let callback = OidcCallback {
        code: text("code"),
        state: text("state"),
        error: text("error"),
        error_description: text("error_description"),
    };
    let state_cookie = state.cookies.read_signed(&req, STATE_COOKIE);
    let outcome = sso
        .finish_oidc(&path, callback, state_cookie, &client(&req, &state))
        .await;
    Ok(finished(&state, outcome, true))
}

/// Reads the ACS body: a form (the HTTP-POST binding) or JSON, with its own size limit (SAML
/// responses are larger than API bodies).
async fn acs_fields(req: &HttpRequest, mut payload: web::Payload) -> Result<Map<String, Value>, ApiError> {
    // Form encoding can triple base64's `+`, `/` and `=`.
    let bytes = read_limited(&mut payload, MAX_RESPONSE_BYTES * 3 + 4096).await?;
    let json = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if json {
        match serde_json::from_slice(&bytes) {
            Ok(Value::Object(map)) => Ok(map),
            _ => Err(ApiError::bad_request(
                "BAD_REQUEST",
                "Invalid JSON in request body",
            )),
        }
    } else {
        Ok(url::form_urlencoded::parse(&bytes)
            .map(|(k, v)| (k.into_owned(), Value::String(v.into_owned())))
            .collect())
    }
}

async fn saml_acs(
    Service(sso): Service<SsoService>,
    state: web::Data<AuthState>,
    req: HttpRequest,
    path: web::Path<String>,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let fields = Value::Object(acs_fields(&req, payload).await?);
    let mut f = Fields::body(Some(&fields))?;
    let response = f.non_empty_string("SAMLResponse");
    let relay_state = f.optional_string("RelayState");
    f.finish()?;
    let outcome = sso
        .finish_saml(
            &path,
            &validated(response)?,
            relay_state.as_deref(),
            &client(&req, &state),
        )
        .await?;
    Ok(finished(&state, outcome, false))
}

async fn saml_acs_without_response(state: web::Data<AuthState>) -> HttpResponse {
    respond::redirect(&format!(
        "{}/error?error=invalid_request",
        state.settings.auth_url()
    ))
}

async fn sp_metadata(Service(sso): Service<SsoService>, req: HttpRequest) -> Result<HttpResponse, ApiError> {
    let query = query_object(&req);
    let mut f = Fields::query(&query);
    let provider_id = f.string("providerId");
    f.finish()?;
    let xml = sso.sp_metadata(&validated(provider_id)?).await?;
    Ok(HttpResponse::Ok().content_type("application/xml").body(xml))
}

async fn list(
    Service(sso): Service<SsoService>,
    state: web::Data<AuthState>,
    req: HttpRequest,
    current: MaybeSession,
) -> Result<HttpResponse, ApiError> {
    let actor = current.actor(&req, &state)?;
    let auth_url = state.settings.auth_url();
    let providers: Vec<Value> = sso
        .list(&actor)
        .await?
        .iter()
        .map(|c| c.sanitized(&auth_url))
        .collect();
    Ok(respond::json(&json!({ "providers": providers })))
}

fn provider_id_query(req: &HttpRequest) -> Result<String, ApiError> {
    required_query(req, "providerId")
}

/// The one query parameter a GET endpoint needs.
fn required_query(req: &HttpRequest, key: &str) -> Result<String, ApiError> {
    let query = query_object(req);
    let mut f = Fields::query(&query);
    let value = f.string(key);
    f.finish()?;
    validated(value)
}

fn provider_id_body(body: &Body) -> Result<String, ApiError> {
    let mut f = Fields::body(body.get())?;
    let provider_id = f.string("providerId");
    f.finish()?;
    validated(provider_id)
}

async fn get_provider(
    Service(sso): Service<SsoService>,
    state: web::Data<AuthState>,
    req: HttpRequest,
    current: MaybeSession,
) -> Result<HttpResponse, ApiError> {
    let provider_id = provider_id_query(&req)?;
    let actor = current.actor(&req, &state)?;
    let connection = sso.get(&actor, &provider_id).await?;
    Ok(respond::json(&connection.sanitized(&state.settings.auth_url())))
}

async fn update(
    Service(sso): Service<SsoService>,
    state: web::Data<AuthState>,
    req: HttpRequest,
    body: Body,
    current: MaybeSession,
) -> Result<HttpResponse, ApiError> {
    let mut f = Fields::body(body.get())?;
    let provider_id = f.string("providerId");
    let issuer = f.optional_string("issuer");
    let domain = f.optional_string("domain");
    let oidc = f.optional_object("oidcConfig");
    let saml = f.optional_object("samlConfig");
    f.finish()?;
    let actor = current.actor(&req, &state)?;
    let updated = sso
        .update(
            &actor,
            Update {
                provider_id: validated(provider_id)?,
                issuer,
                domain,
                oidc,
                saml,
            },
        )
        .await?;
    Ok(respond::json(&updated.sanitized(&state.settings.auth_url())))
}

async fn delete(
    Service(sso): Service<SsoService>,
    state: web::Data<AuthState>,
    req: HttpRequest,
    body: Body,
    current: MaybeSession,
) -> Result<HttpResponse, ApiError> {
    let provider_id = provider_id_body(&body)?;
    let actor = current.actor(&req, &state)?;
    sso.delete(&actor, &provider_id).await?;
    Ok(respond::json(&json!({ "success": true })))
}

async fn request_domain_verification(
    Service(sso): Service<SsoService>,
    state: web::Data<AuthState>,
    req: HttpRequest,
    body: Body,
    current: MaybeSession,
) -> Result<HttpResponse, ApiError> {
    let provider_id = provider_id_body(&body)?;
    let actor = current.actor(&req, &state)?;
    let token = sso.request_domain_verification(&actor, &provider_id).await?;
    Ok(respond::json_with_status(
        StatusCode::CREATED,
        &json!({ "domainVerificationToken": token }),
    ))
}

async fn verify_domain(
    Service(sso): Service<SsoService>,
    state: web::Data<AuthState>,
    req: HttpRequest,
    body: Body,
    current: MaybeSession,
) -> Result<HttpResponse, ApiError> {
    let provider_id = provider_id_body(&body)?;
    let actor = current.actor(&req, &state)?;
    sso.verify_domain(&actor, &provider_id).await?;
    Ok(HttpResponse::NoContent().finish())
}

fn provisioning_view(provider_id: &str, p: &Provisioning) -> Value {
    json!({
        "providerId": provider_id,
        "defaultRole": p.default_role,
        "groupsClaim": p.groups_claim,
        "roleMapping": p.role_mapping,
        "allowIdpInitiated": p.allow_idp_initiated,
    })
}

async fn get_provisioning(
    Service(sso): Service<SsoService>,
    state: web::Data<AuthState>,
    req: HttpRequest,
    current: MaybeSession,
) -> Result<HttpResponse, ApiError> {
    let provider_id = provider_id_query(&req)?;
    let actor = current.actor(&req, &state)?;
    let settings = sso.get_provisioning(&actor, &provider_id).await?;
    Ok(respond::json(&provisioning_view(&provider_id, &settings)))
}

async fn set_provisioning(
    Service(sso): Service<SsoService>,
    state: web::Data<AuthState>,
    req: HttpRequest,
    body: Body,
    current: MaybeSession,
) -> Result<HttpResponse, ApiError> {
    let mut f = Fields::body(body.get())?;
    let provider_id = f.string("providerId");
    let default_role = f.optional_string("defaultRole");
    let groups_claim = f.optional_string("groupsClaim");
    let allow_idp_initiated = f.optional_bool("allowIdpInitiated");
    let mapping = f.optional_object("roleMapping");
    f.finish()?;
    let role_mapping = match mapping {
        None => None,
        Some(map) => Some(
            map.into_iter()
                .map(|(group, role)| match role {
                    Value::String(role) => Ok((group, role)),
                    _ => Err(ApiError::validation(format!(
                        "[body.roleMapping.{group}] Invalid input: expected string"
                    ))),
                })
                .collect::<Result<BTreeMap<_, _>, _>>()?,
        ),
    };
    let actor = current.actor(&req, &state)?;
    let provider_id = validated(provider_id)?;
    let settings = sso
        .set_provisioning(
            &actor,
            ProvisioningChange {
                provider_id: provider_id.clone(),
                default_role,
                groups_claim,
                role_mapping,
                allow_idp_initiated,
            },
        )
        .await?;
    Ok(respond::json(&provisioning_view(&provider_id, &settings)))
}

/// `POST /sso/setup-link` (Castellan's own): a single-use link to the setup portal, for the
/// customer's IT admin. The token rides in the URL's fragment, which browsers never send, so it
/// reaches no server log or `Referer`.
async fn create_setup_link(
    Service(sso): Service<SsoService>,
    state: web::Data<AuthState>,
    req: HttpRequest,
    body: Body,
    current: MaybeSession,
) -> Result<HttpResponse, ApiError> {
    let mut f = Fields::optional_body(body.get())?;
    let organization_id = f.optional_string("organizationId");
    let hours = f.optional_count("expiresInHours");
    f.finish()?;
    let actor = current.actor(&req, &state)?;
    let hours = hours.map(|h| i64::try_from(h).unwrap_or(i64::MAX));
    let (token, expires_at) = sso.create_setup_link(&actor, organization_id, hours).await?;
    Ok(respond::json(&json!({
        "url": format!("{}/sso-setup#{token}", state.settings.origin()),
        "expiresAt": respond::iso(&expires_at),
    })))
}

/// Who acts in the setup portal: the setup session's secret (from its signed cookie; empty
/// without one, which the domain refuses) and where the request came from.
struct SetupCaller {
    secret: String,
    client: Client,
}

impl actix_web::FromRequest for SetupCaller {
    type Error = ApiError;
    type Future = std::future::Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut actix_web::dev::Payload) -> Self::Future {
        std::future::ready(registered::<AuthState>(req).map(|state| Self {
            secret: state.cookies.read_signed(req, SETUP_COOKIE).unwrap_or_default(),
            client: client(req, &state),
        }))
    }
}

/// `POST /sso/setup/open`: exchanges the link's token for the setup session's cookie.
async fn open_setup(
    Service(sso): Service<SsoService>,
    state: web::Data<AuthState>,
    req: HttpRequest,
    body: Body,
) -> Result<HttpResponse, ApiError> {
    let mut f = Fields::body(body.get())?;
    let token = f.string("token");
    f.finish()?;
    let (secret, view) = sso.open_setup(&validated(token)?, &client(&req, &state)).await?;
    let max_age = u64::try_from((view.expires_at - state.clock.now()).num_seconds()).unwrap_or(0);
    let cookie = state.cookies.signed(SETUP_COOKIE, &secret, Some(max_age));
    Ok(respond::with_cookies(respond::json(&view), &[cookie]))
}

async fn setup_state(
    Service(sso): Service<SsoService>,
    caller: SetupCaller,
) -> Result<HttpResponse, ApiError> {
    Ok(respond::json(&sso.setup_state(&caller.secret).await?))
}

async fn setup_sp_metadata(
    Service(sso): Service<SsoService>,
    caller: SetupCaller,
) -> Result<HttpResponse, ApiError> {
    let xml = sso.setup_sp_metadata(&caller.secret).await?;
    Ok(HttpResponse::Ok()
        .content_type("application/xml")
        .insert_header((
            header::CONTENT_DISPOSITION,
            "attachment; filename=\"sp-metadata.xml\"",
        ))
        .body(xml))
}

async fn save_setup_connection(
    Service(sso): Service<SsoService>,
    caller: SetupCaller,
    body: Body,
) -> Result<HttpResponse, ApiError> {
    use crate::domain::provisioning::Protocol;
    let mut f = Fields::body(body.get())?;
    let protocol = f.one_of("protocol", &["oidc", "saml"]);
    let domain = f.non_empty_string("domain");
    let issuer = f.optional_string("issuer");
    let client_id = f.optional_string("clientId");
    let client_secret = f.optional_string("clientSecret");
    let metadata_xml = f.optional_string("metadataXml");
    let metadata_url = f.optional_string("metadataUrl");
    let role_mapping = f.optional_string_map("roleMapping").unwrap_or_default();
    f.finish()?;
    let input = crate::domain::setup::DraftInput {
        protocol: if validated(protocol)? == "saml" {
            Protocol::Saml
        } else {
            Protocol::Oidc
        },
        domain: validated(domain)?,
        issuer,
        client_id,
        client_secret,
        metadata_xml,
        metadata_url,
        role_mapping: role_mapping.into_iter().collect(),
    };
    let view = sso
        .save_setup_connection(&caller.secret, input, &caller.client)
        .await?;
    Ok(respond::json(&view))
}

async fn verify_setup_domain(
    Service(sso): Service<SsoService>,
    caller: SetupCaller,
) -> Result<HttpResponse, ApiError> {
    Ok(respond::json(
        &sso.verify_setup_domain(&caller.secret, &caller.client).await?,
    ))
}

async fn begin_setup_test(
    Service(sso): Service<SsoService>,
    state: web::Data<AuthState>,
    caller: SetupCaller,
) -> Result<HttpResponse, ApiError> {
    let started = sso.begin_setup_test(&caller.secret, &caller.client).await?;
    Ok(to_the_idp(&state, started))
}

async fn enable_setup(
    Service(sso): Service<SsoService>,
    state: web::Data<AuthState>,
    caller: SetupCaller,
) -> Result<HttpResponse, ApiError> {
    let provider_id = sso.enable_setup(&caller.secret, &caller.client).await?;
    Ok(respond::with_cookies(
        respond::json(&json!({ "providerId": provider_id, "enabled": true })),
        &[state.cookies.expired(SETUP_COOKIE)],
    ))
}
