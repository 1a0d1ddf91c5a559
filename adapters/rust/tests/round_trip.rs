//! A document holding every kind of value, through json, yaml and pb (files and memory, every
//! tensor mode), compared with milo_doc_equal and read back value by value, bit-exactly.

mod fixture;

use fixture::{registry, scratch};
use milo::{Doc, Dtype, Kind, LoadOptions, SaveOptions, TensorMode, Trust, Value, F16};

const NAN_BITS: u64 = 0x7ff8_dead_beef_0001; // a quiet NaN with a payload
const BIG: &str = "-123456789012345678901234567890"; // beyond int64
const TEXT: &str = "héllo, 世界 🚀 with a \0 NUL";
const F16_BITS: [u16; 4] = [0x3c00, 0xc000, 0x7e01, 0x8000]; // 1, -2, NaN payload, -0
const F64_BITS: [u64; 3] = [0x8000_0000_0000_0000, 0x7ff0_0000_0000_0000, 0x0000_0000_0000_0001];

fn builder_err<T>(r: milo::Result<T>) -> T {
    r.unwrap_or_else(|e| panic!("builder failed: {e}"))
}

/// Builds the document: an object with args (a tuple) and a state map covering every kind.
fn build() -> Doc {
    let doc = builder_err(Doc::new());
    doc.set_header("framework.name", Some("rust-test")).unwrap();
    doc.set_header("type", Some("test.Everything")).unwrap();
    doc.set_metadata("purpose", Some("round trip")).unwrap();
    doc.set_metadata("langue", Some("français")).unwrap();
    doc.set_trust("test.Everything", "instantiate", Trust::Trusted).unwrap();
    doc.set_trust("os.system", "call", Trust::Dangerous).unwrap();

    let root = doc.object("test.Everything").unwrap();
    let args = doc.tuple().unwrap();
    args.append(doc.int(1).unwrap()).unwrap();
    args.append(doc.string("two").unwrap()).unwrap();
    root.set_args(Some(args)).unwrap();

    let s = doc.map().unwrap();
    s.put("null", doc.null().unwrap()).unwrap();
    s.put("true", doc.bool(true).unwrap()).unwrap();
    s.put("false", doc.bool(false).unwrap()).unwrap();
    s.put("int", doc.int(i64::MIN).unwrap()).unwrap();
    s.put("int_max", doc.int(i64::MAX).unwrap()).unwrap();
    s.put("big", doc.int_text(BIG).unwrap()).unwrap();
    s.put("neg_zero", doc.float(-0.0).unwrap()).unwrap();
    s.put("nan", doc.float(f64::from_bits(NAN_BITS)).unwrap()).unwrap();
    s.put("pi", doc.float(std::f64::consts::PI).unwrap()).unwrap();
    s.put("tiny", doc.float(f64::from_bits(1)).unwrap()).unwrap();
    s.put("text", doc.string(TEXT).unwrap()).unwrap();
    s.put("bytes", doc.bytes(&[0, 1, 2, 0xfe, 0xff]).unwrap()).unwrap();

    let list = doc.list().unwrap();
    list.append(doc.int(3).unwrap()).unwrap();
    list.append(doc.null().unwrap()).unwrap();
    s.put("list", list).unwrap();
    let set = doc.set().unwrap();
    for x in ["b", "a", "c"] {
        set.append(doc.string(x).unwrap()).unwrap();
    }
    s.put("set", set).unwrap();

    // A map with non-string keys: int, tuple, bool, null, float.
    let m = doc.map().unwrap();
    m.append_pair(doc.int(7).unwrap(), doc.string("seven").unwrap()).unwrap();
    let k = doc.tuple().unwrap();
    k.append(doc.int(1).unwrap()).unwrap();
    k.append(doc.int(2).unwrap()).unwrap();
    m.append_pair(k, doc.bool(true).unwrap()).unwrap();
    m.append_pair(doc.bool(false).unwrap(), doc.int(0).unwrap()).unwrap();
    m.append_pair(doc.null().unwrap(), doc.float(1.5).unwrap()).unwrap();
    m.append_pair(doc.float(-2.25).unwrap(), doc.list().unwrap()).unwrap();
    s.put("odd_keys", m).unwrap();

    // Tensors of several dtypes.
    s.put(
        "f32",
        doc.tensor_from_slice(
            &[2, 3],
            &[1.0f32, -0.0, 0.5, f32::from_bits(0x7fc0_0001), 1e-40, -3.0],
        )
        .unwrap(),
    )
    .unwrap();
    s.put("f64", doc.tensor_from_slice(&[3], &F64_BITS.map(f64::from_bits)).unwrap()).unwrap();
    s.put("f16", doc.tensor_from_slice(&[4], &F16_BITS.map(F16)).unwrap()).unwrap();
    s.put("i8", doc.tensor_from_slice(&[2], &[i8::MIN, i8::MAX]).unwrap()).unwrap();
    s.put("u16", doc.tensor_from_slice(&[2], &[0u16, u16::MAX]).unwrap()).unwrap();
    s.put("i32", doc.tensor_from_slice(&[1, 2], &[i32::MIN, 42]).unwrap()).unwrap();
    s.put("u64", doc.tensor_from_slice(&[2], &[u64::MAX, 1]).unwrap()).unwrap();
    s.put("bool", doc.tensor_from_slice(&[3], &[true, false, true]).unwrap()).unwrap();
    s.put("empty", doc.tensor_from_slice::<f32>(&[0, 4], &[]).unwrap()).unwrap();
    s.put("scalar", doc.tensor_from_vec(&[], vec![-7i64]).unwrap()).unwrap();
    s.put("strings", doc.string_tensor(&[2, 2], &["a", "", "ünï", "d\0e"]).unwrap()).unwrap();
    let objs = doc.object_tensor(&[2]).unwrap();
    objs.set_item(1, doc.global("builtins.len").unwrap()).unwrap();
    s.put("objects", objs).unwrap();
    let rec = doc.record_tensor(12, &[2]).unwrap();
    rec.add_field("id", Dtype::Int32, 0, &[]).unwrap();
    rec.add_field("xy", Dtype::Float32, 4, &[2]).unwrap();
    s.put("records", rec).unwrap();

    s.put("global", doc.global("numpy.float32").unwrap()).unwrap();
    let inner = doc.object("test.Inner").unwrap();
    inner.set_state(Some(doc.int(5).unwrap())).unwrap();
    s.put("inner", inner).unwrap();

    // A shared value placed twice, and a list that contains itself.
    let shared = doc.list().unwrap();
    shared.append(doc.string("shared").unwrap()).unwrap();
    s.put("shared_a", shared).unwrap();
    s.put("shared_b", shared).unwrap();
    let cycle = doc.list().unwrap();
    cycle.append(doc.int(1).unwrap()).unwrap();
    cycle.append(cycle).unwrap();
    s.put("cycle", cycle).unwrap();

    root.set_state(Some(s)).unwrap();
    doc.set_root(root).unwrap();
    doc
}

