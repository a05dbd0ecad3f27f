//! annotask: annotation tasks as YAML files in git, indexed in SQLite, served with the hosted
//! Tasks API's JSON.
//!
//! Dependencies point one way: [`model`] ← [`validate`] ← [`yaml`], [`store`] ← [`sync`] ←
//! [`repo`] ← [`watch`], the [`server`] and the CLI; [`schema`] describes [`model`] for
//! editors. The files under `tasks/` are the truth; the index is derived from them and can
//! always be rebuilt.

pub mod api;
pub mod assign;
mod cores;
pub mod deploy;
pub mod error;
pub mod export;
pub mod files;
pub mod import;
pub mod inputs;
pub mod layout;
pub mod model;
pub mod plans;
pub mod proto;
pub mod remote;
pub mod repo;
pub mod schema;
pub mod server;
pub mod store;
pub mod sync;
pub mod team;
pub mod validate;
pub mod watch;
pub mod work;
pub mod yaml;

pub use error::{Error, Result};
