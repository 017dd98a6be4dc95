#pragma once
// How a conduit process learns it should stop: SIGINT and SIGTERM call
// `handler` (async-signal context: set a flag, nothing more). Installed without
// SA_RESTART, so a blocking call (sleep, poll, futex wait) returns EINTR and
// the loop around it sees the flag at once. Call it early in main().
namespace conduit {

void on_stop_signal(void (*handler)(int));

}  // namespace conduit
