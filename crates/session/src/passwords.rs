//! Password hashing off the async executor. Hashes run on the blocking pool, at most one per
//! core at a time: argon2 is memory-hard, and queueing beats thrashing when sign-ins spike.

use std::sync::Arc;

use castellan_crypto::password::{self, PasswordCheck, PasswordError, PasswordHasherConfig};
use tokio::sync::Semaphore;

#[derive(Debug, thiserror::Error)]
pub enum HashingError {
    #[error(transparent)]
    Hash(#[from] PasswordError),
    #[error("the hashing task failed")]
    Task,
}

#[derive(Clone)]
pub struct Passwords {
    permits: Arc<Semaphore>,
    config: Arc<PasswordHasherConfig>,
}

impl Passwords {
    /// # Errors
    /// Only if argon2 fails while preparing the decoy hash.
    pub fn new() -> Result<Self, PasswordError> {
        let cores = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
        Ok(Self {
            permits: Arc::new(Semaphore::new(cores)),
            config: Arc::new(PasswordHasherConfig::new()?),
        })
    }

    async fn run<T: Send + 'static>(
        &self,
        job: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, HashingError> {
        let _permit = self.permits.acquire().await.map_err(|_| HashingError::Task)?;
        tokio::task::spawn_blocking(job)
            .await
            .map_err(|_| HashingError::Task)
    }

    /// # Errors
    /// Hashing failures.
    pub async fn hash(&self, plain: &str) -> Result<String, HashingError> {
        let plain = plain.to_owned();
        self.run(move || password::hash(&plain))
            .await?
            .map_err(HashingError::from)
    }

    /// # Errors
    /// Only if the hashing task itself fails.
    pub async fn verify(&self, plain: &str, stored: &str) -> Result<PasswordCheck, HashingError> {
        let (plain, stored) = (plain.to_owned(), stored.to_owned());
        self.run(move || password::verify(&plain, &stored)).await
    }

    /// Costs what a verification costs, for accounts that do not exist.
    ///
    /// # Errors
    /// Only if the hashing task itself fails.
    pub async fn burn(&self, plain: &str) -> Result<(), HashingError> {
        let (plain, config) = (plain.to_owned(), self.config.clone());
        self.run(move || config.burn_verification(&plain)).await
    }
}
