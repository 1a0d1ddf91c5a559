//! [`Value`]: a borrowed handle to a value inside a [`Doc`].

use std::ffi::{c_char, c_void};
use std::fmt;
use std::ptr::{self, NonNull};

use crate::{
    borrowed_str, c_string, call, owned_string, sys, Doc, Dtype, Element, Error, Kind, Result,
};

/// A value inside a document: a `Copy` handle that borrows the document for `'doc`, so it
/// cannot outlive it. Everything read through it (`&'doc str`, `&'doc [u8]`, tensor views)
/// borrows the document too, which is what keeps `&mut Doc` writes away while views exist.
///
/// Linking calls ([`Value::append`], [`Value::set_state`], …) only accept values of the same
/// document (`MILO_ERR_INVALID_ARGUMENT` otherwise).
#[derive(Clone, Copy)]
pub struct Value<'doc> {
    ptr: NonNull<sys::milo_value>,
    doc: &'doc Doc,
}

/// A lifetime-free name for a value of one document, for the calls that need `&mut Doc`
/// ([`Doc::tensor_data_mut`], [`Doc::set_tensor_string`]) and to get the [`Value`] back with
/// [`Doc::value`]. It is checked against the document it is used with.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ValueId {
    pub(crate) doc: u64,
    pub(crate) ptr: NonNull<sys::milo_value>,
}

// SAFETY: a ValueId is inert: it is only dereferenced through `Doc::value`, which checks that the
// document it names is the one (alive, borrowed) it is used with.
unsafe impl Send for ValueId {}
// SAFETY: as above.
unsafe impl Sync for ValueId {}

/// One field of a record tensor.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Field {
    /// Unique, non-empty name.
    pub name: String,
    /// A numeric dtype.
    pub dtype: Dtype,
    /// Byte offset within an item.
    pub offset: u64,
    /// Sub-array shape (empty for a scalar field).
    pub shape: Vec<i64>,
}

fn dtype_of(code: i32) -> Result<Dtype> {
    Dtype::from_code(code).ok_or_else(|| Error::new(6, format!("unknown dtype {code}")))
}

impl<'doc> Value<'doc> {
    pub(crate) fn new(ptr: NonNull<sys::milo_value>, doc: &'doc Doc) -> Value<'doc> {
        Value { ptr, doc }
    }

    pub(crate) fn as_ptr(self) -> *mut sys::milo_value {
        self.ptr.as_ptr()
    }

    /// The document this value belongs to.
    pub fn doc(self) -> &'doc Doc {
        self.doc
    }

    /// A lifetime-free id of this value (see [`ValueId`]).
    pub fn id(self) -> ValueId {
        ValueId { doc: self.doc.id(), ptr: self.ptr }
    }

    /// True when both handles name the same value (identity, not equality).
    pub fn is_same(self, other: Value<'_>) -> bool {
        self.ptr == other.ptr
    }

