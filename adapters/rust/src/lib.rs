//! Safe Rust bindings to **Milo**, over its stable C ABI (`libmilo`, `sdk/include/milo/*.h`).
//!
//! A [`Registry`] holds the document formats (`json`, `yaml`, `pb`, built in) and the plugins
//! (transporters such as `safetensors`); it opens native model files and loads, saves, encodes
//! and decodes [`Doc`]uments. A document is a header plus a tree of [`Value`]s that the document
//! owns; a `Value<'doc>` is a `Copy` handle that borrows its document.
//!
//! ```no_run
//! use milo::{Registry, SaveOptions};
//!
//! fn main() -> milo::Result<()> {
//!     let mut reg = Registry::new()?;
//!     reg.load_plugins(None)?;
//!     let doc = reg.open("model.safetensors")?;
//!     let state = doc.root().and_then(|root| root.state()).expect("a state dict");
//!     let bias: &[f32] = state.find("fc1.bias").expect("fc1.bias").tensor_as::<f32>()?;
//!     println!("{bias:?}");
//!     reg.save(&doc, "model.milo.json", &SaveOptions::default())?;
//!     Ok(())
//! }
//! ```
//!
//! # Soundness: who may mutate what
//!
//! The C document is edited through handles, so the builders ([`Doc::int`], [`Doc::map`], …) and
//! the linking calls ([`Value::append`], [`Value::set_state`], [`Doc::set_root`], …) take `&Doc`
//! / a `Value`: they only add values or re-point links, and libmilo never frees or moves a value,
//! a string, a shape or tensor data because of them. `Doc` is therefore `Send` but not `Sync`
//! (the C contract allows any write only with exclusive access).
//!
//! The only C calls that invalidate memory this crate lends out are writing tensor data
//! (`milo_value_tensor_mutable_data`, which may also copy borrowed data) and replacing a string
//! tensor element. Both are methods taking `&mut Doc` ([`Doc::tensor_data_mut`],
//! [`Doc::tensor_bytes_mut`], [`Doc::set_tensor_string`]); they name the tensor by a
//! lifetime-free [`ValueId`]. While any `Value<'doc>`, `&'doc [T]` or `&'doc str` of the
//! document exists, the borrow checker rejects them. Header, metadata and trust strings (which
//! the C library may free when they change) are returned as owned `String`s.
//!
//! A value cannot outlive its document (error E0597, "`doc` does not live long enough"):
//!
//! ```compile_fail,E0597
//! let value;
//! {
//!     let doc = milo::Doc::new().unwrap();
//!     value = doc.int(7).unwrap();
//! } // `doc` is dropped (milo_doc_destroy) here, so `value` would dangle: rejected.
//! println!("{}", value.as_int().unwrap());
//! ```
//!
//! Tensor slices cannot be held across a write to the same document (error E0502, "cannot
//! borrow `doc` as mutable because it is also borrowed as immutable"):
//!
//! ```compile_fail,E0502
//! let mut doc = milo::Doc::new().unwrap();
//! let t = doc.tensor_from_slice(&[2], &[1.0f32, 2.0]).unwrap();
//! let id = t.id();
//! let view: &[f32] = t.tensor_as::<f32>().unwrap();
//! doc.tensor_data_mut::<f32>(id).unwrap()[0] = 5.0; // needs `&mut doc` while `view` borrows it
//! println!("{}", view[0]);
//! ```
//!
//! Documents made by a registry (open, load, decode, decode_native) keep that registry's
//! plugins loaded until they are dropped (ABI rule 3.8: a plugin's release callbacks must
//! outlive the documents that hold its tensors).

#![deny(unsafe_op_in_unsafe_fn)]
#![warn(missing_docs)]

#[cfg(target_endian = "big")]
compile_error!(
    "the milo crate reads little-endian tensor data in place: little-endian targets only"
);

pub mod sys;

mod doc_handle;
mod registry_handle;
mod tensor_element;
mod value_handle;

pub use doc_handle::{Doc, TrustEntry};
pub use registry_handle::{
    FormatInfo, LoadOptions, PluginInfo, Registry, SaveOptions, TensorMode, TransporterInfo,
};
pub use tensor_element::{Bf16, Element, F16};
pub use value_handle::{Field, Items, Pairs, Value, ValueId};

use std::ffi::{c_char, CStr, CString};
use std::fmt;
use std::path::Path;

/// The result of every fallible call.
pub type Result<T> = std::result::Result<T, Error>;

/// A failed Milo call: the C status code, its symbolic name and the library's message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Error {
    /// The `milo_status` code (see [`Status`]), e.g. 5 for `MILO_ERR_NOT_FOUND`.
    pub status: i32,
    /// The symbolic name from `milo_status_name`, e.g. `"MILO_ERR_NOT_FOUND"`.
    pub name: String,
    /// The message: names the input, the place in it and what was expected.
    pub message: String,
}

