//! The directory's groups: `/Groups`. A group's members are users of the same connection, and
//! the groups a user is in decide their role in the organization through the connection's
//! group mapping (`sso/provisioning` of the SSO connection with the same `providerId`): every
//! change of membership recomputes the roles of the users it touched. Owners keep their role,
//! and no group grants the owner role.

use std::collections::BTreeSet;

use serde_json::{Map, Value, json};

use castellan_authz::MembershipChange;
use castellan_authz::admission;
use castellan_data::DatabaseTransaction;
use castellan_data::entity::{scim_connection, scim_group};
use castellan_data::repo::scim;
use castellan_scim::{GROUP_SCHEMA, ScimError, ScimType, patch};

use super::users::Change;
use super::{ScimPage, ScimQuery, equality_lookup, narrow, page, refused, stored_document, with_meta};
use crate::domain::SsoService;
use crate::domain::connections::Provisioning;
use crate::domain::provisioning::mapped_role;
use crate::error::SsoResult;

/// The longest `displayName` kept.
const MAX_DISPLAY_NAME: usize = 256;

/// What a group's document says.
struct GroupFields {
    display_name: String,
    external_id: Option<String>,
    /// The member user ids, each once.
    members: Vec<String>,
}

fn group_fields(doc: &Map<String, Value>) -> Result<GroupFields, ScimError> {
    let display_name = castellan_scim::get_ci(doc, "displayName")
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .ok_or_else(|| ScimError::bad(ScimType::InvalidValue, "displayName is required"))?
        .to_owned();
    if display_name.len() > MAX_DISPLAY_NAME || castellan_domain::has_control(&display_name) {
        return Err(ScimError::bad(ScimType::InvalidValue, "displayName is not valid"));
    }
    let external_id = castellan_scim::get_ci(doc, "externalId")
        .and_then(Value::as_str)
        .map(str::to_owned);
    let mut seen = BTreeSet::new();
    let mut members = Vec::new();
    if let Some(list) = castellan_scim::get_ci(doc, "members") {
        let list = list
            .as_array()
            .ok_or_else(|| ScimError::bad(ScimType::InvalidValue, "members must be a list"))?;
        for m in list {
            let value = m
                .as_object()
                .and_then(|o| castellan_scim::get_ci(o, "value"))
                .and_then(Value::as_str)
                .ok_or_else(|| ScimError::bad(ScimType::InvalidValue, "each member needs a value"))?;
            if seen.insert(value.to_owned()) {
                members.push(value.to_owned());
            }
        }
    }
    Ok(GroupFields {
        display_name,
        external_id,
        members,
    })
}

/// A group's document as kept: each member listed once.
fn group_document(body: Value) -> Result<Map<String, Value>, ScimError> {
    let mut doc = stored_document(body, GROUP_SCHEMA)?;
    if let Some(key) = castellan_scim::key_ci(&doc, "members")
        && let Some(Value::Array(list)) = doc.get_mut(&key)
    {
        let mut seen = BTreeSet::new();
        list.retain(|m| {
            let value = m
                .as_object()
                .and_then(|o| castellan_scim::get_ci(o, "value"))
                .cloned();
            seen.insert(value.map(|v| v.to_string()).unwrap_or_default())
        });
    }
    Ok(doc)
}

