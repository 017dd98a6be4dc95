// modeld: runs the model on the newest road camera frame and publishes modelV2.
//
//   build/bin/modeld [--backend opencl|cuda|cpu] [--model FILE] [--server NAME] [--frames N]
//
// Backend: --backend, else $MODELD_BACKEND, else the fastest available.
// Exit codes: 0 after SIGINT/SIGTERM (or --frames), 1 for a model that cannot
// run (named node and reason on stderr) or an unusable backend, 2 for bad usage.
#include <getopt.h>
#include <unistd.h>

#include <climits>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "common/stop_signal.h"
#include "modeld/daemon.h"
#include "msgq/msgq.h"

namespace {

modeld::Daemon *g_daemon = nullptr;

void on_signal(int) {
  if (g_daemon) g_daemon->stop();
  msgq::stop_lockstep_waits();  // under process replay: end the wait for the next frame
}

// The default model sits in build/modeld next to build/bin/modeld.
std::string default_model_path() {
  char exe[PATH_MAX];
  ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
  if (n <= 0) return "build/modeld/default_model.cmodel";
  std::string dir(exe, size_t(n));
  if (size_t slash = dir.rfind('/'); slash != std::string::npos) dir.resize(slash);
  return dir + "/../modeld/default_model.cmodel";
}

void usage(FILE *f) {
  fprintf(f,
          "usage: modeld [--backend opencl|cuda|cpu] [--model FILE] [--server NAME] [--frames N]\n"
          "  --backend  compute backend (default: $MODELD_BACKEND, else the fastest available)\n"
          "  --model    compiled model (modeld/compile_model); default %s\n"
          "  --server   VisionIPC server to read the road camera from (default camerad)\n"
          "  --frames   exit after publishing N frames (default 0: run until SIGINT/SIGTERM)\n",
          default_model_path().c_str());
}

}  // namespace

int main(int argc, char **argv) {
  std::string backend_flag, model_path = default_model_path();
  modeld::DaemonOptions options;
  static const option longopts[] = {{"backend", required_argument, nullptr, 'b'},
                                    {"model", required_argument, nullptr, 'm'},
                                    {"server", required_argument, nullptr, 's'},
                                    {"frames", required_argument, nullptr, 'n'},
                                    {"help", no_argument, nullptr, 'h'},
                                    {nullptr, 0, nullptr, 0}};
  for (int c; (c = getopt_long(argc, argv, "h", longopts, nullptr)) != -1;) {
    switch (c) {
      case 'b': backend_flag = optarg; break;
      case 'm': model_path = optarg; break;
      case 's': options.server = optarg; break;
      case 'n': {
        char *end = nullptr;
        options.max_frames = strtoull(optarg, &end, 10);
        if (!*optarg || *end) {
          fprintf(stderr, "modeld: --frames expects a number, got '%s'\n", optarg);
          return 2;
        }
        break;
      }
      case 'h': usage(stdout); return 0;
      default: usage(stderr); return 2;
    }
  }
  if (optind < argc) {
    fprintf(stderr, "modeld: unexpected argument '%s'\n", argv[optind]);
    usage(stderr);
    return 2;
  }

  // Everything that can be wrong with the model or the backend fails here, at start-up.
  std::unique_ptr<modeld::ModelPipeline> pipeline;
  try {
    modeld::Backend backend = modeld::choose_backend(backend_flag);
    modeld::Model model = modeld::load_model(model_path);
    auto device = modeld::Device::open(backend);
    pipeline = std::make_unique<modeld::ModelPipeline>(device, std::move(model));
    fprintf(stderr, "modeld: %s, model %s (%dx%d model frame, %zu launches per frame)\n", device->description().c_str(),
            model_path.c_str(), pipeline->model_width(), pipeline->model_height(), pipeline->runner().launch_count());
  } catch (const std::invalid_argument &e) {
    fprintf(stderr, "modeld: %s\n", e.what());
    return 2;
  } catch (const std::exception &e) {
    fprintf(stderr, "modeld: %s\n", e.what());
    return 1;
  }

  try {
    modeld::Daemon daemon(std::move(pipeline), options);
    g_daemon = &daemon;
    conduit::on_stop_signal(on_signal);
    int rc = daemon.run();
    g_daemon = nullptr;
    return rc;
  } catch (const std::exception &e) {
    fprintf(stderr, "modeld: %s\n", e.what());
    return 1;
  }
}
