//! SCIM 2.0 provisioning into an organization. Owners and admins (casbin's `sso` grants)
//! generate a connection's bearer token; the directory then creates, updates, deactivates and
//! deletes the organization's users and groups with it. A token reaches only its own
//! connection's users and groups, and through them only its organization: deprovisioning
//! (`active: false`, `DELETE`) ends the user's sessions and their membership there, and touches
//! no other organization's seat. Groups give roles through the connection's group mapping (the
//! SSO connection of the same `providerId`), never the owner role.

mod groups;
mod users;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Map, Value};

use castellan_authz::grant::{self, Grant};
use castellan_data::entity::scim_connection;
use castellan_data::repo::{scim, sso_providers};
use castellan_data::{DataError, DatabaseTransaction};
use castellan_scim::discovery::MAX_RESULTS;
use castellan_scim::{ScimError, ScimType, projection};

use super::{Actor, AuditNote, Client, SsoService, no_access};
use crate::error::{Kind, SsoError, SsoResult};

/// Random characters in a token, before the connection's name is added.
const TOKEN_SECRET_LEN: usize = 48;

/// One page of a list.
pub struct ScimPage {
    pub total: usize,
    pub start_index: usize,
    pub resources: Vec<Value>,
}

/// What a list asks for.
#[derive(Debug, Clone, Default)]
pub struct ScimQuery {
    pub filter: Option<String>,
    pub start_index: Option<usize>,
    pub count: Option<usize>,
    pub attributes: Option<String>,
    pub excluded_attributes: Option<String>,
}

fn refused(e: ScimError) -> SsoError {
    SsoError::Scim(e)
}

fn token_hash(secret: &str) -> String {
    castellan_crypto::signing::sha256_b64url(secret.as_bytes())
}

/// `[A-Za-z0-9_-]{1,64}`: no `:` (the token carries the name after one).
fn valid_provider_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 64
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

/// A page of `docs` (each a resource with its core schema) as `query` asks: filtered, from
/// `startIndex` (1-based), at most `count` (and [`MAX_RESULTS`]), narrowed to `attributes`.
fn page(docs: Vec<(Map<String, Value>, &str)>, query: &ScimQuery) -> Result<ScimPage, ScimError> {
    let filter = query
        .filter
        .as_deref()
        .filter(|f| !f.trim().is_empty())
        .map(castellan_scim::filter::parse)
        .transpose()?;
    let matched: Vec<(Map<String, Value>, &str)> = docs
        .into_iter()
        .filter(|(doc, core)| filter.as_ref().is_none_or(|f| f.matches(doc, core)))
        .collect();
    let total = matched.len();
    let start_index = query.start_index.unwrap_or(1).max(1);
    let count = query.count.unwrap_or(MAX_RESULTS).min(MAX_RESULTS);
    let resources = matched
        .into_iter()
        .skip(start_index - 1)
        .take(count)
        .map(|(doc, core)| narrow(doc, query, core))
        .collect::<Result<Vec<Value>, ScimError>>()?;
    Ok(ScimPage {
        total,
        start_index,
        resources,
    })
}

/// The value, lower-cased, when `query`'s filter is exactly `attr eq "value"`: the lookup a
/// directory makes before each create, answered by an index rather than a scan of every
/// resource. [`page`] still applies the whole filter to what it finds.
fn equality_lookup(query: &ScimQuery, attr: &str, core: &str) -> Option<String> {
    let filter = castellan_scim::filter::parse(query.filter.as_deref()?).ok()?;
    filter.equality_on(attr, core).map(str::to_lowercase)
}

/// One resource as `query`'s `attributes` and `excludedAttributes` ask.
fn narrow(mut doc: Map<String, Value>, query: &ScimQuery, core: &str) -> Result<Value, ScimError> {
    projection::project(
        &mut doc,
        query.attributes.as_deref(),
        query.excluded_attributes.as_deref(),
        core,
    )?;
    Ok(Value::Object(doc))
}

/// `resource` from its stored JSON, with the server's `id` and `meta`.
fn with_meta(stored: &str, id: &str, meta: Value) -> Map<String, Value> {
    let mut doc = match serde_json::from_str::<Value>(stored) {
        Ok(Value::Object(o)) => o,
        _ => Map::new(),
    };
    doc.insert("id".into(), id.into());
    doc.insert("meta".into(), meta);
    doc
}

