#include "core/kernels/kernel_note.h"

namespace fw {

namespace {
struct Note {
    const char* what;
    int rows, cols;
};
constexpr int kMaxNotes = 4;  // more than any op writes; extra notes are dropped
thread_local Note t_notes[kMaxNotes];
thread_local int t_count = 0;
}  // namespace

void note_kernel(const char* what, int rows, int cols) {
    if (t_count > 0) {
        const Note& last = t_notes[t_count - 1];
        if (last.what == what && last.rows == rows && last.cols == cols) return;
    }
    if (t_count < kMaxNotes) t_notes[t_count++] = Note{what, rows, cols};
}

void clear_kernel_notes() { t_count = 0; }

std::string kernel_notes() {
    std::string s;
    for (int i = 0; i < t_count; ++i) {
        if (i) s += " + ";
        s += t_notes[i].what;
        if (t_notes[i].rows > 0) s += " " + std::to_string(t_notes[i].rows) + "x" + std::to_string(t_notes[i].cols);
    }
    return s;
}

}  // namespace fw
