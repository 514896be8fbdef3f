// Comparing a fast kernel with its scalar reference: |fast - ref| <= atol + rtol |ref|, with
// the first mismatches printed.
#pragma once

#include <cmath>
#include <cstdint>
#include <sstream>
#include <string>

namespace fw::test {

struct Mismatch {
    int64_t count = 0;
    std::string first;  // up to 3 "index i: fast a, ref b"
};

inline Mismatch compare(const float* fast, const float* ref, int64_t n, double atol, double rtol) {
    Mismatch m;
    std::ostringstream os;
    for (int64_t i = 0; i < n; ++i) {
        double d = std::fabs((double)fast[i] - ref[i]);
        if (!(d <= atol + rtol * std::fabs(ref[i]))) {  // NaN counts as a mismatch
            if (m.count < 3) os << "index " << i << ": fast " << fast[i] << ", ref " << ref[i] << "; ";
            ++m.count;
        }
    }
    m.first = os.str();
    return m;
}

}  // namespace fw::test
