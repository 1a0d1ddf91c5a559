// The ABI pins: static_asserts on the x86_64 layout of every ABI struct, the order and types
// of the milo_api table, and every constant fixed forever. Compiled by abi_layout_test, and by
// abi_mutation_test against deliberately broken copies of the headers (each must fail).
// Growing a struct or the table means appending a line here (and bumping MILO_ABI_VERSION),
// never editing one.
#ifndef MILO_ABI_PINS_HPP
#define MILO_ABI_PINS_HPP

#include <milo/milo.h>

#include <cstddef>
#include <type_traits>

#if !defined(__x86_64__) || !defined(__LP64__)
#error "abi_layout_test pins the x86_64 (LP64) layout; add a block for this target"
#endif

#define PIN(type, member, offset) \
    static_assert(offsetof(type, member) == (offset), #type "." #member " moved")
#define PIN_SIZE(type, size) static_assert(sizeof(type) == (size), "sizeof(" #type ") changed")

// ---------------------------------------------------------------------------------------------
// Constants that are part of the ABI.
static_assert(MILO_ABI_VERSION == 2, "new ABI: append pins below, then update this line");
static_assert(MILO_ABI_MIN_SUPPORTED == 1, "MILO_ABI_MIN_SUPPORTED changed");
static_assert(MILO_FORMAT_VERSION == 1, "new format version");
static_assert(MILO_OK == 0 && MILO_ERR_INVALID_ARGUMENT == 1 && MILO_ERR_OUT_OF_MEMORY == 2 &&
                  MILO_ERR_CORRUPT == 3 && MILO_ERR_LIMIT == 4 && MILO_ERR_NOT_FOUND == 5 &&
                  MILO_ERR_UNSUPPORTED == 6 && MILO_ERR_IO == 7 && MILO_ERR_ABI == 8 &&
                  MILO_ERR_PLUGIN == 9 && MILO_ERR_DUPLICATE == 10 && MILO_ERR_TYPE == 11 &&
                  MILO_ERR_INTEGRITY == 12 && MILO_ERR_DANGEROUS == 13 &&
                  MILO_ERR_OUT_OF_RANGE == 14 && MILO_ERR_INTERNAL == 15,
              "status codes are fixed forever");
static_assert(MILO_KIND_NULL == 0 && MILO_KIND_BOOL == 1 && MILO_KIND_INT == 2 &&
                  MILO_KIND_FLOAT == 3 && MILO_KIND_STRING == 4 && MILO_KIND_BYTES == 5 &&
                  MILO_KIND_LIST == 6 && MILO_KIND_TUPLE == 7 && MILO_KIND_SET == 8 &&
                  MILO_KIND_MAP == 9 && MILO_KIND_TENSOR == 10 && MILO_KIND_OBJECT == 11 &&
                  MILO_KIND_GLOBAL == 12,
              "value kinds are fixed forever");
static_assert(MILO_DTYPE_BOOL == 1 && MILO_DTYPE_INT8 == 2 && MILO_DTYPE_INT16 == 3 &&
                  MILO_DTYPE_INT32 == 4 && MILO_DTYPE_INT64 == 5 && MILO_DTYPE_UINT8 == 6 &&
                  MILO_DTYPE_UINT16 == 7 && MILO_DTYPE_UINT32 == 8 && MILO_DTYPE_UINT64 == 9 &&
                  MILO_DTYPE_FLOAT16 == 10 && MILO_DTYPE_BFLOAT16 == 11 &&
                  MILO_DTYPE_FLOAT32 == 12 && MILO_DTYPE_FLOAT64 == 13 &&
                  MILO_DTYPE_COMPLEX64 == 14 && MILO_DTYPE_COMPLEX128 == 15 &&
                  MILO_DTYPE_RECORD == 16 && MILO_DTYPE_OBJECT == 17 && MILO_DTYPE_STRING == 18,
              "dtypes are fixed forever");
static_assert(MILO_TRUST_TRUSTED == 0 && MILO_TRUST_UNTRUSTED == 1 && MILO_TRUST_DANGEROUS == 2,
              "trust levels are fixed forever");
static_assert(MILO_TENSORS_AUTO == 0 && MILO_TENSORS_READABLE == 1 && MILO_TENSORS_COMPACT == 2 &&
                  MILO_TENSORS_EXTERNAL == 3,
              "tensor storage modes are fixed forever");
static_assert(MILO_FORMAT_TEXT == 1u && MILO_FORMAT_READABLE_TENSORS == 2u &&
                  MILO_LOAD_NO_VERIFY == 1u,
              "flags are fixed forever");
static_assert(MILO_ERROR_MESSAGE_SIZE == 1000 && MILO_MAX_NDIM == 64, "limits are ABI");

// ---------------------------------------------------------------------------------------------
// error.h
PIN(milo_error, struct_size, 0);
PIN(milo_error, code, 4);
PIN(milo_error, message, 8);
PIN_SIZE(milo_error, 1008);

// registry.h
PIN(milo_save_options, struct_size, 0);
PIN(milo_save_options, abi_version, 4);
PIN(milo_save_options, format, 8);
PIN(milo_save_options, tensors, 16);
PIN(milo_save_options, indent, 20);
PIN(milo_save_options, readable_max_bytes, 24);
PIN(milo_save_options, external_min_bytes, 32);
PIN_SIZE(milo_save_options, 40);

PIN(milo_load_options, struct_size, 0);
PIN(milo_load_options, abi_version, 4);
PIN(milo_load_options, format, 8);
PIN(milo_load_options, max_depth, 16);
PIN(milo_load_options, flags, 20);
PIN_SIZE(milo_load_options, 24);

// plugin.h
PIN(milo_plugin_info, struct_size, 0);
PIN(milo_plugin_info, abi_version, 4);
PIN(milo_plugin_info, abi_min, 8);
PIN(milo_plugin_info, reserved, 12);
PIN(milo_plugin_info, name, 16);
PIN(milo_plugin_info, version, 24);
PIN_SIZE(milo_plugin_info, 32);

PIN(milo_decode_context, struct_size, 0);
PIN(milo_decode_context, abi_version, 4);
PIN(milo_decode_context, data, 8);
PIN(milo_decode_context, size, 16);
PIN(milo_decode_context, name, 24);
PIN(milo_decode_context, max_depth, 32);
PIN(milo_decode_context, reserved, 36);
PIN(milo_decode_context, context, 40);
PIN(milo_decode_context, consumed, 48);
PIN(milo_decode_context, create_external_tensor, 56);
PIN_SIZE(milo_decode_context, 64);

PIN(milo_encode_context, struct_size, 0);
PIN(milo_encode_context, abi_version, 4);
PIN(milo_encode_context, context, 8);
PIN(milo_encode_context, write, 16);
PIN(milo_encode_context, indent, 24);
PIN(milo_encode_context, reserved, 28);
PIN(milo_encode_context, tensor_storage, 32);
PIN_SIZE(milo_encode_context, 40);

PIN(milo_transporter, struct_size, 0);
PIN(milo_transporter, abi_version, 4);
PIN(milo_transporter, id, 8);
PIN(milo_transporter, description, 16);
PIN(milo_transporter, version, 24);
PIN(milo_transporter, framework, 32);
PIN(milo_transporter, types, 40);
PIN(milo_transporter, extensions, 48);
PIN(milo_transporter, self, 56);
PIN(milo_transporter, probe, 64);
PIN(milo_transporter, decode, 72);
PIN(milo_transporter, encode, 80);
PIN(milo_transporter, destroy, 88);
PIN(milo_transporter, get_extension, 96);
PIN_SIZE(milo_transporter, 104);

PIN(milo_format, struct_size, 0);
PIN(milo_format, abi_version, 4);
PIN(milo_format, id, 8);
PIN(milo_format, description, 16);
PIN(milo_format, extensions, 24);
PIN(milo_format, flags, 32);
PIN(milo_format, reserved, 36);
PIN(milo_format, self, 40);
PIN(milo_format, probe, 48);
PIN(milo_format, encode, 56);
PIN(milo_format, decode, 64);
PIN(milo_format, destroy, 72);
PIN(milo_format, get_extension, 80);
PIN_SIZE(milo_format, 88);

PIN(milo_host, struct_size, 0);
PIN(milo_host, abi_version, 4);
PIN(milo_host, api, 8);
PIN(milo_host, context, 16);
PIN(milo_host, declare_plugin, 24);
PIN(milo_host, register_transporter, 32);
PIN(milo_host, register_format, 40);
PIN_SIZE(milo_host, 48);

// ---------------------------------------------------------------------------------------------
// milo_api: every member, in order. X(member, offset); each member has the type of a pointer to
// the public function milo_<member>.
#define MILO_API_MEMBERS(X) \
    X(status_name, 8) \
    X(error_set, 16) \
    X(doc_create, 24) \
    X(doc_destroy, 32) \
    X(doc_get_root, 40) \
    X(doc_set_root, 48) \
    X(doc_get_header, 56) \
    X(doc_set_header, 64) \
    X(doc_set_trust, 72) \
    X(doc_trust_count, 80) \
    X(doc_trust_at, 88) \
    X(doc_set_metadata, 96) \
    X(doc_metadata_count, 104) \
    X(doc_metadata_at, 112) \
    X(value_create_null, 120) \
    X(value_create_bool, 128) \
    X(value_create_int, 136) \
    X(value_create_int_text, 144) \
    X(value_create_float, 152) \
    X(value_create_string, 160) \
    X(value_create_bytes, 168) \
    X(value_create_container, 176) \
    X(value_create_object, 184) \
    X(value_create_global, 192) \
    X(value_create_tensor, 200) \
    X(value_create_record_tensor, 208) \
    X(value_create_tensor_borrowed, 216) \
    X(value_get_kind, 224) \
    X(value_get_bool, 232) \
    X(value_get_int, 240) \
    X(value_get_int_text, 248) \
    X(value_get_float, 256) \
    X(value_get_string, 264) \
    X(value_get_bytes, 272) \
    X(value_get_name, 280) \
    X(value_count, 288) \
    X(value_at, 296) \
    X(value_key_at, 304) \
    X(value_find, 312) \
    X(value_append, 320) \
    X(value_append_pair, 328) \
    X(value_set_at, 336) \
    X(value_get_args, 344) \
    X(value_get_state, 352) \
    X(value_set_args, 360) \
    X(value_set_state, 368) \
    X(value_get_tensor, 376) \
    X(value_tensor_itemsize, 384) \
    X(value_tensor_data, 392) \
    X(value_tensor_mutable_data, 400) \
    X(value_tensor_add_field, 408) \
    X(value_tensor_field_count, 416) \
    X(value_tensor_field_at, 424) \
    X(value_tensor_item_at, 432) \
    X(value_tensor_set_item, 440) \
    X(value_tensor_string_at, 448) \
    X(value_tensor_set_string, 456) \
    X(doc_equal, 464) \
    X(doc_value_count, 472) \
    X(registry_transporter_count, 480) \
    X(registry_transporter_at, 488) \
    X(registry_find_transporter, 496) \
    X(registry_find_transporter_for_type, 504) \
    X(hash_sha256, 512)

PIN(milo_api, struct_size, 0);
PIN(milo_api, abi_version, 4);
#define PIN_API_MEMBER(member, offset)                                                        \
    PIN(milo_api, member, offset);                                                            \
    static_assert(std::is_same<decltype(milo_api::member), decltype(&milo_##member)>::value, \
                  "milo_api." #member " does not match milo_" #member);
MILO_API_MEMBERS(PIN_API_MEMBER)
#undef PIN_API_MEMBER
PIN_SIZE(milo_api, 520);  // 64 function pointers after the two uint32 fields

#endif  // MILO_ABI_PINS_HPP
