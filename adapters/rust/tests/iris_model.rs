//! Versions, the registry's listings, and the bundled model read bit-exactly.

mod fixture;

use fixture::{expected, model_path, registry, repo_root, scratch};
use milo::{Dtype, Kind, Registry, SaveOptions, F16};

#[test]
fn versions_match_the_build() {
    let cmake = std::fs::read_to_string(repo_root().join("CMakeLists.txt")).unwrap();
    let at = cmake.find("project(milo VERSION ").expect("project() line")
        + "project(milo VERSION ".len();
    let project_version: String =
        cmake[at..].chars().take_while(|c| c.is_ascii_digit() || *c == '.').collect();
    assert_eq!(milo::version(), project_version);
    assert_eq!(milo::abi_version(), 2);
    assert_eq!(milo::format_version(), 1);
    assert_eq!(milo::sys::MILO_ABI_VERSION, milo::abi_version());
}

#[test]
fn registry_lists_formats_plugins_and_transporters() {
    let mut reg = Registry::new().unwrap();
    let formats: Vec<String> = reg.formats().into_iter().map(|f| f.id).collect();
    assert_eq!(formats, ["json", "yaml", "pb"]);
    let json = reg.formats().into_iter().find(|f| f.id == "json").unwrap();
    assert!(json.text && json.extensions.iter().any(|x| x == ".json"), "{json:?}");
    let pb = reg.formats().into_iter().find(|f| f.id == "pb").unwrap();
    assert!(!pb.text);
    assert!(reg.transporters().is_empty(), "no plugin loaded yet");
    let builtin: Vec<String> = reg.plugins().unwrap().into_iter().map(|p| p.path).collect();
    assert!(builtin.contains(&"(built-in json)".to_string()), "{builtin:?}");

    reg.load_plugins(None).unwrap();
    let st = reg.transporters().into_iter().find(|t| t.id == "safetensors").expect("safetensors");
    assert!(st.extensions.iter().any(|x| x == ".safetensors"), "{st:?}");
    assert!(st.can_decode && st.can_encode);
    assert!(!st.description.is_empty() && !st.version.is_empty());
    let plugin =
        reg.plugins().unwrap().into_iter().find(|p| p.path.ends_with("milo_safetensors.so"));
    assert!(plugin.is_some(), "{:?}", reg.plugins());

    let dir = Registry::default_plugin_dir();
    assert!(dir.ends_with("milo/plugins"), "{dir}");
    if let Some(lib) = std::env::var_os("MILO_LIB_DIR") {
        let lib = std::path::PathBuf::from(lib).canonicalize().unwrap();
        assert_eq!(std::path::Path::new(dir).canonicalize().unwrap(), lib.join("milo/plugins"));
    }
}

#[test]
fn load_plugin_by_path_is_idempotent() {
    let mut reg = Registry::new().unwrap();
    let so = std::path::Path::new(Registry::default_plugin_dir()).join("milo_safetensors.so");
    reg.load_plugin(&so).unwrap();
    reg.load_plugin(&so).unwrap(); // the same file again: a no-op
    let ids: Vec<String> = reg.transporters().into_iter().map(|t| t.id).collect();
    assert_eq!(ids, ["safetensors"]);
    assert_eq!(reg.plugins().unwrap().len(), 4, "3 built-in formats + safetensors");
}

fn dtype_of(name: &str) -> Dtype {
    match name {
        "I64" => Dtype::Int64,
        "F32" => Dtype::Float32,
        "F16" => Dtype::Float16,
        other => panic!("unexpected dtype {other}"),
    }
}

