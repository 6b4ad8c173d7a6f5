//! The SSO service on its own, for deployments that run services as separate processes on
//! shared Postgres and Redis.

#[actix_web::main]
async fn main() -> anyhow::Result<()> {
    castellan_platform::run_service("castellan-sso", castellan_sso::MOUNTS).await
}
