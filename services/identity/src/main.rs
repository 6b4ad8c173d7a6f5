//! The identity service on its own: the same routes the `castellan` binary mounts, for
//! deployments that run the services as separate processes on shared Postgres and Redis.

#[actix_web::main]
async fn main() -> anyhow::Result<()> {
    castellan_platform::run_service("castellan-identity", castellan_identity::MOUNTS).await
}
