//! The oracle run: every `.slt` file against a real PostgreSQL 15 (materialized views as
//! plain views, which PostgreSQL recomputes from scratch), with the simple and the extended
//! protocol, each file and protocol in a fresh database. A file that passes here and on Sluice
//! shows that the incrementally maintained views equal the batch result. The files of
//! `slt-pending/` (known Sluice divergences) must pass here too.
//!
//! Without PostgreSQL's server binaries the test is skipped, unless `CI` is set, where that is
//! a failure.

use sluice_sql_tests::{
    display_name, in_ci, pending_slt_files, rewrite_for_postgres, run_file, slt_files, Protocol,
    Report, TempPostgres,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slt_files_pass_on_postgres() {
    if TempPostgres::binaries().is_none() {
        let message = "PostgreSQL server binaries (initdb, pg_ctl) not found: install \
                       postgresql-15 (apt-get install postgresql-15) or set PG_BIN";
        assert!(!in_ci(), "{message}");
        eprintln!("skipped slt_files_pass_on_postgres: {message}");
        return;
    }
    let files: Vec<_> = slt_files().into_iter().chain(pending_slt_files()).collect();
    if files.is_empty() {
        eprintln!("no .slt file matches SLT_FILTER");
        return;
    }
    let postgres = TempPostgres::start().expect("PostgreSQL starts");
    let scratch = tempfile::tempdir().unwrap();
    let mut report = Report::new();
    for (index, file) in files.iter().enumerate() {
        let script = std::fs::read_to_string(file).unwrap();
        // Keep the directory name in the rewritten path so reports name the source file.
        let dir = scratch
            .path()
            .join(file.parent().unwrap().file_name().unwrap());
        std::fs::create_dir_all(&dir).unwrap();
        let rewritten = dir.join(file.file_name().unwrap());
        std::fs::write(&rewritten, rewrite_for_postgres(&script)).unwrap();
        for protocol in Protocol::ALL {
            let database = format!("slt_{index}_{protocol:?}").to_lowercase();
            let result = match postgres.create_database(&database).await {
                Ok(()) => run_file(&rewritten, &postgres.target(&database), protocol).await,
                Err(error) => Err(format!("cannot create database {database}: {error}")),
            };
            report.record(file, protocol, result);
            if let Err(error) = postgres.drop_database(&database).await {
                eprintln!("{}: cannot drop {database}: {error}", display_name(file));
            }
        }
    }
    if let Err(failures) = report.finish() {
        panic!(
            "sqllogictest failures on PostgreSQL (the files must be valid oracles):\n{failures}"
        );
    }
}
