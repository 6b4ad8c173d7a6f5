//! The organization audit log (Castellan's own endpoints; Better Auth has none).

use actix_web::{HttpRequest, HttpResponse, web};
use castellan_http::body::query_object;
use castellan_http::respond;
use castellan_http::{ApiError, AuthState, Fields, MaybeSession, Service};

use crate::domain::OrganizationService;

const DEFAULT_PAGE: u64 = 50;
const MAX_PAGE: u64 = 500;

/// `GET /organization/audit-log?organizationId=&limit=&offset=`: newest first.
pub async fn page(
    Service(orgs): Service<OrganizationService>,
    state: web::Data<AuthState>,
    req: HttpRequest,
    current: MaybeSession,
) -> Result<HttpResponse, ApiError> {
    let query = query_object(&req);
    let mut f = Fields::query(&query);
    let org_id = f.optional_string("organizationId");
    let limit = f.optional_count("limit").unwrap_or(DEFAULT_PAGE).min(MAX_PAGE);
    let offset = f.optional_count("offset").unwrap_or(0);
    f.finish()?;
    let actor = current.actor(&req, &state)?;
    let (entries, total) = orgs.audit_log(&actor, org_id.as_deref(), limit, offset).await?;
    Ok(respond::audit_page(&entries, total, limit, offset))
}

/// `GET /organization/audit-log/verify?organizationId=`: recomputes the hash chain.
pub async fn verify(
    Service(orgs): Service<OrganizationService>,
    state: web::Data<AuthState>,
    req: HttpRequest,
    current: MaybeSession,
) -> Result<HttpResponse, ApiError> {
    let query = query_object(&req);
    let mut f = Fields::query(&query);
    let org_id = f.optional_string("organizationId");
    f.finish()?;
    let actor = current.actor(&req, &state)?;
    let report = orgs.verify_audit_log(&actor, org_id.as_deref()).await?;
    Ok(respond::json(&report))
}
