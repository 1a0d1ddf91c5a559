//! Raw declarations of the Milo C ABI (`sdk/include/milo/*.h`), written by hand.
//!
//! Everything here is `unsafe` to call; the contracts (ownership, lifetimes, threads) are the
//! `///` comments of the C headers. Only the functions and structs the safe API uses are
//! declared. Struct layouts are pinned by the tests at the bottom of this file against the
//! values of `tests/unit/abi_layout_test.cpp` (x86_64 / LP64).
#![allow(non_camel_case_types)]
// Each declaration is documented by the `///` comment of the same name in the C headers.
#![allow(missing_docs)]

use std::ffi::{c_char, c_void};

/// `milo_status` (error.h): 0 is success, 1..=15 the `MILO_ERR_*` codes.
pub type milo_status = i32;

/// The ABI version these declarations describe (`MILO_ABI_VERSION`).
pub const MILO_ABI_VERSION: u32 = 2;
/// `MILO_ERROR_MESSAGE_SIZE`: message bytes in `milo_error`, including the NUL.
pub const MILO_ERROR_MESSAGE_SIZE: usize = 1000;
/// `MILO_LOAD_NO_VERIFY`: skip the sha256 check of an external tensor file.
pub const MILO_LOAD_NO_VERIFY: u32 = 1;
/// `MILO_MAX_NDIM`.
pub const MILO_MAX_NDIM: usize = 64;

/// Opaque `milo_doc`.
#[repr(C)]
pub struct milo_doc {
    _private: [u8; 0],
}
/// Opaque `milo_value`.
#[repr(C)]
pub struct milo_value {
    _private: [u8; 0],
}
/// Opaque `milo_registry`.
#[repr(C)]
pub struct milo_registry {
    _private: [u8; 0],
}

/// Caller-owned error buffer (error.h). Initialise with [`milo_error::new`].
#[repr(C)]
pub struct milo_error {
    pub struct_size: u32,
    pub code: milo_status,
    pub message: [c_char; MILO_ERROR_MESSAGE_SIZE],
}

impl Default for milo_error {
    fn default() -> Self {
        milo_error::new()
    }
}

impl milo_error {
    /// `MILO_ERROR_INIT`.
    pub fn new() -> Self {
        milo_error {
            struct_size: std::mem::size_of::<milo_error>() as u32,
            code: 0,
            message: [0; MILO_ERROR_MESSAGE_SIZE],
        }
    }
}

/// Options for saving (registry.h). `MILO_SAVE_OPTIONS_INIT` is [`milo_save_options::new`].
#[repr(C)]
pub struct milo_save_options {
    pub struct_size: u32,
    pub abi_version: u32,
    pub format: *const c_char,
    pub tensors: i32,
    pub indent: i32,
    pub readable_max_bytes: u64,
    pub external_min_bytes: u64,
}

impl Default for milo_save_options {
    fn default() -> Self {
        milo_save_options::new()
    }
}

impl milo_save_options {
    /// `MILO_SAVE_OPTIONS_INIT`.
    pub fn new() -> Self {
        milo_save_options {
            struct_size: std::mem::size_of::<milo_save_options>() as u32,
            abi_version: MILO_ABI_VERSION,
            format: std::ptr::null(),
            tensors: 0,
            indent: -1,
            readable_max_bytes: 0,
            external_min_bytes: 0,
        }
    }
}

/// Options for loading (registry.h). `MILO_LOAD_OPTIONS_INIT` is [`milo_load_options::new`].
#[repr(C)]
pub struct milo_load_options {
    pub struct_size: u32,
    pub abi_version: u32,
    pub format: *const c_char,
    pub max_depth: u32,
    pub flags: u32,
}

impl Default for milo_load_options {
    fn default() -> Self {
        milo_load_options::new()
    }
}