/// Writes record data after creation, through `&mut Doc`.
fn fill_records(doc: &mut Doc) {
    let id = doc.root().unwrap().state().unwrap().find("records").unwrap().id();
    let data = doc.tensor_bytes_mut(id).unwrap();
    assert_eq!(data.len(), 24);
    data[..4].copy_from_slice(&7i32.to_le_bytes());
    data[4..8].copy_from_slice(&1.5f32.to_le_bytes());
    data[8..12].copy_from_slice(&(-2.5f32).to_le_bytes());
    data[12..16].copy_from_slice(&(-1i32).to_le_bytes());
}

fn bits32(v: Value<'_>, mapped: bool) -> Vec<u32> {
    elems::<f32>(v, mapped).iter().map(|x| x.to_bits()).collect()
}

/// The elements of a tensor, by copy and (unless the data is mapped from an external file, where
/// it may be unaligned) by zero-copy view; both must agree.
fn elems<T: milo::Element + PartialEq + std::fmt::Debug>(v: Value<'_>, mapped: bool) -> Vec<T> {
    let copy = v.tensor_to_vec::<T>().unwrap();
    let raw = v.tensor_bytes().unwrap();
    // SAFETY: `copy` holds plain numeric elements; viewing their bytes is always valid.
    let copy_bytes = unsafe {
        std::slice::from_raw_parts(
            copy.as_ptr().cast::<u8>(),
            std::mem::size_of_val(copy.as_slice()),
        )
    };
    assert_eq!(copy_bytes, raw, "the copy holds the tensor's bytes");
    match v.tensor_as::<T>() {
        Ok(view) => {
            assert_eq!(view.len(), copy.len());
            if !raw.is_empty() {
                assert_eq!(view.as_ptr().cast::<u8>(), raw.as_ptr(), "zero-copy view");
            }
        }
        Err(e) => assert!(mapped && e.status == 6, "{e}"),
    }
    copy
}

