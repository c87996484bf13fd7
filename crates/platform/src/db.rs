//! The database handle: PostgreSQL in production, an SQLite file on a laptop or a small county
//! server. Queries are written once, with `$1` placeholders that both accept, and run through
//! [`with_db!`](crate::with_db), which expands the same code for each native pool (sqlx's `Any`
//! driver cannot decode booleans on SQLite nor `uuid` on PostgreSQL).

use std::str::FromStr;
use std::time::Duration;

use sqlx::Connection;
use sqlx::migrate::Migrator;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous};

static SQLITE_MIGRATIONS: Migrator = sqlx::migrate!("../../migrations/sqlite");
static POSTGRES_MIGRATIONS: Migrator = sqlx::migrate!("../../migrations/postgres");

/// A connection pool of either backend.
#[derive(Clone, Debug)]
pub enum Db {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

/// Runs `$body` with `$pool` bound to the native pool of whichever backend `$db` is. The body is
/// compiled once per backend, so it must type-check on both. It is written like a closure,
/// `with_db!(db, |pool| …)`, so that rustfmt parses and formats the body (the SQL code in it).
#[macro_export]
macro_rules! with_db {
    ($db:expr, |$pool:ident| $body:expr) => {
        match $db {
            $crate::db::Db::Sqlite($pool) => $body,
            $crate::db::Db::Postgres($pool) => $body,
        }
    };
}

/// Executes one statement with positional arguments on either backend and returns the number of
/// rows it affected.
#[macro_export]
macro_rules! db_execute {
    ($db:expr, $sql:expr $(, $arg:expr)* $(,)?) => {
        $crate::with_db!($db, |pool| sqlx::query($sql)$(.bind($arg))*.execute(pool).await.map(|r| r.rows_affected()))
    };
}

#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("unsupported database URL {0:?}: use sqlite://PATH or postgres://…")]
    UnsupportedUrl(String),
    #[error("could not create the folder for the SQLite file {path}: {source}")]
    CreateDir { path: String, source: std::io::Error },
    #[error(transparent)]
    Sqlx(#[from] sqlx::Error),
    #[error(transparent)]
    Migrate(#[from] sqlx::migrate::MigrateError),
}

impl Db {
    /// Opens a pool for `url` (`sqlite://…` or `postgres://…`). An SQLite file and its folder are
    /// created when missing. A request waits at most `acquire_timeout` for a connection: while
    /// the database is down, requests fail fast (503) instead of hanging, and the pool connects
    /// again by itself once it is back.
    pub async fn connect(url: &str, max_connections: u32, acquire_timeout: Duration) -> Result<Self, DbError> {
        if url.starts_with("sqlite:") {
            let opts = SqliteConnectOptions::from_str(url)?
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal)
                .foreign_keys(true)
                .busy_timeout(Duration::from_secs(10))
                // Reads through a memory map and a larger page cache: listing and search touch
                // thousands of rows, and per-page read() calls dominated their time.
                .pragma("mmap_size", "268435456")
                .pragma("cache_size", "-16000");
            if let Some(parent) = opts.get_filename().parent().filter(|p| !p.as_os_str().is_empty()) {
                std::fs::create_dir_all(parent).map_err(|source| DbError::CreateDir {
                    path: parent.display().to_string(),
                    source,
                })?;
            }
            let pool = SqlitePoolOptions::new()
                .max_connections(max_connections.max(1))
                .acquire_timeout(acquire_timeout)
                .connect_with(opts)
                .await?;
            Ok(Self::Sqlite(pool))
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            let opts = PgConnectOptions::from_str(url)?;
            let pool = PgPoolOptions::new()
                .max_connections(max_connections.max(1))
                .acquire_timeout(acquire_timeout)
                .connect_with(opts)
                .await?;
            Ok(Self::Postgres(pool))
        } else {
            Err(DbError::UnsupportedUrl(url.to_owned()))
        }
    }

    pub fn backend(&self) -> &'static str {
        match self {
            Self::Sqlite(_) => "sqlite",
            Self::Postgres(_) => "postgres",
        }
    }

    /// Applies pending migrations of this backend.
    pub async fn migrate(&self) -> Result<(), DbError> {
        match self {
            Self::Sqlite(pool) => SQLITE_MIGRATIONS.run(pool).await?,
            Self::Postgres(pool) => {
                // A failed run leaves the advisory lock held on its connection and the next run
                // would hang on it: run on a dedicated connection and close it on failure.
                let mut conn = pool.acquire().await?;
                if let Err(e) = POSTGRES_MIGRATIONS.run(&mut *conn).await {
                    let _ = conn.detach().close().await;
                    return Err(e.into());
                }
            }
        }
        Ok(())
    }

    /// A trivial round trip, for readiness checks.
    pub async fn ping(&self) -> Result<(), sqlx::Error> {
        with_db!(self, |pool| sqlx::query("SELECT 1").execute(pool).await.map(|_| ()))
    }

    pub async fn close(&self) {
        with_db!(self, |pool| pool.close().await)
    }
}
