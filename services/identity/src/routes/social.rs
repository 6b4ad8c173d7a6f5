//! Social sign-in and generic OAuth on Better Auth's wire: `sign-in/social`, `callback/:id`,
//! `link-social`, `unlink-account`, `get-access-token`, `refresh-token`, `account-info`, and the
//! generic-OAuth plugin's `sign-in/oauth2`, `oauth2/callback/:id`, `oauth2/link`.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use castellan_config::social::Family;
use castellan_http::body::{query_object, read_limited};
use castellan_http::respond::{self, UserView, iso};
use castellan_http::{ApiError, AuthState, Body, Fields, MaybeSession, Service};
use castellan_oauth::RelyingParty;
use serde_json::{Map, Value, json};

use super::validated;
use crate::domain::social::{
    Callback, Finished, IdTokenSignIn, STATE_COOKIE_MAX_AGE, SocialService, Start, Started,
};
use crate::error::IdentityError;

/// The signed cookie binding a login to the browser that started it (Better Auth's name).
const STATE_COOKIE: &str = "state";
/// The parameters a provider may send to a callback; a POSTed callback keeps only these.
const CALLBACK_PARAMS: [&str; 7] = [
    "code",
    "error",
    "error_description",
    "state",
    "user",
    "iss",
    "device_id",
];

impl castellan_http::FromRegistered for SocialService {
    fn build(req: &HttpRequest) -> Result<Self, ApiError> {
        use castellan_http::state::registered;
        let http = registered::<AuthState>(req)?;
        Ok(Self::new(
            http.db.clone(),
            http.sessions.clone(),
            http.settings.clone(),
            http.clock.clone(),
            registered::<RelyingParty>(req)?.get_ref().clone(),
        ))
    }
}

/// `{url, redirect}` with a `Location` when the client is to follow it, and the state cookie.
fn started(state: &AuthState, started: Started, follow: bool) -> HttpResponse {
    let mut res = respond::json(&json!({ "url": started.url, "redirect": follow }));
    if follow && let Ok(v) = header::HeaderValue::from_str(&started.url) {
        res.headers_mut().insert(header::LOCATION, v);
    }
    respond::with_cookies(
        res,
        &[state
            .cookies
            .signed(STATE_COOKIE, &started.state, Some(STATE_COOKIE_MAX_AGE))],
    )
}

/// The browser-flow fields `sign-in/social`, `link-social` and `sign-in/oauth2` share.
fn start_fields(f: &mut Fields<'_>, provider_key: &str) -> (Start, bool) {
    let start = Start {
        provider: f.string(provider_key).unwrap_or_default(),
        callback_url: f.optional_string("callbackURL"),
        error_callback_url: f.optional_string("errorCallbackURL"),
        new_user_callback_url: f.optional_string("newUserCallbackURL"),
        scopes: f.optional_string_list("scopes").unwrap_or_default(),
        login_hint: f.optional_string("loginHint"),
        request_sign_up: f.optional_bool("requestSignUp").unwrap_or(false),
        additional_params: f.optional_string_map("additionalParams").unwrap_or_default(),
    };
    let _additional_data = f.optional_object("additionalData");
    let disable_redirect = f.optional_bool("disableRedirect").unwrap_or(false);
    (start, !disable_redirect)
}

/// Better Auth's `idToken` object.
fn id_token_field(f: &mut Fields<'_>) -> Result<Option<IdTokenSignIn>, ApiError> {
    let Some(obj) = f.optional_object("idToken") else {
        return Ok(None);
    };
    let value = Value::Object(obj);
    let mut t = Fields::body(Some(&value))?;
    let token = t.non_empty_string("token");
    let nonce = t.optional_string("nonce");
    let access_token = t.optional_string("accessToken");
    let refresh_token = t.optional_string("refreshToken");
    let expires_at = t
        .optional_count("expiresAt")
        .and_then(|ms| i64::try_from(ms).ok())
        .and_then(chrono::DateTime::from_timestamp_millis);
    let user = t.optional_object("user").unwrap_or_default();
    t.finish()
        .map_err(|e| ApiError::validation(e.to_string().replace("[body.", "[body.idToken.")))?;
    let name = crate::domain::social::display_name(&Value::Object(user));
    Ok(Some(IdTokenSignIn {
        token: validated(token)?,
        nonce,
        access_token,
        refresh_token,
        expires_at,
        name,
    }))
}