    fn wrap(self, p: *mut sys::milo_value) -> Option<Value<'doc>> {
        self.doc.wrap(p)
    }

    fn link(self, item: Value<'_>) -> Result<*mut sys::milo_value> {
        self.doc.own(item)
    }

    /// The kind of this value.
    pub fn kind(self) -> Kind {
        // SAFETY (all reads below): `self.ptr` is a live value of `self.doc`, borrowed for 'doc;
        // borrowed results live as long as the document (ABI rule 3.4).
        Kind::from_code(unsafe { sys::milo_value_get_kind(self.as_ptr()) })
    }

    /// True for a null value.
    pub fn is_null(self) -> bool {
        self.kind() == Kind::Null
    }

    /* ------------------------------------------------------------------ scalars */

    /// The value of a bool (`MILO_ERR_TYPE` for other kinds).
    pub fn as_bool(self) -> Result<bool> {
        let mut out = false;
        call(|e| unsafe { sys::milo_value_get_bool(self.as_ptr(), &mut out, e) })?;
        Ok(out)
    }

    /// The value of an int that fits `i64` (`MILO_ERR_OUT_OF_RANGE` otherwise; read those with
    /// [`Value::as_int_text`]).
    pub fn as_int(self) -> Result<i64> {
        let mut out = 0;
        call(|e| unsafe { sys::milo_value_get_int(self.as_ptr(), &mut out, e) })?;
        Ok(out)
    }

    /// The decimal text of any int.
    pub fn as_int_text(self) -> Result<&'doc str> {
        let mut out: *const c_char = ptr::null();
        call(|e| unsafe { sys::milo_value_get_int_text(self.as_ptr(), &mut out, e) })?;
        unsafe { borrowed_str(out, "integer text") }
    }

    /// The value of a float, bit-exact.
    pub fn as_float(self) -> Result<f64> {
        let mut out = 0.0;
        call(|e| unsafe { sys::milo_value_get_float(self.as_ptr(), &mut out, e) })?;
        Ok(out)
    }

    /// The text of a string (zero-copy; may contain NUL).
    pub fn as_str(self) -> Result<&'doc str> {
        let (mut p, mut n): (*const c_char, usize) = (ptr::null(), 0);
        call(|e| unsafe { sys::milo_value_get_string(self.as_ptr(), &mut p, &mut n, e) })?;
        // SAFETY: `p` holds `n` bytes for the document's lifetime.
        let bytes = unsafe { slice_or_empty(p.cast::<u8>(), n) };
        std::str::from_utf8(bytes).map_err(|_| Error::new(3, "string value is not valid UTF-8"))
    }

    /// The bytes of a bytes value (zero-copy).
    pub fn as_bytes(self) -> Result<&'doc [u8]> {
        let (mut p, mut n): (*const u8, usize) = (ptr::null(), 0);
        call(|e| unsafe { sys::milo_value_get_bytes(self.as_ptr(), &mut p, &mut n, e) })?;
        // SAFETY: `p` holds `n` bytes for the document's lifetime.
        Ok(unsafe { slice_or_empty(p, n) })
    }

    /// The type name of an object or the name of a global.
    pub fn name(self) -> Result<&'doc str> {
        let mut out: *const c_char = ptr::null();
        call(|e| unsafe { sys::milo_value_get_name(self.as_ptr(), &mut out, e) })?;
        unsafe { borrowed_str(out, "name") }
    }

    /* ------------------------------------------------------------------ containers */

    /// Items of a list/tuple/set, pairs of a map, elements of a tensor; 0 for other kinds.
    pub fn len(self) -> usize {
        unsafe { sys::milo_value_count(self.as_ptr()) }
    }

    /// True when [`Value::len`] is 0.
    pub fn is_empty(self) -> bool {
        self.len() == 0
    }

    /// Item `index` of a list/tuple/set, or the value of pair `index` of a map.
    pub fn at(self, index: usize) -> Option<Value<'doc>> {
        self.wrap(unsafe { sys::milo_value_at(self.as_ptr(), index) })
    }

    /// The key of pair `index` of a map.
    pub fn key_at(self, index: usize) -> Option<Value<'doc>> {
        self.wrap(unsafe { sys::milo_value_key_at(self.as_ptr(), index) })
    }

    /// The value of the first pair of a map whose key is the string `key`.
    pub fn find(self, key: &str) -> Option<Value<'doc>> {
        let key = c_string(key, "key").ok()?;
        self.wrap(unsafe { sys::milo_value_find(self.as_ptr(), key.as_ptr()) })
    }

    /// The items of a list/tuple/set, or the values of a map.
    pub fn iter(self) -> Items<'doc> {
        Items { value: self, index: 0, end: self.len() }
    }

    /// The (key, value) pairs of a map.
    pub fn pairs(self) -> Pairs<'doc> {
        Pairs { value: self, index: 0, end: if self.kind() == Kind::Map { self.len() } else { 0 } }
    }

    /// Appends `item` to a list, tuple or set.
    pub fn append(self, item: Value<'_>) -> Result<()> {
        let item = self.link(item)?;
        call(|e| unsafe { sys::milo_value_append(self.as_ptr(), item, e) })
    }

    /// Appends the pair (`key`, `item`) to a map (keys of any kind; not deduplicated).
    pub fn append_pair(self, key: Value<'_>, item: Value<'_>) -> Result<()> {
        let key = self.link(key)?;
        let item = self.link(item)?;
        call(|e| unsafe { sys::milo_value_append_pair(self.as_ptr(), key, item, e) })
    }

    /// Appends the pair (string `key`, `item`) to a map.
    pub fn put(self, key: &str, item: Value<'_>) -> Result<()> {
        let key = self.doc.string(key)?;
        self.append_pair(key, item)
    }

    /// Replaces item `index` of a list/tuple/set, or the value of pair `index` of a map.
    pub fn set_at(self, index: usize, item: Value<'_>) -> Result<()> {
        let item = self.link(item)?;
        call(|e| unsafe { sys::milo_value_set_at(self.as_ptr(), index, item, e) })
    }

    /* ------------------------------------------------------------------ objects */

    /// The constructor arguments of an object, if any.
    pub fn args(self) -> Option<Value<'doc>> {
        self.wrap(unsafe { sys::milo_value_get_args(self.as_ptr()) })
    }

    /// The state of an object, if any.
    pub fn state(self) -> Option<Value<'doc>> {
        self.wrap(unsafe { sys::milo_value_get_state(self.as_ptr()) })
    }

    /// Sets (`Some`) or clears (`None`) the constructor arguments of an object.
    pub fn set_args(self, args: Option<Value<'_>>) -> Result<()> {
        let p = args.map(|a| self.link(a)).transpose()?.unwrap_or(ptr::null_mut());
        call(|e| unsafe { sys::milo_value_set_args(self.as_ptr(), p, e) })
    }

    /// Sets (`Some`) or clears (`None`) the state of an object.
    pub fn set_state(self, state: Option<Value<'_>>) -> Result<()> {
        let p = state.map(|s| self.link(s)).transpose()?.unwrap_or(ptr::null_mut());
        call(|e| unsafe { sys::milo_value_set_state(self.as_ptr(), p, e) })
    }

    /* ------------------------------------------------------------------ tensors */

    fn tensor_info(self) -> Result<(i32, *const i64, usize)> {
        let (mut dtype, mut shape, mut ndim): (i32, *const i64, usize) = (0, ptr::null(), 0);
        call(|e| unsafe {
            sys::milo_value_get_tensor(self.as_ptr(), &mut dtype, &mut shape, &mut ndim, e)
        })?;
        Ok((dtype, shape, ndim))
    }

    /// The dtype of a tensor.
    pub fn dtype(self) -> Result<Dtype> {
        dtype_of(self.tensor_info()?.0)
    }

    /// The shape of a tensor (empty for a scalar).
    pub fn shape(self) -> Result<&'doc [i64]> {
        let (_, shape, ndim) = self.tensor_info()?;
        // SAFETY: the shape is fixed at creation and lives as long as the document.
        Ok(unsafe { slice_or_empty(shape, ndim) })
    }

    /// Bytes per element (record: the item size; object and string tensors: 0).
    pub fn itemsize(self) -> u64 {
        unsafe { sys::milo_value_tensor_itemsize(self.as_ptr()) }
    }

    /// The raw little-endian C-order bytes of a numeric or record tensor (zero-copy).
    /// `MILO_ERR_TYPE` for object and string tensors.
    pub fn tensor_bytes(self) -> Result<&'doc [u8]> {
        let (mut p, mut n): (*const c_void, usize) = (ptr::null(), 0);
        call(|e| unsafe { sys::milo_value_tensor_data(self.as_ptr(), &mut p, &mut n, e) })?;
        // SAFETY: valid until the tensor is written, which needs `&mut Doc`, impossible while
        // this borrow of the document lives.
        Ok(unsafe { slice_or_empty(p.cast::<u8>(), n) })
    }

    fn check_dtype<T: Element>(self) -> Result<()> {
        let dtype = self.dtype()?;
        if dtype != T::DTYPE {
            return Err(Error::new(
                11,
                format!("tensor is {dtype:?}, not {:?} ({})", T::DTYPE, std::any::type_name::<T>()),
            ));
        }
        Ok(())
    }

    /// The elements of a numeric tensor as `&[T]`, zero-copy. `MILO_ERR_TYPE` unless the dtype
    /// is `T::DTYPE`; `MILO_ERR_UNSUPPORTED` when the data is not aligned for `T` (possible for
    /// tensors mapped from an external file: use [`Value::tensor_to_vec`]); `MILO_ERR_CORRUPT`
    /// for a bool tensor holding bytes other than 0 and 1.
    pub fn tensor_as<T: Element>(self) -> Result<&'doc [T]> {
        self.check_dtype::<T>()?;
        let bytes = self.tensor_bytes()?;
        let size = std::mem::size_of::<T>();
        if bytes.len() % size != 0 {
            return Err(Error::new(15, "tensor byte count is not a multiple of the item size"));
        }
        if bytes.is_empty() {
            return Ok(&[]);
        }
        if (bytes.as_ptr() as usize) % std::mem::align_of::<T>() != 0 {
            return Err(Error::new(
                6,
                format!(
                    "tensor data is not aligned for {}; use tensor_to_vec",
                    std::any::type_name::<T>()
                ),
            ));
        }
        if !T::valid_bytes(bytes) {
            return Err(Error::new(3, "bool tensor holds bytes other than 0 and 1"));
        }
        // SAFETY: aligned, sized and validated; `T` is plain data of this dtype; the bytes live
        // (unchanged) for 'doc.
        Ok(unsafe { std::slice::from_raw_parts(bytes.as_ptr().cast::<T>(), bytes.len() / size) })
    }

    /// A copy of the elements of a numeric tensor (any alignment).
    pub fn tensor_to_vec<T: Element>(self) -> Result<Vec<T>> {
        self.check_dtype::<T>()?;
        let bytes = self.tensor_bytes()?;
        if !T::valid_bytes(bytes) {
            return Err(Error::new(3, "bool tensor holds bytes other than 0 and 1"));
        }
        let size = std::mem::size_of::<T>();
        Ok(bytes
            .chunks_exact(size)
            // SAFETY: each chunk holds the `size` bytes of one valid `T`.
            .map(|c| unsafe { ptr::read_unaligned(c.as_ptr().cast::<T>()) })
            .collect())
    }

    /// Element `index` (C order) of a string tensor (zero-copy).
    pub fn string_at(self, index: usize) -> Result<&'doc str> {
        let (mut p, mut n): (*const c_char, usize) = (ptr::null(), 0);
        call(|e| unsafe {
            sys::milo_value_tensor_string_at(self.as_ptr(), index, &mut p, &mut n, e)
        })?;
        // SAFETY: replaced only by `Doc::set_tensor_string`, which needs `&mut Doc`.
        let bytes = unsafe { slice_or_empty(p.cast::<u8>(), n) };
        std::str::from_utf8(bytes).map_err(|_| Error::new(3, "string element is not valid UTF-8"))
    }

    /// Every element of a string tensor, in C order.
    pub fn strings(self) -> Result<Vec<&'doc str>> {
        if self.dtype()? != Dtype::String {
            return Err(Error::new(11, "strings() needs a string tensor"));
        }
        (0..self.len()).map(|i| self.string_at(i)).collect()
    }

    /// Element `index` (C order) of an object tensor.
    pub fn item_at(self, index: usize) -> Option<Value<'doc>> {
        self.wrap(unsafe { sys::milo_value_tensor_item_at(self.as_ptr(), index) })
    }

    /// Sets element `index` of an object tensor.
    pub fn set_item(self, index: usize, item: Value<'_>) -> Result<()> {
        let item = self.link(item)?;
        call(|e| unsafe { sys::milo_value_tensor_set_item(self.as_ptr(), index, item, e) })
    }

    /// Adds a field to a record tensor: numeric `dtype` at byte `offset`, with sub-array
    /// `shape` (empty for a scalar).
    pub fn add_field(self, name: &str, dtype: Dtype, offset: u64, shape: &[i64]) -> Result<()> {
        let name = c_string(name, "field name")?;
        call(|e| unsafe {
            sys::milo_value_tensor_add_field(
                self.as_ptr(),
                name.as_ptr(),
                dtype.code(),
                offset,
                shape.as_ptr(),
                shape.len(),
                e,
            )
        })
    }

    /// The fields of a record tensor (empty for other tensors).
    pub fn fields(self) -> Result<Vec<Field>> {
        let n = unsafe { sys::milo_value_tensor_field_count(self.as_ptr()) };
        let mut out = Vec::with_capacity(n);
        for i in 0..n {
            let (mut name, mut dtype, mut offset, mut shape, mut ndim): (
                *const c_char,
                i32,
                u64,
                *const i64,
                usize,
            ) = (ptr::null(), 0, 0, ptr::null(), 0);
            call(|e| unsafe {
                sys::milo_value_tensor_field_at(
                    self.as_ptr(),
                    i,
                    &mut name,
                    &mut dtype,
                    &mut offset,
                    &mut shape,
                    &mut ndim,
                    e,
                )
            })?;
            // Copied: adding a field may move the others' names and shapes.
            out.push(Field {
                name: unsafe { owned_string(name) },
                dtype: dtype_of(dtype)?,
                offset,
                shape: unsafe { slice_or_empty(shape, ndim) }.to_vec(),
            });
        }
        Ok(out)
    }
}