/// The document to keep: what the directory sent, less what the server assigns, listing
/// `schema` among its schemas.
fn stored_document(body: Value, schema: &str) -> Result<Map<String, Value>, ScimError> {
    let Value::Object(mut doc) = body else {
        return Err(ScimError::bad(
            ScimType::InvalidSyntax,
            "the body must be a resource object",
        ));
    };
    for key in ["id", "meta"] {
        if let Some(k) = castellan_scim::key_ci(&doc, key) {
            doc.remove(&k);
        }
    }
    doc.retain(|_, v| !v.is_null());
    let schemas = doc
        .entry("schemas")
        .or_insert_with(|| serde_json::json!([schema]));
    if !schemas
        .as_array()
        .is_some_and(|s| s.iter().any(|s| s.as_str() == Some(schema)))
    {
        *schemas = serde_json::json!([schema]);
    }
    Ok(doc)
}

impl SsoService {
    /// `<auth URL>/scim/v2`: where resources live.
    pub fn scim_base(&self) -> String {
        format!("{}/scim/v2", self.auth_url())
    }

    // --- Management: owners and admins, through their session ---

    /// The organization a management call is about (named, else the active one), if the
    /// caller may `G` its SSO.
    async fn scim_admin<G: Grant>(&self, actor: &Actor, org_id: Option<&str>) -> SsoResult<String> {
        let org_id = org_id.or(actor.active_org()).ok_or_else(|| {
            SsoError::coded(Kind::Invalid, "NO_ACTIVE_ORGANIZATION", "No active organization")
        })?;
        let scope = self.member_scope(actor, org_id).await?.ok_or_else(no_access)?;
        let permit = self.permit::<G>(Some(&scope)).await?.ok_or_else(no_access)?;
        Ok(permit.org_id().to_owned())
    }

    /// A connection the caller may `G`: 404 when there is none by that name, 403 when it is
    /// another organization's or the caller's role does not allow it.
    async fn managed_scim_connection<G: Grant>(
        &self,
        actor: &Actor,
        provider_id: &str,
    ) -> SsoResult<scim_connection::Model> {
        let connection = scim::find_connection(&self.db, provider_id)
            .await?
            .ok_or_else(|| SsoError::new(Kind::Missing, "SCIM provider not found"))?;
        self.scim_admin::<G>(actor, Some(&connection.organization_id))
            .await?;
        Ok(connection)
    }

    /// A new bearer token for the connection `provider_id` of the organization (created on
    /// first use; a second call replaces the token). Shown once: only its hash is kept.
    ///
    /// # Errors
    /// 400 for a bad or colliding `providerId`; 403 without `sso:create` in the organization.
    pub async fn generate_scim_token(
        &self,
        actor: &Actor,
        provider_id: &str,
        org_id: Option<&str>,
    ) -> SsoResult<String> {
        if !valid_provider_id(provider_id) {
            return Err(SsoError::new(
                Kind::Invalid,
                "Provider id must be 1 to 64 letters, digits, '-' or '_'",
            ));
        }
        let org_id = self.scim_admin::<grant::SsoCreate>(actor, org_id).await?;
        if let Some(sso) = sso_providers::find_by_provider_id(&self.db, provider_id).await?
            && sso.organization_id.as_deref() != Some(org_id.as_str())
        {
            return Err(SsoError::new(
                Kind::Invalid,
                "Provider id collides with another account provider and cannot be used for SCIM",
            ));
        }
        let secret = castellan_crypto::random::alphanumeric(TOKEN_SECRET_LEN);
        let token = URL_SAFE_NO_PAD.encode(format!("{secret}:{provider_id}:{org_id}"));
        // Two first calls racing for one name: the loser finds the winner's row and replaces
        // its token.
        match self.store_scim_token(actor, provider_id, &org_id, &secret).await {
            Err(SsoError::Data(DataError::Conflict)) => {
                self.store_scim_token(actor, provider_id, &org_id, &secret)
                    .await?;
            }
            other => other?,
        }
        Ok(token)
    }

    async fn store_scim_token(
        &self,
        actor: &Actor,
        provider_id: &str,
        org_id: &str,
        secret: &str,
    ) -> SsoResult<()> {
        let now = self.now();
        let txn = castellan_data::begin_write(&self.db).await?;
        match scim::find_connection(&txn, provider_id).await? {
            Some(existing) if existing.organization_id == org_id => {
                scim::replace_token(&txn, &existing, token_hash(secret), now).await?;
            }
            Some(_) => return Err(no_access()),
            None => {
                scim::insert_connection(
                    &txn,
                    scim_connection::Model {
                        id: castellan_crypto::random::generate_id(),
                        provider_id: provider_id.to_owned(),
                        organization_id: org_id.to_owned(),
                        token_hash: token_hash(secret),
                        created_by: Some(actor.user_id().to_owned()),
                        created_at: now,
                        updated_at: now,
                    },
                )
                .await?;
            }
        }
        let note = AuditNote {
            org_id: Some(org_id),
            action: "scim.token.generated",
            actor_id: Some(actor.user_id().to_owned()),
            target: provider_id,
            details: Value::Null,
        };
        self.audit(&txn, note, &Client::from(actor)).await?;
        txn.commit().await?;
        Ok(())
    }

