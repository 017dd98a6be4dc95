#include "tools/replay/console_ui.h"

#include <poll.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <string>

#include "tools/replay/replay.h"

namespace replay {

namespace {

enum Key { kLeft = 1000, kRight, kUp, kDown };

// Speeds the +/- keys step through.
constexpr double kSpeeds[] = {0.1, 0.2, 0.5, 1, 2, 4, 8, 10};

std::string fmt(const char *f, double a, double b = 0, double c = 0) {
  char buf[128];
  snprintf(buf, sizeof(buf), f, a, b, c);
  return buf;
}

std::string clock(double s) {
  int t = int(s);
  char buf[32];
  snprintf(buf, sizeof(buf), "%d:%02d:%02d", t / 3600, t / 60 % 60, t % 60);
  return buf;
}

}  // namespace

ConsoleUi::ConsoleUi() {
  interactive_ = isatty(STDIN_FILENO) && tcgetattr(STDIN_FILENO, &saved_) == 0;
  status_line_ = isatty(STDERR_FILENO);
  if (interactive_) {
    termios raw = saved_;
    raw.c_lflag &= ~(ICANON | ECHO);
    raw.c_cc[VMIN] = 0;
    raw.c_cc[VTIME] = 0;
    tcsetattr(STDIN_FILENO, TCSANOW, &raw);
  }
}

ConsoleUi::~ConsoleUi() {
  if (interactive_) tcsetattr(STDIN_FILENO, TCSANOW, &saved_);
}

void ConsoleUi::warning(const std::string &msg) {
  std::lock_guard lk(out_mutex_);
  fprintf(stderr, "%sreplay: warning: %s\n", status_line_ ? "\r\033[K" : "", msg.c_str());
}

std::string ConsoleUi::status(const Replay &replay, int width) {
  double t = replay.current_seconds(), total = replay.duration_seconds();
  double speed = replay.speed();
  std::string state = replay.finished() ? "done" : replay.paused() ? "paused" : "playing";
  std::string left = clock(t) + " / " + clock(total) + "  seg " + std::to_string(replay.current_segment()) + "  " +
                     (speed == 0 ? std::string("fast") : fmt("%.1fx", speed)) + "  " + state + "  ";
  ReplayStats st = replay.stats();
  std::string right = "  " + std::to_string(st.messages) + " msgs " + std::to_string(st.frames) + " frames";
  int bar = std::max(10, width - int(left.size() + right.size()) - 2);
  int filled = total > 0 ? int(std::lround(bar * std::min(1.0, t / total))) : 0;
  return left + "[" + std::string(filled, '#') + std::string(bar - filled, '-') + "]" + right;
}

std::string ConsoleUi::summary(const Replay &replay) {
  ReplayStats s = replay.stats();
  return "replay: finished: messages=" + std::to_string(s.messages) + " bytes=" + std::to_string(s.bytes) +
         " frames=" + std::to_string(s.frames) + " frames_dropped=" + std::to_string(s.frames_dropped) +
         " frame_errors=" + std::to_string(s.frame_errors) + " segments_skipped=" + std::to_string(s.segments_skipped) +
         fmt(" route_s=%.3f wall_s=%.3f", s.route_seconds, s.wall_seconds);
}

void ConsoleUi::draw(const Replay &replay) {
  winsize ws{};
  int width = ioctl(STDERR_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 20 ? ws.ws_col - 1 : 100;
  std::string line = status(replay, width);
  std::lock_guard lk(out_mutex_);
  fprintf(stderr, "\r\033[K%s", line.c_str());
  fflush(stderr);
}

void ConsoleUi::handle_key(Replay &replay, int key, bool *quit) {
  switch (key) {
    case ' ': replay.pause(!replay.paused()); break;
    case 'f': case kRight: replay.seek_by(10); break;
    case 'b': case kLeft: replay.seek_by(-10); break;
    case 'F': case kUp: replay.seek_by(60); break;
    case 'B': case kDown: replay.seek_by(-60); break;
    case '+': case '=': case '-': {
      double s = replay.speed() == 0 ? kSpeeds[std::size(kSpeeds) - 1] : replay.speed();
      size_t i = 0;
      while (i + 1 < std::size(kSpeeds) && kSpeeds[i] < s - 1e-9) ++i;
      if (key == '-') i = i > 0 ? i - 1 : 0;
      else if (kSpeeds[i] <= s + 1e-9 && i + 1 < std::size(kSpeeds)) ++i;
      replay.set_speed(kSpeeds[i]);
      break;
    }
    case 'q': case 'Q': *quit = true; break;
    default: break;
  }
}

void ConsoleUi::run(Replay &replay, const std::atomic<bool> &quit) {
  bool user_quit = false;
  std::string pending;  // bytes of an escape sequence
  // In a terminal the end of the route waits for the user (seek back or quit).
  while (!quit && !user_quit && (interactive_ || !replay.finished())) {
    pollfd p{STDIN_FILENO, POLLIN, 0};
    int n = poll(&p, interactive_ ? 1 : 0, 100);
    if (n > 0 && (p.revents & POLLIN)) {
      char buf[32];
      ssize_t r = read(STDIN_FILENO, buf, sizeof(buf));
      for (ssize_t i = 0; i < r; ++i) {
        pending += buf[i];
        if (pending[0] != '\033') {
          handle_key(replay, (unsigned char)pending[0], &user_quit);
          pending.clear();
        } else if (pending.size() == 3) {  // ESC [ A..D
          static const int arrows[] = {kUp, kDown, kRight, kLeft};
          if (pending[1] == '[' && pending[2] >= 'A' && pending[2] <= 'D') {
            handle_key(replay, arrows[pending[2] - 'A'], &user_quit);
          }
          pending.clear();
        }
      }
    }
    if (status_line_) draw(replay);
  }
  replay.stop();
  std::lock_guard lk(out_mutex_);
  if (status_line_) fprintf(stderr, "\r\033[K");
  fflush(stderr);
  printf("%s\n", summary(replay).c_str());
  fflush(stdout);
}

}  // namespace replay
