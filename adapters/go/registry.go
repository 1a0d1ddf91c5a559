package milo

/*
#include <stdlib.h>
#include <string.h>
#include <milo/milo.h>

// A growable malloc'ed byte buffer that milo_doc_encode writes into; Go copies it out and
// frees it. Kept in C so no Go pointer is handed to the library beyond a call.
typedef struct milo_go_sink {
    uint8_t* data;
    size_t size;
    size_t cap;
} milo_go_sink;

static milo_status milo_go_sink_write(void* context, const void* data, size_t size,
                                      milo_error* error) {
    milo_go_sink* s = (milo_go_sink*)context;
    if (size == 0) return MILO_OK;
    if (size > SIZE_MAX - s->size)
        return milo_error_set(error, MILO_ERR_OUT_OF_MEMORY, "encoded output too large");
    size_t need = s->size + size;
    if (need > s->cap) {
        size_t cap = s->cap ? s->cap : 4096;
        while (cap < need) cap = cap > SIZE_MAX / 2 ? need : cap * 2;
        uint8_t* p = (uint8_t*)realloc(s->data, cap);
        if (p == NULL)
            return milo_error_set(error, MILO_ERR_OUT_OF_MEMORY, "cannot grow the encode buffer");
        s->data = p;
        s->cap = cap;
    }
    memcpy(s->data + s->size, data, size);
    s->size = need;
    return MILO_OK;
}

static milo_status milo_go_encode(milo_registry* reg, const milo_doc* doc,
                                  const milo_save_options* options, milo_go_sink* sink,
                                  milo_error* error) {
    return milo_doc_encode(reg, doc, options, milo_go_sink_write, sink, error);
}
*/
import "C"

import (
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"unsafe"
)

// Registry holds the document formats and the loaded plugins with their transporters
// (milo_registry). Create it with NewRegistry and free it with Close.
//
// A Registry is safe for concurrent use: loading plugins takes it exclusively, every other call
// runs in parallel (the C contract). Documents read through a registry (Open, Load, Decode,
// DecodeNative) may hold memory of its plugins, so Close frees the C registry only once the
// last of those documents is closed.
type Registry struct {
	mu     sync.RWMutex
	ptr    *C.milo_registry
	closed bool
	docs   atomic.Int64 // open documents read through this registry
}

// PluginInfo describes a loaded plugin; built-in formats have the path "(built-in json)" etc.
type PluginInfo struct {
	Path    string
	Name    string
	Version string
}

// TransporterInfo describes a transporter (native model files ⇄ documents).
type TransporterInfo struct {
	ID          string
	Framework   string
	Description string
	Version     string   // the transporter's revision, decimal
	Types       []string // root type names it owns
	Extensions  []string // native file extensions, e.g. ".safetensors"
}

// FormatInfo describes a document format (documents ⇄ bytes).
type FormatInfo struct {
	ID              string
	Description     string
	Extensions      []string
	Text            bool // a text format (SaveOptions.Indent applies)
	ReadableTensors bool // can store tensors element by element
}

// IndentNone as SaveOptions.Indent writes text formats on one line.
const IndentNone = -1

// SaveOptions tune Save and Encode. The zero value (or nil) gives the library defaults.
type SaveOptions struct {
	Format           string     // format id ("json", "yaml", "pb"); "": from the path's extension, else json
	Tensors          TensorMode // TensorsAuto (default), Readable, Compact, or External (Save only)
	Indent           int        // spaces per level for text formats; 0: default (2); IndentNone: one line
	ReadableMaxBytes uint64     // TensorsAuto threshold; 0: default (64 KiB)
	ExternalMinBytes uint64     // TensorsExternal: smaller tensors stay inline; 0: 1 byte
}

// LoadOptions tune Load and Decode. The zero value (or nil) gives the library defaults.
type LoadOptions struct {
	Format   string // format id; "": detect by content
	MaxDepth uint32 // nesting limit; 0: default (1000)
	NoVerify bool   // skip the sha256 check of an external tensor file
}

// NewRegistry creates a registry with the built-in formats json, yaml and pb. Load plugins
// with LoadPlugins("") (the default folders) or LoadPlugin.
func NewRegistry() (*Registry, error) {
	var p *C.milo_registry
	e := newCError()
	if err := newError(C.milo_registry_create(&p, e), e); err != nil {
		return nil, err
	}
	r := &Registry{ptr: p}
	liveRegistries.Add(1)
	runtime.SetFinalizer(r, (*Registry).Close)
	return r, nil
}

