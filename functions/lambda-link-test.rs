//! Shared by the Lambda function crates (`[[test]] link`): the crate's binary
//! is linked as `lambda-build.rs` says, a position-dependent executable on
//! Linux (ELF type EXEC, no relative relocations to apply at start), unless
//! it was built with `DROPSHIP_PIE=1`.

#[cfg(target_os = "linux")]
#[test]
fn the_function_binary_is_linked_without_pie() {
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
    let e_type = u16::from_le_bytes([elf[16], elf[17]]);
    let (expected, what) = match option_env!("DROPSHIP_PIE") {
        Some("1") => (3, "a position-independent executable (ET_DYN)"),
        _ => (2, "a position-dependent executable (ET_EXEC)"),
    };
    assert_eq!(e_type, expected, "{} should be {what}", bin.display());
}