pub async fn sign_in_social(
    Service(social): Service<SocialService>,
    state: web::Data<AuthState>,
    req: HttpRequest,
    body: Body,
) -> Result<HttpResponse, ApiError> {
    let mut f = Fields::body(body.get())?;
    let (start, follow) = start_fields(&mut f, "provider");
    let id_token = id_token_field(&mut f)?;
    f.finish()?;
    if let Some(token) = id_token {
        let result = social
            .sign_in_with_id_token(&start.provider, token, start.request_sign_up, &state.client(&req))
            .await;
        let outcome = if result.is_ok() { "success" } else { "failure" };
        castellan_metrics::SIGN_INS
            .with_label_values(&["id_token", outcome])
            .inc();
        let signed_in = result?;
        let body = json!({
            "redirect": false,
            "token": signed_in.session.session.token,
            "user": UserView::from(&signed_in.user),
        });
        let cookies = respond::session_cookies(&state, &signed_in.session.session.token, false);
        return Ok(respond::with_cookies(respond::json(&body), &cookies));
    }
    let begun = social.start(Family::Social, start, None).await?;
    Ok(started(&state, begun, follow))
}

pub async fn sign_in_oauth2(
    Service(social): Service<SocialService>,
    state: web::Data<AuthState>,
    body: Body,
) -> Result<HttpResponse, ApiError> {
    let mut f = Fields::body(body.get())?;
    let (start, follow) = start_fields(&mut f, "providerId");
    f.finish()?;
    let begun = social.start(Family::Generic, start, None).await?;
    Ok(started(&state, begun, follow))
}

pub async fn link_social(
    Service(social): Service<SocialService>,
    state: web::Data<AuthState>,
    body: Body,
    current: MaybeSession,
) -> Result<HttpResponse, ApiError> {
    let mut f = Fields::body(body.get())?;
    let (start, follow) = start_fields(&mut f, "provider");
    let id_token = id_token_field(&mut f)?;
    f.finish()?;
    let auth = current.require()?;
    if let Some(token) = id_token {
        social.link_id_token(&auth, &start.provider, token).await?;
        return Ok(respond::json(
            &json!({ "url": "", "status": true, "redirect": false }),
        ));
    }
    let begun = social
        .start(Family::Social, start, Some(SocialService::link_target(&auth)))
        .await?;
    Ok(started(&state, begun, follow))
}

pub async fn oauth2_link(
    Service(social): Service<SocialService>,
    state: web::Data<AuthState>,
    body: Body,
    current: MaybeSession,
) -> Result<HttpResponse, ApiError> {
    let mut f = Fields::body(body.get())?;
    let (start, _) = start_fields(&mut f, "providerId");
    f.finish()?;
    let auth = current.require()?;
    let begun = social
        .start(Family::Generic, start, Some(SocialService::link_target(&auth)))
        .await?;
    Ok(started(&state, begun, true))
}

fn finished(state: &AuthState, outcome: Finished) -> HttpResponse {
    let mut cookies = vec![state.cookies.expired(STATE_COOKIE)];
    let target = match outcome {
        Finished::SignedIn {
            session_token,
            redirect,
        } => {
            cookies.extend(respond::session_cookies(state, &session_token, false));
            redirect
        }
        Finished::Linked { redirect } | Finished::Failed { redirect } => redirect,
    };
    respond::with_cookies(respond::redirect(&target), &cookies)
}

async fn finish(
    social: &SocialService,
    state: &AuthState,
    req: &HttpRequest,
    family: Family,
    provider_id: &str,
) -> HttpResponse {
    let query = query_object(req);
    let text = |k: &str| query.get(k).and_then(Value::as_str).map(str::to_owned);
    let callback = Callback {
        code: text("code"),
        state: text("state"),
        error: text("error"),
        error_description: text("error_description"),
        user: text("user"),
    };
    let state_cookie = state.cookies.read_signed(req, STATE_COOKIE);
    let outcome = social
        .finish(family, provider_id, callback, state_cookie, &state.client(req))
        .await;
    finished(state, outcome)
}

pub async fn callback(
    Service(social): Service<SocialService>,
    state: web::Data<AuthState>,
    req: HttpRequest,
    path: web::Path<String>,
) -> HttpResponse {
    finish(&social, &state, &req, Family::Social, &path).await
}

pub async fn oauth2_callback(
    Service(social): Service<SocialService>,
    state: web::Data<AuthState>,
    req: HttpRequest,
    path: web::Path<String>,
) -> HttpResponse {
    finish(&social, &state, &req, Family::Generic, &path).await
}

/// A provider that posts its answer (Apple's `form_post`): sent on to the GET callback, so the
/// browser's SameSite=Lax state cookie comes along.
pub async fn callback_post(
    state: web::Data<AuthState>,
    req: HttpRequest,
    path: web::Path<String>,
    mut payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let bytes = read_limited(&mut payload, state.settings.max_body_bytes).await?;
    let json = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    let mut fields: Map<String, Value> = if json {
        match serde_json::from_slice(&bytes) {
            Ok(Value::Object(map)) => map,
            _ => {
                return Err(ApiError::bad_request(
                    "BAD_REQUEST",
                    "Invalid JSON in request body",
                ));
            }
        }
    } else {
        url::form_urlencoded::parse(&bytes)
            .map(|(k, v)| (k.into_owned(), Value::String(v.into_owned())))
            .collect()
    };
    // Better Auth lets the query win over the body.
    fields.extend(query_object(&req));
    let pairs: Vec<(&str, String)> = CALLBACK_PARAMS
        .iter()
        .filter_map(|k| match fields.get(*k) {
            Some(Value::String(s)) => Some((*k, s.clone())),
            Some(Value::Object(_) | Value::Array(_)) => fields.get(*k).map(|v| (*k, v.to_string())),
            _ => None,
        })
        .collect();
    let query: String = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish();
    let target = format!("{}/callback/{}?{query}", state.settings.auth_url(), path.as_str());
    Ok(respond::redirect(&target))
}