/// Checks header, metadata and every tensor of an iris document against the expected file.
fn check_iris(doc: &milo::Doc) {
    let exp = expected();
    assert_eq!(doc.header("transporter.id").unwrap().as_deref(), Some("safetensors"));
    assert_eq!(doc.header("type").unwrap().as_deref(), Some("safetensors.StateDict"));
    assert_eq!(doc.header("format_version").unwrap().as_deref(), Some("1"));
    assert_eq!(doc.header("source.sha256").unwrap().as_deref(), Some(exp.sha256.as_str()));
    assert_eq!(doc.header("external.file").unwrap(), None);
    assert_eq!(doc.metadata().unwrap(), exp.metadata);
    assert_eq!(doc.metadata_value("model").unwrap().as_deref(), Some("iris-mlp"));

    let root = doc.root().expect("root");
    assert_eq!(root.kind(), Kind::Object);
    assert_eq!(root.name().unwrap(), "safetensors.StateDict");
    assert!(root.args().is_none());
    let state = root.state().expect("state");
    assert_eq!(state.kind(), Kind::Map);
    assert_eq!(state.len(), exp.tensors.len());
    assert_eq!(exp.tensors.len(), 7);
    for (i, (key, t)) in state.pairs().enumerate() {
        let e = &exp.tensors[i];
        assert_eq!(key.as_str().unwrap(), e.name, "map order is file order");
        assert!(t.is_same(state.find(&e.name).unwrap()));
        assert_eq!(t.kind(), Kind::Tensor);
        assert_eq!(t.dtype().unwrap(), dtype_of(&e.dtype), "{}", e.name);
        assert_eq!(t.shape().unwrap(), e.shape.as_slice(), "{}", e.name);
        assert_eq!(t.tensor_bytes().unwrap(), e.bytes.as_slice(), "{} bytes", e.name);
        assert_eq!(t.itemsize() as usize, dtype_of(&e.dtype).itemsize());
        assert_eq!(t.len(), e.shape.iter().product::<i64>() as usize);
    }

    // Typed, zero-copy views, element by element against the expected bit patterns.
    let tensor = |name: &str| state.find(name).unwrap();
    let bytes = |name: &str| exp.tensors.iter().find(|t| t.name == name).unwrap().bytes.clone();
    assert_eq!(tensor("classes").tensor_as::<i64>().unwrap(), &[0, 1, 2]);
    assert_eq!(tensor("num_batches_tracked").tensor_as::<i64>().unwrap(), &[150]);
    assert_eq!(tensor("num_batches_tracked").shape().unwrap(), &[] as &[i64]);
    for name in ["fc1.bias", "fc1.weight", "fc2.bias", "fc2.weight"] {
        let got: Vec<u32> =
            tensor(name).tensor_as::<f32>().unwrap().iter().map(|f| f.to_bits()).collect();
        let want: Vec<u32> =
            bytes(name).chunks(4).map(|c| u32::from_le_bytes(c.try_into().unwrap())).collect();
        assert_eq!(got, want, "{name}");
        assert_eq!(tensor(name).tensor_to_vec::<f32>().unwrap().len(), want.len());
    }
    // Two hard-coded values, independent of the expected file: fc1.bias[0] and [2].
    let fc1_bias = tensor("fc1.bias").tensor_as::<f32>().unwrap();
    assert_eq!(fc1_bias[0].to_bits(), 0xbd3c_0000);
    assert_eq!(fc1_bias[2].to_bits(), 0x3e1e_0000);
    let scale = tensor("input_scale").tensor_as::<F16>().unwrap();
    let want: Vec<F16> =
        bytes("input_scale").chunks(2).map(|c| F16(u16::from_le_bytes([c[0], c[1]]))).collect();
    assert_eq!(scale, want.as_slice());
    assert!(scale.iter().all(|h| h.to_f32() > 0.05 && h.to_f32() < 0.25));
    // Wrong element types are refused with MILO_ERR_TYPE.
    assert_eq!(tensor("classes").tensor_as::<f64>().unwrap_err().status, 11);
    assert_eq!(tensor("input_scale").tensor_as::<u16>().unwrap_err().status, 11);
}

