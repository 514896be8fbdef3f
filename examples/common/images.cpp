#include "examples/common/images.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>

#include "core/error.h"

#define STB_IMAGE_WRITE_STATIC
#define STB_IMAGE_WRITE_IMPLEMENTATION
#include <stb/stb_image_write.h>

namespace fw::images {

namespace {

// A greyscale canvas.
struct Canvas {
    int w, h;
    std::vector<uint8_t> px;
    Canvas(int w_, int h_, uint8_t fill) : w(w_), h(h_), px((size_t)w_ * h_, fill) {}
    void set(int x, int y, uint8_t v) {
        if (x >= 0 && x < w && y >= 0 && y < h) px[(size_t)y * w + x] = v;
    }
    void save(const std::string& path) const {
        if (!stbi_write_png(path.c_str(), w, h, 1, px.data(), w)) fail("could not write PNG '", path, "'");
    }
};

// A 3 x 5 pixel font for plot labels: each glyph is 5 rows, top to bottom; in a row, bit 4 is
// the left pixel, bit 1 the right one.
const uint8_t* glyph(char c) {
    static const uint8_t digits[10][5] = {{7, 5, 5, 5, 7}, {2, 6, 2, 2, 7}, {7, 1, 7, 4, 7}, {7, 1, 7, 1, 7},
                                          {5, 5, 7, 1, 1}, {7, 4, 7, 1, 7}, {7, 4, 7, 5, 7}, {7, 1, 1, 1, 1},
                                          {7, 5, 7, 5, 7}, {7, 5, 7, 1, 7}};
    static const uint8_t dot[5] = {0, 0, 0, 0, 2}, minus[5] = {0, 0, 7, 0, 0}, e[5] = {0, 7, 7, 4, 7},
                         l[5] = {6, 2, 2, 2, 7}, o[5] = {0, 7, 5, 5, 7}, s[5] = {7, 4, 7, 1, 7},
                         t[5] = {2, 7, 2, 2, 3}, p[5] = {0, 7, 5, 7, 4}, b[5] = {4, 4, 7, 5, 7},
                         i[5] = {2, 0, 2, 2, 2}, d[5] = {1, 1, 7, 5, 7}, m[5] = {0, 7, 7, 5, 5},
                         slash[5] = {1, 1, 2, 4, 4}, blank[5] = {0, 0, 0, 0, 0};
    if (c >= '0' && c <= '9') return digits[c - '0'];
    switch (c) {
        case '.': return dot;
        case '-': return minus;
        case 'e': return e;
        case 'l': return l;
        case 'o': return o;
        case 's': return s;
        case 't': return t;
        case 'p': return p;
        case 'b': return b;
        case 'i': return i;
        case 'd': return d;
        case 'm': return m;
        case '/': return slash;
        default: return blank;
    }
}

// Draws text with its top-left corner at (x, y), each font pixel `scale` x `scale`.
void draw_text(Canvas& c, int x, int y, const std::string& text, int scale, uint8_t v) {
    for (size_t k = 0; k < text.size(); ++k) {
        const uint8_t* g = glyph(text[k]);
        for (int row = 0; row < 5; ++row)
            for (int col = 0; col < 3; ++col)
                if (g[row] & (4 >> col))
                    for (int a = 0; a < scale; ++a)
                        for (int b = 0; b < scale; ++b) c.set(x + (int)k * 4 * scale + col * scale + b, y + row * scale + a, v);
    }
}

// [-1, 1] -> [0, 255], clamped.
uint8_t to_byte(float v) {
    float b = std::round((v + 1.0f) * 127.5f);
    return (uint8_t)std::min(255.0f, std::max(0.0f, b));
}

// Draws image `src` (H x W floats) with its top-left at (x0, y0), each pixel scale x scale.
void blit(Canvas& c, const float* src, int64_t H, int64_t W, int x0, int y0, int scale) {
    for (int64_t i = 0; i < H; ++i)
        for (int64_t j = 0; j < W; ++j) {
            uint8_t v = to_byte(src[i * W + j]);
            for (int a = 0; a < scale; ++a)
                for (int b = 0; b < scale; ++b) c.set(x0 + (int)j * scale + b, y0 + (int)i * scale + a, v);
        }
}

void hw_of(const Tensor& t, int64_t& H, int64_t& W, const char* what) {
    if (t.dim() < 2 || t.numel() != t.size(-1) * t.size(-2))
        fail(what, ": expects single-channel images, got shape ", to_string(t.shape()));
    H = t.size(-2);
    W = t.size(-1);
}

}  // namespace

void write_grid_png(const std::string& path, const Tensor& images, int cols, int scale, int pad) {
    const Tensor x = images.to(Device::CPU);  // (the tensor itself when it is on the host)
    if (x.dim() != 4 || x.size(1) != 1) fail("write_grid_png: expects (N, 1, H, W), got ", to_string(x.shape()));
    const int64_t N = x.size(0), H = x.size(2), W = x.size(3);
    cols = (int)std::max<int64_t>(1, std::min<int64_t>(cols, N));
    const int rows = (int)((N + cols - 1) / cols);
    Canvas c(pad + cols * ((int)W * scale + pad), pad + rows * ((int)H * scale + pad), 128);
    for (int64_t n = 0; n < N; ++n) {
        int r = (int)(n / cols), k = (int)(n % cols);
        blit(c, x.data() + n * H * W, H, W, pad + k * ((int)W * scale + pad), pad + r * ((int)H * scale + pad), scale);
    }
    c.save(path);
}

void write_rows_png(const std::string& path, const std::vector<std::vector<Tensor>>& rows, int scale, int pad) {
    int64_t H = 0, W = 0;
    size_t cols = 0;
    for (const auto& r : rows) {
        cols = std::max(cols, r.size());
        for (const Tensor& t : r) hw_of(t, H, W, "write_rows_png");
    }
    Canvas c(pad + (int)cols * ((int)W * scale + pad), pad + (int)rows.size() * ((int)H * scale + pad), 128);
    for (size_t r = 0; r < rows.size(); ++r)
        for (size_t k = 0; k < rows[r].size(); ++k)
            blit(c, rows[r][k].to(Device::CPU).data(), H, W, pad + (int)k * ((int)W * scale + pad),
                 pad + (int)r * ((int)H * scale + pad), scale);
    c.save(path);
}

void write_plot_png(const std::string& path, const std::vector<double>& x, const std::vector<double>& y, bool log_y,
                    int W, int H, const std::string& x_label, const std::string& y_label) {
    if (x.size() != y.size() || x.empty()) fail("write_plot_png: need equal, non-empty x and y");
    auto fy = [&](double v) { return log_y ? std::log10(std::max(v, 1e-12)) : v; };
    double x_lo = x.front(), x_hi = x.back(), y_lo = fy(y[0]), y_hi = fy(y[0]);
    for (double v : y) {
        y_lo = std::min(y_lo, fy(v));
        y_hi = std::max(y_hi, fy(v));
    }
    if (log_y) {
        y_lo = std::floor(y_lo);
        y_hi = std::ceil(y_hi);
    }
    if (y_hi <= y_lo) y_hi = y_lo + 1;
    if (x_hi <= x_lo) x_hi = x_lo + 1;
    const int L = 48, R = 16, T = 20, B = 30;  // margins (labels go in them)
    Canvas c(W, H, 255);
    auto px = [&](double v) { return L + (int)std::lround((v - x_lo) / (x_hi - x_lo) * (W - L - R)); };
    auto py = [&](double v) { return H - B - (int)std::lround((fy(v) - y_lo) / (y_hi - y_lo) * (H - T - B)); };
    // grid: a light line at each power of ten (log) or at 5 even steps (linear), and 4 x steps
    const int ny = log_y ? (int)(y_hi - y_lo) : 5;
    for (int k = 0; k <= ny; ++k) {
        int yy = H - B - k * (H - T - B) / ny;
        for (int xx = L; xx < W - R; ++xx) c.set(xx, yy, 220);
        char label[32];  // the value at this line: 1e-2 (log) or a plain number
        if (log_y)
            std::snprintf(label, sizeof label, "1e%d", (int)std::lround(y_lo + k));
        else
            std::snprintf(label, sizeof label, "%.3g", y_lo + (y_hi - y_lo) * k / ny);
        draw_text(c, 4, yy - 5, label, 2, 0);
    }
    for (int k = 0; k <= 4; ++k) {
        int xx = L + k * (W - L - R) / 4;
        for (int yy = T; yy < H - B; ++yy) c.set(xx, yy, 220);
    }
    for (int yy = T; yy <= H - B; ++yy) c.set(L, yy, 0);  // axes
    for (int xx = L; xx < W - R; ++xx) c.set(xx, H - B, 0);
    char lo_text[32], hi_text[32];  // the x range under the axis, "step" in the middle, "loss" on top
    std::snprintf(lo_text, sizeof lo_text, "%.0f", x_lo);
    std::snprintf(hi_text, sizeof hi_text, "%.0f", x_hi);
    draw_text(c, L, H - B + 8, lo_text, 2, 0);
    draw_text(c, W - R - (int)std::strlen(hi_text) * 8, H - B + 8, hi_text, 2, 0);
    draw_text(c, (L + W - R) / 2 - 4 * (int)x_label.size(), H - B + 8, x_label, 2, 0);
    draw_text(c, L + 6, 4, y_label, 2, 0);
    // the curve: a line between consecutive points (Bresenham-free: step along the longer axis)
    for (size_t i = 1; i < x.size(); ++i) {
        int x0 = px(x[i - 1]), y0 = py(y[i - 1]), x1 = px(x[i]), y1 = py(y[i]);
        int n = std::max(std::abs(x1 - x0), std::abs(y1 - y0)) + 1;
        for (int s = 0; s <= n; ++s) c.set(x0 + (x1 - x0) * s / n, y0 + (y1 - y0) * s / n, 0);
    }
    c.save(path);
}

}  // namespace fw::images
