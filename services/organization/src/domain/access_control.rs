//! Custom roles (Better Auth's dynamic access control). Each role is stored twice, in one
//! transaction: in `organizationRole` (Better Auth's schema and wire shape) and as casbin lines,
//! which is what decisions read.

use castellan_authz::grant;
use castellan_authz::permissions::is_known;
use castellan_authz::{BUILTIN_ROLES, OrgScope, Statements, repo};
use castellan_crypto::random;
use castellan_data::entity::organization_role;
use serde_json::json;

use super::{Actor, OrganizationService};
use crate::error::{OrgError, OrgResult};

/// A role row with its grants parsed.
pub struct CustomRole {
    pub row: organization_role::Model,
    pub permission: Statements,
}

fn parse(row: organization_role::Model) -> OrgResult<CustomRole> {
    let permission: Statements = serde_json::from_str(&row.permission).map_err(|_| {
        OrgError::message_only(
            crate::error::Kind::Invalid,
            format!("Invalid permissions for role {}", row.role),
        )
    })?;
    Ok(CustomRole { row, permission })
}

impl OrganizationService {
    async fn roles_scope(&self, actor: &Actor, org_id: Option<&str>) -> OrgResult<OrgScope> {
        let id = Self::target(actor, org_id)
            .ok_or_else(|| OrgError::invalid("YOU_MUST_BE_IN_AN_ORGANIZATION_TO_CREATE_A_ROLE"))?
            .to_owned();
        self.require_scope(
            actor,
            &id,
            OrgError::denied("YOU_ARE_NOT_A_MEMBER_OF_THIS_ORGANIZATION"),
        )
        .await
    }

    /// The caller may only grant what one of their own roles holds.
    async fn check_grantable(&self, scope: &OrgScope, grant: &Statements) -> OrgResult<()> {
        if !is_known(grant) {
            return Err(OrgError::invalid("INVALID_RESOURCE"));
        }
        let mut missing = Vec::new();
        for (resource, actions) in grant {
            for action in actions {
                let one: Statements = [(resource.clone(), vec![action.clone()])].into();
                if !self.authz.allows(scope.org_id(), scope.roles(), &one).await? {
                    missing.push(format!("{resource}:{action}"));
                }
            }
        }
        if missing.is_empty() {
            Ok(())
        } else {
            Err(OrgError::MissingPermissions(missing))
        }
    }

    /// # Errors
    /// Not a member, not allowed, a taken or built-in name, unknown resources, granting more
    /// than the caller holds.
    pub async fn create_role(
        &self,
        actor: &Actor,
        org_id: Option<&str>,
        name: &str,
        grant: Statements,
    ) -> OrgResult<CustomRole> {
        let name = name.trim().to_lowercase();
        if BUILTIN_ROLES.contains(&name.as_str())
            || name.is_empty()
            || name.contains(',')
            || name.starts_with(castellan_authz::API_KEY_ROLE_PREFIX)
        {
            return Err(OrgError::invalid("ROLE_NAME_IS_ALREADY_TAKEN"));
        }
        let scope = self.roles_scope(actor, org_id).await?;
        let permit = self
            .require_permit::<grant::RoleCreate>(
                &scope,
                OrgError::denied("YOU_ARE_NOT_ALLOWED_TO_CREATE_A_ROLE"),
            )
            .await?;
        self.check_grantable(&scope, &grant).await?;
        if repo::custom_role(&self.db, &scope, Some(&name), None)
            .await?
            .is_some()
        {
            return Err(OrgError::invalid("ROLE_NAME_IS_ALREADY_TAKEN"));
        }
        let now = self.now();
        let row = organization_role::Model {
            id: random::generate_id(),
            organization_id: scope.org_id().to_owned(),
            role: name.clone(),
            permission: serde_json::to_string(&grant).unwrap_or_else(|_| "{}".to_owned()),
            created_at: now,
            updated_at: None,
        };
        let txn = castellan_data::begin_write(&self.db).await?;
        repo::create_custom_role(&txn, &permit, row.clone()).await?;
        self.audit(
            &txn,
            actor,
            scope.org_id(),
            "role.create",
            ("role", &row.id),
            json!({ "role": name, "permission": grant }),
        )
        .await?;
        txn.commit().await?;
        self.authz.set_custom_role(scope.org_id(), &name, &grant).await?;
        Ok(CustomRole {
            row,
            permission: grant,
        })
    }

    /// # Errors
    /// Not a member, not allowed.
    pub async fn list_roles(&self, actor: &Actor, org_id: Option<&str>) -> OrgResult<Vec<CustomRole>> {
        let scope = self.roles_scope(actor, org_id).await?;
        self.require_permit::<grant::RoleRead>(
            &scope,
            OrgError::denied("YOU_ARE_NOT_ALLOWED_TO_READ_A_ROLE"),
        )
        .await?;
        repo::custom_roles(&self.db, &scope)
            .await?
            .into_iter()
            .map(parse)
            .collect()
    }

