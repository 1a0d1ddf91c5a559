//! [`Doc`]: an owned Milo document (`milo_doc`).

use std::ffi::{c_char, c_void};
use std::fmt;
use std::ptr::{self, NonNull};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use crate::registry_handle::RegistryHandle;
use crate::{
    c_string, call, owned_string, sys, Dtype, Element, Error, Kind, Result, Trust, Value, ValueId,
};

/// Gives every document a number that is never reused, so a [`ValueId`] can be checked against
/// the document it is used with.
static NEXT_DOC_ID: AtomicU64 = AtomicU64::new(1);

/// An owned Milo document: a header and a tree of values it owns. Dropping it destroys the C
/// document and every value in it (`milo_doc_destroy`).
///
/// Builders and linking calls take `&self` (they never invalidate data handed out); writing
/// tensor data and replacing string-tensor elements take `&mut self` (see the crate docs).
/// `Doc` is `Send` (documents are independent) but not `Sync` (writes need exclusive access).
pub struct Doc {
    raw: NonNull<sys::milo_doc>,
    id: u64,
    /// Keeps the plugins of the registry that made this document loaded (ABI rule 3.8).
    _registry: Option<Arc<RegistryHandle>>,
}

// SAFETY: a milo_doc has no thread affinity; exclusive ownership moves with the `Doc`. Release
// callbacks of tensors made by `tensor_from_vec` drop `Send` data. Not `Sync`: `&Doc` allows
// writes through the C handle.
unsafe impl Send for Doc {}

/// One trust entry: the document names `name` used as `usage` with a trust `level`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TrustEntry {
    /// Exact `"module.qualname"`.
    pub name: String,
    /// E.g. `"instantiate"`, `"call"`, `"reference"`.
    pub usage: String,
    /// How far it is trusted.
    pub level: Trust,
}

fn shape_count(shape: &[i64]) -> Option<u64> {
    shape.iter().try_fold(1u64, |acc, &d| u64::try_from(d).ok().and_then(|d| acc.checked_mul(d)))
}

fn check_count(shape: &[i64], len: usize) -> Result<()> {
    match shape_count(shape) {
        Some(n) if n != len as u64 => {
            Err(Error::new(1, format!("shape {shape:?} holds {n} elements but {len} were given")))
        }
        _ => Ok(()), // negative or overflowing shapes are reported by libmilo
    }
}

/// Release callback of `tensor_from_vec`: drops the boxed vector lent to the document.
unsafe extern "C" fn release_boxed_vec<T>(context: *mut c_void) {
    // Dropping a Vec of plain data cannot panic, so nothing unwinds into C.
    // SAFETY: `context` is the `Box<Vec<T>>` leaked by `tensor_from_vec`; libmilo calls release
    // exactly once.
    drop(unsafe { Box::from_raw(context as *mut Vec<T>) });
    #[cfg(test)]
    tests::RELEASES.fetch_add(1, Ordering::SeqCst);
}

impl Doc {
    /// An empty document: no root; header with `format_version` and the producer (`"milo"` and
    /// the library version) set.
    pub fn new() -> Result<Doc> {
        let mut raw = ptr::null_mut();
        // SAFETY: `raw` is a valid out pointer.
        call(|e| unsafe { sys::milo_doc_create(&mut raw, e) })?;
        // SAFETY: success gives an owned, non-NULL document.
        Ok(unsafe { Doc::from_raw(raw, None) })
    }

    /// Takes ownership of a document returned by the library.
    ///
    /// # Safety
    /// `raw` must be a non-NULL document owned by nobody else.
    pub(crate) unsafe fn from_raw(
        raw: *mut sys::milo_doc,
        registry: Option<Arc<RegistryHandle>>,
    ) -> Doc {
        Doc {
            raw: NonNull::new(raw).expect("libmilo returned a NULL document"),
            id: NEXT_DOC_ID.fetch_add(1, Ordering::Relaxed),
            _registry: registry,
        }
    }

    pub(crate) fn as_ptr(&self) -> *mut sys::milo_doc {
        self.raw.as_ptr()
    }

    pub(crate) fn id(&self) -> u64 {
        self.id
    }

