// msgq_bench: conduit msgq against libzmq and a raw futex floor (harness.h).
#include "msgq/bench/harness.h"
#include "msgq/bench/transports.h"

int main(int argc, char **argv) {
  using namespace msgq_bench;
  return bench_main(argc, argv, {{"msgq", make_msgq, true},
                                 {"msgq_loan", make_msgq_loan, true},
                                 {"zmq_ipc", make_zmq_ipc, true},
                                 {"zmq_tcp", make_zmq_tcp, true},
                                 {"futex_floor", make_futex_floor, false}});
}
