// iceoryx_bench: iceoryx through the same harness as msgq_bench; a separate
// binary so msgq_bench builds and runs where iceoryx is not installed.
#include "msgq/bench/harness.h"
#include "msgq/bench/transports.h"

int main(int argc, char **argv) {
  return msgq_bench::bench_main(argc, argv, {{"iceoryx", msgq_bench::make_iceoryx, true}});
}
