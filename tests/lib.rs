//! End-to-end tests live in `tests/`: they start the local host in-process
//! and talk to it over real HTTP on loopback.
