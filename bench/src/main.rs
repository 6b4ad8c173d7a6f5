//! Baselines measured in the same run as Castellan (see `bench/run.sh`):
//! - `castellan-bench bare PORT`: a bare actix-web endpoint, the machine's HTTP ceiling;
//! - `castellan-bench authz [DATABASE_URL]`: casbin decisions with 100k organizations and 1M
//!   memberships in the database;
//! - `castellan-bench argon2`: the argon2 bound on sign-ins per second: argon2id verifications
//!   per second with every core verifying (about cores ÷ one verification's time);
//! - `castellan-bench seed DATABASE_URL [--users N]`: a Postgres database at scale (see
//!   [`seed`]), for `bench/scale.sh`.

use std::time::Instant;

use actix_web::{App, HttpResponse, HttpServer, web};

mod authz;
mod seed;

const PASSWORD: &str = "Correct-Horse-7-battery";

/// Verifications per second with every core verifying at once: the ceiling for sign-ins, since
/// each one costs exactly one verification. Also prints one verification's time on an idle core.
fn argon2_bound() {
    let hash = castellan_crypto::password::hash(PASSWORD).unwrap_or_default();
    for _ in 0..3 {
        let _ = castellan_crypto::password::verify(PASSWORD, &hash);
    }
    let n = 30u32;
    let start = Instant::now();
    for _ in 0..n {
        let _ = castellan_crypto::password::verify(PASSWORD, &hash);
    }
    let single = start.elapsed().as_secs_f64() / f64::from(n);

    let cores = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
    let start = Instant::now();
    std::thread::scope(|s| {
        for _ in 0..cores {
            s.spawn(|| {
                for _ in 0..n {
                    let _ = castellan_crypto::password::verify(PASSWORD, &hash);
                }
            });
        }
    });
    #[allow(clippy::cast_precision_loss, reason = "a handful of cores")]
    let bound = (cores as f64) * f64::from(n) / start.elapsed().as_secs_f64();
    println!(
        "verify_ms={:.2} cores={cores} bound_per_s={bound:.1}",
        single * 1000.0
    );
}

#[actix_web::main]
async fn main() -> std::io::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    match args.get(1).map(String::as_str) {
        Some("argon2") => {
            argon2_bound();
            Ok(())
        }
        Some("authz") => {
            let url = args
                .get(2)
                .cloned()
                .unwrap_or_else(|| "sqlite::memory:".to_owned());
            authz::run(&url).await.map_err(std::io::Error::other)
        }
        Some("seed") => {
            let Some(url) = args.get(2) else {
                eprintln!("usage: castellan-bench seed DATABASE_URL [--users N]");
                std::process::exit(2);
            };
            let users = match args.get(3).map(String::as_str) {
                None => 1_000_000,
                Some("--users") => match args.get(4).and_then(|n| n.replace('_', "").parse().ok()) {
                    Some(n) => n,
                    None => {
                        eprintln!("--users takes a number");
                        std::process::exit(2);
                    }
                },
                Some(other) => {
                    eprintln!("unknown argument {other:?}");
                    std::process::exit(2);
                }
            };
            match seed::seed(url, users).await {
                Ok(summary) => {
                    println!("{summary}");
                    Ok(())
                }
                Err(e) => {
                    eprintln!("seed: {e}");
                    std::process::exit(1);
                }
            }
        }
        Some("bare") => {
            let port: u16 = args.get(2).and_then(|p| p.parse().ok()).unwrap_or(3400);
            HttpServer::new(|| {
                App::new().route(
                    "/api/auth/ok",
                    web::get().to(|| async {
                        HttpResponse::Ok()
                            .content_type("application/json")
                            .body(r#"{"ok":true}"#)
                    }),
                )
            })
            .bind(("127.0.0.1", port))?
            .run()
            .await
        }
        _ => {
            eprintln!(
                "usage: castellan-bench argon2 | bare PORT | authz [DATABASE_URL] | seed DATABASE_URL [--users N]"
            );
            std::process::exit(2);
        }
    }
}
