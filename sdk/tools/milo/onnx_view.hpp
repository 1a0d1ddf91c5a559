// ONNX models read from their Milo document alone (root object "onnx.ModelProto", mapping in
// plugins/onnx/README.md), without ONNX or protobuf: the same view for a .onnx file read by the
// plugin and for a .json/.yaml/.pb document made from one. `milo inspect` prints the model view,
// `milo diff` compares nodes, initializers, inputs and outputs by name.
#ifndef MILO_TOOLS_ONNX_VIEW_HPP
#define MILO_TOOLS_ONNX_VIEW_HPP

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "milo/milo.h"

namespace milo {
namespace cli {

struct Differ;

/// True when `root` is an object of type "onnx.ModelProto".
bool is_onnx_model(const milo_value* root);

/* ---------------------------------------------------------------------------------------- */
/* Reading protobuf messages from the document                                               */
/* ---------------------------------------------------------------------------------------- */

/// A string or bytes value as raw bytes; false (and "") for other kinds.
bool onnx_string_value(const milo_value* v, std::string* out);
/// Field `key` of the message object `msg` (a key of its state map); nullptr when absent.
const milo_value* onnx_field(const milo_value* msg, const char* key);
/// A string or bytes field as raw bytes; "" when absent or of another kind.
std::string onnx_string(const milo_value* msg, const char* key);
/// Items of a repeated field held as a list (messages, strings); empty when absent.
std::vector<const milo_value*> onnx_items(const milo_value* msg, const char* key);
/// Names of a repeated string field ("x, w, b"), each as onnx_name.
std::string onnx_names_text(const milo_value* msg, const char* key);
/// A name for output: as it is when plain, JSON-quoted when empty or holding spaces, commas,
/// quotes or control characters.
std::string onnx_name(const std::string& name);
/// "float[1, 3, N, ?]", "seq(float[?])", "map(int64, float)", "optional(...)",
/// "sparse float[...]"; "float" without a shape; "?" when unknown.
std::string onnx_type_text(const milo_value* type_proto);
/// Lower-case ONNX element type name ("float", "int64", "float8e4m3fn") of a data_type value
/// (its enum name or number).
std::string onnx_dtype_text(const milo_value* data_type);

/// A TensorProto: declared type and shape, and where its values are.
struct OnnxTensor {
    std::string name;
    std::string dtype;  ///< onnx_dtype_text of data_type
    std::vector<int64_t> dims;
    uint64_t elements = 0;             ///< product of dims
    uint64_t bytes = 0;                ///< size in ONNX storage (strings: their lengths)
    std::string storage;               ///< data field: "raw_data", "float_data", ..., "external"
    const milo_value* data = nullptr;  ///< that field's value (a typed tensor, or bytes)
};
OnnxTensor onnx_tensor(const milo_value* tensor_proto);
/// True for element types the document keeps as uint8 bit patterns (float8*, float4e2m1).
bool onnx_bit_patterns(const std::string& dtype);
/// "float[2, 3]"; tensors of up to 4 elements add their values: "int64[2](1, 2)".
std::string onnx_tensor_text(const milo_value* tensor_proto);

/// An attribute's type name ("INTS"), from `type` or, when unset, from the field present.
std::string onnx_attribute_type(const milo_value* attribute);
/// An attribute's value, compact: ints, floats and strings shown (lists cut after `max_items`),
/// tensors as dtype[shape], graphs as "<graph NAME: N nodes>", "@name" for a reference.
std::string onnx_attribute_text(const milo_value* attribute, size_t max_items);
/// "name: OpType(domain) in1, in2 -> out1  {attr=value, ...}" (no "name: " when unnamed).
std::string onnx_node_text(const milo_value* node, size_t max_items);
/// Names of a graph's initializers and sparse initializers.
std::vector<std::string> onnx_initializer_names(const milo_value* graph);
/// Graph inputs that are not initializers (models before IR 4 list every initializer as an
/// input too).
std::vector<const milo_value*> onnx_real_inputs(const milo_value* graph);
/// "name: type" of a ValueInfoProto.
std::string onnx_value_info_text(const milo_value* value_info);
/// The domain of an OperatorSetIdProto ("" is "ai.onnx").
std::string onnx_opset_domain(const milo_value* opset);

/* ---------------------------------------------------------------------------------------- */
/* Commands                                                                                  */
/* ---------------------------------------------------------------------------------------- */

/// Prints the model view of `inspect`. `all`: every list item and every initializer in the
/// table (otherwise lists are cut after 8 items and the table shows the 10 largest).
void print_onnx_view(const milo_value* model, bool all);
/// The same facts as one JSON object (no cuts).
std::string onnx_view_json(const milo_value* model);

/// Document paths under the root that `diff_onnx` compares itself (the generic walk skips them).
std::vector<std::string> onnx_diff_paths();
/// Compares two models by name (opsets, metadata, inputs, outputs, nodes, initializers,
/// value_info, functions) and reports through `out`. Returns the summary line ("" when no
/// node or initializer differs).
std::string diff_onnx(Differ* out, const milo_value* a, const milo_value* b);

}  // namespace cli
}  // namespace milo

#endif  // MILO_TOOLS_ONNX_VIEW_HPP
