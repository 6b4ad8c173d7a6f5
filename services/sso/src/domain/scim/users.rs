//! The directory's users: `/Users`.

use serde_json::{Map, Value, json};

use castellan_authz::MembershipChange;
use castellan_authz::admission::{self, Deprovisioned};
use castellan_data::DatabaseTransaction;
use castellan_data::entity::{member, scim_connection, scim_user, user};
use castellan_data::repo::{scim, sso_providers, users};
use castellan_scim::{ScimError, ScimType, USER_SCHEMA, patch};

use super::{ScimPage, ScimQuery, equality_lookup, narrow, page, refused, stored_document, with_meta};
use crate::domain::SsoService;
use crate::error::SsoResult;

/// Extensions a PATCH path may name whole.
const EXTENSIONS: [&str; 1] = [castellan_scim::ENTERPRISE_USER_SCHEMA];
/// The User schema's boolean attributes (Entra sends them as strings).
const BOOLEANS: [&str; 1] = ["active"];
/// The longest `userName` kept.
const MAX_USER_NAME: usize = 256;

/// The fields of a User resource that mean something to Castellan.
struct Profile {
    user_name: String,
    /// `None`: the directory gave no address (the user keeps the one they have).
    email: Option<String>,
    name: String,
    active: bool,
    external_id: Option<String>,
}

fn text<'a>(doc: &'a Map<String, Value>, key: &str) -> Option<&'a str> {
    castellan_scim::get_ci(doc, key)
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|s| !s.is_empty())
}

/// The address: the primary email, else the first, else a `userName` that is one.
fn email_of(doc: &Map<String, Value>, user_name: &str) -> Option<String> {
    let emails: Vec<&Map<String, Value>> = castellan_scim::get_ci(doc, "emails")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_object).collect())
        .unwrap_or_default();
    let primary = emails
        .iter()
        .find(|e| castellan_scim::get_ci(e, "primary") == Some(&Value::Bool(true)))
        .or_else(|| emails.first())
        .and_then(|e| text(e, "value"));
    let candidate = primary.unwrap_or(user_name).to_lowercase();
    castellan_domain::email::is_valid_email(&candidate).then_some(candidate)
}

fn profile_of(doc: &Map<String, Value>) -> Result<Profile, ScimError> {
    let user_name = text(doc, "userName")
        .ok_or_else(|| ScimError::bad(ScimType::InvalidValue, "userName is required"))?
        .to_owned();
    if user_name.len() > MAX_USER_NAME || castellan_domain::has_control(&user_name) {
        return Err(ScimError::bad(ScimType::InvalidValue, "userName is not valid"));
    }
    let email = email_of(doc, &user_name);
    let name = castellan_scim::get_ci(doc, "name").and_then(Value::as_object);
    let full_name = text(doc, "displayName")
        .map(str::to_owned)
        .or_else(|| name.and_then(|n| text(n, "formatted")).map(str::to_owned))
        .or_else(|| {
            let parts: Vec<&str> = name
                .map(|n| {
                    [text(n, "givenName"), text(n, "familyName")]
                        .into_iter()
                        .flatten()
                        .collect()
                })
                .unwrap_or_default();
            (!parts.is_empty()).then(|| parts.join(" "))
        })
        .unwrap_or_else(|| user_name.clone());
    let active = match castellan_scim::get_ci(doc, "active") {
        None | Some(Value::Null) => true,
        Some(Value::Bool(b)) => *b,
        Some(_) => return Err(ScimError::bad(ScimType::InvalidValue, "active must be a boolean")),
    };
    let external_id = text(doc, "externalId").map(str::to_owned);
    Ok(Profile {
        user_name,
        email,
        name: full_name.chars().take(256).collect(),
        active,
        external_id,
    })
}

/// An address for a user the directory gave none: in the reserved `.invalid` domain, so it
/// reaches no mailbox and matches no one's sign-in.
fn placeholder_email() -> String {
    format!(
        "scim-{}@scim.invalid",
        castellan_crypto::random::lower_alphanumeric(24)
    )
}

/// What a `PUT` or `PATCH` asks of a resource.
pub(super) enum Change {
    Replace(Value),
    Patch(Vec<patch::Operation>),
}

