// The plan IR: every output tensor as an expression over source tensors.
#pragma once

#include "core/index/DType.hpp"
#include "core/io/PyObject.hpp"

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace ckptconv::core {

using Shape = std::vector<int64_t>;

enum class OpKind { Source, Chunk, Cat, Narrow, Pad, Reshape, Permute, Cast, Zeros, Constant, AddLora };

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
    double scale = 0;            ///< AddLora: inputs (w, a, b) give w + scale·(b·a)
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
    std::vector<std::string> notes;              ///< the plugin's lines for the report
    std::vector<std::string> model_roots;        ///< a training save's model roots (plan_model_root)
    std::map<std::string, std::string> metadata; ///< the plugin's safetensors __metadata__ entries
    /// Top-level entries of a training save left out as training state: (name, category).
    std::vector<std::pair<std::string, std::string>> training_state;
    std::string target_name;
    std::string component_dir;
    bool keep_extras = true;
};

/// The target name of a diffusers LoRA adapter: written as pytorch_lora_weights.safetensors (diffusers'
/// LORA_WEIGHT_NAME_SAFE) in the output folder rather than as a component folder.
inline constexpr const char* kDiffusersLora = "diffusers_lora";

std::string shape_text(const Shape& shape);

/** "root/key" (just "key" for the top level): how plans, checks and reports name a tensor. */
inline std::string qualified_name(const std::string& root, const std::string& key) {
    return root.empty() ? key : root + "/" + key;
}

} // namespace ckptconv::core
