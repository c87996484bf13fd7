//! 评价看板 benchmark on PostgreSQL: a province of 10 cities, 100 counties and 1,000 schools
//! with 100,000 parents, and a term of 2,000,000 study-credit rows; the province's, a county's
//! and a school's dashboard (each with its four-term trend), next to a plain `COUNT(*)` over
//! the same credit rows measured in the same run. Prints a Markdown table for BENCHMARKS.md.
//!
//! `cargo run --release -p bench --bin evaluation-bench -- --database-url postgres://postgres@127.0.0.1:5432/postgres
//!  [--parents 100000] [--schools 1000] [--credits 2000000] [--runs 5]`
//!
//! It creates a database of its own on that server and drops it afterwards.

use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::Parser;
use platform::config::Secret;
use platform::db::Db;
use server::Settings;
use sqlx::Connection;

#[derive(Parser, Debug)]
struct Args {
    /// A PostgreSQL server (any database on it): the bench creates and drops its own.
    #[arg(long)]
    database_url: String,
    #[arg(long, default_value_t = 100_000)]
    parents: i64,
    #[arg(long, default_value_t = 1_000)]
    schools: i64,
    #[arg(long, default_value_t = 2_000_000)]
    credits: i64,
    /// Timed runs of each query (the median is reported).
    #[arg(long, default_value_t = 5)]
    runs: usize,
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn ms(d: Duration) -> String {
    format!("{:.0} ms", d.as_secs_f64() * 1000.0)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    if !args.database_url.starts_with("postgres") {
        bail!("--database-url must be a PostgreSQL URL");
    }
    let name = format!("bench_evaluation_{}", uuid::Uuid::now_v7().simple());
    let mut admin = sqlx::PgConnection::connect(&args.database_url).await?;
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&mut admin)
        .await?;
    let base = args
        .database_url
        .rsplit_once('/')
        .map_or(args.database_url.as_str(), |b| b.0);
    let url = format!("{base}/{name}");
    let result = run(&args, &url).await;
    sqlx::query(&format!("DROP DATABASE {name} WITH (FORCE)"))
        .execute(&mut admin)
        .await?;
    result
}