/// A User document to keep.
fn user_document(body: Value) -> Result<Map<String, Value>, ScimError> {
    let mut doc = stored_document(body, USER_SCHEMA)?;
    patch::normalize_booleans(&mut doc, &BOOLEANS);
    Ok(doc)
}

impl SsoService {
    fn user_resource(&self, row: &scim_user::Model) -> Map<String, Value> {
        let meta = json!({
            "resourceType": "User",
            "created": castellan_data::clock::iso(&row.created_at),
            "lastModified": castellan_data::clock::iso(&row.updated_at),
            "location": format!("{}/Users/{}", self.scim_base(), row.user_id),
            "version": format!("W/\"{}\"", row.version),
        });
        with_meta(&row.resource, &row.user_id, meta)
    }

    async fn scim_user(&self, connection: &scim_connection::Model, id: &str) -> SsoResult<scim_user::Model> {
        scim::find_user(&self.db, connection, id)
            .await?
            .ok_or_else(|| refused(ScimError::not_found(format!("User {id} not found"))))
    }

    /// `POST /Users`.
    ///
    /// # Errors
    /// 400 for a body that is no valid User; 409 `uniqueness` for a taken `userName` or an
    /// address that belongs to someone the organization cannot vouch for.
    pub async fn scim_create_user(
        &self,
        connection: &scim_connection::Model,
        body: Value,
    ) -> SsoResult<Value> {
        let doc = user_document(body).map_err(refused)?;
        let profile = profile_of(&doc).map_err(refused)?;
        let now = self.now();
        let txn = castellan_data::begin_write(&self.db).await?;
        if scim::find_user_by_name(&txn, connection, &profile.user_name.to_lowercase())
            .await?
            .is_some()
        {
            return Err(refused(ScimError::new(
                409,
                Some(ScimType::Uniqueness),
                "userName is already taken",
            )));
        }
        let found = match &profile.email {
            Some(email) => users::find_by_email(&txn, email).await?,
            None => None,
        };
        let user = match found {
            Some(existing) => {
                if !self.may_link(&txn, connection, &existing).await? {
                    return Err(refused(ScimError::new(
                        409,
                        Some(ScimType::Uniqueness),
                        "A user with this email already exists",
                    )));
                }
                existing
            }
            None => {
                users::insert(
                    &txn,
                    users::NewUser {
                        id: castellan_crypto::random::generate_id(),
                        name: profile.name.clone(),
                        email: profile.email.clone().unwrap_or_else(placeholder_email),
                        image: None,
                        email_verified: false,
                        role: None,
                    },
                    now,
                )
                .await?
            }
        };
        let row = scim::insert_user(
            &txn,
            scim_user::Model {
                connection_id: connection.id.clone(),
                user_id: user.id.clone(),
                user_name_key: profile.user_name.to_lowercase(),
                external_id: profile.external_id.clone(),
                active: profile.active,
                resource: Value::Object(doc).to_string(),
                version: 1,
                created_at: now,
                updated_at: now,
            },
        )
        .await
        .map_err(|e| self.conflict_as_uniqueness(e, "userName"))?;
        if profile.active {
            self.scim_join(&txn, connection, &user).await?;
        }
        self.user_audit(
            &txn,
            connection,
            "scim.user.provisioned",
            &user,
            json!({ "active": profile.active }),
        )
        .await?;
        txn.commit().await?;
        Ok(Value::Object(self.user_resource(&row)))
    }

    /// An existing user may be taken over by the connection only when the organization can
    /// vouch for them: they are already its member, or their address is in a domain one of
    /// its SSO connections has verified. Anyone else's account (and sessions) stays out of a
    /// directory's reach.
    async fn may_link(
        &self,
        db: &DatabaseTransaction,
        connection: &scim_connection::Model,
        existing: &user::Model,
    ) -> SsoResult<bool> {
        let organizations = castellan_authz::repo::organizations_of(db, &existing.id).await?;
        if organizations.iter().any(|o| o.id == connection.organization_id) {
            return Ok(true);
        }
        self.vouches_for(db, connection, &existing.email).await
    }

