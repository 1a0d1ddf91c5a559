//! Every failing C call becomes a `milo::Error` with the exact status code, its name and the
//! library's message. The codes asserted here are the ones libmilo returns (checked against the
//! C library and `milo validate`).

mod fixture;

use fixture::{model_path, registry, scratch};
use milo::{Doc, Dtype, LoadOptions, Registry, SaveOptions, Status, TensorMode};

fn assert_status<T: std::fmt::Debug>(r: milo::Result<T>, status: Status) -> milo::Error {
    let e = r.expect_err("the call must fail");
    assert_eq!(e.status, status as i32, "{e}");
    assert_eq!(e.name, status.name());
    assert!(e.is(status));
    assert!(!e.message.is_empty(), "a message for {}", e.name);
    e
}

#[test]
fn missing_files_are_not_found() {
    let reg = registry();
    let e = assert_status(reg.open("/nonexistent/model.safetensors"), Status::NotFound);
    assert_eq!(e.name, "MILO_ERR_NOT_FOUND");
    assert!(e.message.contains("/nonexistent/model.safetensors"), "{}", e.message);
    assert_eq!(e.to_string(), format!("MILO_ERR_NOT_FOUND (5): {}", e.message));
    assert_status(reg.load("/nonexistent/doc.json"), Status::NotFound);
    let mut reg = Registry::new().unwrap();
    assert_status(reg.load_plugin("/nonexistent/milo_x.so"), Status::NotFound);
}

