// A one-line progress bar for training: step/total, smoothed loss, images/s, elapsed and ETA, and
// a note at the end (train_mnist --minutes: the budget left).
//   [##########----------] 1200/3000  loss 0.0412  71.3 img/s  02:15 elapsed  ETA 03:22
// A total of 0 is not known yet ("1200/?").
// On a terminal the line is redrawn in place (at most 5 times a second); otherwise (a log file,
// CI) a full line is printed every 5% of the run.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace fw::progress {

// The text of the line (no '\r'), for given values; public so it can be tested.
std::string format_line(int64_t step, int64_t total, double loss, double images_per_s, double elapsed_s, double eta_s,
                        const std::string& value_name = "loss", const std::string& note = "");
std::string format_duration(double seconds);  // "02:15", "1:02:15"

class Bar {
public:
    Bar(int64_t total, int64_t start_step, bool tty);
    void update(int64_t step, double loss, double images_per_s);
    void finish();  // ends the line
    // Shows the value as `name` (default "loss", smoothed over ~50 updates) and, unsmoothed, as given.
    void show_value_as(const std::string& name, bool smooth);
    void set_total(int64_t total) { total_ = total; }  // a planned run's total moves as it measures its speed
    void set_note(const std::string& note) { note_ = note; }

private:
    int64_t total_, start_;
    bool tty_;
    double loss_ = -1, ips_ = -1;
    int64_t last_printed_step_ = -1;
    std::chrono::steady_clock::time_point t0_, last_draw_;
    bool drawn_ = false;
    std::string value_name_ = "loss";
    bool smooth_ = true;
    std::string note_;
};

}  // namespace fw::progress