/// Borrows `n` items at `p` (NULL or `n == 0` give an empty slice).
///
/// # Safety
/// When `n > 0`, `p` must point to `n` initialised, aligned items valid and unchanged for `'a`.
unsafe fn slice_or_empty<'a, T>(p: *const T, n: usize) -> &'a [T] {
    if p.is_null() || n == 0 {
        &[]
    } else {
        // SAFETY: per the caller's contract.
        unsafe { std::slice::from_raw_parts(p, n) }
    }
}

impl fmt::Debug for Value<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let v = *self;
        match v.kind() {
            Kind::Null => write!(f, "Null"),
            Kind::Bool => write!(f, "Bool({:?})", v.as_bool().ok()),
            Kind::Int => write!(f, "Int({})", v.as_int_text().unwrap_or("?")),
            Kind::Float => write!(f, "Float({:?})", v.as_float().ok()),
            Kind::String => write!(f, "String({:?})", v.as_str().ok()),
            Kind::Bytes => write!(f, "Bytes({} bytes)", v.as_bytes().map_or(0, |b| b.len())),
            Kind::Tensor => write!(f, "Tensor({:?}, {:?})", v.dtype().ok(), v.shape().ok()),
            Kind::Object => write!(f, "Object({:?})", v.name().ok()),
            Kind::Global => write!(f, "Global({:?})", v.name().ok()),
            k @ (Kind::List | Kind::Tuple | Kind::Set | Kind::Map) => {
                write!(f, "{:?}(len {})", k, v.len())
            }
            Kind::Other(code) => write!(f, "Other({code})"),
        }
    }
}

