//! Catalog benchmark: 10,000 generated courses with realistic Chinese text; search (two- and
//! four-character queries, with and without filters) and the home-page list call, each next to
//! a trivial JSON handler of the same server (`/healthz`, through the same middleware) measured
//! in the same run. Prints a Markdown table for BENCHMARKS.md.
//!
//! `cargo run --release -p bench --bin catalog-bench -- [--courses 10000] [--seconds 5]
//!  [--concurrency 32] [--database-url postgres://…]`

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::Parser;
use platform::config::Secret;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use server::Settings;

#[derive(Parser, Debug)]
struct Args {
    #[arg(long, default_value_t = 10_000)]
    courses: usize,
    /// Seconds of load per scenario.
    #[arg(long, default_value_t = 5)]
    seconds: u64,
    /// Concurrent client connections.
    #[arg(long, default_value_t = 32)]
    concurrency: usize,
    /// PostgreSQL URL of an empty database (default: SQLite in a temp folder).
    #[arg(long)]
    database_url: Option<String>,
    /// Keep the data here (default: a temp folder removed afterwards).
    #[arg(long)]
    data_dir: Option<std::path::PathBuf>,
}

const TOPICS: [&str; 8] = [
    "亲子沟通",
    "心理健康",
    "安全教育",
    "劳动教育",
    "学习习惯",
    "家风家教",
    "身体健康",
    "网络素养",
];
const STAGES: [&str; 6] = ["prenatal", "0-3", "3-6", "6-12", "12-15", "15-18"];
const SUBJECTS: [&str; 24] = [
    "青春期孩子",
    "幼儿",
    "小学生",
    "初中生",
    "高中生",
    "二孩家庭",
    "留守儿童",
    "隔代教养",
    "新手父母",
    "单亲家庭",
    "学龄前儿童",
    "叛逆期孩子",
    "内向的孩子",
    "好动的孩子",
    "独生子女",
    "寄宿学生",
    "毕业班学生",
    "双职工家庭",
    "孕期妈妈",
    "爸爸们",
    "祖辈家长",
    "转学的孩子",
    "特殊需要儿童",
    "随迁子女",
];
const THEMES: [&str; 30] = [
    "有效沟通",
    "情绪管理",
    "考试焦虑",
    "手机使用",
    "阅读习惯",
    "睡眠作息",
    "防溺水",
    "交通安全",
    "网络安全",
    "校园欺凌",
    "自理能力",
    "家务劳动",
    "专注力培养",
    "时间管理",
    "挫折教育",
    "性别教育",
    "营养膳食",
    "近视防控",
    "体育锻炼",
    "亲子阅读",
    "规则意识",
    "感恩教育",
    "生命教育",
    "家庭会议",
    "兴趣培养",
    "升学规划",
    "同伴交往",
    "自我保护",
    "零花钱管理",
    "家风传承",
];
const FORMS: [&str; 8] = [
    "如何帮助{s}{t}",
    "{s}的{t}指南",
    "和{s}一起做好{t}",
    "{t}：给{s}家长的十个建议",
    "从{t}开始，陪伴{s}成长",
    "{s}{t}常见问题解答",
    "读懂{s}：{t}",
    "{t}实践课",
];
const SENTENCES: [&str; 16] = [
    "本课程由一线教师和心理咨询师共同讲授。",
    "结合真实家庭案例，讲解家长可以马上用起来的方法。",
    "帮助家长理解孩子行为背后的需要。",
    "每节课后附有亲子练习，建议全家一起完成。",
    "课程参考全国家庭教育指导大纲编写。",
    "面对孩子的情绪，先接纳再引导。",
    "建立家庭规则时，要让孩子参与讨论。",
    "减少说教，多一些倾听和陪伴。",
    "关注孩子的睡眠、饮食和运动习惯。",
    "遇到冲突时，家长先稳定自己的情绪。",
    "和学校老师保持沟通，形成家校合力。",
    "手机和网络不是洪水猛兽，关键在于约定。",
    "鼓励孩子承担力所能及的家务劳动。",
    "安全教育要从日常生活中的小事做起。",
    "用欣赏的眼光看待孩子的每一点进步。",
    "适当的挫折经历有助于孩子成长。",
];
const LECTURERS: [&str; 12] = [
    "王芳",
    "李明",
    "张丽华",
    "陈建国",
    "刘洋",
    "赵敏",
    "孙强",
    "周静",
    "吴涛",
    "郑红",
    "冯雪",
    "何平",
];

