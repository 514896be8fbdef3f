#include "examples/common/progress.h"

#include <cmath>
#include <cstdio>

namespace fw::progress {

std::string format_duration(double s) {
    if (!std::isfinite(s) || s < 0) return "--:--";
    long t = std::lround(s);
    char buf[32];
    if (t >= 3600)
        std::snprintf(buf, sizeof buf, "%ld:%02ld:%02ld", t / 3600, (t / 60) % 60, t % 60);
    else
        std::snprintf(buf, sizeof buf, "%02ld:%02ld", t / 60, t % 60);
    return buf;
}

std::string format_line(int64_t step, int64_t total, double loss, double ips, double elapsed, double eta,
                        const std::string& value_name, const std::string& note) {
    const int width = 20;
    int filled = total > 0 ? (int)(width * std::min<double>(1.0, (double)step / total)) : 0;
    std::string bar = "[" + std::string(filled, '#') + std::string(width - filled, '-') + "]";
    char buf[300];
    std::snprintf(buf, sizeof buf, "%s %lld/%s  %s %.4f  %.1f img/s  %s elapsed  ETA %s", bar.c_str(), (long long)step,
                  total > 0 ? std::to_string(total).c_str() : "?", value_name.c_str(), loss, ips,
                  format_duration(elapsed).c_str(), format_duration(eta).c_str());
    return note.empty() ? std::string(buf) : std::string(buf) + "  " + note;
}

Bar::Bar(int64_t total, int64_t start_step, bool tty)
    : total_(total), start_(start_step), tty_(tty), t0_(std::chrono::steady_clock::now()), last_draw_(t0_) {}

void Bar::update(int64_t step, double loss, double ips) {
    // Smoothed over ~50 steps: the loss of one batch is noisy (random t and eps per image).
    loss_ = loss_ < 0 || !smooth_ ? loss : 0.98 * loss_ + 0.02 * loss;
    ips_ = ips_ < 0 ? ips : 0.9 * ips_ + 0.1 * ips;
    auto now = std::chrono::steady_clock::now();
    const double elapsed = std::chrono::duration<double>(now - t0_).count();
    const double rate = (step - start_) / std::max(elapsed, 1e-9);  // steps/s over this run
    const double eta = rate > 0 && total_ > 0 ? (total_ - step) / rate : NAN;
    const std::string line = format_line(step, total_, loss_, ips_, elapsed, eta, value_name_, note_);
    if (tty_) {
        if (step != total_ && std::chrono::duration<double>(now - last_draw_).count() < 0.2) return;
        std::printf("\r%s", line.c_str());
        std::fflush(stdout);
        drawn_ = true;
        last_draw_ = now;
    } else {
        if (total_ <= 0) return;  // not planned yet
        const int64_t every = std::max<int64_t>(1, total_ / 20);
        if (step % every != 0 && step != total_) return;
        if (step == last_printed_step_) return;
        std::printf("%s\n", line.c_str());
        std::fflush(stdout);
        last_printed_step_ = step;
    }
}

void Bar::show_value_as(const std::string& name, bool smooth) {
    value_name_ = name;
    smooth_ = smooth;
}

void Bar::finish() {
    if (tty_ && drawn_) std::printf("\n");
    drawn_ = false;
    std::fflush(stdout);
}

}  // namespace fw::progress