impl<'doc> IntoIterator for Value<'doc> {
    type Item = Value<'doc>;
    type IntoIter = Items<'doc>;
    fn into_iter(self) -> Items<'doc> {
        self.iter()
    }
}

/// Iterator over the items of a list/tuple/set or the values of a map ([`Value::iter`]).
#[derive(Clone, Debug)]
pub struct Items<'doc> {
    value: Value<'doc>,
    index: usize,
    end: usize,
}

impl<'doc> Iterator for Items<'doc> {
    type Item = Value<'doc>;
    fn next(&mut self) -> Option<Value<'doc>> {
        if self.index >= self.end {
            return None;
        }
        self.index += 1;
        self.value.at(self.index - 1)
    }
    fn size_hint(&self) -> (usize, Option<usize>) {
        let n = self.end.saturating_sub(self.index);
        (0, Some(n))
    }
}

/// Iterator over the (key, value) pairs of a map ([`Value::pairs`]).
#[derive(Clone, Debug)]
pub struct Pairs<'doc> {
    value: Value<'doc>,
    index: usize,
    end: usize,
}

impl<'doc> Iterator for Pairs<'doc> {
    type Item = (Value<'doc>, Value<'doc>);
    fn next(&mut self) -> Option<(Value<'doc>, Value<'doc>)> {
        if self.index >= self.end {
            return None;
        }
        let i = self.index;
        self.index += 1;
        Some((self.value.key_at(i)?, self.value.at(i)?))
    }
}
