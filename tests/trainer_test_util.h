// What the trainer tests share: a tiny synthetic training set, a tiny UNet's run settings, and a
// bitwise comparison of parameter lists.
#pragma once

#include <cstring>

#include "examples/common/ddpm_trainer.h"

namespace fw::test {

// 48 synthetic 8x8 "digits": a bright bar at a position that depends on the index.
inline data::Split synthetic_split() {
    data::Split s;
    s.n = 48;
    s.rows = s.cols = 8;
    s.pixels.assign(48 * 64, 0);
    s.labels.assign(48, 0);
    for (int i = 0; i < 48; ++i) {
        int r = i % 8;
        for (int c = 1; c < 7; ++c) s.pixels[i * 64 + r * 8 + c] = 255;
        s.labels[i] = (uint8_t)(i % 10);
    }
    return s;
}

inline train::TrainConfig tiny_config() {
    train::TrainConfig c;
    c.batch = 8;
    c.lr = 2e-3;
    c.warmup = 3;
    c.base = 8;
    c.mid = 16;
    c.groups = 4;
    c.seed = 3;
    return c;
}

inline bool same_tensors(const NamedTensors& a, const NamedTensors& b) {
    if (a.size() != b.size()) return false;
    for (size_t i = 0; i < a.size(); ++i)
        if (a[i].first != b[i].first || a[i].second.shape() != b[i].second.shape() ||
            std::memcmp(a[i].second.data(), b[i].second.data(), sizeof(float) * a[i].second.numel()) != 0)
            return false;
    return true;
}

}  // namespace fw::test