impl Error {
    /// An error with `status` and `message`; the name comes from `milo_status_name`.
    pub fn new(status: i32, message: impl Into<String>) -> Error {
        Error { status, name: status_name(status).to_string(), message: message.into() }
    }

    /// True when this error has status `status`.
    pub fn is(&self, status: Status) -> bool {
        self.status == status as i32
    }

    /// The status as a [`Status`], or `None` for a code this crate does not know.
    pub fn kind(&self) -> Option<Status> {
        Status::from_code(self.status)
    }

    /// Reads a failed call's status and error buffer.
    pub(crate) fn from_c(status: i32, err: &sys::milo_error) -> Error {
        // The buffer is NUL-terminated by contract; stop at the array end regardless.
        let bytes: Vec<u8> =
            err.message.iter().take_while(|&&c| c != 0).map(|&c| c as u8).collect();
        Error::new(status, String::from_utf8_lossy(&bytes).into_owned())
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({}): {}", self.name, self.status, self.message)
    }
}

impl std::error::Error for Error {}

/// The Milo status codes (error.h); values are fixed forever.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(i32)]
#[allow(missing_docs)]
pub enum Status {
    Ok = 0,
    InvalidArgument = 1,
    OutOfMemory = 2,
    Corrupt = 3,
    Limit = 4,
    NotFound = 5,
    Unsupported = 6,
    Io = 7,
    Abi = 8,
    Plugin = 9,
    Duplicate = 10,
    Type = 11,
    Integrity = 12,
    Dangerous = 13,
    OutOfRange = 14,
    Internal = 15,
}

impl Status {
    /// Every status, in code order.
    pub const ALL: [Status; 16] = [
        Status::Ok,
        Status::InvalidArgument,
        Status::OutOfMemory,
        Status::Corrupt,
        Status::Limit,
        Status::NotFound,
        Status::Unsupported,
        Status::Io,
        Status::Abi,
        Status::Plugin,
        Status::Duplicate,
        Status::Type,
        Status::Integrity,
        Status::Dangerous,
        Status::OutOfRange,
        Status::Internal,
    ];

    /// The status with code `code`, or `None`.
    pub fn from_code(code: i32) -> Option<Status> {
        usize::try_from(code).ok().and_then(|i| Status::ALL.get(i)).copied()
    }

    /// The integer code.
    pub fn code(self) -> i32 {
        self as i32
    }

    /// The symbolic name (`"MILO_ERR_CORRUPT"`), from the library.
    pub fn name(self) -> &'static str {
        status_name(self as i32)
    }
}

/// The symbolic name of any status code (`"MILO_ERR_UNKNOWN"` for unknown ones).
pub fn status_name(status: i32) -> &'static str {
    // SAFETY: milo_status_name returns static storage, never NULL.
    unsafe { static_str(sys::milo_status_name(status)) }
}

/// The kind of a [`Value`] (`MILO_KIND_*`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[allow(missing_docs)]
pub enum Kind {
    Null,
    Bool,
    /// Signed 64-bit, or a larger integer kept exactly as decimal text.
    Int,
    /// IEEE-754 double, bit-exact.
    Float,
    String,
    Bytes,
    List,
    Tuple,
    /// Ordered as inserted.
    Set,
    /// Ordered (key, value) pairs; keys of any kind.
    Map,
    Tensor,
    /// A typed node: type name, optional args, optional state.
    Object,
    /// A reference to a named type or function; never resolved.
    Global,
    /// A kind newer than this crate (its `MILO_KIND_*` code).
    Other(i32),
}

impl Kind {
    /// The kind for a `MILO_KIND_*` code.
    pub fn from_code(code: i32) -> Kind {
        match code {
            0 => Kind::Null,
            1 => Kind::Bool,
            2 => Kind::Int,
            3 => Kind::Float,
            4 => Kind::String,
            5 => Kind::Bytes,
            6 => Kind::List,
            7 => Kind::Tuple,
            8 => Kind::Set,
            9 => Kind::Map,
            10 => Kind::Tensor,
            11 => Kind::Object,
            12 => Kind::Global,
            other => Kind::Other(other),
        }
    }

    /// The `MILO_KIND_*` code.
    pub fn code(self) -> i32 {
        match self {
            Kind::Null => 0,
            Kind::Bool => 1,
            Kind::Int => 2,
            Kind::Float => 3,
            Kind::String => 4,
            Kind::Bytes => 5,
            Kind::List => 6,
            Kind::Tuple => 7,
            Kind::Set => 8,
            Kind::Map => 9,
            Kind::Tensor => 10,
            Kind::Object => 11,
            Kind::Global => 12,
            Kind::Other(code) => code,
        }
    }
}

