//! A build without the cargo feature `gateway` (`cargo test -p ssmail --no-default-features`,
//! a step of `.ci/run`) still knows the subcommand and says it is not built in, as a usage
//! error, before touching the network.
#![cfg(not(feature = "gateway"))]

#[path = "support/run.rs"]
mod run;

#[test]
fn the_gateway_subcommand_says_it_is_not_built_in() {
    let out = run::ssmail(&[
        "gateway",
        "inbound",
        "--listen",
        "127.0.0.1:0",
        "--upstream",
        "127.0.0.1:25",
    ]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        err,
        "ssmail: this ssmail was built without the gateway (cargo feature `gateway`)\n"
    );
    assert!(out.stdout.is_empty());
}