// Close frees the registry and unloads its plugins. It is idempotent and always returns nil.
// Documents still open that were read through this registry keep the plugins loaded until
// they are closed; the registry refuses every call after Close.
func (r *Registry) Close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.closed {
		r.closed = true
		runtime.SetFinalizer(r, nil)
	}
	r.destroyIfUnused()
	return nil
}

// destroyIfUnused frees the C registry once it is closed and no document needs it; r.mu held.
func (r *Registry) destroyIfUnused() {
	if r.closed && r.ptr != nil && r.docs.Load() == 0 {
		C.milo_registry_destroy(r.ptr)
		r.ptr = nil
		liveRegistries.Add(-1)
	}
}

// docClosed is called by Doc.Close (without the document's lock held).
func (r *Registry) docClosed() {
	if r.docs.Add(-1) == 0 {
		r.mu.Lock()
		r.destroyIfUnused()
		r.mu.Unlock()
	}
}

// rlock takes the registry for a call; on success the caller must r.mu.RUnlock().
func (r *Registry) rlock() (*C.milo_registry, error) {
	r.mu.RLock()
	if r.closed {
		r.mu.RUnlock()
		return nil, ErrRegistryClosed
	}
	return r.ptr, nil
}

// adopt wraps a document the registry produced; the caller holds r.mu.RLock.
func (r *Registry) adopt(p *C.milo_doc) *Doc {
	r.docs.Add(1)
	return newDocHandle(p, r)
}

// LoadPlugin loads one plugin shared library (all or nothing; loading a file twice is a no-op).
func (r *Registry) LoadPlugin(path string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return ErrRegistryClosed
	}
	cpath := C.CString(path)
	defer C.free(unsafe.Pointer(cpath))
	e := newCError()
	return newError(C.milo_registry_load_plugin(r.ptr, cpath, e), e)
}

// LoadPlugins loads every milo_*.so in the ':'-separated folders of dirs; "" means the
// folders of $MILO_PLUGIN_PATH and then the default plugin folder (PluginDir). Every plugin is
// tried; the first failure is returned after the others are loaded.
func (r *Registry) LoadPlugins(dirs string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return ErrRegistryClosed
	}
	cdirs := cStringOrNil(dirs)
	defer C.free(unsafe.Pointer(cdirs))
	e := newCError()
	return newError(C.milo_registry_load_plugins(r.ptr, cdirs, e), e)
}

// Plugins lists the loaded plugins, built-in formats first. Nil after Close.
func (r *Registry) Plugins() []PluginInfo {
	p, err := r.rlock()
	if err != nil {
		return nil
	}
	defer r.mu.RUnlock()
	n := int(C.milo_registry_plugin_count(p))
	out := make([]PluginInfo, 0, n)
	for i := 0; i < n; i++ {
		var path, name, version *C.char
		if C.milo_registry_plugin_at(p, C.size_t(i), &path, &name, &version, nil) != C.MILO_OK {
			continue
		}
		out = append(out, PluginInfo{C.GoString(path), C.GoString(name), C.GoString(version)})
	}
	return out
}

// cStringList copies a NULL-terminated array of C strings.
func cStringList(p **C.char) []string {
	var out []string
	for p != nil && *p != nil {
		out = append(out, C.GoString(*p))
		p = (**C.char)(unsafe.Add(unsafe.Pointer(p), unsafe.Sizeof(*p)))
	}
	return out
}

// Transporters lists the registered transporters in registration order. Nil after Close.
func (r *Registry) Transporters() []TransporterInfo {
	p, err := r.rlock()
	if err != nil {
		return nil
	}
	defer r.mu.RUnlock()
	n := int(C.milo_registry_transporter_count(p))
	out := make([]TransporterInfo, 0, n)
	for i := 0; i < n; i++ {
		t := C.milo_registry_transporter_at(p, C.size_t(i))
		if t == nil {
			continue
		}
		out = append(out, TransporterInfo{
			ID:          C.GoString(t.id),
			Framework:   C.GoString(t.framework),
			Description: C.GoString(t.description),
			Version:     C.GoString(t.version),
			Types:       cStringList(t.types),
			Extensions:  cStringList(t.extensions),
		})
	}
	return out
}

// Formats lists the registered document formats in registration order. Nil after Close.
func (r *Registry) Formats() []FormatInfo {
	p, err := r.rlock()
	if err != nil {
		return nil
	}
	defer r.mu.RUnlock()
	n := int(C.milo_registry_format_count(p))
	out := make([]FormatInfo, 0, n)
	for i := 0; i < n; i++ {
		f := C.milo_registry_format_at(p, C.size_t(i))
		if f == nil {
			continue
		}
		out = append(out, FormatInfo{
			ID:              C.GoString(f.id),
			Description:     C.GoString(f.description),
			Extensions:      cStringList(f.extensions),
			Text:            f.flags&C.MILO_FORMAT_TEXT != 0,
			ReadableTensors: f.flags&C.MILO_FORMAT_READABLE_TENSORS != 0,
		})
	}
	return out
}