    /// # Errors
    /// Not a member, not allowed, unknown role.
    pub async fn get_role(
        &self,
        actor: &Actor,
        org_id: Option<&str>,
        name: Option<&str>,
        id: Option<&str>,
    ) -> OrgResult<CustomRole> {
        let scope = self.roles_scope(actor, org_id).await?;
        self.require_permit::<grant::RoleRead>(
            &scope,
            OrgError::denied("YOU_ARE_NOT_ALLOWED_TO_READ_A_ROLE"),
        )
        .await?;
        let row = repo::custom_role(&self.db, &scope, name, id)
            .await?
            .ok_or_else(|| OrgError::invalid("ROLE_NOT_FOUND"))?;
        parse(row)
    }

    /// # Errors
    /// Not a member, not allowed, unknown role, a taken name, ungrantable permissions.
    pub async fn update_role(
        &self,
        actor: &Actor,
        org_id: Option<&str>,
        name: Option<&str>,
        id: Option<&str>,
        new_name: Option<&str>,
        new_grant: Option<Statements>,
    ) -> OrgResult<CustomRole> {
        let scope = self.roles_scope(actor, org_id).await?;
        let permit = self
            .require_permit::<grant::RoleUpdate>(
                &scope,
                OrgError::denied("YOU_ARE_NOT_ALLOWED_TO_UPDATE_A_ROLE"),
            )
            .await?;
        let existing = parse(
            repo::custom_role(&self.db, &scope, name, id)
                .await?
                .ok_or_else(|| OrgError::invalid("ROLE_NOT_FOUND"))?,
        )?;
        if let Some(grant) = &new_grant {
            self.check_grantable(&scope, grant).await?;
        }
        let renamed = new_name
            .map(|n| n.trim().to_lowercase())
            .filter(|n| *n != existing.row.role);
        if let Some(n) = &renamed
            && (BUILTIN_ROLES.contains(&n.as_str())
                || repo::custom_role(&self.db, &scope, Some(n), None)
                    .await?
                    .is_some())
        {
            return Err(OrgError::invalid("ROLE_NAME_IS_ALREADY_TAKEN"));
        }
        let grant = new_grant.unwrap_or_else(|| existing.permission.clone());
        let role = renamed.clone().unwrap_or_else(|| existing.row.role.clone());
        let permission = serde_json::to_string(&grant).unwrap_or_else(|_| "{}".to_owned());
        let txn = castellan_data::begin_write(&self.db).await?;
        let row = repo::update_custom_role(
            &txn,
            &permit,
            &existing.row.id,
            role.clone(),
            permission,
            self.now(),
        )
        .await?;
        self.audit(
            &txn,
            actor,
            scope.org_id(),
            "role.update",
            ("role", &row.id),
            json!({ "role": role, "permission": grant }),
        )
        .await?;
        txn.commit().await?;
        if renamed.is_some() {
            self.authz
                .remove_custom_role(scope.org_id(), &existing.row.role)
                .await?;
        }
        self.authz.set_custom_role(scope.org_id(), &role, &grant).await?;
        Ok(CustomRole {
            row,
            permission: grant,
        })
    }

    /// # Errors
    /// Not a member, not allowed, built-in or unknown role, a role still held by members.
    pub async fn delete_role(
        &self,
        actor: &Actor,
        org_id: Option<&str>,
        name: Option<&str>,
        id: Option<&str>,
    ) -> OrgResult<()> {
        if name.is_some_and(|n| BUILTIN_ROLES.contains(&n.to_lowercase().as_str())) {
            return Err(OrgError::invalid("CANNOT_DELETE_A_PRE_DEFINED_ROLE"));
        }
        let scope = self.roles_scope(actor, org_id).await?;
        let permit = self
            .require_permit::<grant::RoleDelete>(
                &scope,
                OrgError::denied("YOU_ARE_NOT_ALLOWED_TO_DELETE_A_ROLE"),
            )
            .await?;
        let row = repo::custom_role(&self.db, &scope, name, id)
            .await?
            .ok_or_else(|| OrgError::invalid("ROLE_NOT_FOUND"))?;
        if !repo::members_with_role(&self.db, &scope, &row.role)
            .await?
            .is_empty()
        {
            return Err(OrgError::invalid("ROLE_IS_ASSIGNED_TO_MEMBERS"));
        }
        let txn = castellan_data::begin_write(&self.db).await?;
        repo::delete_custom_role(&txn, &permit, &row.id).await?;
        self.audit(
            &txn,
            actor,
            scope.org_id(),
            "role.delete",
            ("role", &row.id),
            json!({ "role": row.role }),
        )
        .await?;
        txn.commit().await?;
        self.authz.remove_custom_role(scope.org_id(), &row.role).await?;
        Ok(())
    }
}
