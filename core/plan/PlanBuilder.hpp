// Records plan ops from plugins (through the host services), checking shapes as it goes.
#pragma once

#include "core/index/CheckpointIndex.hpp"
#include "core/plan/Plan.hpp"

#include <stdexcept>
#include <string>
#include <unordered_map>

namespace ckptconv::core {

/** A refused op; the message names the keys and shapes involved. */
class PlanOpError : public std::runtime_error {
  public:
    using std::runtime_error::runtime_error;
};

class PlanBuilder {
  public:
    explicit PlanBuilder(const CheckpointIndex& index);

    int64_t source(const std::string& root, const std::string& key);
    int64_t chunk(int64_t x, int64_t parts, int64_t index, int64_t dim);
    int64_t cat(const std::vector<int64_t>& xs, int64_t dim);
    int64_t narrow(int64_t x, int64_t dim, int64_t start, int64_t length);
    int64_t pad(int64_t x, int64_t dim, int64_t new_size);
    int64_t reshape(int64_t x, const Shape& shape);
    int64_t permute(int64_t x, const std::vector<int64_t>& dims);
    int64_t cast(int64_t x, DType dtype);
    int64_t zeros(const Shape& shape, DType dtype);
    int64_t constant(const Shape& shape, DType dtype, std::string bytes);
    /** w + scale·(b·a): w [out, in], b [out, r], a [r, in], all floating point. */
    int64_t add_lora(int64_t w, int64_t a, int64_t b, double scale);

    void output(const std::string& root, const std::string& key, int64_t x);
    void alias(const std::string& root, const std::string& key, const std::string& target_root,
               const std::string& target_key);
    void drop(const std::string& root, const std::string& key, const std::string& reason);
    void expect(const std::string& root, const std::string& key, const Shape& shape);
    void file(const std::string& path, std::string content);
    /** A non-tensor top-level entry of a pt output; `json` is checked here (PyFromJson's rules). */
    void value(const std::string& key, const std::string& json);
    void target(const std::string& name, const std::string& component_dir);
    void keep_extras(bool keep);
    /** `root` is the model of a training save (see Plan::model_roots). */
    void model_root(const std::string& root);
    /** A safetensors __metadata__ entry of the plugin's; "format" and "ckptconv.*" are refused. */
    void metadata(const std::string& key, std::string value);
    void note(std::string text) { plan_.notes.push_back(std::move(text)); }

    const CheckpointIndex& index() const { return index_; }
    const Plan& plan() const { return plan_; }
    Plan take() { return std::move(plan_); }

  private:
    const PlanNode& node(int64_t x) const;
    int64_t normalise_dim(const PlanNode& n, int64_t dim, const char* op) const;
    int64_t push(PlanNode n);
    uint64_t find_source(const std::string& root, const std::string& key) const;

    const CheckpointIndex& index_;
    Plan plan_;
    std::unordered_map<std::string, uint64_t> sources_;
    std::unordered_map<std::string, size_t> outputs_;
};

} // namespace ckptconv::core
