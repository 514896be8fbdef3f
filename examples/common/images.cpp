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

// A 3 x 5 pixel font for plot labels: digits, the lowercase letters and . - / = [ ] , : % >.
// Each glyph is 5 rows, top to bottom; in a row, bit 4 is the left pixel, bit 1 the right one.
const uint8_t* glyph(char c) {
    static const uint8_t digits[10][5] = {{7, 5, 5, 5, 7}, {2, 6, 2, 2, 7}, {7, 1, 7, 4, 7}, {7, 1, 7, 1, 7},
                                          {5, 5, 7, 1, 1}, {7, 4, 7, 1, 7}, {7, 4, 7, 5, 7}, {7, 1, 1, 1, 1},
                                          {7, 5, 7, 5, 7}, {7, 5, 7, 1, 7}};
    static const uint8_t letters[26][5] = {
        {0, 3, 5, 5, 3}, {4, 4, 7, 5, 7}, {0, 3, 4, 4, 3}, {1, 1, 7, 5, 7}, {0, 7, 7, 4, 7},  // a b c d e
        {3, 4, 7, 4, 4}, {3, 4, 5, 5, 3}, {4, 4, 7, 5, 5}, {2, 0, 2, 2, 2}, {1, 0, 1, 5, 2},  // f g h i j
        {4, 5, 6, 5, 5}, {6, 2, 2, 2, 7}, {0, 7, 7, 5, 5}, {0, 6, 5, 5, 5}, {0, 7, 5, 5, 7},  // k l m n o
        {0, 7, 5, 7, 4}, {3, 5, 3, 1, 1}, {0, 5, 6, 4, 4}, {0, 3, 4, 1, 6}, {2, 7, 2, 2, 3},  // p q r s t
        {0, 5, 5, 5, 7}, {0, 5, 5, 5, 2}, {0, 5, 5, 7, 7}, {0, 5, 2, 2, 5}, {5, 5, 3, 1, 6},  // u v w x y
        {0, 7, 1, 2, 7}};                                                                    // z
    static const uint8_t dot[5] = {0, 0, 0, 0, 2}, minus[5] = {0, 0, 7, 0, 0}, slash[5] = {1, 1, 2, 4, 4},
                         equals[5] = {0, 7, 0, 7, 0}, open[5] = {6, 4, 4, 4, 6}, close[5] = {3, 1, 1, 1, 3},
                         comma[5] = {0, 0, 0, 2, 4}, colon[5] = {0, 2, 0, 2, 0}, percent[5] = {5, 1, 2, 4, 5},
                         greater[5] = {4, 2, 1, 2, 4},
                         blank[5] = {0, 0, 0, 0, 0};
    if (c >= '0' && c <= '9') return digits[c - '0'];
    if (c >= 'a' && c <= 'z') return letters[c - 'a'];
    switch (c) {
        case '.': return dot;
        case '-': return minus;
        case '/': return slash;
        case '=': return equals;
        case '[': return open;
        case ']': return close;
        case ',': return comma;
        case ':': return colon;
        case '%': return percent;
        case '>': return greater;
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

namespace {

// One line plot drawn into the region (ox, oy, W, H) of c: y (with [lo, hi] bars when given)
// against x, y on a log10 axis when log_y; grid lines, the y values at them, the x range and the
// labels in the plot font; the data marked with a dot per point when `dots`.
void draw_plot(Canvas& c, int ox, int oy, int W, int H, const std::vector<double>& x, const std::vector<double>& y,
               const std::vector<double>& lo, const std::vector<double>& hi, bool log_y, const std::string& x_label,
               const std::string& y_label, bool dots) {
    auto fy = [&](double v) { return log_y ? std::log10(std::max(v, 1e-12)) : v; };
    double x_lo = *std::min_element(x.begin(), x.end()), x_hi = *std::max_element(x.begin(), x.end());
    double y_lo = fy(y[0]), y_hi = fy(y[0]);
    for (size_t i = 0; i < y.size(); ++i) {
        y_lo = std::min({y_lo, fy(y[i]), lo.empty() ? fy(y[i]) : fy(lo[i])});
        y_hi = std::max({y_hi, fy(y[i]), hi.empty() ? fy(y[i]) : fy(hi[i])});
    }
    if (log_y) {
        y_lo = std::floor(y_lo);
        y_hi = std::ceil(y_hi);
    }
    if (y_hi <= y_lo) y_hi = y_lo + 1;
    if (x_hi <= x_lo) x_hi = x_lo + 1;
    const int L = 48, R = 16, T = 20, B = 30;  // margins (labels go in them)
    auto px = [&](double v) { return ox + L + (int)std::lround((v - x_lo) / (x_hi - x_lo) * (W - L - R)); };
    auto py = [&](double v) { return oy + H - B - (int)std::lround((fy(v) - y_lo) / (y_hi - y_lo) * (H - T - B)); };
    // grid: a light line at each power of ten (log) or at 5 even steps (linear), and 4 x steps
    const int ny = log_y ? (int)(y_hi - y_lo) : 5;
    const int decimals = (int)std::clamp(std::ceil(-std::log10((y_hi - y_lo) / ny)), 0.0, 6.0);
    for (int k = 0; k <= ny; ++k) {
        int yy = oy + H - B - k * (H - T - B) / ny;
        for (int xx = ox + L; xx < ox + W - R; ++xx) c.set(xx, yy, 220);
        char label[32];  // the value at this line: 1e-2 (log) or a number with the decimals its step needs
        if (log_y)
            std::snprintf(label, sizeof label, "1e%d", (int)std::lround(y_lo + k));
        else
            std::snprintf(label, sizeof label, "%.*f", decimals, y_lo + (y_hi - y_lo) * k / ny);
        draw_text(c, ox + 4, yy - 5, label, 2, 0);
    }
    for (int k = 0; k <= 4; ++k) {
        int xx = ox + L + k * (W - L - R) / 4;
        for (int yy = oy + T; yy < oy + H - B; ++yy) c.set(xx, yy, 220);
    }
    for (int yy = oy + T; yy <= oy + H - B; ++yy) c.set(ox + L, yy, 0);  // axes
    for (int xx = ox + L; xx < ox + W - R; ++xx) c.set(xx, oy + H - B, 0);
    char lo_text[32], hi_text[32];  // the x range under the axis, x_label in the middle, y_label on top
    std::snprintf(lo_text, sizeof lo_text, "%.4g", x_lo);
    std::snprintf(hi_text, sizeof hi_text, "%.4g", x_hi);
    draw_text(c, ox + L, oy + H - B + 8, lo_text, 2, 0);
    draw_text(c, ox + W - R - (int)std::strlen(hi_text) * 8, oy + H - B + 8, hi_text, 2, 0);
    draw_text(c, ox + (L + W - R) / 2 - 4 * (int)x_label.size(), oy + H - B + 8, x_label, 2, 0);
    draw_text(c, ox + L + 6, oy + 4, y_label, 2, 0);
    // the curve: a line between consecutive points (Bresenham-free: step along the longer axis)
    auto line = [&](int x0, int y0, int x1, int y1, uint8_t v) {
        int n = std::max(std::abs(x1 - x0), std::abs(y1 - y0)) + 1;
        for (int s = 0; s <= n; ++s) c.set(x0 + (x1 - x0) * s / n, y0 + (y1 - y0) * s / n, v);
    };
    for (size_t i = 1; i < x.size(); ++i) line(px(x[i - 1]), py(y[i - 1]), px(x[i]), py(y[i]), 0);
    for (size_t i = 0; i < x.size(); ++i) {
        if (!lo.empty()) {  // the interval: a vertical bar with short caps, in grey
            const int xx = px(x[i]), a = py(lo[i]), b = py(hi[i]);
            line(xx, a, xx, b, 110);
            line(xx - 3, a, xx + 3, a, 110);
            line(xx - 3, b, xx + 3, b, 110);
        }
        if (dots)
            for (int a = -2; a <= 2; ++a)
                for (int b = -2; b <= 2; ++b) c.set(px(x[i]) + a, py(y[i]) + b, 0);
    }
}

}  // namespace

void write_plot_png(const std::string& path, const std::vector<double>& x, const std::vector<double>& y, bool log_y,
                    int W, int H, const std::string& x_label, const std::string& y_label) {
    if (x.size() != y.size() || x.empty()) fail("write_plot_png: need equal, non-empty x and y");
    Canvas c(W, H, 255);
    draw_plot(c, 0, 0, W, H, x, y, {}, {}, log_y, x_label, y_label, false);
    c.save(path);
}

void write_panels_png(const std::string& path, const std::vector<PlotPanel>& panels, const std::string& x_label,
                      int cols, int W, int H) {
    if (panels.empty()) fail("write_panels_png: no panels to draw");
    for (const PlotPanel& p : panels)
        if (p.x.empty() || p.x.size() != p.y.size() || (!p.lo.empty() && p.lo.size() != p.x.size()) ||
            p.lo.size() != p.hi.size())
            fail("write_panels_png: panel '", p.title, "' needs equal, non-empty x, y (and lo, hi) lists");
    cols = std::max(1, std::min(cols, (int)panels.size()));
    const int rows = ((int)panels.size() + cols - 1) / cols;
    Canvas c(cols * W, rows * H, 255);
    for (size_t k = 0; k < panels.size(); ++k)
        draw_plot(c, (int)(k % cols) * W, (int)(k / cols) * H, W, H, panels[k].x, panels[k].y, panels[k].lo, panels[k].hi,
                  false, x_label, panels[k].title, true);
    c.save(path);
}

}  // namespace fw::images