/// Reads every value back and checks it exactly.
fn check(doc: &Doc, mapped: bool) {
    assert_eq!(doc.header("framework.name").unwrap().as_deref(), Some("rust-test"));
    assert_eq!(doc.header("type").unwrap().as_deref(), Some("test.Everything"));
    assert_eq!(doc.header("producer.name").unwrap().as_deref(), Some("milo"));
    assert_eq!(doc.header("producer.version").unwrap().as_deref(), Some(milo::version()));
    assert_eq!(
        doc.metadata().unwrap(),
        [("purpose".into(), "round trip".into()), ("langue".into(), "français".into())]
    );
    let trust = doc.trust().unwrap();
    assert_eq!(trust.len(), 2);
    assert_eq!(
        (trust[1].name.as_str(), trust[1].usage.as_str(), trust[1].level),
        ("os.system", "call", Trust::Dangerous)
    );

    let root = doc.root().unwrap();
    assert_eq!(root.name().unwrap(), "test.Everything");
    let args = root.args().unwrap();
    assert_eq!(args.kind(), Kind::Tuple);
    assert_eq!(args.at(0).unwrap().as_int().unwrap(), 1);
    assert_eq!(args.at(1).unwrap().as_str().unwrap(), "two");
    assert!(args.at(2).is_none());

    let s = root.state().unwrap();
    let get = |k: &str| s.find(k).unwrap_or_else(|| panic!("missing {k}"));
    assert!(get("null").is_null());
    assert!(get("true").as_bool().unwrap());
    assert!(!get("false").as_bool().unwrap());
    assert_eq!(get("int").as_int().unwrap(), i64::MIN);
    assert_eq!(get("int").as_int_text().unwrap(), i64::MIN.to_string());
    assert_eq!(get("int_max").as_int().unwrap(), i64::MAX);
    assert_eq!(get("big").kind(), Kind::Int);
    assert_eq!(get("big").as_int_text().unwrap(), BIG);
    assert_eq!(get("big").as_int().unwrap_err().status, 14, "MILO_ERR_OUT_OF_RANGE");
    assert_eq!(get("neg_zero").as_float().unwrap().to_bits(), 0x8000_0000_0000_0000);
    assert_eq!(get("nan").as_float().unwrap().to_bits(), NAN_BITS);
    assert_eq!(get("pi").as_float().unwrap().to_bits(), std::f64::consts::PI.to_bits());
    assert_eq!(get("tiny").as_float().unwrap().to_bits(), 1);
    assert_eq!(get("text").as_str().unwrap(), TEXT);
    assert_eq!(get("bytes").as_bytes().unwrap(), &[0, 1, 2, 0xfe, 0xff]);

    let list = get("list");
    assert_eq!((list.kind(), list.len()), (Kind::List, 2));
    assert_eq!(list.at(0).unwrap().as_int().unwrap(), 3);
    assert!(list.at(1).unwrap().is_null());
    let set = get("set");
    assert_eq!(set.kind(), Kind::Set);
    let items: Vec<&str> = set.iter().map(|v| v.as_str().unwrap()).collect();
    assert_eq!(items, ["b", "a", "c"], "sets keep insertion order");

    let m = get("odd_keys");
    assert_eq!(m.len(), 5);
    let keys: Vec<Kind> = m.pairs().map(|(k, _)| k.kind()).collect();
    assert_eq!(keys, [Kind::Int, Kind::Tuple, Kind::Bool, Kind::Null, Kind::Float]);
    assert_eq!(m.key_at(0).unwrap().as_int().unwrap(), 7);
    assert_eq!(m.at(0).unwrap().as_str().unwrap(), "seven");
    let tk = m.key_at(1).unwrap();
    assert_eq!((tk.at(0).unwrap().as_int().unwrap(), tk.at(1).unwrap().as_int().unwrap()), (1, 2));
    assert_eq!(m.key_at(4).unwrap().as_float().unwrap(), -2.25);
    assert_eq!(m.at(4).unwrap().kind(), Kind::List);
    assert!(m.find("seven").is_none(), "find matches string keys only");

    let f32t = get("f32");
    assert_eq!((f32t.dtype().unwrap(), f32t.shape().unwrap()), (Dtype::Float32, &[2i64, 3][..]));
    assert_eq!(
        bits32(f32t, mapped),
        [0x3f80_0000, 0x8000_0000, 0x3f00_0000, 0x7fc0_0001, 1e-40f32.to_bits(), 0xc040_0000]
    );
    let f64t: Vec<u64> = elems::<f64>(get("f64"), mapped).iter().map(|x| x.to_bits()).collect();
    assert_eq!(f64t, F64_BITS);
    assert_eq!(elems::<F16>(get("f16"), mapped), &F16_BITS.map(F16));
    assert_eq!(
        get("f16").tensor_bytes().unwrap(),
        &[0x00, 0x3c, 0x00, 0xc0, 0x01, 0x7e, 0x00, 0x80]
    );
    assert_eq!(elems::<i8>(get("i8"), mapped), &[i8::MIN, i8::MAX]);
    assert_eq!(elems::<u16>(get("u16"), mapped), &[0, u16::MAX]);
    assert_eq!(elems::<i32>(get("i32"), mapped), &[i32::MIN, 42]);
    assert_eq!(get("i32").shape().unwrap(), &[1, 2]);
    assert_eq!(elems::<u64>(get("u64"), mapped), &[u64::MAX, 1]);
    assert_eq!(elems::<bool>(get("bool"), mapped), &[true, false, true]);
    assert_eq!(get("bool").dtype().unwrap(), Dtype::Bool);
    let empty = get("empty");
    assert_eq!((empty.shape().unwrap(), empty.len()), (&[0i64, 4][..], 0));
    assert_eq!(elems::<f32>(empty, mapped), &[] as &[f32]);
    assert_eq!(elems::<i64>(get("scalar"), mapped), &[-7]);
    assert!(get("scalar").shape().unwrap().is_empty());

    let strings = get("strings");
    assert_eq!(strings.dtype().unwrap(), Dtype::String);
    assert_eq!(strings.strings().unwrap(), ["a", "", "ünï", "d\0e"]);
    assert_eq!(strings.string_at(2).unwrap(), "ünï");
    assert_eq!(strings.itemsize(), 0);
    let objs = get("objects");
    assert_eq!(objs.dtype().unwrap(), Dtype::Object);
    assert!(objs.item_at(0).unwrap().is_null());
    assert_eq!(objs.item_at(1).unwrap().kind(), Kind::Global);
    assert_eq!(objs.item_at(1).unwrap().name().unwrap(), "builtins.len");
    assert!(objs.item_at(2).is_none());

    let rec = get("records");
    assert_eq!((rec.dtype().unwrap(), rec.itemsize()), (Dtype::Record, 12));
    let fields = rec.fields().unwrap();
    assert_eq!(fields.len(), 2);
    assert_eq!(
        (fields[0].name.as_str(), fields[0].dtype, fields[0].offset),
        ("id", Dtype::Int32, 0)
    );
    assert_eq!(
        (fields[1].name.as_str(), fields[1].dtype, fields[1].offset, fields[1].shape.as_slice()),
        ("xy", Dtype::Float32, 4, &[2i64][..])
    );
    let rb = rec.tensor_bytes().unwrap();
    assert_eq!(&rb[..4], &7i32.to_le_bytes());
    assert_eq!(&rb[8..12], &(-2.5f32).to_le_bytes());
    assert_eq!(&rb[12..16], &(-1i32).to_le_bytes());

    assert_eq!(get("global").kind(), Kind::Global);
    assert_eq!(get("global").name().unwrap(), "numpy.float32");
    let inner = get("inner");
    assert_eq!(inner.name().unwrap(), "test.Inner");
    assert_eq!(inner.state().unwrap().as_int().unwrap(), 5);
    assert!(inner.args().is_none());

    assert!(get("shared_a").is_same(get("shared_b")), "sharing is kept");
    assert_eq!(get("shared_a").at(0).unwrap().as_str().unwrap(), "shared");
    let cycle = get("cycle");
    assert!(cycle.at(1).unwrap().is_same(cycle), "the cycle is kept");
}