impl milo_load_options {
    /// `MILO_LOAD_OPTIONS_INIT`.
    pub fn new() -> Self {
        milo_load_options {
            struct_size: std::mem::size_of::<milo_load_options>() as u32,
            abi_version: MILO_ABI_VERSION,
            format: std::ptr::null(),
            max_depth: 0,
            flags: 0,
        }
    }
}

/// A registered transporter (plugin.h). Only read through pointers the registry lends; the
/// callbacks are never called from Rust, so they are declared as plain pointers.
#[repr(C)]
pub struct milo_transporter {
    pub struct_size: u32,
    pub abi_version: u32,
    pub id: *const c_char,
    pub description: *const c_char,
    pub version: *const c_char,
    pub framework: *const c_char,
    pub types: *const *const c_char,
    pub extensions: *const *const c_char,
    pub self_: *mut c_void,
    pub probe: *const c_void,
    pub decode: *const c_void,
    pub encode: *const c_void,
    pub destroy: *const c_void,
    pub get_extension: *const c_void,
}

/// A registered document format (plugin.h); read-only, like [`milo_transporter`].
#[repr(C)]
pub struct milo_format {
    pub struct_size: u32,
    pub abi_version: u32,
    pub id: *const c_char,
    pub description: *const c_char,
    pub extensions: *const *const c_char,
    pub flags: u32,
    pub reserved: u32,
    pub self_: *mut c_void,
    pub probe: *const c_void,
    pub encode: *const c_void,
    pub decode: *const c_void,
    pub destroy: *const c_void,
    pub get_extension: *const c_void,
}

/// `MILO_FORMAT_TEXT`.
pub const MILO_FORMAT_TEXT: u32 = 1;

/// `milo_write_fn`: a byte sink used for every encoded output.
pub type milo_write_fn = unsafe extern "C" fn(
    context: *mut c_void,
    data: *const c_void,
    size: usize,
    error: *mut milo_error,
) -> milo_status;

/// `milo_release_fn`: gives back memory lent by `milo_value_create_tensor_borrowed`.
pub type milo_release_fn = unsafe extern "C" fn(context: *mut c_void);

