pub mod members {}
