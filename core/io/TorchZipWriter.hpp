// Writes an object tree as a torch.save zip that Python's torch.load reads.
#pragma once

#include "core/index/CheckpointIndex.hpp"

#include <map>
#include <string>

namespace ckptconv::core {

/**
 * Pickles `tree` (protocol 2) into `<archive>/data.pkl` and copies every
 * storage it references from `source`'s mapped files into `<archive>/data/N`
 * (or, for storages with a `produce` function, streams what it computes).
 * Storages shared by several tensors are written once and stay shared.
 * A non-empty `provenance` goes to `<archive>/.data/ckptconv.json` (a JSON
 * object of strings): torch.load reads only data.pkl, data/ and its version
 * records, so a strict load_state_dict never sees it (target-loaders.md E.3).
 * Returns the number of storage bytes written.
 */
uint64_t write_torch_zip(const CheckpointIndex& source, const PyObject& tree, const std::string& path,
                         const std::string& archive_name, const std::map<std::string, std::string>& provenance = {});

/** Where write_torch_zip records provenance, below the archive's folder. */
inline constexpr const char* kTorchZipProvenanceRecord = ".data/ckptconv.json";

} // namespace ckptconv::core