/// Tensor element types (`MILO_DTYPE_*`, fixed forever).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(i32)]
#[allow(missing_docs)]
pub enum Dtype {
    Bool = 1,
    Int8 = 2,
    Int16 = 3,
    Int32 = 4,
    Int64 = 5,
    Uint8 = 6,
    Uint16 = 7,
    Uint32 = 8,
    Uint64 = 9,
    Float16 = 10,
    Bfloat16 = 11,
    Float32 = 12,
    Float64 = 13,
    Complex64 = 14,
    Complex128 = 15,
    /// Named, typed fields at byte offsets within an item.
    Record = 16,
    /// Every element is a [`Value`].
    Object = 17,
    /// Every element is a UTF-8 string.
    String = 18,
}

impl Dtype {
    const ALL: [Dtype; 18] = [
        Dtype::Bool,
        Dtype::Int8,
        Dtype::Int16,
        Dtype::Int32,
        Dtype::Int64,
        Dtype::Uint8,
        Dtype::Uint16,
        Dtype::Uint32,
        Dtype::Uint64,
        Dtype::Float16,
        Dtype::Bfloat16,
        Dtype::Float32,
        Dtype::Float64,
        Dtype::Complex64,
        Dtype::Complex128,
        Dtype::Record,
        Dtype::Object,
        Dtype::String,
    ];

    /// The dtype with `MILO_DTYPE_*` code `code`, or `None`.
    pub fn from_code(code: i32) -> Option<Dtype> {
        usize::try_from(code - 1).ok().and_then(|i| Dtype::ALL.get(i)).copied()
    }

    /// The `MILO_DTYPE_*` code.
    pub fn code(self) -> i32 {
        self as i32
    }

    /// Bytes per element of a numeric dtype; 0 for record, object and string.
    pub fn itemsize(self) -> usize {
        match self {
            Dtype::Bool | Dtype::Int8 | Dtype::Uint8 => 1,
            Dtype::Int16 | Dtype::Uint16 | Dtype::Float16 | Dtype::Bfloat16 => 2,
            Dtype::Int32 | Dtype::Uint32 | Dtype::Float32 => 4,
            Dtype::Int64 | Dtype::Uint64 | Dtype::Float64 | Dtype::Complex64 => 8,
            Dtype::Complex128 => 16,
            Dtype::Record | Dtype::Object | Dtype::String => 0,
        }
    }
}

/// Trust levels of a document's trust entries (`MILO_TRUST_*`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(i32)]
#[allow(missing_docs)]
pub enum Trust {
    Trusted = 0,
    Untrusted = 1,
    Dangerous = 2,
}

impl Trust {
    /// The level with code `code`, or `None`.
    pub fn from_code(code: i32) -> Option<Trust> {
        match code {
            0 => Some(Trust::Trusted),
            1 => Some(Trust::Untrusted),
            2 => Some(Trust::Dangerous),
            _ => None,
        }
    }
}

/// The library version, `"MAJOR.MINOR.PATCH"`.
pub fn version() -> &'static str {
    // SAFETY: static storage, never NULL.
    unsafe { static_str(sys::milo_version_get()) }
}

/// The ABI version the loaded libmilo implements (this crate is written for ABI 2).
pub fn abi_version() -> u32 {
    // SAFETY: no arguments, thread-safe.
    unsafe { sys::milo_abi_version_get() }
}

/// The document format version libmilo writes.
pub fn format_version() -> u32 {
    // SAFETY: no arguments, thread-safe.
    unsafe { sys::milo_format_version_get() }
}

/// SHA-256 of `data` as 64 lowercase hex digits (libmilo's implementation).
pub fn sha256(data: &[u8]) -> String {
    let mut out = [0 as c_char; 65];
    // SAFETY: `data` is valid for its length; `out` has the 65 bytes the call writes.
    unsafe { sys::milo_hash_sha256(data.as_ptr(), data.len(), out.as_mut_ptr()) };
    // SAFETY: the call NUL-terminates `out`.
    unsafe { CStr::from_ptr(out.as_ptr()) }.to_string_lossy().into_owned()
}

/* ------------------------------------------------------------------ crate-internal helpers */

/// Runs one fallible C call with a fresh error buffer.
pub(crate) fn call(f: impl FnOnce(*mut sys::milo_error) -> i32) -> Result<()> {
    let mut err = sys::milo_error::new();
    let status = f(&mut err);
    if status == 0 {
        Ok(())
    } else {
        Err(Error::from_c(status, &err))
    }
}