    /// Wraps a value pointer of this document (NULL gives `None`).
    pub(crate) fn wrap(&self, p: *mut sys::milo_value) -> Option<Value<'_>> {
        NonNull::new(p).map(|p| Value::new(p, self))
    }

    /// Checks that `value` belongs to this document.
    pub(crate) fn own(&self, value: Value<'_>) -> Result<*mut sys::milo_value> {
        if value.doc().id != self.id {
            return Err(Error::new(1, "value belongs to another document"));
        }
        Ok(value.as_ptr())
    }

    /* -------------------------------------------------------------- header and metadata */

    /// A header field (`"format_version"`, `"producer.name"`, `"producer.version"`,
    /// `"framework.name"`, `"framework.version"`, `"transporter.id"`, `"transporter.revision"`,
    /// `"type"`, `"source.kind"`, `"source.version"`, `"source.sha256"`, `"external.file"`,
    /// `"external.sha256"`); `None` when unset. `MILO_ERR_NOT_FOUND` for an unknown key.
    pub fn header(&self, key: &str) -> Result<Option<String>> {
        let key = c_string(key, "header key")?;
        let mut out: *const c_char = ptr::null();
        // SAFETY: valid document, key and out pointer.
        call(|e| unsafe { sys::milo_doc_get_header(self.as_ptr(), key.as_ptr(), &mut out, e) })?;
        // SAFETY: the string lives until the field changes; copied right away.
        Ok(if out.is_null() { None } else { Some(unsafe { owned_string(out) }) })
    }

    /// Sets a header field (see [`Doc::header`] for keys); `None` unsets it.
    pub fn set_header(&self, key: &str, value: Option<&str>) -> Result<()> {
        let key = c_string(key, "header key")?;
        let value = value.map(|v| c_string(v, "header value")).transpose()?;
        let vp = value.as_ref().map_or(ptr::null(), |v| v.as_ptr());
        // SAFETY: valid document and strings.
        call(|e| unsafe { sys::milo_doc_set_header(self.as_ptr(), key.as_ptr(), vp, e) })
    }

    /// The free-form metadata entries, in insertion order.
    pub fn metadata(&self) -> Result<Vec<(String, String)>> {
        // SAFETY: valid document.
        let n = unsafe { sys::milo_doc_metadata_count(self.as_ptr()) };
        let mut out = Vec::with_capacity(n);
        for i in 0..n {
            let (mut k, mut v): (*const c_char, *const c_char) = (ptr::null(), ptr::null());
            // SAFETY: valid document, index in range, out pointers valid.
            call(|e| unsafe { sys::milo_doc_metadata_at(self.as_ptr(), i, &mut k, &mut v, e) })?;
            // SAFETY: borrowed strings of the document, copied right away.
            out.push(unsafe { (owned_string(k), owned_string(v)) });
        }
        Ok(out)
    }

    /// The value of metadata entry `key`, if any.
    pub fn metadata_value(&self, key: &str) -> Result<Option<String>> {
        Ok(self.metadata()?.into_iter().find(|(k, _)| k == key).map(|(_, v)| v))
    }

    /// Sets a metadata entry (a known key is replaced in place); `None` removes it.
    pub fn set_metadata(&self, key: &str, value: Option<&str>) -> Result<()> {
        let key = c_string(key, "metadata key")?;
        let value = value.map(|v| c_string(v, "metadata value")).transpose()?;
        let vp = value.as_ref().map_or(ptr::null(), |v| v.as_ptr());
        // SAFETY: valid document and strings.
        call(|e| unsafe { sys::milo_doc_set_metadata(self.as_ptr(), key.as_ptr(), vp, e) })
    }

    /// The trust entries, in insertion order.
    pub fn trust(&self) -> Result<Vec<TrustEntry>> {
        // SAFETY: valid document.
        let n = unsafe { sys::milo_doc_trust_count(self.as_ptr()) };
        let mut out = Vec::with_capacity(n);
        for i in 0..n {
            let (mut name, mut usage, mut level): (*const c_char, *const c_char, i32) =
                (ptr::null(), ptr::null(), 0);
            // SAFETY: valid document, index in range, out pointers valid.
            call(|e| unsafe {
                sys::milo_doc_trust_at(self.as_ptr(), i, &mut name, &mut usage, &mut level, e)
            })?;
            let level = Trust::from_code(level)
                .ok_or_else(|| Error::new(6, format!("unknown trust level {level}")))?;
            // SAFETY: borrowed strings of the document, copied right away.
            let (name, usage) = unsafe { (owned_string(name), owned_string(usage)) };
            out.push(TrustEntry { name, usage, level });
        }
        Ok(out)
    }

    /// Records that the document names `name` used as `usage` with trust `level` (the same
    /// (name, usage) again replaces its level).
    pub fn set_trust(&self, name: &str, usage: &str, level: Trust) -> Result<()> {
        let name = c_string(name, "trust name")?;
        let usage = c_string(usage, "trust usage")?;
        // SAFETY: valid document and strings.
        call(|e| unsafe {
            sys::milo_doc_set_trust(self.as_ptr(), name.as_ptr(), usage.as_ptr(), level as i32, e)
        })
    }

    /* -------------------------------------------------------------- root and whole document */

    /// The root value, or `None` when none is set.
    pub fn root(&self) -> Option<Value<'_>> {
        // SAFETY: valid document; the result is borrowed from it.
        self.wrap(unsafe { sys::milo_doc_get_root(self.as_ptr()) })
    }

    /// Sets the root value (it must belong to this document).
    pub fn set_root(&self, root: Value<'_>) -> Result<()> {
        let p = self.own(root)?;
        // SAFETY: valid document and value of it.
        call(|e| unsafe { sys::milo_doc_set_root(self.as_ptr(), p, e) })
    }

    /// Clears the root.
    pub fn clear_root(&self) -> Result<()> {
        // SAFETY: valid document; NULL clears.
        call(|e| unsafe { sys::milo_doc_set_root(self.as_ptr(), ptr::null_mut(), e) })
    }

    /// The value `id` names, checked to belong to this document.
    pub fn value(&self, id: ValueId) -> Result<Value<'_>> {
        if id.doc != self.id {
            return Err(Error::new(1, "value id belongs to another document"));
        }
        Ok(Value::new(id.ptr, self))
    }

    /// Number of values reachable from the root, each shared node counted once.
    pub fn value_count(&self) -> usize {
        // SAFETY: valid document.
        unsafe { sys::milo_doc_value_count(self.as_ptr()) }
    }

    /// The first difference from `other` (a document path and a reason), or `None` when the
    /// documents are equal (header, then values kind by kind, floats and tensor bytes by bit
    /// pattern, sharing and cycles by shape).
    pub fn difference(&self, other: &Doc) -> Option<String> {
        let mut buf = vec![0 as c_char; 1024];
        // SAFETY: both documents valid; `buf` has the size passed.
        let equal = unsafe {
            sys::milo_doc_equal(self.as_ptr(), other.as_ptr(), buf.as_mut_ptr(), buf.len())
        };
        if equal {
            None
        } else {
            // SAFETY: the library NUL-terminates `where` within `where_size`.
            Some(unsafe { owned_string(buf.as_ptr()) })
        }
    }

    /* -------------------------------------------------------------- builders */

    fn create(
        &self,
        f: impl FnOnce(*mut *mut sys::milo_value, *mut sys::milo_error) -> i32,
    ) -> Result<Value<'_>> {
        let mut out = ptr::null_mut();
        call(|e| f(&mut out, e))?;
        self.wrap(out).ok_or_else(|| Error::new(15, "libmilo returned a NULL value"))
    }

    /// A null value.
    pub fn null(&self) -> Result<Value<'_>> {
        // SAFETY (all builders): valid document and out pointer; inputs valid for the call.
        self.create(|o, e| unsafe { sys::milo_value_create_null(self.as_ptr(), o, e) })
    }

    /// A bool.
    pub fn bool(&self, v: bool) -> Result<Value<'_>> {
        self.create(|o, e| unsafe { sys::milo_value_create_bool(self.as_ptr(), v, o, e) })
    }

    /// A 64-bit integer.
    pub fn int(&self, v: i64) -> Result<Value<'_>> {
        self.create(|o, e| unsafe { sys::milo_value_create_int(self.as_ptr(), v, o, e) })
    }

    /// An integer of any size from decimal text (optional `-`, digits, no leading zeros).
    pub fn int_text(&self, text: &str) -> Result<Value<'_>> {
        self.create(|o, e| unsafe {
            sys::milo_value_create_int_text(self.as_ptr(), text.as_ptr().cast(), text.len(), o, e)
        })
    }

    /// A double, kept bit-exact (signed zeros, NaN payloads).
    pub fn float(&self, v: f64) -> Result<Value<'_>> {
        self.create(|o, e| unsafe { sys::milo_value_create_float(self.as_ptr(), v, o, e) })
    }

    /// A UTF-8 string (may contain NUL).
    pub fn string(&self, s: &str) -> Result<Value<'_>> {
        self.create(|o, e| unsafe {
            sys::milo_value_create_string(self.as_ptr(), s.as_ptr().cast(), s.len(), o, e)
        })
    }

    /// A byte string.
    pub fn bytes(&self, b: &[u8]) -> Result<Value<'_>> {
        self.create(|o, e| unsafe {
            sys::milo_value_create_bytes(self.as_ptr(), b.as_ptr(), b.len(), o, e)
        })
    }

    fn container(&self, kind: Kind) -> Result<Value<'_>> {
        self.create(|o, e| unsafe {
            sys::milo_value_create_container(self.as_ptr(), kind.code(), o, e)
        })
    }

    /// An empty list (fill with [`Value::append`]).
    pub fn list(&self) -> Result<Value<'_>> {
        self.container(Kind::List)
    }

    /// An empty tuple (fill with [`Value::append`]).
    pub fn tuple(&self) -> Result<Value<'_>> {
        self.container(Kind::Tuple)
    }

    /// An empty set, ordered as inserted (fill with [`Value::append`]).
    pub fn set(&self) -> Result<Value<'_>> {
        self.container(Kind::Set)
    }

    /// An empty map (fill with [`Value::append_pair`] or [`Value::put`]).
    pub fn map(&self) -> Result<Value<'_>> {
        self.container(Kind::Map)
    }

    /// An object of fully qualified type `type_name`, with no args and no state.
    pub fn object(&self, type_name: &str) -> Result<Value<'_>> {
        let t = c_string(type_name, "object type")?;
        self.create(|o, e| unsafe {
            sys::milo_value_create_object(self.as_ptr(), t.as_ptr(), o, e)
        })
    }

    /// A global naming `name` (`"module.qualname"`).
    pub fn global(&self, name: &str) -> Result<Value<'_>> {
        let n = c_string(name, "global name")?;
        self.create(|o, e| unsafe {
            sys::milo_value_create_global(self.as_ptr(), n.as_ptr(), o, e)
        })
    }

    /// A tensor of `dtype` (not record) and `shape`: numeric data zero-filled, object elements
    /// null, string elements empty. Fill numeric data with [`Doc::tensor_data_mut`], or build it
    /// filled with [`Doc::tensor_from_slice`].
    pub fn tensor(&self, dtype: Dtype, shape: &[i64]) -> Result<Value<'_>> {
        self.create(|o, e| unsafe {
            sys::milo_value_create_tensor(
                self.as_ptr(),
                dtype.code(),
                shape.as_ptr(),
                shape.len(),
                o,
                e,
            )
        })
    }

    /// A tensor of `T`'s dtype holding a copy of `data` (`shape`'s element count must equal
    /// `data.len()`).
    pub fn tensor_from_slice<T: Element>(&self, shape: &[i64], data: &[T]) -> Result<Value<'_>> {
        check_count(shape, data.len())?;
        let t = self.tensor(T::DTYPE, shape)?;
        let (mut p, mut n): (*mut c_void, usize) = (ptr::null_mut(), 0);
        // SAFETY: `t` is a new numeric tensor of this document; nothing else refers to its data.
        call(|e| unsafe { sys::milo_value_tensor_mutable_data(t.as_ptr(), &mut p, &mut n, e) })?;
        let bytes = std::mem::size_of_val(data);
        if n != bytes {
            return Err(Error::new(15, format!("tensor has {n} bytes, expected {bytes}")));
        }
        if bytes > 0 {
            // SAFETY: `p` holds `n` writable bytes; the regions are distinct.
            unsafe { ptr::copy_nonoverlapping(data.as_ptr().cast::<u8>(), p.cast::<u8>(), bytes) };
        }
        Ok(t)
    }

    /// A tensor of `T`'s dtype that takes `data` without copying: libmilo borrows the vector's
    /// memory and drops it when the document is dropped or the tensor is first written.
    pub fn tensor_from_vec<T: Element + Send>(
        &self,
        shape: &[i64],
        data: Vec<T>,
    ) -> Result<Value<'_>> {
        check_count(shape, data.len())?;
        let nbytes = std::mem::size_of_val(data.as_slice());
        let boxed = Box::new(data);
        let data_ptr = boxed.as_ptr().cast::<c_void>();
        let context = Box::into_raw(boxed);
        let mut out = ptr::null_mut();
        // SAFETY: the data stays valid and unchanged inside the leaked box until libmilo calls
        // the release callback, exactly once.
        let r = call(|e| unsafe {
            sys::milo_value_create_tensor_borrowed(
                self.as_ptr(),
                T::DTYPE.code(),
                shape.as_ptr(),
                shape.len(),
                data_ptr,
                nbytes,
                Some(release_boxed_vec::<T>),
                context.cast(),
                &mut out,
                e,
            )
        });
        if let Err(err) = r {
            // On failure nothing is released: the memory is still ours.
            // SAFETY: `context` came from Box::into_raw above and was not taken by libmilo.
            drop(unsafe { Box::from_raw(context) });
            return Err(err);
        }
        self.wrap(out).ok_or_else(|| Error::new(15, "libmilo returned a NULL value"))
    }

    /// A string tensor of `shape` holding `items` (count must match).
    pub fn string_tensor<S: AsRef<str>>(&self, shape: &[i64], items: &[S]) -> Result<Value<'_>> {
        check_count(shape, items.len())?;
        let t = self.tensor(Dtype::String, shape)?;
        for (i, s) in items.iter().enumerate() {
            let s = s.as_ref();
            // SAFETY: `t` is a new string tensor; nobody holds its elements yet.
            call(|e| unsafe {
                sys::milo_value_tensor_set_string(t.as_ptr(), i, s.as_ptr().cast(), s.len(), e)
            })?;
        }
        Ok(t)
    }

    /// An object tensor of `shape` whose elements are null (set them with
    /// [`Value::set_item`]).
    pub fn object_tensor(&self, shape: &[i64]) -> Result<Value<'_>> {
        self.tensor(Dtype::Object, shape)
    }

    /// A zero-filled record tensor whose items are `itemsize` bytes; add fields with
    /// [`Value::add_field`], write data with [`Doc::tensor_bytes_mut`].
    pub fn record_tensor(&self, itemsize: u64, shape: &[i64]) -> Result<Value<'_>> {
        self.create(|o, e| unsafe {
            sys::milo_value_create_record_tensor(
                self.as_ptr(),
                itemsize,
                shape.as_ptr(),
                shape.len(),
                o,
                e,
            )
        })
    }

    /* -------------------------------------------------------------- writes that need &mut */

    fn mutable_bytes(&mut self, id: ValueId) -> Result<(*mut u8, usize)> {
        let p = self.value(id)?.as_ptr();
        let (mut data, mut n): (*mut c_void, usize) = (ptr::null_mut(), 0);
        // SAFETY: `p` is a value of this document; `&mut self` guarantees no view of its data is
        // alive while the library may copy or hand out writable memory.
        call(|e| unsafe { sys::milo_value_tensor_mutable_data(p, &mut data, &mut n, e) })?;
        Ok((data.cast(), n))
    }

    /// The raw little-endian bytes of numeric or record tensor `id`, writable (borrowed data is
    /// copied first).
    pub fn tensor_bytes_mut(&mut self, id: ValueId) -> Result<&mut [u8]> {
        let (p, n) = self.mutable_bytes(id)?;
        if n == 0 {
            return Ok(&mut []);
        }
        // SAFETY: `p` holds `n` bytes owned by the document, exclusively ours for `&mut self`.
        Ok(unsafe { std::slice::from_raw_parts_mut(p, n) })
    }

    /// The elements of numeric tensor `id` as `&mut [T]` (dtype must be `T::DTYPE`; borrowed
    /// data is copied first).
    pub fn tensor_data_mut<T: Element>(&mut self, id: ValueId) -> Result<&mut [T]> {
        let dtype = self.value(id)?.dtype()?;
        if dtype != T::DTYPE {
            return Err(Error::new(
                11,
                format!("tensor is {dtype:?}, not {:?} ({})", T::DTYPE, std::any::type_name::<T>()),
            ));
        }
        let (p, n) = self.mutable_bytes(id)?;
        let size = std::mem::size_of::<T>();
        if n % size != 0 {
            return Err(Error::new(15, format!("tensor has {n} bytes, not a multiple of {size}")));
        }
        if n == 0 {
            return Ok(&mut []);
        }
        if (p as usize) % std::mem::align_of::<T>() != 0 {
            return Err(Error::new(6, "tensor data is not aligned; use tensor_bytes_mut"));
        }
        // SAFETY: `p` holds `n` bytes owned by the document, exclusively ours for `&mut self`.
        let bytes = unsafe { std::slice::from_raw_parts(p, n) };
        if !T::valid_bytes(bytes) {
            return Err(Error::new(3, "bool tensor holds bytes other than 0 and 1"));
        }
        // SAFETY: aligned, sized and validated above; `T` is plain data of this dtype.
        Ok(unsafe { std::slice::from_raw_parts_mut(p.cast::<T>(), n / size) })
    }

    /// Replaces element `index` of string tensor `id`.
    pub fn set_tensor_string(&mut self, id: ValueId, index: usize, s: &str) -> Result<()> {
        let p = self.value(id)?.as_ptr();
        // SAFETY: `&mut self` guarantees no `&str` of the old element is alive.
        call(|e| unsafe {
            sys::milo_value_tensor_set_string(p, index, s.as_ptr().cast(), s.len(), e)
        })
    }
}

