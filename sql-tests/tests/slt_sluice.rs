//! Every `.slt` file of `sql-tests/slt/` against Sluice, over the wire, with the simple and
//! the extended query protocol: a fresh in-process server per file and protocol, connecting
//! as user `sluice` to database `sluice`. With `SLUICE_ADDR=host:port` the files run against
//! that external server instead (one server for all files, so each file drops what it
//! creates). `SLT_FILTER=substring` runs a subset.

use sluice_sql_tests::{run_file, sluice_slt_files, Protocol, Report, Target};

fn external_target() -> Option<Target> {
    let address = std::env::var("SLUICE_ADDR")
        .ok()
        .filter(|a| !a.is_empty())?;
    let (host, port) = address
        .rsplit_once(':')
        .unwrap_or_else(|| panic!("SLUICE_ADDR={address}: expected host:port"));
    Some(Target {
        host: host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_string(),
        port: port
            .parse()
            .unwrap_or_else(|_| panic!("SLUICE_ADDR={address}: bad port")),
        user: "sluice".into(),
        database: "sluice".into(),
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slt_files_pass_on_sluice() {
    let files = sluice_slt_files();
    if files.is_empty() {
        assert!(
            std::env::var("SLT_FILTER").is_ok(),
            "no .slt files found in sql-tests/slt"
        );
        eprintln!("no .slt file matches SLT_FILTER");
        return;
    }
    let external = external_target();
    let mut report = Report::new();
    for file in &files {
        for protocol in Protocol::ALL {
            let result = match &external {
                Some(target) => run_file(file, target, protocol).await,
                None => {
                    let server = match sluice_server::Server::start(sluice_server::ServerConfig {
                        listen: "127.0.0.1:0".parse().unwrap(),
                        ..Default::default()
                    })
                    .await
                    {
                        Ok(server) => server,
                        Err(error) => {
                            report.record(file, protocol, Err(format!("server start: {error}")));
                            continue;
                        }
                    };
                    let address = server.local_addr();
                    let target = Target {
                        host: address.ip().to_string(),
                        port: address.port(),
                        user: "sluice".into(),
                        database: "sluice".into(),
                    };
                    let result = run_file(file, &target, protocol).await;
                    server.shutdown().await;
                    result
                }
            };
            report.record(file, protocol, result);
        }
    }
    if let Err(failures) = report.finish() {
        panic!("sqllogictest failures on Sluice:\n{failures}");
    }
}
