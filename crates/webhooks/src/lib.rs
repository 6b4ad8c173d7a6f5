//! Webhooks: what leaves Castellan when something changes. Events are stored by the data
//! layer's outbox in the transaction of their change; the [`Dispatcher`] (any replica may run
//! one) claims due deliveries, signs them as the Standard Webhooks specification says, posts
//! them to public addresses only, and retries on a schedule of about a day before it disables
//! the endpoint and tells its owners.

pub mod dispatcher;
pub mod signature;
pub mod target;

pub use dispatcher::Dispatcher;
