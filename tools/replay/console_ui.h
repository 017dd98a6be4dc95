#pragma once
// ConsoleUi: the terminal front of replay. When stdin is a terminal it switches
// it to non-canonical no-echo mode (restored on exit; Ctrl-C still works) and
// reads keys; otherwise it only waits for the end. A status line shows route
// time, segment, speed, state and a progress bar on stderr when it is a terminal.
//
// Keys: space pause/resume · ←/→ or b/f seek ∓/±10 s · ↓/↑ or B/F ∓/±60 s ·
//       +/- speed up/down · q quit
//
// Threads: warning() may be called from any thread (it serialises output with the
// status line); run() from the main thread.
#include <atomic>
#include <mutex>
#include <string>

#include <termios.h>

namespace replay {

class Replay;

class ConsoleUi {
 public:
  ConsoleUi();
  ~ConsoleUi();

  bool interactive() const { return interactive_; }
  // Prints a warning line (above the status line in a terminal).
  void warning(const std::string &msg);
  // Plays until the route ends (in a terminal: until the user quits) or `quit`
  // turns true (signals).
  void run(Replay &replay, const std::atomic<bool> &quit);
  // The one-line summary printed at the end.
  static std::string summary(const Replay &replay);
  // The status line's text (without terminal control characters).
  static std::string status(const Replay &replay, int width);

 private:
  void handle_key(Replay &replay, int key, bool *quit);
  void draw(const Replay &replay);

  bool interactive_ = false;  // stdin is a terminal: keys
  bool status_line_ = false;  // stderr is a terminal: live status line
  termios saved_{};
  std::mutex out_mutex_;
};

}  // namespace replay
