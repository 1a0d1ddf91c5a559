//! [`Registry`]: formats, plugins and transporters, and the calls that save, load and convert
//! through them.

use std::ffi::{c_char, c_void, CString};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::Path;
use std::ptr::{self, NonNull};
use std::sync::Arc;

use crate::{
    c_path, c_string, call, owned_string, static_str, string_list, sys, Doc, Error, Result,
};

/// The C registry, shared by the [`Registry`] and the documents it made; destroyed (plugins
/// unloaded) when the last of them is dropped.
pub(crate) struct RegistryHandle(NonNull<sys::milo_registry>);

// SAFETY: the registry has no thread affinity. The only calls made through a shared handle are
// the [thread-safe] ones (find/count/at, save, load, encode, decode, open, native conversion);
// plugin loading needs `&mut Registry` (exclusive) and destruction happens once, in Drop, when no
// other reference exists.
unsafe impl Send for RegistryHandle {}
// SAFETY: as above.
unsafe impl Sync for RegistryHandle {}

impl Drop for RegistryHandle {
    fn drop(&mut self) {
        // SAFETY: last reference; nothing else uses the registry.
        unsafe { sys::milo_registry_destroy(self.0.as_ptr()) };
    }
}

/// How tensors are stored when saving (`MILO_TENSORS_*`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[repr(i32)]
pub enum TensorMode {
    /// Readable up to `readable_max_bytes`, compact above.
    #[default]
    Auto = 0,
    /// Every element a number in the text.
    Readable = 1,
    /// Base64 of the raw little-endian bytes.
    Compact = 2,
    /// Numeric tensors in a safetensors sidecar file beside the document (save only).
    External = 3,
}

/// Options for [`Registry::save`], [`Registry::encode`] and [`Registry::convert`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SaveOptions {
    /// Format id (`"json"`, `"yaml"`, `"pb"`); `None`: from the path's extension, else json.
    pub format: Option<String>,
    /// Tensor storage.
    pub tensors: TensorMode,
    /// Spaces per level for text formats (`Some(0)`: one line); `None`: the default (2).
    pub indent: Option<i32>,
    /// Threshold of [`TensorMode::Auto`] in bytes; 0: the default (64 KiB).
    pub readable_max_bytes: u64,
    /// [`TensorMode::External`]: tensors smaller than this stay inline; 0: 1 byte.
    pub external_min_bytes: u64,
}

impl SaveOptions {
    /// Default options with format `format`.
    pub fn format(format: &str) -> SaveOptions {
        SaveOptions { format: Some(format.to_string()), ..SaveOptions::default() }
    }

    /// These options with tensor mode `tensors`.
    pub fn tensors(mut self, tensors: TensorMode) -> SaveOptions {
        self.tensors = tensors;
        self
    }

    /// The C struct; borrows the format string from `format`.
    fn to_c(&self, format: &Option<CString>) -> sys::milo_save_options {
        let mut o = sys::milo_save_options::new();
        o.format = format.as_ref().map_or(ptr::null(), |f| f.as_ptr());
        o.tensors = self.tensors as i32;
        o.indent = self.indent.unwrap_or(-1);
        o.readable_max_bytes = self.readable_max_bytes;
        o.external_min_bytes = self.external_min_bytes;
        o
    }

    fn c_format(&self) -> Result<Option<CString>> {
        self.format.as_deref().map(|f| c_string(f, "format id")).transpose()
    }
}

/// Options for [`Registry::load_with`], [`Registry::open_with`] and [`Registry::decode`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LoadOptions {
    /// Format id; `None`: detect by content.
    pub format: Option<String>,
    /// Nesting limit; 0: the default (1000).
    pub max_depth: u32,
    /// Check the sha256 of an external tensor file (`false` sets `MILO_LOAD_NO_VERIFY`).
    pub verify: bool,
}

impl Default for LoadOptions {
    fn default() -> LoadOptions {
        LoadOptions { format: None, max_depth: 0, verify: true }
    }
}

impl LoadOptions {
    /// Default options with format `format`.
    pub fn format(format: &str) -> LoadOptions {
        LoadOptions { format: Some(format.to_string()), ..LoadOptions::default() }
    }

    fn to_c(&self, format: &Option<CString>) -> sys::milo_load_options {
        let mut o = sys::milo_load_options::new();
        o.format = format.as_ref().map_or(ptr::null(), |f| f.as_ptr());
        o.max_depth = self.max_depth;
        o.flags = if self.verify { 0 } else { sys::MILO_LOAD_NO_VERIFY };
        o
    }