fn gen_courses(n: usize, rng: &mut StdRng) -> Vec<catalog::import::Entry> {
    (0..n)
        .map(|i| {
            let s = SUBJECTS.choose(rng).copied().unwrap_or("孩子");
            let t = THEMES.choose(rng).copied().unwrap_or("成长");
            let title = FORMS
                .choose(rng)
                .copied()
                .unwrap_or("{t}")
                .replace("{s}", s)
                .replace("{t}", t);
            let summary: String = (0..rng.gen_range(3..7))
                .map(|_| SENTENCES.choose(rng).copied().unwrap_or(""))
                .collect();
            let lessons = (0..rng.gen_range(1..6))
                .map(|k| catalog::import::ManifestLesson {
                    title: format!("第{}讲", k + 1),
                    duration_s: rng.gen_range(300..1800),
                    asset_id: None,
                    video_path: None,
                })
                .collect();
            let (n_stages, n_topics) = (rng.gen_range(1..3), rng.gen_range(1..3));
            catalog::import::Entry {
                line: i + 1,
                course: catalog::import::ManifestCourse {
                    external_id: format!("bench-{i}"),
                    title,
                    summary,
                    lecturer: LECTURERS.choose(rng).copied().unwrap_or("专家").to_owned(),
                    lecturer_title: "家庭教育指导师".into(),
                    age_stages: STAGES.choose_multiple(rng, n_stages).map(|s| (*s).to_owned()).collect(),
                    topics: TOPICS.choose_multiple(rng, n_topics).map(|s| (*s).to_owned()).collect(),
                    tags: vec![t.to_owned()],
                    year: Some(rng.gen_range(2022..2026)),
                    language: None,
                    cover_path: None,
                    lessons,
                },
            }
        })
        .collect()
}

struct Stats {
    requests: usize,
    rps: f64,
    p50_ms: f64,
    p99_ms: f64,
    errors: usize,
}

async fn load(
    client: &reqwest::Client,
    base: &str,
    token: &str,
    paths: &[String],
    seconds: u64,
    concurrency: usize,
) -> Stats {
    let paths = Arc::new(paths.to_vec());
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let started = Instant::now();
    let tasks: Vec<_> = (0..concurrency)
        .map(|w| {
            let (client, base, token, paths) = (client.clone(), base.to_owned(), token.to_owned(), paths.clone());
            tokio::spawn(async move {
                let mut lat = Vec::new();
                let mut errors = 0;
                let mut i = w;
                while Instant::now() < deadline {
                    let t0 = Instant::now();
                    let res = client
                        .get(format!("{base}{}", paths[i % paths.len()]))
                        .bearer_auth(&token)
                        .send()
                        .await;
                    match res {
                        Ok(r) if r.status().is_success() => {
                            let _ = r.bytes().await;
                            lat.push(t0.elapsed());
                        }
                        _ => errors += 1,
                    }
                    i += concurrency;
                }
                (lat, errors)
            })
        })
        .collect();
    let mut all = Vec::new();
    let mut errors = 0;
    for t in tasks {
        if let Ok((lat, e)) = t.await {
            all.extend(lat);
            errors += e;
        }
    }
    let elapsed = started.elapsed().as_secs_f64();
    all.sort();
    let pct = |p: f64| {
        all.get(((all.len() as f64 * p) as usize).min(all.len().saturating_sub(1)))
            .map_or(0.0, |d| d.as_secs_f64() * 1000.0)
    };
    Stats {
        requests: all.len(),
        rps: all.len() as f64 / elapsed,
        p50_ms: pct(0.50),
        p99_ms: pct(0.99),
        errors,
    }
}