/// The caller and the account a token endpoint's body names. Without a session: 401 with an
/// empty body, as Better Auth answers.
fn token_request(
    body: Option<&Value>,
    current: MaybeSession,
) -> Result<(castellan_session::AuthSession, String), ApiError> {
    let auth = current
        .require()
        .map_err(|_| IdentityError::AdminUnauthenticated)?;
    let mut f = Fields::body(body)?;
    let account_id = account_of(&mut f, &auth.user.id)?;
    f.finish()?;
    Ok((auth, account_id))
}

/// The `{accountId, userId?}` body of the token endpoints; a `userId` must be the caller's own.
fn account_of(f: &mut Fields<'_>, user_id: &str) -> Result<String, ApiError> {
    f.only(&["accountId", "userId"]);
    let account_id = f.string("accountId");
    let asked_for = f.optional_string("userId");
    Ok(match (account_id, asked_for) {
        (Some(_), Some(other)) if other != user_id => return Err(ApiError::unauthorized()),
        (account_id, _) => account_id.unwrap_or_default(),
    })
}

pub async fn unlink_account(
    Service(social): Service<SocialService>,
    state: web::Data<AuthState>,
    body: Body,
    current: MaybeSession,
) -> Result<HttpResponse, ApiError> {
    let mut f = Fields::body(body.get())?;
    let account_id = f.string("accountId");
    let _provider_id = f.optional_string("providerId");
    f.finish()?;
    let auth = current.require()?;
    if !state.sessions.is_fresh(&auth) {
        return Err(IdentityError::SessionNotFresh.into());
    }
    social.unlink(&auth, &validated(account_id)?).await?;
    Ok(respond::json(&json!({ "status": true })))
}

pub async fn get_access_token(
    Service(social): Service<SocialService>,
    body: Body,
    current: MaybeSession,
) -> Result<HttpResponse, ApiError> {
    let (auth, account_id) = token_request(body.get(), current)?;
    let token = social.access_token(&auth, &account_id).await?;
    let mut out = json!({ "accessToken": token.access_token, "scopes": token.scopes });
    if let Some(obj) = out.as_object_mut() {
        if let Some(at) = token.expires_at {
            obj.insert("accessTokenExpiresAt".into(), iso(&at).into());
        }
        if let Some(id) = token.id_token {
            obj.insert("idToken".into(), id.into());
        }
    }
    Ok(respond::json(&out))
}

pub async fn refresh_token(
    Service(social): Service<SocialService>,
    body: Body,
    current: MaybeSession,
) -> Result<HttpResponse, ApiError> {
    let (auth, account_id) = token_request(body.get(), current)?;
    let t = social.refresh_tokens(&auth, &account_id).await?;
    Ok(respond::json(&json!({
        "accessToken": t.access_token,
        "refreshToken": t.refresh_token,
        "accessTokenExpiresAt": t.access_token_expires_at.as_ref().map(iso),
        "refreshTokenExpiresAt": t.refresh_token_expires_at.as_ref().map(iso),
        "scope": t.scope,
        "idToken": t.id_token,
        "providerId": t.provider_id,
        "accountId": t.account_id,
    })))
}

pub async fn account_info(
    Service(social): Service<SocialService>,
    req: HttpRequest,
    current: MaybeSession,
) -> Result<HttpResponse, ApiError> {
    let auth = current
        .require()
        .map_err(|_| IdentityError::AdminUnauthenticated)?;
    let query = query_object(&req);
    let mut f = Fields::query(&query);
    let account_id = account_of(&mut f, &auth.user.id)?;
    f.finish()
        .map_err(|_| ApiError::validation("[query] Invalid input"))?;
    let info = social.account_info(&auth, &account_id).await?;
    let p = &info.profile;
    Ok(respond::json(&json!({
        "user": {
            "id": p.account_id,
            "name": p.name,
            "email": p.email,
            "image": p.image,
            "emailVerified": p.email_verified.unwrap_or(false),
        },
        "data": p.raw,
        "account": {
            "id": info.account.id,
            "providerId": info.account.provider_id,
            "accountId": info.account.account_id,
        },
    })))
}