    fn c_format(&self) -> Result<Option<CString>> {
        self.format.as_deref().map(|f| c_string(f, "format id")).transpose()
    }
}

/// A loaded plugin (built-in formats are listed with a path like `"(built-in json)"`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PluginInfo {
    /// The shared library path.
    pub path: String,
    /// Its declared name.
    pub name: String,
    /// Its declared version.
    pub version: String,
}

/// A registered transporter (native model files ⇄ documents).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TransporterInfo {
    /// Unique id, e.g. `"safetensors"`.
    pub id: String,
    /// The framework, e.g. `"scikit-learn"`.
    pub framework: String,
    /// One line of description.
    pub description: String,
    /// The transporter's revision.
    pub version: String,
    /// Exact root type names it owns.
    pub types: Vec<String>,
    /// Native file extensions (`".safetensors"`).
    pub extensions: Vec<String>,
    /// True when it can read native files.
    pub can_decode: bool,
    /// True when it can write native files.
    pub can_encode: bool,
}

/// A registered document format (documents ⇄ bytes).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FormatInfo {
    /// Unique id, e.g. `"json"`.
    pub id: String,
    /// One line of description.
    pub description: String,
    /// File extensions (`".json"`).
    pub extensions: Vec<String>,
    /// A text format (indentation applies).
    pub text: bool,
}

/// Copies a transporter descriptor.
///
/// # Safety
/// `t` must be a descriptor borrowed from a live registry.
unsafe fn transporter_info(t: &sys::milo_transporter) -> TransporterInfo {
    // SAFETY: the descriptor's strings and arrays live as long as the registry.
    unsafe {
        TransporterInfo {
            id: owned_string(t.id),
            framework: owned_string(t.framework),
            description: owned_string(t.description),
            version: owned_string(t.version),
            types: string_list(t.types),
            extensions: string_list(t.extensions),
            can_decode: !t.decode.is_null(),
            can_encode: !t.encode.is_null(),
        }
    }
}

/// Appends encoded bytes to the `Vec<u8>` passed as context. Never unwinds into C.
unsafe extern "C" fn write_to_vec(
    context: *mut c_void,
    data: *const c_void,
    size: usize,
    error: *mut sys::milo_error,
) -> sys::milo_status {
    let result = catch_unwind(AssertUnwindSafe(|| {
        // SAFETY: `context` is the `&mut Vec<u8>` that `encode` passed, used on this thread only
        // for the duration of the call.
        let out = unsafe { &mut *context.cast::<Vec<u8>>() };
        if size == 0 {
            return true;
        }
        if out.try_reserve(size).is_err() {
            return false;
        }
        // SAFETY: the library passes `size` readable bytes.
        out.extend_from_slice(unsafe { std::slice::from_raw_parts(data.cast::<u8>(), size) });
        true
    }));
    if let Ok(true) = result {
        return 0;
    }
    let (status, message) = match result {
        Ok(_) => (2, c"cannot grow the output buffer"),
        Err(_) => (15, c"the Rust write callback panicked"),
    };
    // SAFETY: `error` is the buffer the library passed (or NULL, which milo_error_set accepts);
    // milo_error_set honours its struct_size.
    unsafe { sys::milo_error_set(error, status, message.as_ptr()) }
}

/// The registry: the document formats (`json`, `yaml`, `pb` built in) and the plugins with their
/// transporters, and every call that saves, loads or converts through them.
///
/// Threads: `Registry` is `Send + Sync`. Loading plugins takes `&mut self` (the C contract makes
/// it exclusive); every other call takes `&self` and may run concurrently from several threads
/// once loading is done. Dropping it unloads the plugins only after the last document it made
/// is dropped too.
pub struct Registry {
    handle: Arc<RegistryHandle>,
}

impl Registry {
    /// A registry with the built-in formats (no plugins yet).
    pub fn new() -> Result<Registry> {
        let mut raw = ptr::null_mut();
        // SAFETY: valid out pointer.
        call(|e| unsafe { sys::milo_registry_create(&mut raw, e) })?;
        let raw = NonNull::new(raw).ok_or_else(|| Error::new(15, "NULL registry"))?;
        Ok(Registry { handle: Arc::new(RegistryHandle(raw)) })
    }

