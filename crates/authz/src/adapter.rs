//! A casbin adapter over the application's sea-orm connection (no published adapter supports
//! sea-orm 2). Lines live in `castellan_casbin_rule`; only filtered loading (one organization at
//! a time) is supported, so start-up never loads every organization's policies.

use async_trait::async_trait;
use casbin::error::AdapterError;
use casbin::{Adapter, Filter, Model};
use castellan_data::entity::casbin_rule::{self, Entity as Rule};
use sea_orm::sea_query::OnConflict;
use sea_orm::{ActiveValue::Set, ColumnTrait, Condition, DatabaseConnection, EntityTrait, QueryFilter};

pub struct SeaOrmAdapter {
    db: DatabaseConnection,
}

impl SeaOrmAdapter {
    #[must_use]
    pub fn new(db: DatabaseConnection) -> Self {
        Self { db }
    }
}

fn adapter_error(e: impl std::error::Error + Send + Sync + 'static) -> casbin::Error {
    casbin::Error::AdapterError(AdapterError(Box::new(e)))
}

fn row(ptype: &str, rule: &[String]) -> casbin_rule::ActiveModel {
    let v = |i: usize| Set(rule.get(i).cloned().unwrap_or_default());
    casbin_rule::ActiveModel {
        id: sea_orm::ActiveValue::NotSet,
        ptype: Set(ptype.to_owned()),
        v0: v(0),
        v1: v(1),
        v2: v(2),
        v3: v(3),
        v4: v(4),
        v5: v(5),
    }
}

fn rule_condition(ptype: &str, rule: &[String]) -> Condition {
    let cols = [
        casbin_rule::Column::V0,
        casbin_rule::Column::V1,
        casbin_rule::Column::V2,
        casbin_rule::Column::V3,
        casbin_rule::Column::V4,
        casbin_rule::Column::V5,
    ];
    let mut cond = Condition::all().add(casbin_rule::Column::Ptype.eq(ptype));
    for (i, col) in cols.into_iter().enumerate() {
        cond = cond.add(col.eq(rule.get(i).cloned().unwrap_or_default()));
    }
    cond
}

/// A stored line without its trailing empty fields.
fn line(m: &casbin_rule::Model) -> Vec<String> {
    let mut v = vec![
        m.v0.clone(),
        m.v1.clone(),
        m.v2.clone(),
        m.v3.clone(),
        m.v4.clone(),
        m.v5.clone(),
    ];
    while v.last().is_some_and(String::is_empty) {
        v.pop();
    }
    v
}

#[async_trait]
impl Adapter for SeaOrmAdapter {
    async fn load_policy(&mut self, _m: &mut dyn Model) -> casbin::Result<()> {
        // Deliberately nothing: policies are loaded per organization (load_filtered_policy).
        Ok(())
    }

    async fn load_filtered_policy<'a>(&mut self, m: &mut dyn Model, f: Filter<'a>) -> casbin::Result<()> {
        let cols = [
            casbin_rule::Column::V0,
            casbin_rule::Column::V1,
            casbin_rule::Column::V2,
        ];
        let mut cond = Condition::all().add(casbin_rule::Column::Ptype.eq("p"));
        for (value, col) in f.p.iter().zip(cols) {
            if !value.is_empty() {
                cond = cond.add(col.eq(*value));
            }
        }
        let rows = Rule::find()
            .filter(cond)
            .all(&self.db)
            .await
            .map_err(adapter_error)?;
        for r in rows {
            m.add_policy("p", &r.ptype, line(&r));
        }
        Ok(())
    }

    async fn save_policy(&mut self, _m: &mut dyn Model) -> casbin::Result<()> {
        // Saving a filtered view would erase every other organization's lines.
        Err(adapter_error(std::io::Error::other(
            "save_policy is not supported on a filtered adapter",
        )))
    }

    async fn clear_policy(&mut self) -> casbin::Result<()> {
        Err(adapter_error(std::io::Error::other(
            "clear_policy is not supported",
        )))
    }

    fn is_filtered(&self) -> bool {
        true
    }

    async fn add_policy(&mut self, _sec: &str, ptype: &str, rule: Vec<String>) -> casbin::Result<bool> {
        self.add_policies(_sec, ptype, vec![rule]).await
    }

    async fn add_policies(
        &mut self,
        _sec: &str,
        ptype: &str,
        rules: Vec<Vec<String>>,
    ) -> casbin::Result<bool> {
        if rules.is_empty() {
            return Ok(true);
        }
        // ON CONFLICT DO NOTHING: casbin calls the adapter before its own duplicate check.
        let on_conflict = OnConflict::columns([
            casbin_rule::Column::Ptype,
            casbin_rule::Column::V0,
            casbin_rule::Column::V1,
            casbin_rule::Column::V2,
            casbin_rule::Column::V3,
            casbin_rule::Column::V4,
            casbin_rule::Column::V5,
        ])
        .do_nothing()
        .to_owned();
        let rows: Vec<_> = rules.iter().map(|r| row(ptype, r)).collect();
        Rule::insert_many(rows)
            .on_conflict(on_conflict)
            .exec_without_returning(&self.db)
            .await
            .map_err(adapter_error)?;
        Ok(true)
    }

    async fn remove_policy(&mut self, _sec: &str, ptype: &str, rule: Vec<String>) -> casbin::Result<bool> {
        let res = Rule::delete_many()
            .filter(rule_condition(ptype, &rule))
            .exec(&self.db)
            .await
            .map_err(adapter_error)?;
        Ok(res.rows_affected > 0)
    }

    async fn remove_policies(
        &mut self,
        sec: &str,
        ptype: &str,
        rules: Vec<Vec<String>>,
    ) -> casbin::Result<bool> {
        let mut any = false;
        for r in rules {
            any |= self.remove_policy(sec, ptype, r).await?;
        }
        Ok(any)
    }

    async fn remove_filtered_policy(
        &mut self,
        _sec: &str,
        ptype: &str,
        field_index: usize,
        field_values: Vec<String>,
    ) -> casbin::Result<bool> {
        let cols = [
            casbin_rule::Column::V0,
            casbin_rule::Column::V1,
            casbin_rule::Column::V2,
            casbin_rule::Column::V3,
            casbin_rule::Column::V4,
            casbin_rule::Column::V5,
        ];
        let mut cond = Condition::all().add(casbin_rule::Column::Ptype.eq(ptype));
        for (offset, value) in field_values.iter().enumerate() {
            if let Some(col) = cols.get(field_index + offset)
                && !value.is_empty()
            {
                cond = cond.add(col.eq(value.clone()));
            }
        }
        let res = Rule::delete_many()
            .filter(cond)
            .exec(&self.db)
            .await
            .map_err(adapter_error)?;
        Ok(res.rows_affected > 0)
    }
}
