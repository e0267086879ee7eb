// The plan IR: every output tensor as an expression over source tensors.
#pragma once

#include "core/index/DType.hpp"
#include "core/io/PyObject.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace ckptconv::core {

using Shape = std::vector<int64_t>;

enum class OpKind { Source, Chunk, Cat, Narrow, Pad, Reshape, Permute, Cast, Zeros, Constant };

/** One expression node; `shape` and `dtype` are inferred when it is built. */
struct PlanNode {
    OpKind kind = OpKind::Source;
    std::vector<int64_t> inputs; ///< handles of operand nodes
    uint64_t source_tensor = 0;  ///< Source: index into CheckpointIndex::tensors
    int64_t dim = 0;             ///< Chunk/Cat/Narrow/Pad (normalised, non-negative)
    int64_t a = 0;               ///< Chunk: parts; Narrow: start; Pad: new size
    int64_t b = 0;               ///< Chunk: index; Narrow: length
    std::vector<int64_t> dims;   ///< Permute order
    std::string bytes;           ///< Constant payload
    DType dtype = DType::Invalid;
    Shape shape;
};

struct PlanOutput {
    std::string root;
    std::string key;
    int64_t expr = -1;              ///< -1 for an alias
    std::optional<size_t> alias_of; ///< index of the output it is tied to
};

struct PlanDrop {
    uint64_t source_tensor = 0;
    std::string reason;
};

struct PlanExpectation {
    std::string root;
    std::string key;
    Shape shape;
};

struct PlanFile {
    std::string path;
    std::string content;
};

/** A non-tensor top-level entry of a pt output (a fairseq envelope's `args`), built from the plugin's JSON. */
struct PlanValue {
    std::string key;
    PyRef value; ///< what PyFromJson made of it; shared by every output written from the plan
};

struct Plan {
    std::vector<PlanNode> nodes;
    std::vector<PlanOutput> outputs;
    std::vector<PlanDrop> drops;
    std::vector<PlanExpectation> expected;
    std::vector<PlanFile> files;
    std::vector<PlanValue> values;
    std::vector<std::string> notes; ///< the plugin's lines for the report
    std::string target_name;
    std::string component_dir;
    bool keep_extras = true;
};

std::string shape_text(const Shape& shape);

/** "root/key" (just "key" for the top level): how plans, checks and reports name a tensor. */
inline std::string qualified_name(const std::string& root, const std::string& key) {
    return root.empty() ? key : root + "/" + key;
}

} // namespace ckptconv::core