    /// Whether `email` is in a domain one of the organization's SSO connections has verified.
    async fn vouches_for(
        &self,
        db: &DatabaseTransaction,
        connection: &scim_connection::Model,
        email: &str,
    ) -> SsoResult<bool> {
        let Some(domain) = castellan_domain::domains::of_email(email) else {
            return Ok(false);
        };
        Ok(sso_providers::for_organization(db, &connection.organization_id)
            .await?
            .iter()
            .any(|p| {
                p.domain_verified == Some(true) && castellan_domain::domains::covers(&p.domain, &domain)
            }))
    }

    /// A directory changes the address of an account that only its organization uses, or
    /// moves it into a domain its organization has verified: an account other organizations
    /// share keeps an address they can rely on.
    async fn may_readdress(
        &self,
        db: &DatabaseTransaction,
        connection: &scim_connection::Model,
        user: &user::Model,
        email: &str,
    ) -> SsoResult<bool> {
        let organizations = castellan_authz::repo::organizations_of(db, &user.id).await?;
        if organizations.iter().all(|o| o.id == connection.organization_id) {
            return Ok(true);
        }
        self.vouches_for(db, connection, email).await
    }

    async fn scim_join(
        &self,
        txn: &DatabaseTransaction,
        connection: &scim_connection::Model,
        user: &user::Model,
    ) -> SsoResult<()> {
        let settings = self.provisioning_in(txn, &connection.provider_id).await?;
        let mapped = self
            .mapped_scim_role(txn, connection, &settings, &user.id)
            .await?;
        let row = member::Model {
            id: castellan_crypto::random::generate_id(),
            organization_id: connection.organization_id.clone(),
            user_id: user.id.clone(),
            role: mapped,
            created_at: self.now(),
        };
        if let Some(role) = admission::scim_provision_member(txn, connection, row).await? {
            self.user_audit(
                txn,
                connection,
                "member.add",
                user,
                json!({ "role": role, "via": "scim" }),
            )
            .await?;
        }
        Ok(())
    }

    async fn scim_leave(
        &self,
        txn: &DatabaseTransaction,
        connection: &scim_connection::Model,
        user_id: &str,
    ) -> SsoResult<Option<MembershipChange>> {
        match admission::scim_remove_member(txn, connection, user_id).await? {
            Deprovisioned::Removed(row, change) => {
                let details = json!({ "userId": user_id, "role": row.role, "via": "scim" });
                castellan_audit::record(
                    txn,
                    castellan_audit::AuditEvent {
                        organization_id: connection.organization_id.clone(),
                        action: "member.remove",
                        actor_id: None,
                        target_type: Some("member"),
                        target_id: Some(row.id.clone()),
                        details,
                        ip_address: None,
                        user_agent: None,
                    },
                    self.now(),
                )
                .await?;
                Ok(Some(change))
            }
            Deprovisioned::NotAMember => Ok(None),
            Deprovisioned::OnlyOwner => Err(refused(ScimError::bad(
                ScimType::Mutability,
                "The organization's only owner cannot be deprovisioned: make someone else an owner first",
            ))),
        }
    }

    /// Audits a step about `user` (named by id and address in the details).
    async fn user_audit(
        &self,
        db: &DatabaseTransaction,
        connection: &scim_connection::Model,
        action: &'static str,
        user: &user::Model,
        details: Value,
    ) -> SsoResult<()> {
        let mut details = match details {
            Value::Object(o) => o,
            _ => Map::new(),
        };
        details.insert("userId".into(), user.id.clone().into());
        details.insert("email".into(), user.email.clone().into());
        self.scim_audit(db, connection, action, Value::Object(details))
            .await
    }

    /// `GET /Users/{id}`.
    ///
    /// # Errors
    /// 404 for a user the connection did not provision.
    pub async fn scim_get_user(
        &self,
        connection: &scim_connection::Model,
        id: &str,
        query: &ScimQuery,
    ) -> SsoResult<Value> {
        let row = self.scim_user(connection, id).await?;
        narrow(self.user_resource(&row), query, USER_SCHEMA).map_err(refused)
    }

    /// `GET /Users`: the connection's users matching `filter`, a page at a time.
    ///
    /// # Errors
    /// 400 `invalidFilter`.
    pub async fn scim_list_users(
        &self,
        connection: &scim_connection::Model,
        query: &ScimQuery,
    ) -> SsoResult<ScimPage> {
        let docs = self.scim_user_documents(connection, query).await?;
        page(docs.into_iter().map(|d| (d, USER_SCHEMA)).collect(), query).map_err(refused)
    }

