//! Every `.slt` file against Sluice, over the wire, with the simple and the extended query
//! protocol; a fresh in-process server per file and protocol. With `SLUICE_ADDR=host:port`
//! the files run against that external server instead.

use sluice_sql_tests::{report, run_file, slt_files, Protocol};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slt_files_pass_on_sluice() {
    let files = slt_files();
    assert!(!files.is_empty(), "no .slt files found");
    let mut failures = Vec::new();
    let mut total = 0;
    for file in &files {
        for protocol in [Protocol::Simple, Protocol::Extended] {
            total += 1;
            let result = match std::env::var("SLUICE_ADDR") {
                Ok(address) => {
                    let (host, port) = address.rsplit_once(':').expect("SLUICE_ADDR=host:port");
                    run_file(
                        file,
                        host,
                        port.parse().expect("port"),
                        "sluice",
                        "sluice",
                        protocol,
                    )
                    .await
                }
                Err(_) => {
                    let server = sluice_server::Server::start(sluice_server::ServerConfig {
                        listen: "127.0.0.1:0".parse().unwrap(),
                    })
                    .await
                    .expect("server starts");
                    let address = server.local_addr();
                    let result = run_file(
                        file,
                        &address.ip().to_string(),
                        address.port(),
                        "sluice",
                        "sluice",
                        protocol,
                    )
                    .await;
                    server.shutdown().await;
                    result
                }
            };
            if let Err(error) = result {
                failures.push(format!("{} ({protocol:?}): {error}", file.display()));
            }
        }
    }
    if let Err(report) = report(failures, total) {
        panic!("sqllogictest failures on Sluice:\n{report}");
    }
}