#[test]
fn expected_file_agrees_with_the_raw_safetensors_bytes() {
    let exp = expected();
    let raw = std::fs::read(model_path()).unwrap();
    assert_eq!(raw.len(), exp.size);
    assert_eq!(milo::sha256(&raw), exp.sha256);
    let header_len = u64::from_le_bytes(raw[..8].try_into().unwrap()) as usize;
    assert_eq!(header_len, exp.header_length);
    let data = &raw[8 + header_len..];
    for t in &exp.tensors {
        assert_eq!(&data[t.offsets.0..t.offsets.1], t.bytes.as_slice(), "{}", t.name);
    }
}

#[test]
fn open_reads_every_tensor_bit_exactly() {
    let reg = registry();
    let doc = reg.open(model_path()).unwrap();
    check_iris(&doc);
    assert_eq!(doc.value_count(), 16);
    // The same document from the file's bytes, through the named and the probing transporter.
    let raw = std::fs::read(model_path()).unwrap();
    let named = reg.decode_native(Some("safetensors"), &raw, Some("iris_mlp.safetensors")).unwrap();
    let probed = reg.decode_native(None, &raw, None).unwrap();
    check_iris(&named);
    assert_eq!(named.difference(&doc), None);
    assert!(probed == doc);
}

#[test]
fn documents_keep_their_plugins_loaded_after_the_registry_is_dropped() {
    let reg = registry();
    let doc = reg.open(model_path()).unwrap();
    drop(reg); // the C registry lives on until `doc` is dropped
    check_iris(&doc);
    let other = registry();
    let text = other.encode(&doc, &SaveOptions::format("json")).unwrap();
    let back = other.decode(&text, Some("iris.json"), &Default::default()).unwrap();
    assert!(back == doc);
}

#[test]
fn registry_is_shared_by_threads() {
    let reg = registry();
    let reference = reg.open(model_path()).unwrap();
    let docs: Vec<milo::Doc> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..4).map(|_| s.spawn(|| reg.open(model_path()).unwrap())).collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    for doc in &docs {
        assert_eq!(doc.difference(&reference), None);
    }
    // Documents are Send: read one on another thread.
    let doc = docs.into_iter().next().unwrap();
    let n = std::thread::spawn(move || doc.root().unwrap().state().unwrap().len()).join().unwrap();
    assert_eq!(n, 7);
}

#[test]
fn encode_native_and_convert_round_trip() {
    let reg = registry();
    let dir = scratch("iris-native");
    let doc = reg.open(model_path()).unwrap();

    // document -> native safetensors -> document
    let native = dir.join("copy.safetensors");
    reg.encode_native(None, &doc, &native).unwrap();
    let again = reg.open(&native).unwrap();
    check_iris(&again);
    let raw = std::fs::read(&native).unwrap();
    let data_start = 8 + u64::from_le_bytes(raw[..8].try_into().unwrap()) as usize;
    for t in expected().tensors {
        assert_eq!(&raw[data_start + t.offsets.0..data_start + t.offsets.1], t.bytes.as_slice());
    }

    // convert: native -> yaml document -> native again
    let yaml = dir.join("iris.milo.yaml");
    reg.convert(model_path(), &yaml, &SaveOptions::default()).unwrap();
    let text = std::fs::read_to_string(&yaml).unwrap();
    assert!(text.contains("safetensors.StateDict"), "yaml mentions the type");
    let loaded = reg.load(&yaml).unwrap();
    check_iris(&loaded);
    let native2 = dir.join("from_yaml.safetensors");
    reg.convert(&yaml, &native2, &SaveOptions::default()).unwrap();
    assert!(reg.open(&native2).unwrap() == doc);

    // an output nobody writes
    let err =
        reg.convert(model_path(), dir.join("x.unknown"), &SaveOptions::default()).unwrap_err();
    assert_eq!(err.status, 6);
    std::fs::remove_dir_all(dir).unwrap();
}