    /// The connection's users `query` may select, as the directory sees them.
    pub(super) async fn scim_user_documents(
        &self,
        connection: &scim_connection::Model,
        query: &ScimQuery,
    ) -> SsoResult<Vec<Map<String, Value>>> {
        let rows = match equality_lookup(query, "userName", USER_SCHEMA) {
            Some(key) => scim::find_user_by_name(&self.db, connection, &key)
                .await?
                .into_iter()
                .collect(),
            None => scim::users(&self.db, connection).await?,
        };
        Ok(rows.iter().map(|row| self.user_resource(row)).collect())
    }

    /// `PUT /Users/{id}`: the user becomes `body`.
    ///
    /// # Errors
    /// 404; 400 for an invalid User; 409 for a taken `userName` or address.
    pub async fn scim_replace_user(
        &self,
        connection: &scim_connection::Model,
        id: &str,
        body: Value,
    ) -> SsoResult<Value> {
        self.scim_save(connection, id, Change::Replace(body)).await
    }

    /// `PATCH /Users/{id}`.
    ///
    /// # Errors
    /// 404; 400 for an invalid PatchOp or a result that is no valid User; 409 as for `PUT`.
    pub async fn scim_patch_user(
        &self,
        connection: &scim_connection::Model,
        id: &str,
        body: &Value,
    ) -> SsoResult<Value> {
        let operations = patch::parse(body, &EXTENSIONS).map_err(refused)?;
        self.scim_save(connection, id, Change::Patch(operations)).await
    }

    /// Changes a user: the profile Castellan keeps follows the document, and a change of
    /// `active` provisions or deprovisions the membership. The user is read under a lock, so
    /// concurrent changes apply one after the other.
    async fn scim_save(
        &self,
        connection: &scim_connection::Model,
        id: &str,
        change: Change,
    ) -> SsoResult<Value> {
        let now = self.now();
        let txn = castellan_data::begin_write(&self.db).await?;
        let row = scim::lock_user(&txn, connection, id)
            .await?
            .ok_or_else(|| refused(ScimError::not_found(format!("User {id} not found"))))?;
        let doc = match change {
            Change::Replace(body) => user_document(body),
            Change::Patch(operations) => {
                let mut doc = match serde_json::from_str::<Value>(&row.resource) {
                    Ok(Value::Object(o)) => o,
                    _ => Map::new(),
                };
                patch::apply(&mut doc, operations, USER_SCHEMA, &BOOLEANS)
                    .and_then(|()| user_document(Value::Object(doc)))
            }
        }
        .map_err(refused)?;
        let profile = profile_of(&doc).map_err(refused)?;
        let user = users::find_by_id(&txn, &row.user_id)
            .await?
            .ok_or_else(|| refused(ScimError::not_found(format!("User {} not found", row.user_id))))?;
        let key = profile.user_name.to_lowercase();
        if key != row.user_name_key && scim::find_user_by_name(&txn, connection, &key).await?.is_some() {
            return Err(refused(ScimError::new(
                409,
                Some(ScimType::Uniqueness),
                "userName is already taken",
            )));
        }
        let mut user = user;
        let before = (user.email.clone(), user.name.clone());
        if let Some(email) = profile.email.as_deref().filter(|e| *e != user.email) {
            if users::find_by_email(&txn, email).await?.is_some() {
                return Err(refused(ScimError::new(
                    409,
                    Some(ScimType::Uniqueness),
                    "A user with this email already exists",
                )));
            }
            if !self.may_readdress(&txn, connection, &user, email).await? {
                return Err(refused(ScimError::bad(
                    ScimType::Mutability,
                    "The user belongs to other organizations too: their address can only move to a domain this organization has verified",
                )));
            }
            user = users::set_email(&txn, user, email, false, now).await?;
        }
        if profile.name != user.name {
            let change = users::ProfileChange {
                name: Some(profile.name.clone()),
                image: None,
            };
            user = users::update_profile(&txn, user, change, now).await?;
        }
        let was_active = row.active;
        let saved = scim::update_user(
            &txn,
            scim_user::Model {
                user_name_key: key,
                external_id: profile.external_id.clone(),
                active: profile.active,
                resource: Value::Object(doc).to_string(),
                version: row.version.saturating_add(1),
                updated_at: now,
                ..row
            },
        )
        .await
        .map_err(|e| self.conflict_as_uniqueness(e, "userName"))?;
        let mut left = None;
        match (was_active, profile.active) {
            (true, false) => {
                left = self.scim_leave(&txn, connection, &user.id).await?;
                self.user_audit(
                    &txn,
                    connection,
                    "scim.user.deprovisioned",
                    &user,
                    json!({ "active": false }),
                )
                .await?;
            }
            (false, true) => {
                self.scim_join(&txn, connection, &user).await?;
                self.user_audit(
                    &txn,
                    connection,
                    "scim.user.provisioned",
                    &user,
                    json!({ "active": true }),
                )
                .await?;
            }
            _ => {
                self.user_audit(&txn, connection, "scim.user.updated", &user, Value::Null)
                    .await?;
            }
        }
        txn.commit().await?;
        self.authz.announce_all(left).await;
        if was_active && !profile.active {
            self.sessions.revoke_all(&user.id, None).await?;
        } else if before != (user.email.clone(), user.name.clone()) {
            // Their sessions carry the user: cached copies must not show the old profile.
            self.sessions.forget_user(&user.id).await?;
        }
        Ok(Value::Object(self.user_resource(&saved)))
    }

