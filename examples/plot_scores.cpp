// plot_scores: evaluate's scores against a setting, as one PNG of small plots with the 95%
// intervals as bars (make guidance-sweep draws accuracy, confidence, entropy and FD against w).
//
//   build/release/examples/plot_scores --points 0=out/w0.json,0.5=out/w0.5.json,... --x-label w --out scores.png
//
// Each point is a setting's value and the --json file evaluate wrote for it. The panels: accuracy
// on the asked digits (when every file has it), mean confidence, the share with confidence > 0.9,
// the class entropy, and the Frechet distance to the held-out digits. Exit codes: 0 written, 1 a
// file that cannot be read or written or lacks a score (named), 2 a bad command line.
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "examples/common/flags.h"
#include "examples/common/images.h"

using namespace fw;

namespace {

struct Point {
    double x;
    nlohmann::json scores;
    std::string file;
};

// "0=a.json,0.5=b.json" -> points (x and file); errors name the point.
std::vector<Point> parse_points(const std::string& spec) {
    std::vector<Point> points;
    std::stringstream ss(spec);
    std::string item;
    while (std::getline(ss, item, ',')) {
        const size_t eq = item.find('=');
        if (eq == std::string::npos || eq == 0 || eq + 1 == item.size())
            fail("--points: '", item, "' is not X=FILE (a number, '=', evaluate's --json file)");
        Point p;
        char* end = nullptr;
        const std::string xs = item.substr(0, eq);
        p.x = std::strtod(xs.c_str(), &end);
        if (end != xs.c_str() + xs.size() || !std::isfinite(p.x)) fail("--points: '", xs, "' in '", item, "' is not a number");
        p.file = item.substr(eq + 1);
        points.push_back(std::move(p));
    }
    if (points.size() < 2) fail("--points: give at least two X=FILE points to draw a line");
    for (size_t i = 1; i < points.size(); ++i)
        if (!(points[i].x > points[i - 1].x)) fail("--points: the X values must increase (", points[i - 1].x, " then ", points[i].x, ")");
    return points;
}

// Reads and parses each point's file; errors name the file.
void read_scores(std::vector<Point>& points) {
    for (Point& p : points) {
        std::ifstream in(p.file);
        if (!in) fail(p.file, ": cannot open (", std::strerror(errno), ")");
        try {
            p.scores = nlohmann::json::parse(in);
        } catch (const nlohmann::json::exception& e) {
            fail(p.file, ": not evaluate's --json output: ", e.what());
        }
    }
}

// The panel of one score: j[path...] of every point: {value, lo, hi} (lo and hi null without a bootstrap).
images::PlotPanel panel(const std::vector<Point>& points, const std::string& title, const std::vector<std::string>& path,
                        double scale = 1.0) {
    images::PlotPanel p;
    p.title = title;
    bool intervals = true;
    for (const Point& pt : points) {
        const nlohmann::json* j = &pt.scores;
        std::string where;
        for (const std::string& key : path) {
            where += (where.empty() ? "" : ".") + key;
            if (!j->is_object() || !j->contains(key)) fail(pt.file, ": has no '", where, "' (is it evaluate's --json output?)");
            j = &(*j)[key];
        }
        if (!j->contains("value") || !(*j)["value"].is_number()) fail(pt.file, ": '", where, ".value' is not a number");
        p.x.push_back(pt.x);
        p.y.push_back(scale * (*j)["value"].get<double>());
        intervals = intervals && j->contains("lo") && (*j)["lo"].is_number() && j->contains("hi") && (*j)["hi"].is_number();
        if (intervals) {
            p.lo.push_back(scale * (*j)["lo"].get<double>());
            p.hi.push_back(scale * (*j)["hi"].get<double>());
        }
    }
    if (!intervals) p.lo.clear(), p.hi.clear();
    return p;
}

}  // namespace

int main(int argc, char** argv) {
    std::string spec, out = "scores.png", x_label = "x";
    flags::Parser p("plot_scores", "Draws evaluate's scores (--json files) against a setting, with their 95% intervals.");
    p.add_string("points", &spec, "the points: X=FILE,X=FILE,... (a setting's value = evaluate's --json file), X increasing");
    p.add_string("x-label", &x_label, "the setting's name under each x axis (lowercase letters and digits)");
    p.add_string("out", &out, "the PNG to write");
    std::vector<Point> points;
    try {
        if (!p.parse(argc, argv)) return 0;
        if (!p.given("points")) fail("plot_scores: --points is required (X=FILE,X=FILE,...)");
        points = parse_points(spec);
    } catch (const std::exception& e) {
        const std::string what = e.what();
        std::fprintf(stderr, "%s%s\n", what.rfind("plot_scores", 0) == 0 ? "" : "plot_scores: ", what.c_str());
        return 2;
    }
    try {
        read_scores(points);
        std::vector<images::PlotPanel> panels;
        bool all_accuracy = true;
        for (const Point& pt : points) all_accuracy = all_accuracy && pt.scores.contains("accuracy");
        if (all_accuracy) panels.push_back(panel(points, "accuracy on the asked digit %", {"accuracy"}, 100.0));
        panels.push_back(panel(points, "mean confidence", {"mean_confidence"}));
        panels.push_back(panel(points, "share confident > 0.9 %", {"confident_share"}, 100.0));
        panels.push_back(panel(points, "class entropy", {"class_entropy"}));
        panels.push_back(panel(points, "frechet distance", {"frechet", "samples"}));
        images::write_panels_png(out, panels, x_label);
        std::printf("plot_scores: %zu points, %zu panels -> %s\n", points.size(), panels.size(), out.c_str());
        return 0;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "plot_scores: %s\n", e.what());
        return 1;
    }
}
