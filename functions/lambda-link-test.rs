//! Shared by the Lambda function crates (`[[test]] link`): the crate's binary
//! is a position-independent executable, so the kernel randomises where its
//! image is loaded (ASLR) like everything else in the process. These binaries
//! parse internet input and link C crypto: that mitigation stays.

#[cfg(target_os = "linux")]
#[test]
fn the_function_binary_is_a_position_independent_executable() {
    // Integration tests live in target/<profile>/deps; cargo builds the
    // package's binary, named after the package, one level up.
    let test = std::env::current_exe().expect("the test's own path");
    let bin = test
        .parent()
        .and_then(|deps| deps.parent())
        .expect("target/<profile>")
        .join(env!("CARGO_PKG_NAME"));
    let elf = std::fs::read(&bin).unwrap_or_else(|e| panic!("{}: {e}", bin.display()));
    assert_eq!(
        &elf[..4],
        b"\x7fELF",
        "{} is not an ELF file",
        bin.display()
    );
    // e_type: 2 = ET_EXEC (fixed address), 3 = ET_DYN (PIE).
    let e_type = u16::from_le_bytes([elf[16], elf[17]]);
    assert_eq!(
        e_type,
        3,
        "{} should be a position-independent executable (ET_DYN)",
        bin.display()
    );
}
