//! A stand-in for GitHub's OAuth app endpoints, written from GitHub's documented API shape (it
//! is not GitHub): `/login/oauth/authorize` signs in whichever user the test chose, at once;
//! `/login/oauth/access_token` checks the client secret, the redirect URI and PKCE (S256) and
//! answers a bad code the way GitHub does (200 with `{"error": ...}`); `/user` and
//! `/user/emails` describe the user, with the address hidden from `/user` as a private one is.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use base64::Engine as _;
use serde_json::{Value, json};

pub const CLIENT_ID: &str = "github-test-client";
pub const CLIENT_SECRET: &str = "github-test-secret";

/// A GitHub user as the API shows it.
#[derive(Clone, Debug)]
pub struct GitHubUser {
    pub id: u64,
    pub login: String,
    pub email: String,
    pub verified: bool,
}

#[derive(Default)]
struct State {
    next_user: Option<GitHubUser>,
    /// code -> (user, redirect_uri, code_challenge)
    codes: HashMap<String, (GitHubUser, String, String)>,
    /// access token -> user
    tokens: HashMap<String, GitHubUser>,
    counter: u64,
}

/// The running stand-in; stopped when dropped.
pub struct GitHub {
    pub base_url: String,
    state: Arc<Mutex<State>>,
    handle: actix_web::dev::ServerHandle,
}

impl Drop for GitHub {
    fn drop(&mut self) {
        let handle = self.handle.clone();
        tokio::spawn(async move { handle.stop(false).await });
    }
}

fn q(req: &HttpRequest) -> HashMap<String, String> {
    url::form_urlencoded::parse(req.query_string().as_bytes())
        .into_owned()
        .collect()
}

fn bearer_user(req: &HttpRequest, state: &Mutex<State>) -> Option<GitHubUser> {
    let auth = req.headers().get("authorization")?.to_str().ok()?;
    let token = auth
        .strip_prefix("Bearer ")
        .or_else(|| auth.strip_prefix("token "))?;
    state.lock().unwrap().tokens.get(token).cloned()
}

async fn authorize(req: HttpRequest, state: web::Data<Arc<Mutex<State>>>) -> HttpResponse {
    let p = q(&req);
    let mut s = state.lock().unwrap();
    let Some(user) = s.next_user.clone() else {
        return HttpResponse::BadRequest().body("no user chosen");
    };
    if p.get("client_id").map(String::as_str) != Some(CLIENT_ID)
        || p.get("code_challenge_method").map(String::as_str) != Some("S256")
    {
        return HttpResponse::BadRequest().body("bad client or no PKCE");
    }
    s.counter += 1;
    let code = format!("code-{}", s.counter);
    let redirect = p.get("redirect_uri").cloned().unwrap_or_default();
    s.codes.insert(
        code.clone(),
        (
            user,
            redirect.clone(),
            p.get("code_challenge").cloned().unwrap_or_default(),
        ),
    );
    let state_param = p.get("state").cloned().unwrap_or_default();
    let location = format!("{redirect}?code={code}&state={state_param}");
    HttpResponse::Found()
        .insert_header(("location", location))
        .finish()
}

async fn access_token(
    form: web::Form<HashMap<String, String>>,
    state: web::Data<Arc<Mutex<State>>>,
) -> HttpResponse {
    let mut s = state.lock().unwrap();
    let bad = || {
        HttpResponse::Ok().json(json!({"error": "bad_verification_code", "error_description": "The code passed is incorrect or expired."}))
    };
    if form.get("client_id").map(String::as_str) != Some(CLIENT_ID)
        || form.get("client_secret").map(String::as_str) != Some(CLIENT_SECRET)
    {
        return HttpResponse::Ok().json(json!({"error": "incorrect_client_credentials"}));
    }
    let Some((user, redirect, challenge)) = form.get("code").and_then(|c| s.codes.remove(c)) else {
        return bad();
    };
    let verifier = form.get("code_verifier").cloned().unwrap_or_default();
    let computed = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(sha256(verifier.as_bytes()));
    if form.get("redirect_uri") != Some(&redirect) || computed != challenge {
        return bad();
    }
    s.counter += 1;
    let token = format!("gho_standin{:020}", s.counter);
    s.tokens.insert(token.clone(), user);
    HttpResponse::Ok()
        .json(json!({"access_token": token, "token_type": "bearer", "scope": "read:user,user:email"}))
}

async fn user(req: HttpRequest, state: web::Data<Arc<Mutex<State>>>) -> HttpResponse {
    match bearer_user(&req, &state) {
        Some(u) => HttpResponse::Ok().json(json!({
            "id": u.id, "login": u.login, "name": Value::Null, "email": Value::Null,
            "avatar_url": format!("https://avatars.example/{}", u.id),
        })),
        None => HttpResponse::Unauthorized().json(json!({"message": "Bad credentials"})),
    }
}

async fn emails(req: HttpRequest, state: web::Data<Arc<Mutex<State>>>) -> HttpResponse {
    match bearer_user(&req, &state) {
        Some(u) => HttpResponse::Ok().json(json!([
            {"email": format!("{}@users.noreply.github.example", u.login), "primary": false, "verified": true, "visibility": Value::Null},
            {"email": u.email, "primary": true, "verified": u.verified, "visibility": "private"},
        ])),
        None => HttpResponse::Unauthorized().json(json!({"message": "Bad credentials"})),
    }
}

fn sha256(data: &[u8]) -> Vec<u8> {
    use sha2::Digest as _;
    sha2::Sha256::digest(data).to_vec()
}

impl GitHub {
    pub async fn start() -> Self {
        let state = Arc::new(Mutex::new(State::default()));
        let data = state.clone();
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let server = HttpServer::new(move || {
            App::new()
                .app_data(web::Data::new(data.clone()))
                .route("/login/oauth/authorize", web::get().to(authorize))
                .route("/login/oauth/access_token", web::post().to(access_token))
                .route("/user", web::get().to(user))
                .route("/user/emails", web::get().to(emails))
        })
        .workers(1)
        .listen(listener)
        .unwrap()
        .run();
        let handle = server.handle();
        tokio::spawn(server);
        Self {
            base_url: format!("http://127.0.0.1:{port}"),
            state,
            handle,
        }
    }

    /// The user the next authorization signs in as.
    pub fn sign_in_as(&self, user: GitHubUser) {
        self.state.lock().unwrap().next_user = Some(user);
    }
}