fn formats() -> [&'static str; 3] {
    ["json", "yaml", "pb"]
}

#[test]
fn built_document_reads_back() {
    let mut doc = build();
    fill_records(&mut doc);
    check(&doc, false);
    assert!(doc == doc);
    assert_eq!(doc.value_count(), doc.value_count());
}

#[test]
fn files_in_every_format_and_tensor_mode() {
    let reg = registry();
    let mut doc = build();
    fill_records(&mut doc);
    let dir = scratch("round-trip");
    for fmt in formats() {
        for mode in [TensorMode::Auto, TensorMode::Readable, TensorMode::Compact] {
            let path = dir.join(format!("every-{mode:?}.{fmt}"));
            let options = SaveOptions { indent: Some(1), ..SaveOptions::format(fmt).tensors(mode) };
            reg.save(&doc, &path, &options).unwrap_or_else(|e| panic!("{fmt} {mode:?}: {e}"));
            let back = reg.load(&path).unwrap_or_else(|e| panic!("{fmt} {mode:?}: {e}"));
            assert_eq!(back.difference(&doc), None, "{fmt} {mode:?}");
            assert!(back == doc);
            check(&back, false);
            // The format is detected by content, and also found when named.
            let named = reg.load_with(&path, &LoadOptions::format(fmt)).unwrap();
            assert!(named == doc);
        }
    }
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn memory_in_every_format() {
    let reg = registry();
    let mut doc = build();
    fill_records(&mut doc);
    for fmt in formats() {
        let bytes = reg.encode(&doc, &SaveOptions::format(fmt)).unwrap();
        assert!(!bytes.is_empty());
        let back = reg.decode(&bytes, Some(fmt), &LoadOptions::default()).unwrap();
        assert_eq!(back.difference(&doc), None, "{fmt}");
        check(&back, false);
        // Encoding is deterministic: the decoded document encodes to the same bytes.
        assert_eq!(reg.encode(&back, &SaveOptions::format(fmt)).unwrap(), bytes, "{fmt}");
    }
    let text = String::from_utf8(reg.encode(&doc, &SaveOptions::format("json")).unwrap()).unwrap();
    assert!(text.contains("test.Everything") && text.contains(BIG));
    let one_line = SaveOptions { indent: Some(0), ..SaveOptions::format("json") };
    let compact = reg.encode(&doc, &one_line).unwrap();
    assert!(compact.len() < text.len());
    assert!(!compact.contains(&b'\n') || compact.iter().filter(|&&b| b == b'\n').count() <= 1);
}

#[test]
fn external_tensors_go_to_a_verified_sidecar() {
    let reg = registry();
    let mut doc = build();
    fill_records(&mut doc);
    let dir = scratch("external");
    let path = dir.join("model.milo.json");
    let options = SaveOptions::format("json").tensors(TensorMode::External);
    reg.save(&doc, &path, &options).unwrap();
    let sidecar = dir.join("model.milo.safetensors");
    assert!(sidecar.exists(), "sidecar written beside the document");
    let side = std::fs::read(&sidecar).unwrap();

    let back = reg.load(&path).unwrap();
    assert_eq!(back.header("external.file").unwrap().as_deref(), Some("model.milo.safetensors"));
    assert_eq!(
        back.header("external.sha256").unwrap().as_deref(),
        Some(milo::sha256(&side).as_str())
    );
    assert_eq!(back.difference(&doc), None);
    check(&back, true);
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(!text.contains("AACAPwAAAIA"), "no inline base64 of the f32 tensor");

    // Mapped tensors can be written: the document copies them first; the file stays intact.
    let mut back = back;
    let id = back.root().unwrap().state().unwrap().find("f32").unwrap().id();
    back.tensor_data_mut::<f32>(id).unwrap()[0] = 9.0;
    assert_eq!(back.value(id).unwrap().tensor_as::<f32>().unwrap()[0], 9.0);
    assert_eq!(std::fs::read(&sidecar).unwrap(), side);
    assert!(back != doc);
    drop(back);

    // Encoding to memory cannot write a sidecar; decoding from memory cannot read one.
    assert_eq!(reg.encode(&doc, &options).unwrap_err().status, 6);
    let err = reg
        .decode(&std::fs::read(&path).unwrap(), Some("model.milo.json"), &LoadOptions::default())
        .unwrap_err();
    assert_eq!((err.status, err.name.as_str()), (6, "MILO_ERR_UNSUPPORTED"));

    // A changed sidecar fails its sha256 check, unless verification is off.
    let mut bad = side.clone();
    let last = bad.len() - 1;
    bad[last] ^= 0x01;
    std::fs::write(&sidecar, &bad).unwrap();
    let err = reg.load(&path).unwrap_err();
    assert_eq!((err.status, err.name.as_str()), (12, "MILO_ERR_INTEGRITY"));
    let unverified =
        reg.load_with(&path, &LoadOptions { verify: false, ..LoadOptions::default() }).unwrap();
    assert!(unverified.difference(&doc).is_some(), "a changed tensor byte is a difference");
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn differences_name_the_place() {
    let a = build();
    let b = build();
    assert!(a == b);
    let s = b.root().unwrap().state().unwrap();
    let i = s.pairs().position(|(k, _)| k.as_str().unwrap() == "pi").unwrap();
    s.set_at(i, b.float(3.0).unwrap()).unwrap();
    let d = a.difference(&b).expect("a difference");
    assert!(d.contains("/root/state"), "{d}");
    assert!(a != b);
    // A header difference, too.
    let c = build();
    c.set_header("framework.name", None).unwrap();
    assert!(a != c);
}

#[test]
fn writes_through_mut_doc_and_ids() {
    let mut doc = Doc::new().unwrap();
    let t = doc.tensor(Dtype::Float32, &[3]).unwrap();
    assert_eq!(t.tensor_as::<f32>().unwrap(), &[0.0, 0.0, 0.0], "zero-filled");
    let id = t.id();
    doc.set_root(t).unwrap();
    doc.tensor_data_mut::<f32>(id).unwrap().copy_from_slice(&[0.5, -1.0, 2.0]);
    assert_eq!(doc.root().unwrap().tensor_as::<f32>().unwrap(), &[0.5, -1.0, 2.0]);
    assert_eq!(doc.tensor_data_mut::<i32>(id).unwrap_err().status, 11);

    let st = doc.string_tensor(&[2], &["x", "y"]).unwrap().id();
    doc.set_tensor_string(st, 1, "zz").unwrap();
    assert_eq!(doc.value(st).unwrap().strings().unwrap(), ["x", "zz"]);
    assert_eq!(doc.set_tensor_string(st, 2, "no").unwrap_err().status, 14);
    assert_eq!(doc.set_tensor_string(id, 0, "no").unwrap_err().status, 11);

    // Ids are checked against their document.
    let other = Doc::new().unwrap();
    let foreign = other.int(1).unwrap().id();
    assert_eq!(doc.value(foreign).unwrap_err().status, 1);
    assert_eq!(doc.tensor_bytes_mut(foreign).unwrap_err().status, 1);

    // A bool tensor whose bytes are not 0/1 cannot be viewed as bool.
    let b = doc.tensor(Dtype::Bool, &[2]).unwrap().id();
    doc.tensor_bytes_mut(b).unwrap()[1] = 2;
    let bv = doc.value(b).unwrap();
    assert_eq!(bv.tensor_as::<bool>().unwrap_err().status, 3);
    assert_eq!(bv.tensor_to_vec::<bool>().unwrap_err().status, 3);
    assert_eq!(doc.tensor_data_mut::<bool>(b).unwrap_err().status, 3);
}

#[test]
fn value_views_outlive_the_values_that_made_them() {
    // Views borrow the document, not the Value handle they came from.
    let doc = Doc::new().unwrap();
    let (text, data) = {
        let s = doc.string("kept").unwrap();
        let t = doc.tensor_from_slice(&[2], &[1u32, 2]).unwrap();
        (s.as_str().unwrap(), t.tensor_as::<u32>().unwrap())
    };
    // More values may be created while views exist: nothing moves.
    for i in 0..10_000 {
        doc.int(i).unwrap();
    }
    assert_eq!((text, data), ("kept", &[1u32, 2][..]));
}

#[test]
fn containers_and_edits() {
    let doc = Doc::new().unwrap();
    let l = doc.list().unwrap();
    assert!(l.is_empty());
    for i in 0..3 {
        l.append(doc.int(i).unwrap()).unwrap();
    }
    l.set_at(1, doc.string("one").unwrap()).unwrap();
    let kinds: Vec<Kind> = l.iter().map(|v| v.kind()).collect();
    assert_eq!(kinds, [Kind::Int, Kind::String, Kind::Int]);
    assert_eq!(l.into_iter().count(), 3);
    assert!(l.key_at(0).is_none(), "lists have no keys");
    assert_eq!(l.pairs().count(), 0);
    assert_eq!(l.set_at(3, doc.null().unwrap()).unwrap_err().status, 14);
    let o = doc.object("a.B").unwrap();
    o.set_state(Some(l)).unwrap();
    assert!(o.state().unwrap().is_same(l));
    o.set_state(None).unwrap();
    assert!(o.state().is_none());
    doc.set_root(o).unwrap();
    assert_eq!(doc.value_count(), 1);
    doc.clear_root().unwrap();
    assert!(doc.root().is_none());
    assert_eq!(format!("{:?}", doc.int(5).unwrap()), "Int(5)");
    assert_eq!(format!("{:?}", doc.object("a.B").unwrap()), "Object(Some(\"a.B\"))");
}
