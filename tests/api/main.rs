//! HTTP end-to-end suite: the real server on `127.0.0.1:0`, every database test on SQLite and on
//! PostgreSQL.

mod activities;
mod auth;
mod authz;
mod catalog;
mod certificates;
mod children;
mod cli;
mod dashboard;
mod errors;
mod evaluation;
mod live;
mod live_ii;
mod media;
mod newcomer;
mod ops;
mod orgs;
mod outage;
mod partners;
mod rate_limit;
mod store;
mod tokens;
