//! The authorization benchmark: 100k organizations and 1M memberships in a real database, then
//! casbin decisions through the [`Authorizer`] on a warm per-organization cache, the membership
//! check plus decision (one indexed query each), and the cost of loading a cold organization.

use std::time::{Duration, Instant};

use castellan_authz::{Authorizer, Statements};
use sea_orm::{ConnectionTrait, DatabaseConnection};

const ORGS: usize = 100_000;
const USERS: usize = 100_000;
const MEMBERSHIPS_PER_ORG: usize = 10;
const WORKING_SET: usize = 5_000;

/// A deterministic xorshift, so runs are comparable.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        usize::try_from(self.0 % (1 << 31)).unwrap_or(0)
    }
}

async fn seed(pool: &DatabaseConnection) -> Result<(), sea_orm::DbErr> {
    use sea_orm::TransactionTrait as _;
    let now = "2026-01-01T00:00:00.000Z";
    let insert =
        |table: &str, rows: Vec<String>| format!(r#"INSERT INTO "{table}" VALUES {}"#, rows.join(","));
    let db = pool.begin().await?;
    for chunk in (0..USERS).collect::<Vec<_>>().chunks(500) {
        let rows = chunk
            .iter()
            .map(|i| {
                format!("('u{i}','User {i}','u{i}@bench.test',1,NULL,'{now}','{now}','user',0,NULL,NULL,0)")
            })
            .collect();
        db.execute_unprepared(&insert("user", rows)).await?;
    }
    for chunk in (0..ORGS).collect::<Vec<_>>().chunks(500) {
        let rows = chunk
            .iter()
            .map(|i| format!("('o{i}','Org {i}','org-{i}',NULL,'{now}',NULL)"))
            .collect();
        db.execute_unprepared(&insert("organization", rows)).await?;
    }
    let roles = [
        "owner", "admin", "member", "member", "member", "member", "member", "member", "admin", "member",
    ];
    let mut rows = Vec::with_capacity(500);
    for org in 0..ORGS {
        for (k, role) in roles.iter().enumerate().take(MEMBERSHIPS_PER_ORG) {
            let user = (org * 7 + k * 9973) % USERS;
            rows.push(format!("('m{org}_{k}','o{org}','u{user}','{role}','{now}')"));
            if rows.len() == 500 {
                db.execute_unprepared(&insert("member", std::mem::take(&mut rows)))
                    .await?;
            }
        }
    }
    if !rows.is_empty() {
        db.execute_unprepared(&insert("member", rows)).await?;
    }
    db.commit().await?;
    Ok(())
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    #[allow(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        clippy::cast_precision_loss,
        reason = "an index"
    )]
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted.get(i).copied().unwrap_or_default()
}

fn report(name: &str, mut samples: Vec<Duration>) {
    samples.sort_unstable();
    println!(
        "{name}: n={} p50={:.1}us p99={:.1}us max={:.1}us",
        samples.len(),
        percentile(&samples, 0.50).as_secs_f64() * 1e6,
        percentile(&samples, 0.99).as_secs_f64() * 1e6,
        samples.last().copied().unwrap_or_default().as_secs_f64() * 1e6,
    );
}

pub async fn run(url: &str) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let db = castellan_data::connect(url).await?;
    castellan_migrations::apply(&db).await?;
    let started = Instant::now();
    seed(&db).await?;
    println!(
        "seeded {ORGS} organizations, {USERS} users, {} memberships in {:.1}s",
        ORGS * MEMBERSHIPS_PER_ORG,
        started.elapsed().as_secs_f64()
    );

    let authz = Authorizer::new(db.clone(), None, 10_000, 200_000)?;
    // Custom roles on a tenth of the working set, so those enforcers hold more than the built-ins.
    let grant: Statements = [(
        "invitation".to_owned(),
        vec!["create".to_owned(), "cancel".to_owned()],
    )]
    .into();
    for org in (0..WORKING_SET).step_by(10) {
        authz
            .set_custom_role(&format!("o{org}"), "recruiter", &grant)
            .await?;
    }
    let requests: [(&str, &str); 4] = [
        ("member", "delete"),
        ("invitation", "create"),
        ("organization", "delete"),
        ("ac", "read"),
    ];
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);

    let mut cold = Vec::with_capacity(WORKING_SET);
    for org in 0..WORKING_SET {
        let roles = vec!["member".to_owned()];
        let wanted: Statements = [("ac".to_owned(), vec!["read".to_owned()])].into();
        let t = Instant::now();
        authz.allows(&format!("o{org}"), &roles, &wanted).await?;
        cold.push(t.elapsed());
    }
    report("cold organization (load its policies, then decide)", cold);

    let role_sets = [
        vec!["owner".to_owned()],
        vec!["admin".to_owned()],
        vec!["member".to_owned()],
        vec!["member".to_owned(), "recruiter".to_owned()],
    ];
    let mut warm = Vec::with_capacity(200_000);
    for _ in 0..200_000 {
        let org = format!("o{}", rng.next() % WORKING_SET);
        let (res, act) = requests[rng.next() % requests.len()];
        let roles = &role_sets[rng.next() % role_sets.len()];
        let wanted: Statements = [(res.to_owned(), vec![act.to_owned()])].into();
        let t = Instant::now();
        let _ = authz.allows(&org, roles, &wanted).await?;
        warm.push(t.elapsed());
    }
    report("decision, warm organization", warm);

    let mut full = Vec::with_capacity(20_000);
    for _ in 0..20_000 {
        let org = rng.next() % WORKING_SET;
        let user = format!(
            "u{}",
            (org * 7 + (rng.next() % MEMBERSHIPS_PER_ORG) * 9973) % USERS
        );
        let org = format!("o{org}");
        let t = Instant::now();
        let scope = authz.scope(&db, &org, &user).await?;
        if let Some(scope) = scope {
            let _ = authz
                .permit::<castellan_authz::grant::MemberDelete>(&scope)
                .await?;
        }
        full.push(t.elapsed());
    }
    report("membership check (one joined, indexed query) + decision", full);
    Ok(())
}