fn enc(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b == b'-' {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let dir = tempfile::tempdir()?;
    let data_dir = args.data_dir.clone().unwrap_or_else(|| dir.path().join("data"));
    let mut settings = Settings {
        data_dir,
        ..Settings::default()
    };
    settings.auth.jwt_secret = Some(Secret::new("bench-secret-0123456789abcdef0123456789"));
    settings.auth.login_attempts_per_ip = 1_000_000;
    settings.database.max_connections = 16;
    if let Some(url) = &args.database_url {
        settings.database.url = Some(Secret::new(url.clone()));
    }
    let app = server::build(settings).await?;
    let backend = app.db.backend();
    let province = platform::orgs::create_org(
        &app.db,
        app.accounts.now(),
        "浙江省妇联",
        platform::validate::OrgKind::Province,
        None,
    )
    .await?;
    let school = platform::orgs::create_org(
        &app.db,
        app.accounts.now(),
        "实验小学",
        platform::validate::OrgKind::School,
        Some(province.id),
    )
    .await?;
    for (phone, role, org) in [
        ("13700000001", platform::validate::Role::Curator, province.id),
        ("13800000001", platform::validate::Role::Parent, school.id),
    ] {
        app.accounts
            .create_user(platform::accounts::NewUser {
                phone: phone.into(),
                password: "bench-pass-1".into(),
                display_name: "bench".into(),
                role,
                org: Some(org),
                must_change_password: false,
                privacy_consent: true,
            })
            .await?;
    }

    let mut rng = StdRng::seed_from_u64(2025);
    let entries = gen_courses(args.courses, &mut rng);
    let t0 = Instant::now();
    let report = app
        .catalog
        .import(
            province.id,
            true,
            entries,
            |_| Err("no covers".into()),
            |done| {
                if done % 1000 == 0 {
                    eprintln!("  imported {done}");
                }
            },
        )
        .await?;
    anyhow::ensure!(report.failed.is_empty(), "import failed: {:?}", report.failed.first());
    let import_s = t0.elapsed().as_secs_f64();
    eprintln!("imported {} courses in {import_s:.1} s ({backend})", report.created);
    // Fresh statistics and visibility map, as autovacuum (PostgreSQL) or `PRAGMA optimize` (SQLite) would have
    // them on a running service; without them the planners guess on empty tables.
    match &app.db {
        platform::Db::Postgres(pool) => {
            // VACUUM also sets the visibility map, which index-only scans of the postings need.
            sqlx::query("VACUUM ANALYZE").execute(pool).await?;
        }
        platform::Db::Sqlite(pool) => {
            sqlx::query("ANALYZE").execute(pool).await?;
        }
    }

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://{}", listener.local_addr()?);
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let db = app.db.clone();
    let serving = tokio::spawn(app.serve(listener, async move {
        let _ = rx.await;
    }));
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(args.concurrency)
        .build()?;
    let login = |phone: &'static str| {
        let client = client.clone();
        let base = base.clone();
        async move {
            let body: serde_json::Value = client
                .post(format!("{base}/api/v1/auth/login"))
                .json(&serde_json::json!({"phone": phone, "password": "bench-pass-1"}))
                .send()
                .await?
                .json()
                .await?;
            body["access_token"].as_str().map(str::to_owned).context("login failed")
        }
    };
    let curator = login("13700000001").await?;
    let parent = login("13800000001").await?;

    // Twenty curated lists of thirty courses each, for the home page.
    let page: serde_json::Value = client
        .get(format!("{base}/api/v1/courses?limit=100"))
        .bearer_auth(&curator)
        .send()
        .await?
        .json()
        .await?;
    let ids: Vec<String> = page["items"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|c| c["id"].as_str().map(str::to_owned))
        .collect();
    for i in 0..20 {
        let list: serde_json::Value = client
            .post(format!("{base}/api/v1/lists"))
            .bearer_auth(&curator)
            .json(&serde_json::json!({"title": format!("{} 年度家庭教育优秀课程（第 {} 辑）", 2025, i + 1), "year": 2025}))
            .send()
            .await?
            .json()
            .await?;
        let mut chosen = ids.clone();
        chosen.shuffle(&mut rng);
        chosen.truncate(30);
        let r = client
            .put(format!(
                "{base}/api/v1/lists/{}/items",
                list["id"].as_str().unwrap_or_default()
            ))
            .bearer_auth(&curator)
            .json(&serde_json::json!({"course_ids": chosen, "version": 1}))
            .send()
            .await?;
        anyhow::ensure!(r.status().is_success(), "list items: {}", r.text().await?);
    }

    let two = ["沟通", "焦虑", "手机", "习惯", "安全", "情绪", "陪伴", "规则"];
    let four = ["有效沟通", "考试焦虑", "阅读习惯", "情绪管理", "网络安全", "家务劳动"];
    let scenarios: Vec<(&str, Vec<String>)> = vec![
        ("trivial JSON handler (`/healthz`)", vec!["/healthz".into()]),
        (
            "search, 2-character query",
            two.iter().map(|q| format!("/api/v1/courses?q={}", enc(q))).collect(),
        ),
        (
            "search, 4-character query",
            four.iter().map(|q| format!("/api/v1/courses?q={}", enc(q))).collect(),
        ),
        (
            "search, 2-character + age stage",
            two.iter()
                .zip(STAGES.iter().cycle())
                .map(|(q, s)| format!("/api/v1/courses?q={}&age_stage={s}", enc(q)))
                .collect(),
        ),
        (
            "search, 4-character + topic + year",
            four.iter()
                .zip(TOPICS.iter())
                .map(|(q, t)| format!("/api/v1/courses?q={}&topic={}&year=2024", enc(q), enc(t)))
                .collect(),
        ),
        (
            "browse by age stage (no query)",
            STAGES
                .iter()
                .map(|s| format!("/api/v1/courses?age_stage={s}"))
                .collect(),
        ),
        ("home page lists (`/api/v1/lists`)", vec!["/api/v1/lists".into()]),
    ];
    // Warm up caches and connections.
    let _ = load(&client, &base, &parent, &scenarios[1].1, 1, args.concurrency).await;
    println!(
        "\n{} courses, {backend}, {} connections, {} s per row (import took {import_s:.0} s)\n",
        args.courses, args.concurrency, args.seconds
    );
    println!("| scenario | req/s | p50 ms | p99 ms | vs trivial (req/s) | errors |");
    println!("|---|---:|---:|---:|---:|---:|");
    let mut reference = None;
    for (name, paths) in &scenarios {
        let s = load(&client, &base, &parent, paths, args.seconds, args.concurrency).await;
        let base_rps = *reference.get_or_insert(s.rps);
        println!(
            "| {name} | {:.0} | {:.2} | {:.2} | {:.1} % | {} |",
            s.rps,
            s.p50_ms,
            s.p99_ms,
            100.0 * s.rps / base_rps,
            s.errors
        );
        let _ = s.requests;
    }
    let _ = tx.send(());
    serving.await??;
    db.close().await;
    Ok(())
}