// cLoadOptions converts opts to C; call the returned function to free it (after the call).
func cLoadOptions(opts *LoadOptions) (*C.milo_load_options, func()) {
	if opts == nil {
		return nil, func() {}
	}
	c := new(C.milo_load_options)
	c.struct_size = C.uint32_t(unsafe.Sizeof(*c))
	c.abi_version = C.MILO_ABI_VERSION
	c.format = cStringOrNil(opts.Format)
	c.max_depth = C.uint32_t(opts.MaxDepth)
	if opts.NoVerify {
		c.flags |= C.MILO_LOAD_NO_VERIFY
	}
	return c, func() { C.free(unsafe.Pointer(c.format)) }
}

// cSaveOptions converts opts to C; call the returned function to free it (after the call).
func cSaveOptions(opts *SaveOptions) (*C.milo_save_options, func()) {
	if opts == nil {
		return nil, func() {}
	}
	c := new(C.milo_save_options)
	c.struct_size = C.uint32_t(unsafe.Sizeof(*c))
	c.abi_version = C.MILO_ABI_VERSION
	c.format = cStringOrNil(opts.Format)
	c.tensors = C.int32_t(opts.Tensors)
	switch {
	case opts.Indent == 0:
		c.indent = -1
	case opts.Indent < 0:
		c.indent = 0
	default:
		c.indent = C.int32_t(opts.Indent)
	}
	c.readable_max_bytes = C.uint64_t(opts.ReadableMaxBytes)
	c.external_min_bytes = C.uint64_t(opts.ExternalMinBytes)
	return c, func() { C.free(unsafe.Pointer(c.format)) }
}

// Open reads any input: a Milo document in a registered format (detected by content), else a
// native model file through the transporter that recognises it.
func (r *Registry) Open(path string) (*Doc, error) {
	p, err := r.rlock()
	if err != nil {
		return nil, err
	}
	defer r.mu.RUnlock()
	cpath := C.CString(path)
	defer C.free(unsafe.Pointer(cpath))
	var out *C.milo_doc
	e := newCError()
	if err := newError(C.milo_doc_open(p, cpath, nil, &out, e), e); err != nil {
		return nil, err
	}
	return r.adopt(out), nil
}

// Load reads a Milo document file (format detected by content unless opts name it). External
// tensor files are memory-mapped and verified. opts may be nil.
func (r *Registry) Load(path string, opts *LoadOptions) (*Doc, error) {
	p, err := r.rlock()
	if err != nil {
		return nil, err
	}
	defer r.mu.RUnlock()
	cpath := C.CString(path)
	defer C.free(unsafe.Pointer(cpath))
	copts, free := cLoadOptions(opts)
	defer free()
	var out *C.milo_doc
	e := newCError()
	if err := newError(C.milo_doc_load(p, cpath, copts, &out, e), e); err != nil {
		return nil, err
	}
	return r.adopt(out), nil
}

// Decode reads a Milo document from memory; name (may be "") names it in messages. Documents
// that reference external tensor files are refused (StatusUnsupported). opts may be nil.
func (r *Registry) Decode(data []byte, name string, opts *LoadOptions) (*Doc, error) {
	p, err := r.rlock()
	if err != nil {
		return nil, err
	}
	defer r.mu.RUnlock()
	cname := cStringOrNil(name)
	defer C.free(unsafe.Pointer(cname))
	copts, free := cLoadOptions(opts)
	defer free()
	var out *C.milo_doc
	e := newCError()
	st := C.milo_doc_decode(p, goBytesData(data), C.size_t(len(data)), cname, copts, &out, e)
	if err := newError(st, e); err != nil {
		return nil, err
	}
	return r.adopt(out), nil
}

// Save writes doc to path atomically through a format (opts.Format, else the path's
// extension, else json). With TensorsExternal the numeric tensors go to
// "<path minus extension>.safetensors" beside it. opts may be nil.
func (r *Registry) Save(doc *Doc, path string, opts *SaveOptions) error {
	p, err := r.rlock()
	if err != nil {
		return err
	}
	defer r.mu.RUnlock()
	d, err := doc.rlock()
	if err != nil {
		return err
	}
	defer doc.mu.RUnlock()
	cpath := C.CString(path)
	defer C.free(unsafe.Pointer(cpath))
	copts, free := cSaveOptions(opts)
	defer free()
	e := newCError()
	return newError(C.milo_doc_save(p, d, cpath, copts, e), e)
}