extern "C" {
    // version.h
    pub fn milo_version_get() -> *const c_char;
    pub fn milo_abi_version_get() -> u32;
    pub fn milo_format_version_get() -> u32;

    // error.h
    pub fn milo_status_name(status: milo_status) -> *const c_char;
    pub fn milo_error_set(
        error: *mut milo_error,
        status: milo_status,
        message: *const c_char,
    ) -> milo_status;

    // hash.h
    pub fn milo_hash_sha256(data: *const u8, size: usize, out: *mut c_char);

    // value.h: documents
    pub fn milo_doc_create(out: *mut *mut milo_doc, error: *mut milo_error) -> milo_status;
    pub fn milo_doc_destroy(doc: *mut milo_doc);
    pub fn milo_doc_get_root(doc: *const milo_doc) -> *mut milo_value;
    pub fn milo_doc_set_root(
        doc: *mut milo_doc,
        root: *mut milo_value,
        error: *mut milo_error,
    ) -> milo_status;
    pub fn milo_doc_get_header(
        doc: *const milo_doc,
        key: *const c_char,
        out: *mut *const c_char,
        error: *mut milo_error,
    ) -> milo_status;
    pub fn milo_doc_set_header(
        doc: *mut milo_doc,
        key: *const c_char,
        value: *const c_char,
        error: *mut milo_error,
    ) -> milo_status;
    pub fn milo_doc_set_trust(
        doc: *mut milo_doc,
        name: *const c_char,
        usage: *const c_char,
        level: i32,
        error: *mut milo_error,
    ) -> milo_status;
    pub fn milo_doc_trust_count(doc: *const milo_doc) -> usize;
    pub fn milo_doc_trust_at(
        doc: *const milo_doc,
        index: usize,
        name: *mut *const c_char,
        usage: *mut *const c_char,
        level: *mut i32,
        error: *mut milo_error,
    ) -> milo_status;
    pub fn milo_doc_set_metadata(
        doc: *mut milo_doc,
        key: *const c_char,
        value: *const c_char,
        error: *mut milo_error,
    ) -> milo_status;
    pub fn milo_doc_metadata_count(doc: *const milo_doc) -> usize;
    pub fn milo_doc_metadata_at(
        doc: *const milo_doc,
        index: usize,
        key: *mut *const c_char,
        value: *mut *const c_char,
        error: *mut milo_error,
    ) -> milo_status;

    // value.h: creating values
    pub fn milo_value_create_null(
        doc: *mut milo_doc,
        out: *mut *mut milo_value,
        error: *mut milo_error,
    ) -> milo_status;
    pub fn milo_value_create_bool(
        doc: *mut milo_doc,
        v: bool,
        out: *mut *mut milo_value,
        error: *mut milo_error,
    ) -> milo_status;
    pub fn milo_value_create_int(
        doc: *mut milo_doc,
        v: i64,
        out: *mut *mut milo_value,
        error: *mut milo_error,
    ) -> milo_status;
    pub fn milo_value_create_int_text(
        doc: *mut milo_doc,
        text: *const c_char,
        len: usize,
        out: *mut *mut milo_value,
        error: *mut milo_error,
    ) -> milo_status;
    pub fn milo_value_create_float(
        doc: *mut milo_doc,
        v: f64,
        out: *mut *mut milo_value,
        error: *mut milo_error,
    ) -> milo_status;
    pub fn milo_value_create_string(
        doc: *mut milo_doc,
        data: *const c_char,
        len: usize,
        out: *mut *mut milo_value,
        error: *mut milo_error,
    ) -> milo_status;
    pub fn milo_value_create_bytes(
        doc: *mut milo_doc,
        data: *const u8,
        len: usize,
        out: *mut *mut milo_value,
        error: *mut milo_error,
    ) -> milo_status;
    pub fn milo_value_create_container(
        doc: *mut milo_doc,
        kind: i32,
        out: *mut *mut milo_value,
        error: *mut milo_error,
    ) -> milo_status;
    pub fn milo_value_create_object(
        doc: *mut milo_doc,
        type_: *const c_char,
        out: *mut *mut milo_value,
        error: *mut milo_error,
    ) -> milo_status;
    pub fn milo_value_create_global(
        doc: *mut milo_doc,
        name: *const c_char,
        out: *mut *mut milo_value,
        error: *mut milo_error,
    ) -> milo_status;
    pub fn milo_value_create_tensor(
        doc: *mut milo_doc,
        dtype: i32,
        shape: *const i64,
        ndim: usize,
        out: *mut *mut milo_value,
        error: *mut milo_error,
    ) -> milo_status;
    pub fn milo_value_create_record_tensor(
        doc: *mut milo_doc,
        itemsize: u64,
        shape: *const i64,
        ndim: usize,
        out: *mut *mut milo_value,
        error: *mut milo_error,
    ) -> milo_status;
    pub fn milo_value_create_tensor_borrowed(
        doc: *mut milo_doc,
        dtype: i32,
        shape: *const i64,
        ndim: usize,
        data: *const c_void,
        nbytes: usize,
        release: Option<milo_release_fn>,
        release_context: *mut c_void,
        out: *mut *mut milo_value,
        error: *mut milo_error,
    ) -> milo_status;

    // value.h: reading scalars
    pub fn milo_value_get_kind(value: *const milo_value) -> i32;
    pub fn milo_value_get_bool(
        value: *const milo_value,
        out: *mut bool,
        error: *mut milo_error,
    ) -> milo_status;
    pub fn milo_value_get_int(
        value: *const milo_value,
        out: *mut i64,
        error: *mut milo_error,
    ) -> milo_status;
    pub fn milo_value_get_int_text(
        value: *const milo_value,
        out: *mut *const c_char,
        error: *mut milo_error,
    ) -> milo_status;
    pub fn milo_value_get_float(
        value: *const milo_value,
        out: *mut f64,
        error: *mut milo_error,
    ) -> milo_status;
    pub fn milo_value_get_string(
        value: *const milo_value,
        data: *mut *const c_char,
        len: *mut usize,
        error: *mut milo_error,
    ) -> milo_status;
    pub fn milo_value_get_bytes(
        value: *const milo_value,
        data: *mut *const u8,
        len: *mut usize,
        error: *mut milo_error,
    ) -> milo_status;
    pub fn milo_value_get_name(
        value: *const milo_value,
        out: *mut *const c_char,
        error: *mut milo_error,
    ) -> milo_status;

    // value.h: containers
    pub fn milo_value_count(value: *const milo_value) -> usize;
    pub fn milo_value_at(value: *const milo_value, index: usize) -> *mut milo_value;
    pub fn milo_value_key_at(value: *const milo_value, index: usize) -> *mut milo_value;
    pub fn milo_value_find(map: *const milo_value, key: *const c_char) -> *mut milo_value;
    pub fn milo_value_append(
        container: *mut milo_value,
        item: *mut milo_value,
        error: *mut milo_error,
    ) -> milo_status;
    pub fn milo_value_append_pair(
        map: *mut milo_value,
        key: *mut milo_value,
        item: *mut milo_value,
        error: *mut milo_error,
    ) -> milo_status;
    pub fn milo_value_set_at(
        container: *mut milo_value,
        index: usize,
        item: *mut milo_value,
        error: *mut milo_error,
    ) -> milo_status;

    // value.h: objects
    pub fn milo_value_get_args(object: *const milo_value) -> *mut milo_value;
    pub fn milo_value_get_state(object: *const milo_value) -> *mut milo_value;
    pub fn milo_value_set_args(
        object: *mut milo_value,
        args: *mut milo_value,
        error: *mut milo_error,
    ) -> milo_status;
    pub fn milo_value_set_state(
        object: *mut milo_value,
        state: *mut milo_value,
        error: *mut milo_error,
    ) -> milo_status;

    // value.h: tensors
    pub fn milo_value_get_tensor(
        tensor: *const milo_value,
        dtype: *mut i32,
        shape: *mut *const i64,
        ndim: *mut usize,
        error: *mut milo_error,
    ) -> milo_status;
    pub fn milo_value_tensor_itemsize(tensor: *const milo_value) -> u64;
    pub fn milo_value_tensor_data(
        tensor: *const milo_value,
        data: *mut *const c_void,
        nbytes: *mut usize,
        error: *mut milo_error,
    ) -> milo_status;
    pub fn milo_value_tensor_mutable_data(
        tensor: *mut milo_value,
        data: *mut *mut c_void,
        nbytes: *mut usize,
        error: *mut milo_error,
    ) -> milo_status;
    pub fn milo_value_tensor_add_field(
        tensor: *mut milo_value,
        name: *const c_char,
        dtype: i32,
        offset: u64,
        shape: *const i64,
        ndim: usize,
        error: *mut milo_error,
    ) -> milo_status;
    pub fn milo_value_tensor_field_count(tensor: *const milo_value) -> usize;
    pub fn milo_value_tensor_field_at(
        tensor: *const milo_value,
        index: usize,
        name: *mut *const c_char,
        dtype: *mut i32,
        offset: *mut u64,
        shape: *mut *const i64,
        ndim: *mut usize,
        error: *mut milo_error,
    ) -> milo_status;
    pub fn milo_value_tensor_item_at(tensor: *const milo_value, index: usize) -> *mut milo_value;
    pub fn milo_value_tensor_set_item(
        tensor: *mut milo_value,
        index: usize,
        item: *mut milo_value,
        error: *mut milo_error,
    ) -> milo_status;
    pub fn milo_value_tensor_string_at(
        tensor: *const milo_value,
        index: usize,
        data: *mut *const c_char,
        len: *mut usize,
        error: *mut milo_error,
    ) -> milo_status;
    pub fn milo_value_tensor_set_string(
        tensor: *mut milo_value,
        index: usize,
        data: *const c_char,
        len: usize,
        error: *mut milo_error,
    ) -> milo_status;

    // value.h: whole documents
    pub fn milo_doc_equal(
        a: *const milo_doc,
        b: *const milo_doc,
        where_: *mut c_char,
        where_size: usize,
    ) -> bool;
    pub fn milo_doc_value_count(doc: *const milo_doc) -> usize;

    // registry.h
    pub fn milo_registry_create(
        out: *mut *mut milo_registry,
        error: *mut milo_error,
    ) -> milo_status;
    pub fn milo_registry_destroy(registry: *mut milo_registry);
    pub fn milo_registry_load_plugin(
        registry: *mut milo_registry,
        path: *const c_char,
        error: *mut milo_error,
    ) -> milo_status;
    pub fn milo_registry_load_plugins(
        registry: *mut milo_registry,
        dirs: *const c_char,
        error: *mut milo_error,
    ) -> milo_status;
    pub fn milo_registry_get_plugin_dir() -> *const c_char;
    pub fn milo_registry_plugin_count(registry: *const milo_registry) -> usize;
    pub fn milo_registry_plugin_at(
        registry: *const milo_registry,
        index: usize,
        path: *mut *const c_char,
        name: *mut *const c_char,
        version: *mut *const c_char,
        error: *mut milo_error,
    ) -> milo_status;
    pub fn milo_registry_transporter_count(registry: *const milo_registry) -> usize;
    pub fn milo_registry_transporter_at(
        registry: *const milo_registry,
        index: usize,
    ) -> *const milo_transporter;
    pub fn milo_registry_find_transporter(
        registry: *const milo_registry,
        id: *const c_char,
    ) -> *const milo_transporter;
    pub fn milo_registry_format_count(registry: *const milo_registry) -> usize;
    pub fn milo_registry_format_at(
        registry: *const milo_registry,
        index: usize,
    ) -> *const milo_format;
    pub fn milo_registry_find_format_for_path(
        registry: *const milo_registry,
        path: *const c_char,
    ) -> *const milo_format;
    pub fn milo_doc_save(
        registry: *mut milo_registry,
        doc: *const milo_doc,
        path: *const c_char,
        options: *const milo_save_options,
        error: *mut milo_error,
    ) -> milo_status;
    pub fn milo_doc_encode(
        registry: *mut milo_registry,
        doc: *const milo_doc,
        options: *const milo_save_options,
        write: milo_write_fn,
        write_context: *mut c_void,
        error: *mut milo_error,
    ) -> milo_status;
    pub fn milo_doc_load(
        registry: *mut milo_registry,
        path: *const c_char,
        options: *const milo_load_options,
        out: *mut *mut milo_doc,
        error: *mut milo_error,
    ) -> milo_status;
    pub fn milo_doc_decode(
        registry: *mut milo_registry,
        data: *const u8,
        size: usize,
        name: *const c_char,
        options: *const milo_load_options,
        out: *mut *mut milo_doc,
        error: *mut milo_error,
    ) -> milo_status;
    pub fn milo_registry_decode_native(
        registry: *mut milo_registry,
        transporter_id: *const c_char,
        data: *const u8,
        size: usize,
        path: *const c_char,
        out: *mut *mut milo_doc,
        error: *mut milo_error,
    ) -> milo_status;
    pub fn milo_registry_encode_native(
        registry: *mut milo_registry,
        transporter_id: *const c_char,
        doc: *const milo_doc,
        path: *const c_char,
        error: *mut milo_error,
    ) -> milo_status;
    /// Since ABI 2.
    pub fn milo_registry_encode_native_to(
        registry: *mut milo_registry,
        transporter_id: *const c_char,
        doc: *const milo_doc,
        write: milo_write_fn,
        write_context: *mut c_void,
        error: *mut milo_error,
    ) -> milo_status;
    pub fn milo_doc_open(
        registry: *mut milo_registry,
        path: *const c_char,
        options: *const milo_load_options,
        out: *mut *mut milo_doc,
        error: *mut milo_error,
    ) -> milo_status;
}

