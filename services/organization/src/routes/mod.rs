//! Route table: Better Auth's organization plugin paths (under `/api/auth`), plus the audit log.

mod access_control;
mod audit;
mod invitations;
mod members;
mod organizations;
mod teams;

use actix_web::web;
use castellan_http::ApiError;

pub fn configure(cfg: &mut web::ServiceConfig) {
    use web::{get, post};
    cfg.route("/organization/create", post().to(organizations::create))
        .route("/organization/check-slug", post().to(organizations::check_slug))
        .route("/organization/update", post().to(organizations::update))
        .route("/organization/delete", post().to(organizations::delete))
        .route("/organization/get-organization", get().to(organizations::get))
        .route(
            "/organization/get-full-organization",
            get().to(organizations::get_full),
        )
        .route("/organization/set-active", post().to(organizations::set_active))
        .route("/organization/list", get().to(organizations::list))
        .route("/organization/invite-member", post().to(invitations::invite))
        .route("/organization/cancel-invitation", post().to(invitations::cancel))
        .route("/organization/accept-invitation", post().to(invitations::accept))
        .route("/organization/reject-invitation", post().to(invitations::reject))
        .route("/organization/get-invitation", get().to(invitations::get))
        .route("/organization/list-invitations", get().to(invitations::list))
        .route(
            "/organization/list-user-invitations",
            get().to(invitations::list_for_user),
        )
        .route("/organization/remove-member", post().to(members::remove))
        .route(
            "/organization/update-member-role",
            post().to(members::update_role),
        )
        .route("/organization/get-active-member", get().to(members::active))
        .route(
            "/organization/get-active-member-role",
            get().to(members::active_role),
        )
        .route("/organization/leave", post().to(members::leave))
        .route("/organization/list-members", get().to(members::list))
        .route("/organization/has-permission", post().to(members::has_permission))
        .route("/organization/create-team", post().to(teams::create))
        .route("/organization/list-teams", get().to(teams::list))
        .route("/organization/update-team", post().to(teams::update))
        .route("/organization/remove-team", post().to(teams::remove))
        .route("/organization/set-active-team", post().to(teams::set_active))
        .route("/organization/list-user-teams", get().to(teams::list_for_user))
        .route("/organization/add-team-member", post().to(teams::add_member))
        .route(
            "/organization/remove-team-member",
            post().to(teams::remove_member),
        )
        .route("/organization/list-team-members", get().to(teams::list_members))
        .route("/organization/create-role", post().to(access_control::create))
        .route("/organization/list-roles", get().to(access_control::list))
        .route("/organization/get-role", get().to(access_control::get))
        .route("/organization/update-role", post().to(access_control::update))
        .route("/organization/delete-role", post().to(access_control::delete))
        .route("/organization/audit-log", get().to(audit::page))
        .route("/organization/audit-log/verify", get().to(audit::verify));
}

/// A field the validator already vouched for (a 500, never a panic, if that is ever wrong).
fn validated<T>(value: Option<T>) -> Result<T, ApiError> {
    value.ok_or_else(|| ApiError::internal(&"a validated field was missing"))
}
