//! The oracle run: every `.slt` file against a real PostgreSQL 15 (materialized views as
//! plain views, which PostgreSQL recomputes from scratch). A file that passes here and on
//! Sluice proves the maintained views equal the batch result.

use sluice_sql_tests::{report, rewrite_for_postgres, run_file, slt_files, Protocol, TempPostgres};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slt_files_pass_on_postgres() {
    if TempPostgres::binaries().is_none() {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "PostgreSQL 15 is not installed (apt-get install postgresql-15)"
        );
        eprintln!("skipped: PostgreSQL 15 is not installed");
        return;
    }
    let postgres = TempPostgres::start().expect("PostgreSQL starts");
    let scratch = tempfile::tempdir().unwrap();
    let files = slt_files();
    let mut failures = Vec::new();
    let mut total = 0;
    for (index, file) in files.iter().enumerate() {
        let script = std::fs::read_to_string(file).unwrap();
        let rewritten = scratch.path().join(file.file_name().unwrap());
        std::fs::write(&rewritten, rewrite_for_postgres(&script)).unwrap();
        for (variant, protocol) in [Protocol::Simple, Protocol::Extended]
            .into_iter()
            .enumerate()
        {
            total += 1;
            let database = format!("slt_{index}_{variant}");
            if let Err(error) = postgres.create_database(&database).await {
                failures.push(format!(
                    "{}: cannot create database: {error}",
                    file.display()
                ));
                continue;
            }
            if let Err(error) = run_file(
                &rewritten,
                "127.0.0.1",
                postgres.port,
                "postgres",
                &database,
                protocol,
            )
            .await
            {
                failures.push(format!("{} ({protocol:?}): {error}", file.display()));
            }
        }
    }
    if let Err(report) = report(failures, total) {
        panic!("sqllogictest failures on PostgreSQL:\n{report}");
    }
}