#[cfg(test)]
mod layout_tests {
    //! The values pinned by `tests/unit/abi_layout_test.cpp` (x86_64 / LP64).
    use super::*;
    use std::mem::{offset_of, size_of};

    #[test]
    #[cfg(target_pointer_width = "64")]
    fn milo_error_layout() {
        assert_eq!(offset_of!(milo_error, struct_size), 0);
        assert_eq!(offset_of!(milo_error, code), 4);
        assert_eq!(offset_of!(milo_error, message), 8);
        assert_eq!(size_of::<milo_error>(), 1008);
        assert_eq!(milo_error::new().struct_size, 1008);
    }

    #[test]
    #[cfg(target_pointer_width = "64")]
    fn option_layouts() {
        assert_eq!(offset_of!(milo_save_options, struct_size), 0);
        assert_eq!(offset_of!(milo_save_options, abi_version), 4);
        assert_eq!(offset_of!(milo_save_options, format), 8);
        assert_eq!(offset_of!(milo_save_options, tensors), 16);
        assert_eq!(offset_of!(milo_save_options, indent), 20);
        assert_eq!(offset_of!(milo_save_options, readable_max_bytes), 24);
        assert_eq!(offset_of!(milo_save_options, external_min_bytes), 32);
        assert_eq!(size_of::<milo_save_options>(), 40);
        assert_eq!(offset_of!(milo_load_options, struct_size), 0);
        assert_eq!(offset_of!(milo_load_options, abi_version), 4);
        assert_eq!(offset_of!(milo_load_options, format), 8);
        assert_eq!(offset_of!(milo_load_options, max_depth), 16);
        assert_eq!(offset_of!(milo_load_options, flags), 20);
        assert_eq!(size_of::<milo_load_options>(), 24);
        let s = milo_save_options::new();
        assert_eq!((s.struct_size, s.abi_version, s.tensors, s.indent), (40, 2, 0, -1));
        let l = milo_load_options::new();
        assert_eq!((l.struct_size, l.abi_version, l.max_depth, l.flags), (24, 2, 0, 0));
    }