    fn raw(&self) -> *mut sys::milo_registry {
        self.handle.0.as_ptr()
    }

    fn doc(&self, raw: *mut sys::milo_doc) -> Doc {
        // SAFETY: `raw` is an owned document the library just returned.
        unsafe { Doc::from_raw(raw, Some(self.handle.clone())) }
    }

    /// The default plugin folder: `milo/plugins` beside the loaded libmilo.
    pub fn default_plugin_dir() -> &'static str {
        // SAFETY: static storage.
        unsafe { static_str(sys::milo_registry_get_plugin_dir()) }
    }

    /// Loads one plugin (a shared library exporting `milo_register`); all-or-nothing; loading
    /// the same file twice is a no-op.
    pub fn load_plugin(&mut self, path: impl AsRef<Path>) -> Result<()> {
        let path = c_path(path.as_ref())?;
        // SAFETY: `&mut self` gives the exclusive access plugin loading needs.
        call(|e| unsafe { sys::milo_registry_load_plugin(self.raw(), path.as_ptr(), e) })
    }

    /// Loads every `milo_*.so` in the `:`-separated folders `dirs`; with `None`, the folders of
    /// `MILO_PLUGIN_PATH` and then [`Registry::default_plugin_dir`]. Every plugin is tried; the
    /// first failure is returned after the rest are loaded.
    pub fn load_plugins(&mut self, dirs: Option<&str>) -> Result<()> {
        let dirs = dirs.map(|d| c_string(d, "plugin folders")).transpose()?;
        let p = dirs.as_ref().map_or(ptr::null(), |d| d.as_ptr());
        // SAFETY: `&mut self` gives the exclusive access plugin loading needs.
        call(|e| unsafe { sys::milo_registry_load_plugins(self.raw(), p, e) })
    }

    /// The loaded plugins, built-in formats included.
    pub fn plugins(&self) -> Result<Vec<PluginInfo>> {
        // SAFETY: valid registry; strings borrowed from it are copied right away.
        let n = unsafe { sys::milo_registry_plugin_count(self.raw()) };
        let mut out = Vec::with_capacity(n);
        for i in 0..n {
            let (mut path, mut name, mut version): (*const c_char, *const c_char, *const c_char) =
                (ptr::null(), ptr::null(), ptr::null());
            call(|e| unsafe {
                sys::milo_registry_plugin_at(self.raw(), i, &mut path, &mut name, &mut version, e)
            })?;
            // SAFETY: strings live as long as the registry.
            out.push(unsafe {
                PluginInfo {
                    path: owned_string(path),
                    name: owned_string(name),
                    version: owned_string(version),
                }
            });
        }
        Ok(out)
    }

    /// The registered transporters, in registration order.
    pub fn transporters(&self) -> Vec<TransporterInfo> {
        // SAFETY: valid registry; descriptors are borrowed for its lifetime and copied here.
        let n = unsafe { sys::milo_registry_transporter_count(self.raw()) };
        (0..n)
            .filter_map(|i| unsafe { sys::milo_registry_transporter_at(self.raw(), i).as_ref() })
            .map(|t| unsafe { transporter_info(t) })
            .collect()
    }

    /// The registered formats, in registration order.
    pub fn formats(&self) -> Vec<FormatInfo> {
        // SAFETY: as for `transporters`.
        let n = unsafe { sys::milo_registry_format_count(self.raw()) };
        (0..n)
            .filter_map(|i| unsafe { sys::milo_registry_format_at(self.raw(), i).as_ref() })
            .map(|f| unsafe {
                FormatInfo {
                    id: owned_string(f.id),
                    description: owned_string(f.description),
                    extensions: string_list(f.extensions),
                    text: f.flags & sys::MILO_FORMAT_TEXT != 0,
                }
            })
            .collect()
    }

    /// Opens any input: a Milo document in a registered format (by content), else a native file
    /// through the transporter that recognises it.
    pub fn open(&self, path: impl AsRef<Path>) -> Result<Doc> {
        self.open_with(path, &LoadOptions::default())
    }

    /// [`Registry::open`] with options.
    pub fn open_with(&self, path: impl AsRef<Path>, options: &LoadOptions) -> Result<Doc> {
        let path = c_path(path.as_ref())?;
        let format = options.c_format()?;
        let o = options.to_c(&format);
        let mut out = ptr::null_mut();
        // SAFETY: valid registry, strings, options and out pointer; the call is thread-safe.
        call(|e| unsafe { sys::milo_doc_open(self.raw(), path.as_ptr(), &o, &mut out, e) })?;
        Ok(self.doc(out))
    }

    /// Loads a document file (format detected by content, then extension). External tensor
    /// files are memory-mapped and verified.
    pub fn load(&self, path: impl AsRef<Path>) -> Result<Doc> {
        self.load_with(path, &LoadOptions::default())
    }

    /// [`Registry::load`] with options.
    pub fn load_with(&self, path: impl AsRef<Path>, options: &LoadOptions) -> Result<Doc> {
        let path = c_path(path.as_ref())?;
        let format = options.c_format()?;
        let o = options.to_c(&format);
        let mut out = ptr::null_mut();
        // SAFETY: as for `open_with`.
        call(|e| unsafe { sys::milo_doc_load(self.raw(), path.as_ptr(), &o, &mut out, e) })?;
        Ok(self.doc(out))
    }

    /// Decodes a document from memory; `name` is used in messages. Documents that reference
    /// external tensor files are refused (`MILO_ERR_UNSUPPORTED`).
    pub fn decode(&self, data: &[u8], name: Option<&str>, options: &LoadOptions) -> Result<Doc> {
        let name = name.map(|n| c_string(n, "input name")).transpose()?;
        let np = name.as_ref().map_or(ptr::null(), |n| n.as_ptr());
        let format = options.c_format()?;
        let o = options.to_c(&format);
        let mut out = ptr::null_mut();
        // SAFETY: `data` is valid for its length during the call; the rest as for `open_with`.
        call(|e| unsafe {
            sys::milo_doc_decode(self.raw(), data.as_ptr(), data.len(), np, &o, &mut out, e)
        })?;
        Ok(self.doc(out))
    }

    /// Saves `doc` to `path` atomically. In [`TensorMode::External`] the numeric tensors go to
    /// `"<path minus extension>.safetensors"` beside it.
    pub fn save(&self, doc: &Doc, path: impl AsRef<Path>, options: &SaveOptions) -> Result<()> {
        let path = c_path(path.as_ref())?;
        let format = options.c_format()?;
        let o = options.to_c(&format);
        // SAFETY: valid registry, document (read only), strings and options.
        call(|e| unsafe { sys::milo_doc_save(self.raw(), doc.as_ptr(), path.as_ptr(), &o, e) })
    }

    /// Encodes `doc` to bytes ([`TensorMode::External`] is refused: it needs a path).
    pub fn encode(&self, doc: &Doc, options: &SaveOptions) -> Result<Vec<u8>> {
        let format = options.c_format()?;
        let o = options.to_c(&format);
        let mut out: Vec<u8> = Vec::new();
        let context = (&mut out as *mut Vec<u8>).cast::<c_void>();
        // SAFETY: `write_to_vec` gets `out` as context and is only called during this call.
        call(|e| unsafe {
            sys::milo_doc_encode(self.raw(), doc.as_ptr(), &o, write_to_vec, context, e)
        })?;
        Ok(out)
    }

    /// Converts native bytes (a model file's content) into a document through transporter `id`,
    /// or the one whose probe recognises the content when `None`. `path` names the input in
    /// messages and locates side files.
    pub fn decode_native(&self, id: Option<&str>, data: &[u8], path: Option<&str>) -> Result<Doc> {
        let id = id.map(|i| c_string(i, "transporter id")).transpose()?;
        let path = path.map(|p| c_string(p, "path")).transpose()?;
        let mut out = ptr::null_mut();
        // SAFETY: valid registry, strings and data during the call.
        call(|e| unsafe {
            sys::milo_registry_decode_native(
                self.raw(),
                id.as_ref().map_or(ptr::null(), |i| i.as_ptr()),
                data.as_ptr(),
                data.len(),
                path.as_ref().map_or(ptr::null(), |p| p.as_ptr()),
                &mut out,
                e,
            )
        })?;
        Ok(self.doc(out))
    }

    /// Writes `doc` to its native form at `path` through transporter `id` (`None`: the header's
    /// `transporter.id`, else the transporter registered for the root type), atomically.
    pub fn encode_native(&self, id: Option<&str>, doc: &Doc, path: impl AsRef<Path>) -> Result<()> {
        let id = id.map(|i| c_string(i, "transporter id")).transpose()?;
        let path = c_path(path.as_ref())?;
        // SAFETY: valid registry, document (read only) and strings.
        call(|e| unsafe {
            sys::milo_registry_encode_native(
                self.raw(),
                id.as_ref().map_or(ptr::null(), |i| i.as_ptr()),
                doc.as_ptr(),
                path.as_ptr(),
                e,
            )
        })
    }

    /// Converts any input into `dst`, like `milo convert`: a document when `options.format` is
    /// set or `dst`'s extension is a format's, else a native file through the document's own
    /// transporter (or the first one) that handles `dst`'s extension.
    pub fn convert(
        &self,
        src: impl AsRef<Path>,
        dst: impl AsRef<Path>,
        options: &SaveOptions,
    ) -> Result<()> {
        let dst = dst.as_ref();
        let doc = self.open(src)?;
        let dst_c = c_path(dst)?;
        // SAFETY: valid registry and string; the result is only tested for NULL.
        let is_document = options.format.is_some()
            || !unsafe { sys::milo_registry_find_format_for_path(self.raw(), dst_c.as_ptr()) }
                .is_null();
        if is_document {
            return self.save(&doc, dst, options);
        }
        let name = dst.to_string_lossy().to_lowercase();
        let handles = |t: &TransporterInfo| {
            t.can_encode && t.extensions.iter().any(|x| name.ends_with(&x.to_lowercase()))
        };
        let transporters = self.transporters();
        let own = doc.header("transporter.id")?;
        let writer = transporters
            .iter()
            .find(|t| Some(&t.id) == own.as_ref() && handles(t))
            .or_else(|| transporters.iter().find(|t| handles(t)))
            .ok_or_else(|| {
                Error::new(
                    6,
                    format!(
                        "cannot tell the output format of {}: not a document extension and no \
                         transporter writes it",
                        dst.display()
                    ),
                )
            })?;
        self.encode_native(Some(&writer.id), &doc, dst)
    }
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let ids = |v: Vec<String>| v.join(", ");
        f.debug_struct("Registry")
            .field("formats", &ids(self.formats().into_iter().map(|x| x.id).collect()))
            .field("transporters", &ids(self.transporters().into_iter().map(|x| x.id).collect()))
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_send_sync<T: Send + Sync>() {}
    fn assert_send<T: Send>() {}

    #[test]
    fn thread_traits() {
        assert_send_sync::<Registry>();
        assert_send::<Doc>();
        assert_send_sync::<crate::ValueId>();
    }

    #[test]
    fn write_callback_appends_and_reports_no_panic() {
        let mut out = vec![1u8];
        let mut err = sys::milo_error::new();
        let ctx = (&mut out as *mut Vec<u8>).cast::<c_void>();
        let data = [2u8, 3, 4];
        // SAFETY: valid context, data and error buffer.
        let s = unsafe { write_to_vec(ctx, data.as_ptr().cast(), 3, &mut err) };
        assert_eq!(s, 0);
        let s = unsafe { write_to_vec(ctx, ptr::null(), 0, &mut err) };
        assert_eq!(s, 0);
        assert_eq!(out, [1, 2, 3, 4]);
        // A size that cannot be reserved fails with MILO_ERR_OUT_OF_MEMORY instead of aborting.
        let s = unsafe { write_to_vec(ctx, data.as_ptr().cast(), usize::MAX, &mut err) };
        assert_eq!((s, err.code), (2, 2));
        assert_eq!(Error::from_c(s, &err).message, "cannot grow the output buffer");
    }

    #[test]
    fn save_options_map_to_the_c_struct() {
        let o =
            SaveOptions { indent: Some(0), readable_max_bytes: 9, ..SaveOptions::format("yaml") }
                .tensors(TensorMode::Compact);
        let f = o.c_format().unwrap();
        let c = o.to_c(&f);
        assert_eq!(
            (c.struct_size, c.abi_version, c.tensors, c.indent, c.readable_max_bytes),
            (40, crate::sys::MILO_ABI_VERSION, 2, 0, 9)
        );
        // SAFETY: `f` is alive.
        assert_eq!(unsafe { owned_string(c.format) }, "yaml");
        let d = SaveOptions::default().to_c(&None);
        assert!(d.format.is_null());
        assert_eq!(d.indent, -1);
        let l = LoadOptions { verify: false, ..LoadOptions::default() }.to_c(&None);
        assert_eq!(l.flags, sys::MILO_LOAD_NO_VERIFY);
    }
}
