#pragma once
// The measuring loops of the msgq benchmark, shared by every transport.
//
//   <binary> --impl NAME --size BYTES --mode block|poll|throughput
//            [--seconds S] [--iters N] [--pin] [--tag TAG]
//
// Each run forks: the parent pings (or publishes), the child pongs (or
// subscribes); with --pin their measuring threads sit on cpu0 and cpu1 (helper
// threads of a library, like zmq's I/O thread, stay free). One run prints lines
//   row <metric> <value> <unit>
//   note <text>
// on stdout, which msgq/bench/msgq.py turns into benchmark rows.
//
// Latency: ping-pong over two channels, one-way = round trip / 2, CLOCK_MONOTONIC
// on the pinging side only (no cross-process clock comparison). block = the
// receiver sleeps in the transport's blocking receive; poll = it spins on the
// non-blocking receive. Throughput: the publisher sends for --seconds as fast as
// it can; the subscriber drains with non-blocking receives and blocks only when
// it runs dry. It reports received/s from its first message to running dry
// after the last, how many were lost, and its own CPU time per message (the
// figure that holds when other work steals the CPU).
#include <vector>

#include "msgq/bench/transport.h"

namespace msgq_bench {

struct Impl {
  const char *name;
  TransportFactory make;
  bool throughput;  // false: the transport is single-slot (ping-pong only)
};

// Runs one measurement of one of `impls` as the arguments say. Returns the exit code.
int bench_main(int argc, char **argv, const std::vector<Impl> &impls);

}  // namespace msgq_bench
