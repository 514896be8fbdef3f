// Pictures for the example programs, written as PNG with stb_image_write (Debian libstb-dev).
// Images come in DDPM's range [-1, 1] (-1 = black background, +1 = white ink).
#pragma once

#include <string>
#include <vector>

#include "core/tensor.h"

namespace fw::images {

// A grid of the N images of x (N, 1, H, W), `cols` per row, each pixel drawn `scale` x `scale`,
// with a `pad`-pixel grey border between images; x on any device (a GPU tensor is copied to the
// host). Throws fw::Error naming the path on failure.
void write_grid_png(const std::string& path, const Tensor& x, int cols, int scale = 2, int pad = 2);

// Rows of images: rows[r][c] is one (1, 1, H, W) or (1, H, W) or (H, W) image, on any device.
void write_rows_png(const std::string& path, const std::vector<std::vector<Tensor>>& rows, int scale = 2,
                    int pad = 2);

// A line plot of y (y_label, e.g. "loss") against x (x_label, e.g. "step"), y on a log10 axis when log_y, with light grid
// lines at each power of ten (log) or at 5 even steps (linear), labelled in a tiny built-in font,
// and the x range under the axis. The plot is W x H pixels.
// Labels use the plot font: digits, lowercase letters and . - / = [ ] , : % >.
void write_plot_png(const std::string& path, const std::vector<double>& x, const std::vector<double>& y, bool log_y,
                    int W = 640, int H = 360, const std::string& x_label = "step", const std::string& y_label = "loss");

// Several small linear plots side by side (cols per row, each W x H), one per panel: y against x
// with a dot per point and, when lo and hi are given, each point's interval as a grey bar; the
// panel's title on top, x_label under every x axis. For scores against a setting (make guidance-sweep).
struct PlotPanel {
    std::string title;
    std::vector<double> x, y, lo, hi;  // lo, hi: empty, or one per point
};
void write_panels_png(const std::string& path, const std::vector<PlotPanel>& panels, const std::string& x_label,
                      int cols = 3, int W = 400, int H = 260);

}  // namespace fw::images