    #[test]
    #[cfg(target_pointer_width = "64")]
    fn descriptor_layouts() {
        assert_eq!(offset_of!(milo_transporter, id), 8);
        assert_eq!(offset_of!(milo_transporter, description), 16);
        assert_eq!(offset_of!(milo_transporter, version), 24);
        assert_eq!(offset_of!(milo_transporter, framework), 32);
        assert_eq!(offset_of!(milo_transporter, types), 40);
        assert_eq!(offset_of!(milo_transporter, extensions), 48);
        assert_eq!(offset_of!(milo_transporter, self_), 56);
        assert_eq!(offset_of!(milo_transporter, probe), 64);
        assert_eq!(offset_of!(milo_transporter, decode), 72);
        assert_eq!(offset_of!(milo_transporter, encode), 80);
        assert_eq!(offset_of!(milo_transporter, destroy), 88);
        assert_eq!(offset_of!(milo_transporter, get_extension), 96);
        assert_eq!(size_of::<milo_transporter>(), 104);
        assert_eq!(offset_of!(milo_format, id), 8);
        assert_eq!(offset_of!(milo_format, description), 16);
        assert_eq!(offset_of!(milo_format, extensions), 24);
        assert_eq!(offset_of!(milo_format, flags), 32);
        assert_eq!(offset_of!(milo_format, reserved), 36);
        assert_eq!(offset_of!(milo_format, self_), 40);
        assert_eq!(offset_of!(milo_format, probe), 48);
        assert_eq!(offset_of!(milo_format, encode), 56);
        assert_eq!(offset_of!(milo_format, decode), 64);
        assert_eq!(offset_of!(milo_format, destroy), 72);
        assert_eq!(offset_of!(milo_format, get_extension), 80);
        assert_eq!(size_of::<milo_format>(), 88);
    }
}