fn display_name_of(group: &scim_group::Model) -> String {
    serde_json::from_str::<Value>(&group.resource)
        .ok()
        .and_then(|d| {
            d.as_object()
                .and_then(|o| castellan_scim::get_ci(o, "displayName"))
                .cloned()
        })
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

impl SsoService {
    /// The group as the directory sees it: its document, with only the members it still has.
    fn group_resource(&self, row: &scim_group::Model, members: &[String]) -> Map<String, Value> {
        let meta = json!({
            "resourceType": "Group",
            "created": castellan_data::clock::iso(&row.created_at),
            "lastModified": castellan_data::clock::iso(&row.updated_at),
            "location": format!("{}/Groups/{}", self.scim_base(), row.id),
            "version": format!("W/\"{}\"", row.version),
        });
        let mut doc = with_meta(&row.resource, &row.id, meta);
        if let Some(key) = castellan_scim::key_ci(&doc, "members")
            && let Some(Value::Array(list)) = doc.get_mut(&key)
        {
            list.retain(|m| {
                m.as_object()
                    .and_then(|o| castellan_scim::get_ci(o, "value"))
                    .and_then(Value::as_str)
                    .is_some_and(|v| members.iter().any(|u| u == v))
            });
            if list.is_empty() {
                doc.remove(&key);
            }
        }
        doc
    }

    async fn scim_group(
        &self,
        connection: &scim_connection::Model,
        id: &str,
    ) -> SsoResult<scim_group::Model> {
        scim::find_group(&self.db, connection, id)
            .await?
            .ok_or_else(|| refused(ScimError::not_found(format!("Group {id} not found"))))
    }

    /// The role the connection's group mapping gives `user_id` for the groups they are in
    /// (the connection's default role when none maps); admission keeps the owner role out.
    pub(super) async fn mapped_scim_role(
        &self,
        db: &DatabaseTransaction,
        connection: &scim_connection::Model,
        settings: &Provisioning,
        user_id: &str,
    ) -> SsoResult<String> {
        let names: Vec<String> = scim::groups_of_user(db, connection, user_id)
            .await?
            .iter()
            .map(display_name_of)
            .collect();
        Ok(mapped_role(&settings.role_mapping, &names).unwrap_or_else(|| settings.default_role.clone()))
    }

    /// Gives each of `users` the role their groups now map to (members of the organization
    /// only; owners keep theirs). Returns the changes to announce once committed.
    async fn remap_roles(
        &self,
        txn: &DatabaseTransaction,
        connection: &scim_connection::Model,
        users: impl IntoIterator<Item = &String>,
    ) -> SsoResult<Vec<MembershipChange>> {
        let settings = self.provisioning_in(txn, &connection.provider_id).await?;
        let mut changes = Vec::new();
        for user_id in users {
            let role = self.mapped_scim_role(txn, connection, &settings, user_id).await?;
            if let Some((from, to, change)) =
                admission::scim_set_role(txn, connection, user_id, &role).await?
            {
                let details = json!({ "userId": user_id, "from": from, "to": to, "via": "scim" });
                self.scim_audit(txn, connection, "member.role_update", details)
                    .await?;
                changes.push(change);
            }
        }
        Ok(changes)
    }

    /// Every member must be a user this connection provisioned.
    async fn check_members(
        &self,
        txn: &DatabaseTransaction,
        connection: &scim_connection::Model,
        members: &[String],
    ) -> SsoResult<()> {
        let known = scim::provisioned_among(txn, connection, members).await?;
        if let Some(id) = members.iter().find(|m| !known.contains(m)) {
            return Err(refused(ScimError::bad(
                ScimType::InvalidValue,
                format!("member {id} is not a user of this connection"),
            )));
        }
        Ok(())
    }

    /// `POST /Groups`.
    ///
    /// # Errors
    /// 400 for an invalid Group or a member the connection did not provision; 409 for a taken
    /// `displayName`.
    pub async fn scim_create_group(
        &self,
        connection: &scim_connection::Model,
        body: Value,
    ) -> SsoResult<Value> {
        let doc = group_document(body).map_err(refused)?;
        let fields = group_fields(&doc).map_err(refused)?;
        let now = self.now();
        let txn = castellan_data::begin_write(&self.db).await?;
        self.check_members(&txn, connection, &fields.members).await?;
        let row = scim::insert_group(
            &txn,
            scim_group::Model {
                id: castellan_crypto::random::generate_id(),
                connection_id: connection.id.clone(),
                display_name_key: fields.display_name.to_lowercase(),
                external_id: fields.external_id,
                resource: Value::Object(doc).to_string(),
                version: 1,
                created_at: now,
                updated_at: now,
            },
        )
        .await
        .map_err(|e| self.conflict_as_uniqueness(e, "displayName"))?;
        scim::set_group_members(&txn, &row, &fields.members).await?;
        let changes = self.remap_roles(&txn, connection, &fields.members).await?;
        let details =
            json!({ "groupId": row.id, "displayName": fields.display_name, "members": fields.members.len() });
        self.scim_audit(&txn, connection, "scim.group.created", details)
            .await?;
        txn.commit().await?;
        self.authz.announce_all(changes).await;
        Ok(Value::Object(self.group_resource(&row, &fields.members)))
    }

    /// `GET /Groups/{id}`.
    ///
    /// # Errors
    /// 404 for a group the connection did not provision.
    pub async fn scim_get_group(
        &self,
        connection: &scim_connection::Model,
        id: &str,
        query: &ScimQuery,
    ) -> SsoResult<Value> {
        let row = self.scim_group(connection, id).await?;
        let members = scim::group_members(&self.db, &row).await?;
        narrow(self.group_resource(&row, &members), query, GROUP_SCHEMA).map_err(refused)
    }

    /// `GET /Groups`.
    ///
    /// # Errors
    /// 400 `invalidFilter`.
    pub async fn scim_list_groups(
        &self,
        connection: &scim_connection::Model,
        query: &ScimQuery,
    ) -> SsoResult<ScimPage> {
        let docs = self.scim_group_documents(connection, query).await?;
        page(docs.into_iter().map(|d| (d, GROUP_SCHEMA)).collect(), query).map_err(refused)
    }

    /// The connection's groups `query` may select, as the directory sees them.
    pub(super) async fn scim_group_documents(
        &self,
        connection: &scim_connection::Model,
        query: &ScimQuery,
    ) -> SsoResult<Vec<Map<String, Value>>> {
        let groups = match equality_lookup(query, "displayName", GROUP_SCHEMA) {
            Some(key) => scim::find_group_by_name(&self.db, connection, &key)
                .await?
                .into_iter()
                .collect(),
            None => scim::groups(&self.db, connection).await?,
        };
        let mut members = scim::members_of_groups(&self.db, &groups).await?;
        let docs = groups
            .iter()
            .map(|row| self.group_resource(row, &members.remove(&row.id).unwrap_or_default()))
            .collect();
        Ok(docs)
    }

    /// `PUT /Groups/{id}`.
    ///
    /// # Errors
    /// 404; 400 for an invalid Group; 409 for a taken `displayName`.
    pub async fn scim_replace_group(
        &self,
        connection: &scim_connection::Model,
        id: &str,
        body: Value,
    ) -> SsoResult<Value> {
        self.scim_save_group(connection, id, Change::Replace(body)).await
    }

    /// `PATCH /Groups/{id}`: members added, removed or replaced as Entra and Okta send them.
    ///
    /// # Errors
    /// 404; 400 for an invalid PatchOp or result; 409 for a taken `displayName`.
    pub async fn scim_patch_group(
        &self,
        connection: &scim_connection::Model,
        id: &str,
        body: &Value,
    ) -> SsoResult<Value> {
        let operations = patch::parse(body, &[]).map_err(refused)?;
        self.scim_save_group(connection, id, Change::Patch(operations))
            .await
    }

    /// Changes a group, read under a lock so concurrent changes apply one after the other.
    async fn scim_save_group(
        &self,
        connection: &scim_connection::Model,
        id: &str,
        change: Change,
    ) -> SsoResult<Value> {
        let now = self.now();
        let txn = castellan_data::begin_write(&self.db).await?;
        let row = scim::lock_group(&txn, connection, id)
            .await?
            .ok_or_else(|| refused(ScimError::not_found(format!("Group {id} not found"))))?;
        let before = scim::group_members(&txn, &row).await?;
        let doc = match change {
            Change::Replace(body) => group_document(body),
            Change::Patch(operations) => {
                let mut doc = self.group_resource(&row, &before);
                patch::apply(&mut doc, operations, GROUP_SCHEMA, &[])
                    .and_then(|()| group_document(Value::Object(doc)))
            }
        }
        .map_err(refused)?;
        let fields = group_fields(&doc).map_err(refused)?;
        self.check_members(&txn, connection, &fields.members).await?;

        let saved = scim::update_group(
            &txn,
            scim_group::Model {
                display_name_key: fields.display_name.to_lowercase(),
                external_id: fields.external_id,
                resource: Value::Object(doc).to_string(),
                version: row.version.saturating_add(1),
                updated_at: now,
                ..row
            },
        )
        .await
        .map_err(|e| self.conflict_as_uniqueness(e, "displayName"))?;
        scim::set_group_members(&txn, &saved, &fields.members).await?;
        // A rename can change the mapping as much as a change of members.
        let touched: BTreeSet<&String> = before.iter().chain(&fields.members).collect();
        let changes = self.remap_roles(&txn, connection, touched).await?;
        let details = json!({ "groupId": saved.id, "displayName": fields.display_name, "members": fields.members.len() });
        self.scim_audit(&txn, connection, "scim.group.updated", details)
            .await?;
        txn.commit().await?;
        self.authz.announce_all(changes).await;
        Ok(Value::Object(self.group_resource(&saved, &fields.members)))
    }

    /// `DELETE /Groups/{id}`: its members' roles follow.
    ///
    /// # Errors
    /// 404.
    pub async fn scim_delete_group(&self, connection: &scim_connection::Model, id: &str) -> SsoResult<()> {
        let txn = castellan_data::begin_write(&self.db).await?;
        let row = scim::lock_group(&txn, connection, id)
            .await?
            .ok_or_else(|| refused(ScimError::not_found(format!("Group {id} not found"))))?;
        let members = scim::group_members(&txn, &row).await?;
        scim::delete_group(&txn, &row).await?;
        let changes = self.remap_roles(&txn, connection, &members).await?;
        let details = json!({ "groupId": row.id, "displayName": display_name_of(&row) });
        self.scim_audit(&txn, connection, "scim.group.deleted", details)
            .await?;
        txn.commit().await?;
        self.authz.announce_all(changes).await;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_group_needs_a_name_and_lists_each_member_once() {
        let doc = group_document(json!({
            "displayName": "Engineering",
            "members": [{"value": "u1"}, {"value": "u2", "display": "Two"}, {"value": "u1"}]
        }))
        .unwrap();
        assert_eq!(doc["members"].as_array().unwrap().len(), 2);
        let fields = group_fields(&doc).unwrap();
        assert_eq!(
            (fields.display_name.as_str(), fields.members),
            ("Engineering", vec!["u1".to_owned(), "u2".to_owned()])
        );
        for bad in [
            json!({"members": []}),
            json!({"displayName": " "}),
            json!({"displayName": "x", "members": [{"display": "no value"}]}),
        ] {
            let doc = group_document(bad.clone()).unwrap();
            assert!(group_fields(&doc).is_err(), "{bad}");
        }
    }
}