async fn run(args: &Args, url: &str) -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let mut settings = Settings {
        data_dir: dir.path().to_path_buf(),
        ..Settings::default()
    };
    settings.database.url = Some(Secret::new(url.to_owned()));
    settings.live.recording = false;
    let app = server::build(settings).await.context("could not build the app")?;
    let Db::Postgres(pool) = &app.db else {
        bail!("not PostgreSQL")
    };

    // The tree: a province, 10 cities, 100 counties, `schools` schools.
    let started = Instant::now();
    let province = uuid::Uuid::now_v7();
    let mut orgs: Vec<(uuid::Uuid, Option<uuid::Uuid>, &str, String, String)> =
        vec![(province, None, "province", "浙江省妇联".into(), format!("/{province}/"))];
    let mut counties = Vec::new();
    for c in 0..10 {
        let city = uuid::Uuid::now_v7();
        let city_path = format!("/{province}/{city}/");
        orgs.push((city, Some(province), "city", format!("第{c}市妇联"), city_path.clone()));
        for k in 0..10 {
            let county = uuid::Uuid::now_v7();
            orgs.push((
                county,
                Some(city),
                "county",
                format!("第{c}市第{k}区"),
                format!("{city_path}{county}/"),
            ));
            counties.push((county, format!("{city_path}{county}/")));
        }
    }
    let mut schools = Vec::new();
    for s in 0..args.schools {
        let (county, path) = &counties[(s as usize) % counties.len()];
        let school = uuid::Uuid::now_v7();
        orgs.push((
            school,
            Some(*county),
            "school",
            format!("第{s}小学"),
            format!("{path}{school}/"),
        ));
        schools.push(school);
    }
    for chunk in orgs.chunks(1000) {
        let mut qb =
            sqlx::QueryBuilder::new("INSERT INTO organizations (id, parent_id, kind, name, path, created_at) ");
        qb.push_values(chunk, |mut b, o| {
            b.push_bind(o.0)
                .push_bind(o.1)
                .push_bind(o.2)
                .push_bind(o.3.clone())
                .push_bind(o.4.clone())
                .push_bind(0i64);
        });
        qb.build().execute(pool).await?;
    }
    sqlx::query("CREATE TABLE bench_schools (i INTEGER PRIMARY KEY, id UUID NOT NULL)")
        .execute(pool)
        .await?;
    for (chunk_i, chunk) in schools.chunks(1000).enumerate() {
        let mut qb = sqlx::QueryBuilder::new("INSERT INTO bench_schools (i, id) ");
        qb.push_values(chunk.iter().enumerate(), |mut b, (i, id)| {
            b.push_bind((chunk_i * 1000 + i) as i32).push_bind(*id);
        });
        qb.build().execute(pool).await?;
    }
    // Parents, each in one school.
    sqlx::query(
        "INSERT INTO users (id, phone, display_name, role, created_at) \
         SELECT gen_random_uuid(), '+86139' || lpad(g::text, 8, '0'), '家长' || g, 'parent', 0 \
         FROM generate_series(1, $1) g",
    )
    .bind(args.parents)
    .execute(pool)
    .await?;
    sqlx::query(
        "INSERT INTO memberships (user_id, org_id, created_at, via) \
         SELECT u.id, s.id, 0, 'created' FROM users u \
         JOIN bench_schools s ON s.i = substr(u.display_name, 3)::int % $1",
    )
    .bind(args.schools as i32)
    .execute(pool)
    .await?;
    // A term of credit rows: four in five parents study, 25 sittings each at 2 million.
    let now = platform::Timestamp::from_offset_date_time(time::OffsetDateTime::now_utc());
    let term = platform::terms::recent(now.to_offset_date_time(), &[], 1).remove(0);
    let (from, to) = (
        platform::Timestamp::from_offset_date_time(term.1).0,
        platform::Timestamp::from_offset_date_time(term.2).0,
    );
    let asset = uuid::Uuid::now_v7();
    sqlx::query(
        "INSERT INTO assets (id, state, filename, content_type, size, created_at, updated_at) \
         VALUES ($1, 'ready', 'bench.mp4', 'video/mp4', 1, 0, 0)",
    )
    .bind(asset)
    .execute(pool)
    .await?;
    let studying = args.parents * 4 / 5;
    let per = (args.credits / studying.max(1)).max(1);
    sqlx::query(
        "INSERT INTO study_credits (id, user_id, asset_id, session_id, credited_ms, earned_at) \
         SELECT gen_random_uuid(), u.id, $1, gen_random_uuid(), (random() * 600000)::bigint, \
                $2 + (random() * ($3 - $2 - 1))::bigint \
         FROM users u CROSS JOIN generate_series(1, $4) k \
         WHERE substr(u.display_name, 3)::int % 5 <> 0",
    )
    .bind(asset)
    .bind(from)
    .bind(to.min(now.0))
    .bind(per)
    .execute(pool)
    .await?;
    // The steady state autovacuum reaches after bulk inserts: statistics and the visibility map
    // (which lets the covering indexes answer without the table).
    sqlx::query("VACUUM ANALYZE").execute(pool).await?;
    let rows: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM study_credits")
        .fetch_one(pool)
        .await?;
    eprintln!(
        "generated {} parents, {} schools, {rows} credit rows in {:?}",
        args.parents,
        args.schools,
        started.elapsed()
    );

    // The same run: a plain count over the term's credit rows, then the dashboards.
    let mut count = Vec::new();
    for _ in 0..args.runs {
        let t = Instant::now();
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM study_credits WHERE earned_at >= $1 AND earned_at < $2")
            .bind(from)
            .bind(to)
            .fetch_one(pool)
            .await?;
        count.push(t.elapsed());
        assert_eq!(n, rows);
    }
    let admin = platform::auth::AuthUser {
        id: platform::ids::UserId::new(),
        role: platform::validate::Role::Admin,
    };
    let mut table = vec![("plain `COUNT(*)` of the term's credit rows".to_owned(), median(count))];
    let county = platform::ids::OrgId(counties[0].0);
    let school = platform::ids::OrgId(schools[0]);
    for (label, org) in [
        (
            "province dashboard (10 cities, 100,000 families)",
            platform::ids::OrgId(province),
        ),
        ("county dashboard (10 schools)", county),
        ("school dashboard (100 families)", school),
    ] {
        let mut times = Vec::new();
        for _ in 0..args.runs {
            let t = Instant::now();
            let v = app
                .evaluation
                .evaluation(&admin, org, None)
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            times.push(t.elapsed());
            assert!(v.total.measures.members > 0);
        }
        table.push((label.to_owned(), median(times)));
    }
    println!("| query (median of {} runs) | time |", args.runs);
    println!("|---|---|");
    for (label, d) in table {
        println!("| {label} | {} |", ms(d));
    }
    app.db.close().await;
    Ok(())
}