/// A C string from Rust text; an interior NUL is an invalid argument.
pub(crate) fn c_string(s: &str, what: &str) -> Result<CString> {
    CString::new(s).map_err(|_| Error::new(1, format!("{what} contains a NUL byte: {s:?}")))
}

/// A C string from a path (its bytes on Unix).
pub(crate) fn c_path(path: &Path) -> Result<CString> {
    #[cfg(unix)]
    let bytes = {
        use std::os::unix::ffi::OsStrExt;
        path.as_os_str().as_bytes().to_vec()
    };
    #[cfg(not(unix))]
    let bytes = path
        .to_str()
        .ok_or_else(|| Error::new(1, format!("path is not UTF-8: {}", path.display())))?
        .as_bytes()
        .to_vec();
    CString::new(bytes)
        .map_err(|_| Error::new(1, format!("path contains a NUL byte: {}", path.display())))
}

/// Borrows a static NUL-terminated string from the library.
///
/// # Safety
/// `p` must be NULL or point to a NUL-terminated string with static storage.
pub(crate) unsafe fn static_str(p: *const c_char) -> &'static str {
    if p.is_null() {
        return "";
    }
    // SAFETY: per the caller's contract.
    unsafe { CStr::from_ptr(p) }.to_str().unwrap_or("")
}

/// Borrows a NUL-terminated library string for `'a` (UTF-8 checked).
///
/// # Safety
/// `p` must be non-NULL and stay valid and unchanged for `'a`.
pub(crate) unsafe fn borrowed_str<'a>(p: *const c_char, what: &str) -> Result<&'a str> {
    // SAFETY: per the caller's contract.
    unsafe { CStr::from_ptr(p) }
        .to_str()
        .map_err(|_| Error::new(3, format!("{what} is not valid UTF-8")))
}

/// Copies a NUL-terminated library string; NULL gives an empty string.
///
/// # Safety
/// `p` must be NULL or a valid NUL-terminated string for the duration of the call.
pub(crate) unsafe fn owned_string(p: *const c_char) -> String {
    if p.is_null() {
        return String::new();
    }
    // SAFETY: per the caller's contract.
    unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned()
}

/// Copies a NULL-terminated array of C strings (transporter types, extensions).
///
/// # Safety
/// `list` must be NULL or a NULL-terminated array of valid C strings.
pub(crate) unsafe fn string_list(list: *const *const c_char) -> Vec<String> {
    let mut out = Vec::new();
    if list.is_null() {
        return out;
    }
    let mut i = 0;
    loop {
        // SAFETY: the array is NULL-terminated, so reading up to the terminator is in bounds.
        let p = unsafe { *list.add(i) };
        if p.is_null() {
            return out;
        }
        // SAFETY: each entry is a valid C string.
        out.push(unsafe { owned_string(p) });
        i += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_codes_and_names() {
        for (code, s) in Status::ALL.iter().enumerate() {
            assert_eq!(s.code(), code as i32);
            assert_eq!(Status::from_code(code as i32), Some(*s));
        }
        assert_eq!(Status::Corrupt.name(), "MILO_ERR_CORRUPT");
        assert_eq!(Status::Ok.name(), "MILO_OK");
        assert_eq!(status_name(16), "MILO_ERR_UNKNOWN");
        assert_eq!(Status::from_code(16), None);
        assert_eq!(Status::from_code(-1), None);
        let e = Error::new(11, "nope");
        assert_eq!(e.to_string(), "MILO_ERR_TYPE (11): nope");
        assert!(e.is(Status::Type));
        assert_eq!(e.kind(), Some(Status::Type));
    }

    #[test]
    fn kinds_and_dtypes_round_trip_their_codes() {
        for code in 0..13 {
            assert_eq!(Kind::from_code(code).code(), code);
            assert!(!matches!(Kind::from_code(code), Kind::Other(_)));
        }
        assert_eq!(Kind::from_code(13), Kind::Other(13));
        for code in 1..=18 {
            assert_eq!(Dtype::from_code(code).unwrap().code(), code);
        }
        assert_eq!(Dtype::from_code(0), None);
        assert_eq!(Dtype::from_code(19), None);
        assert_eq!(Dtype::Float16.itemsize(), 2);
        assert_eq!(Dtype::Complex128.itemsize(), 16);
    }

    #[test]
    fn sha256_of_abc() {
        assert_eq!(
            sha256(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn error_buffer_is_read_up_to_the_nul() {
        let mut err = sys::milo_error::new();
        for (i, b) in b"bad input".iter().enumerate() {
            err.message[i] = *b as c_char;
        }
        let e = Error::from_c(3, &err);
        assert_eq!(
            (e.status, e.name.as_str(), e.message.as_str()),
            (3, "MILO_ERR_CORRUPT", "bad input")
        );
    }
}