// Encode returns doc encoded through a format (opts.Format, default json). TensorsExternal is
// refused: it needs a path. opts may be nil.
func (r *Registry) Encode(doc *Doc, opts *SaveOptions) ([]byte, error) {
	p, err := r.rlock()
	if err != nil {
		return nil, err
	}
	defer r.mu.RUnlock()
	d, err := doc.rlock()
	if err != nil {
		return nil, err
	}
	defer doc.mu.RUnlock()
	copts, free := cSaveOptions(opts)
	defer free()
	sink := (*C.milo_go_sink)(C.calloc(1, C.size_t(unsafe.Sizeof(C.milo_go_sink{}))))
	if sink == nil {
		return nil, goError(StatusOutOfMemory, "cannot allocate the encode buffer")
	}
	defer func() {
		C.free(unsafe.Pointer(sink.data))
		C.free(unsafe.Pointer(sink))
	}()
	e := newCError()
	if err := newError(C.milo_go_encode(p, d, copts, sink, e), e); err != nil {
		return nil, err
	}
	out := make([]byte, int(sink.size))
	if sink.size > 0 {
		copy(out, unsafe.Slice((*byte)(unsafe.Pointer(sink.data)), int(sink.size)))
	}
	return out, nil
}

// DecodeNative turns native model bytes into a document through transporter id ("" : the
// transporter whose probe recognises the content). path (may be "") names the input in
// messages and locates side files.
func (r *Registry) DecodeNative(id string, data []byte, path string) (*Doc, error) {
	p, err := r.rlock()
	if err != nil {
		return nil, err
	}
	defer r.mu.RUnlock()
	cid := cStringOrNil(id)
	defer C.free(unsafe.Pointer(cid))
	cpath := cStringOrNil(path)
	defer C.free(unsafe.Pointer(cpath))
	var out *C.milo_doc
	e := newCError()
	st := C.milo_registry_decode_native(p, cid, goBytesData(data), C.size_t(len(data)), cpath, &out, e)
	if err := newError(st, e); err != nil {
		return nil, err
	}
	return r.adopt(out), nil
}

// EncodeNative writes doc back to its native form at path, atomically, through transporter id
// ("": the header's transporter.id, else the transporter registered for the root type).
func (r *Registry) EncodeNative(id string, doc *Doc, path string) error {
	p, err := r.rlock()
	if err != nil {
		return err
	}
	defer r.mu.RUnlock()
	d, err := doc.rlock()
	if err != nil {
		return err
	}
	defer doc.mu.RUnlock()
	cid := cStringOrNil(id)
	defer C.free(unsafe.Pointer(cid))
	cpath := C.CString(path)
	defer C.free(unsafe.Pointer(cpath))
	e := newCError()
	return newError(C.milo_registry_encode_native(p, cid, d, cpath, e), e)
}

// Convert opens src (any input, like Open) and writes it to dst: as a document when
// opts.Format is set or dst has a document extension (Save), else natively through the
// transporter that writes dst's extension, preferring the document's own (EncodeNative), like
// `milo convert`. opts may be nil.
func (r *Registry) Convert(src, dst string, opts *SaveOptions) error {
	doc, err := r.Open(src)
	if err != nil {
		return err
	}
	defer doc.Close()
	if (opts != nil && opts.Format != "") || r.hasFormatFor(dst) {
		return r.Save(doc, dst, opts)
	}
	own, _, err := doc.Header("transporter.id")
	if err != nil {
		return err
	}
	writer := ""
	for _, t := range r.Transporters() {
		if handlesExtension(t.Extensions, dst) && (writer == "" || t.ID == own) {
			writer = t.ID
		}
	}
	if writer == "" {
		return goError(StatusUnsupported, "cannot tell the output format of '%s': not a document "+
			"extension and no transporter writes it; set SaveOptions.Format", dst)
	}
	return r.EncodeNative(writer, doc, dst)
}

// hasFormatFor reports whether a registered format claims path's extension.
func (r *Registry) hasFormatFor(path string) bool {
	p, err := r.rlock()
	if err != nil {
		return false
	}
	defer r.mu.RUnlock()
	cpath := C.CString(path)
	defer C.free(unsafe.Pointer(cpath))
	return C.milo_registry_find_format_for_path(p, cpath) != nil
}

func handlesExtension(exts []string, path string) bool {
	lower := strings.ToLower(path)
	for _, ext := range exts {
		if ext != "" && strings.HasSuffix(lower, strings.ToLower(ext)) {
			return true
		}
	}
	return false
}
