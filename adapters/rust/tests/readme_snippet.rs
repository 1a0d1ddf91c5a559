//! The Rust snippet of the repository README, run as written: the fenced block after
//! `<!-- readme-test: rust -->` becomes `src/main.rs` of a scratch cargo project that depends on
//! this crate by path, and `cargo run --offline` runs it from the repository root.

mod fixture;

use fixture::{repo_root, scratch};
use std::path::Path;
use std::process::Command;

const MARKER: &str = "<!-- readme-test: rust -->";

/// The code of the fenced block that follows the marker.
fn snippet(readme: &str) -> String {
    let at = readme.find(MARKER).expect("README.md has the `<!-- readme-test: rust -->` marker");
    let mut lines = readme[at + MARKER.len()..].lines().skip_while(|l| l.trim().is_empty());
    let fence = lines.next().expect("a fenced block after the marker");
    assert!(
        fence.trim_start().starts_with("```rust"),
        "block after the marker opens with ```rust: {fence:?}"
    );
    let mut code = String::new();
    for line in lines.by_ref() {
        if line.trim_start().starts_with("```") {
            return code;
        }
        code.push_str(line);
        code.push('\n');
    }
    panic!("the fenced block after the marker is not closed");
}

const BUILD_RS: &str = r#"// Writes libmilo's folder (exported by the milo crate as DEP_MILO_LIB_DIR) as an rpath.
fn main() {
    if let Ok(dir) = std::env::var("DEP_MILO_LIB_DIR") {
        println!("cargo:rustc-link-arg=-Wl,-rpath,{dir}");
    }
}
"#;

#[test]
fn snippet_extraction() {
    let readme = "x\n<!-- readme-test: rust -->\n\n```rust\nfn main() {}\n```\n```go\n```\n";
    assert_eq!(snippet(readme), "fn main() {}\n");
}

#[test]
fn readme_snippet_runs() {
    let root = repo_root();
    let readme = std::fs::read_to_string(root.join("README.md")).expect("read README.md");
    let code = snippet(&readme);
    assert!(!code.contains("placeholder"), "the README still holds the placeholder");
    assert!(code.contains("fn main()"), "a full program");

    let dir = scratch("readme-snippet");
    let crate_dir = Path::new(env!("CARGO_MANIFEST_DIR")).canonicalize().unwrap();
    std::fs::create_dir_all(dir.join("src")).unwrap();
    std::fs::write(
        dir.join("Cargo.toml"),
        format!(
            "[package]\nname = \"milo-readme-snippet\"\nversion = \"0.0.0\"\nedition = \"2021\"\n\
             publish = false\nbuild = \"build.rs\"\n\n[dependencies]\nmilo = {{ path = '{}' }}\n\n\
             [workspace]\n",
            crate_dir.display()
        ),
    )
    .unwrap();
    std::fs::write(dir.join("build.rs"), BUILD_RS).unwrap();
    std::fs::write(dir.join("src/main.rs"), &code).unwrap();

    let cargo =
        std::env::var_os("CARGO").unwrap_or_else(|| option_env!("CARGO").unwrap_or("cargo").into());
    let out = Command::new(cargo)
        .args(["run", "--offline", "--quiet", "--manifest-path"])
        .arg(dir.join("Cargo.toml"))
        .current_dir(&root)
        // Its own target dir: the outer `cargo test` may hold the lock of ours.
        .env("CARGO_TARGET_DIR", dir.join("target"))
        .output()
        .expect("run cargo");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "snippet failed ({}):\n{stdout}\n{stderr}", out.status);
    assert!(stdout.contains("Some(\"safetensors\") Some(\"safetensors.StateDict\")"), "{stdout}");
    assert!(stdout.contains("fc1.bias [8] = ["), "{stdout}");
    assert!(stdout.contains("MILO_ERR_NOT_FOUND (5): no/such/model.safetensors"), "{stdout}");

    // The document it saved is there and is what the snippet built.
    let saved = std::env::temp_dir().join("rust-scorer.milo.yaml");
    let reg = milo::Registry::new().unwrap();
    let doc = reg.load(&saved).expect("the snippet saved its document");
    let root = doc.root().unwrap();
    assert_eq!(root.name().unwrap(), "acme.Scorer");
    let state = root.state().unwrap();
    assert_eq!(state.find("threshold").unwrap().as_float().unwrap(), 0.5);
    assert_eq!(state.find("weights").unwrap().tensor_as::<f32>().unwrap(), &[0.5, -1.0, 2.0]);
    std::fs::remove_dir_all(dir).unwrap();
}