#[test]
fn corrupt_input_is_corrupt() {
    let reg = registry();
    let e = assert_status(
        reg.decode(b"{garbage", Some("mem.json"), &LoadOptions::default()),
        Status::Corrupt,
    );
    assert!(e.message.starts_with("mem.json"), "names the input: {}", e.message);
    assert_status(reg.decode(b"{garbage", None, &LoadOptions::format("json")), Status::Corrupt);
    assert_status(reg.decode(b"a: [1, 2", None, &LoadOptions::format("yaml")), Status::Corrupt);
    assert_status(
        reg.decode(b"\xff\xff\xff\xff", None, &LoadOptions::format("pb")),
        Status::Corrupt,
    );
    // A truncated safetensors file, as bytes and as a file.
    let raw = std::fs::read(model_path()).unwrap();
    assert_status(
        reg.decode_native(Some("safetensors"), &raw[..100], Some("cut.safetensors")),
        Status::Corrupt,
    );
    let dir = scratch("corrupt");
    let cut = dir.join("cut.safetensors");
    std::fs::write(&cut, &raw[..raw.len() - 10]).unwrap();
    assert_status(reg.open_with(&cut, &LoadOptions::default()), Status::Corrupt);
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn wrong_kinds_are_type_errors() {
    let doc = Doc::new().unwrap();
    let s = doc.string("text").unwrap();
    let e = assert_status(s.as_int(), Status::Type);
    assert_eq!((e.status, e.name.as_str()), (11, "MILO_ERR_TYPE"));
    assert_status(s.as_float(), Status::Type);
    assert_status(s.as_bool(), Status::Type);
    assert_status(s.as_bytes(), Status::Type);
    assert_status(s.name(), Status::Type);
    assert_status(s.dtype(), Status::Type);
    assert_status(doc.int(1).unwrap().as_str(), Status::Type);
    assert_status(doc.list().unwrap().append_pair(s, s), Status::Type);
    assert_status(s.set_state(None), Status::Type);
    let st = doc.string_tensor(&[1], &["x"]).unwrap();
    assert_status(st.tensor_bytes(), Status::Type);
    assert_status(st.tensor_as::<u8>(), Status::Type);
    let f = doc.tensor_from_slice(&[1], &[1.0f32]).unwrap();
    let e = assert_status(f.tensor_as::<f64>(), Status::Type);
    assert!(e.message.contains("Float32"), "{}", e.message);
    assert_status(f.string_at(0), Status::Type);
    assert_status(f.set_item(0, s), Status::Type);
    assert_status(f.add_field("a", Dtype::Int8, 0, &[]), Status::Type);
    assert_status(doc.int_text("99999999999999999999").unwrap().as_int(), Status::OutOfRange);
}

#[test]
fn bad_arguments_are_invalid() {
    let doc = Doc::new().unwrap();
    assert_status(doc.int_text("012"), Status::InvalidArgument);
    assert_status(doc.int_text("12a"), Status::InvalidArgument);
    assert_status(doc.object(""), Status::InvalidArgument);
    assert_status(doc.object("a\0b"), Status::InvalidArgument); // refused before the C call
    assert_status(doc.tensor(Dtype::Float32, &[-1]), Status::InvalidArgument);
    assert_status(doc.tensor(Dtype::Record, &[1]), Status::InvalidArgument);
    assert_status(doc.set_header("source.sha256", Some("xyz")), Status::InvalidArgument);
    let e = assert_status(doc.header("no.such.key"), Status::NotFound);
    assert!(e.message.contains("no.such.key"));
    // A value of another document cannot be linked.
    let other = Doc::new().unwrap();
    let list = doc.list().unwrap();
    let foreign = other.int(1).unwrap();
    let e = assert_status(list.append(foreign), Status::InvalidArgument);
    assert!(e.message.contains("another document"), "{}", e.message);
    assert_status(doc.set_root(foreign), Status::InvalidArgument);
    assert_status(list.set_at(0, foreign), Status::InvalidArgument);
    let rec = doc.record_tensor(4, &[1]).unwrap();
    rec.add_field("a", Dtype::Int32, 0, &[]).unwrap();
    assert_status(rec.add_field("b", Dtype::Int32, 2, &[]), Status::InvalidArgument); // overlaps
    assert_status(rec.add_field("a", Dtype::Int8, 0, &[]), Status::Duplicate);
}

#[test]
fn registry_failures() {
    let reg = registry();
    let doc = Doc::new().unwrap();
    doc.set_root(doc.int(1).unwrap()).unwrap();
    assert_status(reg.encode(&doc, &SaveOptions::format("nope")), Status::NotFound);
    assert_status(reg.decode(b"{}", None, &LoadOptions::format("nope")), Status::NotFound);
    assert_status(
        reg.encode(&doc, &SaveOptions::default().tensors(TensorMode::External)),
        Status::Unsupported,
    );
    assert_status(reg.save(&doc, "/nonexistent/dir/doc.json", &SaveOptions::default()), Status::Io);
    assert_status(
        reg.encode_native(None, &doc, "/tmp/never-written.safetensors"),
        Status::Unsupported,
    );
    assert_status(reg.decode_native(Some("nope"), b"0123456789ab", None), Status::NotFound);
    assert_status(reg.decode_native(None, b"0123456789ab", Some("x.bin")), Status::Unsupported);

    // Nesting beyond max_depth is a limit error.
    let deep = Doc::new().unwrap();
    let mut cur = deep.list().unwrap();
    deep.set_root(cur).unwrap();
    for _ in 0..20 {
        let next = deep.list().unwrap();
        cur.append(next).unwrap();
        cur = next;
    }
    let bytes = reg.encode(&deep, &SaveOptions::format("json")).unwrap();
    assert!(reg.decode(&bytes, None, &LoadOptions::default()).is_ok());
    let shallow = LoadOptions { max_depth: 5, ..LoadOptions::default() };
    assert_status(reg.decode(&bytes, None, &shallow), Status::Limit);
}

#[test]
fn broken_plugins_are_plugin_errors() {
    let dir = scratch("plugins");
    let fake = dir.join("milo_fake.so");
    std::fs::write(&fake, b"not a shared library").unwrap();
    let mut reg = Registry::new().unwrap();
    let e = assert_status(reg.load_plugin(&fake), Status::Plugin);
    assert!(e.message.contains("milo_fake.so"), "{}", e.message);
    // Loading the folder reports the same failure and registers nothing from it.
    let mut reg = Registry::new().unwrap();
    assert_status(reg.load_plugins(Some(dir.to_str().unwrap())), Status::Plugin);
    assert!(reg.transporters().is_empty());
    // A good folder after a bad one still loads (every plugin is tried).
    let both = format!("{}:{}", dir.display(), Registry::default_plugin_dir());
    let mut reg = Registry::new().unwrap();
    assert_status(reg.load_plugins(Some(&both)), Status::Plugin);
    let ids: Vec<String> = reg.transporters().into_iter().map(|t| t.id).collect();
    assert!(ids.iter().any(|id| id == "safetensors"), "{ids:?}");
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn cli_agrees_on_the_missing_file_status() {
    // `milo validate` maps MILO_ERR_NOT_FOUND to exit code 6 ("file missing"); the library call
    // behind it returns 5, which the adapter reports unchanged.
    let reg = registry();
    let e = reg.open("/nope").unwrap_err();
    assert_eq!((e.status, e.name.as_str()), (5, "MILO_ERR_NOT_FOUND"));
    if let Some(lib) = std::env::var_os("MILO_LIB_DIR") {
        let cli = std::path::Path::new(&lib).join("../bin/milo");
        if cli.exists() {
            let out = std::process::Command::new(cli).args(["validate", "/nope"]).output().unwrap();
            assert_eq!(out.status.code(), Some(6), "{}", String::from_utf8_lossy(&out.stderr));
            assert!(String::from_utf8_lossy(&out.stderr).contains("/nope"));
        }
    }
}