impl Drop for Doc {
    fn drop(&mut self) {
        // SAFETY: we own the document; no Value or view of it can be alive (they borrow self).
        unsafe { sys::milo_doc_destroy(self.raw.as_ptr()) };
    }
}

/// Deep structural equality (`milo_doc_equal`): header, then values kind by kind, floats and
/// tensor bytes by bit pattern.
impl PartialEq for Doc {
    fn eq(&self, other: &Doc) -> bool {
        // SAFETY: both documents valid.
        unsafe { sys::milo_doc_equal(self.as_ptr(), other.as_ptr(), ptr::null_mut(), 0) }
    }
}

impl fmt::Debug for Doc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Doc")
            .field("type", &self.header("type").ok().flatten())
            .field("root", &self.root())
            .field("values", &self.value_count())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;

    pub(super) static RELEASES: AtomicUsize = AtomicUsize::new(0);

    // The only test that lends vectors, so the global counter is not shared.
    #[test]
    fn borrowed_vectors_are_released_exactly_once() {
        let base = RELEASES.load(Ordering::SeqCst);
        {
            let doc = Doc::new().unwrap();
            let t = doc.tensor_from_vec(&[3], vec![1.5f32, -2.0, 4.0]).unwrap();
            assert_eq!(t.tensor_as::<f32>().unwrap(), &[1.5, -2.0, 4.0]);
            assert_eq!(RELEASES.load(Ordering::SeqCst), base);
        }
        assert_eq!(RELEASES.load(Ordering::SeqCst), base + 1, "released when the doc is dropped");

        let mut doc = Doc::new().unwrap();
        let id = doc.tensor_from_vec(&[2], vec![7i64, 8]).unwrap().id();
        doc.tensor_data_mut::<i64>(id).unwrap()[1] = 9; // copy on first write releases the vector
        assert_eq!(RELEASES.load(Ordering::SeqCst), base + 2);
        assert_eq!(doc.value(id).unwrap().tensor_as::<i64>().unwrap(), &[7, 9]);
        drop(doc);
        assert_eq!(RELEASES.load(Ordering::SeqCst), base + 2, "never released twice");

        // A failed creation hands nothing to the library: the vector is dropped by us.
        let doc = Doc::new().unwrap();
        let err = doc.tensor_from_vec(&[-1], Vec::<u8>::new()).unwrap_err();
        assert_eq!(err.status, 1);
        drop(doc);
        assert_eq!(RELEASES.load(Ordering::SeqCst), base + 2);
    }

    #[test]
    fn count_mismatch_is_refused_before_creating() {
        let doc = Doc::new().unwrap();
        let err = doc.tensor_from_slice(&[2, 2], &[1.0f64; 3]).unwrap_err();
        assert_eq!((err.status, err.name.as_str()), (1, "MILO_ERR_INVALID_ARGUMENT"));
        assert!(err.message.contains("4 elements but 3"), "{}", err.message);
        let err = doc.string_tensor(&[1], &["a", "b"]).unwrap_err();
        assert_eq!(err.status, 1);
    }
}
