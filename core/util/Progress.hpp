// One progress line on stderr while outputs are written: bytes done / total, rate, ETA.
#pragma once

#include <cstdint>
#include <string>

namespace ckptconv::core {

/** Starts reporting when `enabled` (the CLI passes: stderr is a terminal and not --quiet). */
void progress_start(uint64_t total_bytes, bool enabled);
/** Counts bytes written; FileWriter calls this for every byte it appends. Redraws at most 5 times a second. */
void progress_add(uint64_t bytes);
/** Draws the final line and ends it. */
void progress_finish();

/** "  1.2 GB / 3.4 GB  35%  450 MB/s  ETA 5 s" */
std::string progress_line(uint64_t done, uint64_t total, double elapsed_seconds);

} // namespace ckptconv::core
