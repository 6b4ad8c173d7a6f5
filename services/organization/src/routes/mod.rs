//! Route table: Better Auth's organization plugin paths (under `/api/auth`), plus the audit log
//! and webhooks.

mod access_control;
mod audit;
mod invitations;
mod members;
mod organizations;
mod teams;
mod webhooks;

use castellan_http::routes::Routes;
pub(crate) use castellan_http::validate::validated;

pub fn configure(routes: &mut Routes<'_>) {
    routes
        .post("/organization/create", organizations::create)
        .post("/organization/check-slug", organizations::check_slug)
        .post("/organization/update", organizations::update)
        .post("/organization/delete", organizations::delete)
        .get("/organization/get-organization", organizations::get)
        .get("/organization/get-full-organization", organizations::get_full)
        .post("/organization/set-active", organizations::set_active)
        .get("/organization/list", organizations::list)
        .post("/organization/invite-member", invitations::invite)
        .post("/organization/cancel-invitation", invitations::cancel)
        .post("/organization/accept-invitation", invitations::accept)
        .post("/organization/reject-invitation", invitations::reject)
        .get("/organization/get-invitation", invitations::get)
        .get("/organization/list-invitations", invitations::list)
        .get("/organization/list-user-invitations", invitations::list_for_user)
        .post("/organization/remove-member", members::remove)
        .post("/organization/update-member-role", members::update_role)
        .get("/organization/get-active-member", members::active)
        .get("/organization/get-active-member-role", members::active_role)
        .post("/organization/leave", members::leave)
        .get("/organization/list-members", members::list)
        .post("/organization/has-permission", members::has_permission)
        .post("/organization/create-team", teams::create)
        .get("/organization/list-teams", teams::list)
        .post("/organization/update-team", teams::update)
        .post("/organization/remove-team", teams::remove)
        .post("/organization/set-active-team", teams::set_active)
        .get("/organization/list-user-teams", teams::list_for_user)
        .post("/organization/add-team-member", teams::add_member)
        .post("/organization/remove-team-member", teams::remove_member)
        .get("/organization/list-team-members", teams::list_members)
        .post("/organization/create-role", access_control::create)
        .get("/organization/list-roles", access_control::list)
        .get("/organization/get-role", access_control::get)
        .post("/organization/update-role", access_control::update)
        .post("/organization/delete-role", access_control::delete)
        .get("/organization/audit-log", audit::page)
        .get("/organization/audit-log/verify", audit::verify)
        .post("/webhook/create", webhooks::create)
        .get("/webhook/list", webhooks::list)
        .post("/webhook/update", webhooks::update)
        .post("/webhook/delete", webhooks::delete)
        .post("/webhook/rotate-secret", webhooks::rotate_secret)
        .get("/webhook/list-deliveries", webhooks::list_deliveries)
        .post("/webhook/redeliver", webhooks::redeliver);
}

impl castellan_http::FromRegistered for crate::domain::OrganizationService {
    fn build(req: &actix_web::HttpRequest) -> Result<Self, castellan_http::ApiError> {
        use castellan_http::state::registered;
        let http = registered::<castellan_http::AuthState>(req)?;
        Ok(Self::new(
            http.db.clone(),
            registered::<castellan_authz::Authorizer>(req)?.into_inner(),
            http.sessions.clone(),
            registered::<castellan_mail::Outbox>(req)?.get_ref().clone(),
            http.settings.clone(),
            http.clock.clone(),
        ))
    }
}