    /// `DELETE /Users/{id}`: the user leaves the organization, loses every session and is no
    /// longer the connection's. Their account stays (it may belong to other organizations).
    ///
    /// # Errors
    /// 404; 400 `mutability` for the organization's only owner.
    pub async fn scim_delete_user(&self, connection: &scim_connection::Model, id: &str) -> SsoResult<()> {
        let txn = castellan_data::begin_write(&self.db).await?;
        let row = scim::lock_user(&txn, connection, id)
            .await?
            .ok_or_else(|| refused(ScimError::not_found(format!("User {id} not found"))))?;
        let user = users::find_by_id(&txn, &row.user_id).await?;
        let left = self.scim_leave(&txn, connection, &row.user_id).await?;
        scim::delete_user(&txn, connection, &row.user_id).await?;
        if let Some(user) = &user {
            self.user_audit(&txn, connection, "scim.user.deleted", user, Value::Null)
                .await?;
        }
        txn.commit().await?;
        self.authz.announce_all(left).await;
        self.sessions.revoke_all(&row.user_id, None).await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(v: Value) -> Map<String, Value> {
        user_document(v).unwrap()
    }

    #[test]
    fn the_profile_comes_from_the_primary_email_and_the_name() {
        let p = profile_of(&doc(json!({
            "userName": "ada", "displayName": "Ada L.",
            "emails": [{"value": "other@example.com"}, {"value": "Ada@Example.com", "primary": true}],
            "active": "False"
        })))
        .unwrap();
        assert_eq!(
            (p.email.as_deref(), p.name.as_str(), p.active),
            (Some("ada@example.com"), "Ada L.", false)
        );
        let p = profile_of(&doc(
            json!({"userName": "Bob@Example.com", "name": {"givenName": "Bob", "familyName": "B"}}),
        ))
        .unwrap();
        assert_eq!(
            (p.email.as_deref(), p.name.as_str(), p.active),
            (Some("bob@example.com"), "Bob B", true)
        );
        let p = profile_of(&doc(json!({"userName": "no-address"}))).unwrap();
        assert_eq!(
            (p.email, p.name.as_str()),
            (None, "no-address"),
            "no address: the user keeps theirs"
        );
        for bad in [
            json!({"emails": [{"value": "a@example.com"}]}),
            json!({"userName": "a@example.com", "active": 3}),
        ] {
            assert!(profile_of(&doc(bad.clone())).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_stored_document_drops_what_the_server_assigns() {
        let d = doc(
            json!({"id": "forged", "meta": {}, "userName": "a", "title": null, "schemas": ["urn:other"]}),
        );
        assert!(d.get("id").is_none() && d.get("meta").is_none() && d.get("title").is_none());
        assert_eq!(d["schemas"], json!([USER_SCHEMA]));
        assert!(super::super::valid_provider_id("okta-acme_1"));
        assert!(!super::super::valid_provider_id("a:b") && !super::super::valid_provider_id(""));
    }
}
