// Fingerprint of a text-to-motion checkpoint that still holds its T5 encoder and ELLA connector.
#pragma once

#include <ckptconv/sdk.hpp>

namespace t2m_cut {

/** Score 100 when some state-dict root holds both anchors, 50 on the prefixes alone. */
ckptconv::sdk::Detection detect_t2m_cut(const ckptconv::sdk::IndexView& index);

} // namespace t2m_cut
