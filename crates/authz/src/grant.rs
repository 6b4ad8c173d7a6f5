//! Decisions as types. A repository function names the (resource, action) it needs in its
//! signature (`&Permit<'_, TeamCreate>`), so handing it a permit for anything else does not
//! compile, in release builds as in debug ones.

/// One (resource, action) pair of the policy vocabulary.
pub trait Grant {
    const RESOURCE: &'static str;
    const ACTION: &'static str;
}

macro_rules! grants {
    ($($(#[$doc:meta])* $name:ident = ($resource:literal, $action:literal);)*) => {
        $(
            $(#[$doc])*
            #[derive(Debug, Clone, Copy)]
            pub struct $name;
            impl Grant for $name {
                const RESOURCE: &'static str = $resource;
                const ACTION: &'static str = $action;
            }
        )*

        #[cfg(test)]
        const ALL: &[(&str, &str)] = &[$(($resource, $action)),*];
    };
}

grants! {
    OrganizationUpdate = ("organization", "update");
    OrganizationDelete = ("organization", "delete");
    MemberCreate = ("member", "create");
    MemberUpdate = ("member", "update");
    MemberDelete = ("member", "delete");
    InvitationCreate = ("invitation", "create");
    InvitationCancel = ("invitation", "cancel");
    TeamCreate = ("team", "create");
    TeamUpdate = ("team", "update");
    TeamDelete = ("team", "delete");
    /// Custom roles (Better Auth's `ac` resource).
    RoleCreate = ("ac", "create");
    RoleRead = ("ac", "read");
    RoleUpdate = ("ac", "update");
    RoleDelete = ("ac", "delete");
    AuditRead = ("audit", "read");
    SsoCreate = ("sso", "create");
    SsoRead = ("sso", "read");
    SsoUpdate = ("sso", "update");
    SsoDelete = ("sso", "delete");
    WebhookCreate = ("webhook", "create");
    WebhookRead = ("webhook", "read");
    WebhookUpdate = ("webhook", "update");
    WebhookDelete = ("webhook", "delete");
}

#[cfg(test)]
mod tests {
    use super::ALL;

    #[test]
    fn every_grant_is_in_the_policy_vocabulary() {
        let vocabulary: Vec<(&str, &str)> = crate::permissions::STATEMENTS
            .into_iter()
            .chain(crate::permissions::ADMIN_STATEMENTS)
            .flat_map(|(r, acts)| acts.iter().map(move |a| (r, *a)))
            .collect();
        for grant in ALL {
            assert!(
                vocabulary.contains(grant),
                "{grant:?} is not a statement casbin knows"
            );
        }
    }
}