    /// The connections of every organization whose SSO the caller may read.
    ///
    /// # Errors
    /// Database failures.
    pub async fn scim_connections(&self, actor: &Actor) -> SsoResult<Vec<scim_connection::Model>> {
        let mut out = Vec::new();
        for org in castellan_authz::repo::organizations_of(&self.db, actor.user_id()).await? {
            if self
                .scim_admin::<grant::SsoRead>(actor, Some(&org.id))
                .await
                .is_ok()
            {
                out.extend(scim::connections_of(&self.db, &org.id).await?);
            }
        }
        Ok(out)
    }

    /// # Errors
    /// 404 / 403.
    pub async fn scim_connection(
        &self,
        actor: &Actor,
        provider_id: &str,
    ) -> SsoResult<scim_connection::Model> {
        self.managed_scim_connection::<grant::SsoRead>(actor, provider_id)
            .await
    }

    /// Deletes the connection: its token stops working; the users it provisioned stay.
    ///
    /// # Errors
    /// 404 / 403.
    pub async fn delete_scim_connection(&self, actor: &Actor, provider_id: &str) -> SsoResult<()> {
        let connection = self
            .managed_scim_connection::<grant::SsoDelete>(actor, provider_id)
            .await?;
        let txn = castellan_data::begin_write(&self.db).await?;
        scim::delete_connection(&txn, &connection.organization_id, provider_id).await?;
        let note = AuditNote {
            org_id: Some(&connection.organization_id),
            action: "scim.connection.deleted",
            actor_id: Some(actor.user_id().to_owned()),
            target: provider_id,
            details: Value::Null,
        };
        self.audit(&txn, note, &Client::from(actor)).await?;
        txn.commit().await?;
        Ok(())
    }

    // --- The directory, with its bearer token ---

    /// The connection a bearer token opens.
    ///
    /// # Errors
    /// 401 for anything but a current token.
    pub async fn scim_authenticate(&self, bearer: &str) -> SsoResult<scim_connection::Model> {
        let decoded = URL_SAFE_NO_PAD
            .decode(bearer.trim().trim_end_matches('='))
            .ok()
            .and_then(|b| String::from_utf8(b).ok())
            .ok_or_else(|| refused(ScimError::unauthorized()))?;
        let mut parts = decoded.splitn(3, ':');
        let (Some(secret), Some(provider_id)) = (parts.next(), parts.next()) else {
            return Err(refused(ScimError::unauthorized()));
        };
        let org_id = parts.next();
        let connection = scim::find_connection(&self.db, provider_id)
            .await?
            .ok_or_else(|| refused(ScimError::unauthorized()))?;
        // Hashes of a secret compare in the open: equal prefixes of a digest reveal nothing of it.
        if connection.token_hash != token_hash(secret)
            || org_id.is_some_and(|o| o != connection.organization_id)
        {
            return Err(refused(ScimError::unauthorized()));
        }
        Ok(connection)
    }

    fn conflict_as_uniqueness(&self, e: DataError, what: &str) -> SsoError {
        match e {
            DataError::Conflict => refused(ScimError::new(
                409,
                Some(ScimType::Uniqueness),
                format!("{what} is already taken"),
            )),
            other => other.into(),
        }
    }

    /// `POST /.search`: the connection's users and groups together.
    ///
    /// # Errors
    /// 400 `invalidFilter`.
    pub async fn scim_search(
        &self,
        connection: &scim_connection::Model,
        query: &ScimQuery,
    ) -> SsoResult<ScimPage> {
        let mut docs: Vec<(Map<String, Value>, &str)> = self
            .scim_user_documents(connection, query)
            .await?
            .into_iter()
            .map(|d| (d, castellan_scim::USER_SCHEMA))
            .collect();
        docs.extend(
            self.scim_group_documents(connection, query)
                .await?
                .into_iter()
                .map(|d| (d, castellan_scim::GROUP_SCHEMA)),
        );
        page(docs, query).map_err(refused)
    }

    /// Records a provisioning step in the organization's audit log (and so as an event).
    async fn scim_audit(
        &self,
        db: &DatabaseTransaction,
        connection: &scim_connection::Model,
        action: &'static str,
        details: Value,
    ) -> SsoResult<()> {
        let note = AuditNote {
            org_id: Some(&connection.organization_id),
            action,
            actor_id: None,
            target: &connection.provider_id,
            details,
        };
        self.audit(db, note, &Client::default()).await
    }
}
