//! Links libmilo dynamically. The library folder comes from `MILO_LIB_DIR`, else from
//! `pkg-config --variable=libdir milo`, else the linker's default search path. When a folder is
//! known it is also written as an rpath into this crate's tests, examples and binaries, so they
//! run without LD_LIBRARY_PATH, and exported to dependents as `DEP_MILO_LIB_DIR`.
use std::env;
use std::path::PathBuf;
use std::process::Command;

fn pkg_config_libdir() -> Option<PathBuf> {
    let out = Command::new("pkg-config").args(["--variable=libdir", "milo"]).output().ok()?;
    if !out.status.success() {
        return None;
    }
    let dir = String::from_utf8(out.stdout).ok()?.trim().to_string();
    if dir.is_empty() {
        None
    } else {
        Some(PathBuf::from(dir))
    }
}

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-env-changed=MILO_LIB_DIR");
    println!("cargo:rerun-if-env-changed=PKG_CONFIG_PATH");

    let dir = match env::var_os("MILO_LIB_DIR") {
        Some(d) if !d.is_empty() => Some(PathBuf::from(d)),
        _ => pkg_config_libdir(),
    };
    if let Some(dir) = dir {
        // An absolute path, so the rpath still works when the binary runs from elsewhere.
        let dir = dir.canonicalize().unwrap_or(dir);
        if !dir.join("libmilo.so").exists() && !dir.join("libmilo.dylib").exists() {
            println!(
                "cargo:warning=no libmilo in {} (from MILO_LIB_DIR or pkg-config)",
                dir.display()
            );
        }
        println!("cargo:rustc-link-search=native={}", dir.display());
        println!("cargo:rustc-link-arg=-Wl,-rpath,{}", dir.display());
        println!("cargo:lib_dir={}", dir.display());
    }
    println!("cargo:rustc-link-lib=dylib=milo");
}
