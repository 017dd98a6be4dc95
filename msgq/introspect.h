#pragma once
// Read-only view of the topics of the current CONDUIT_PREFIX, for tools
// (topics, hz): never joins a topic, never takes a slot. Files that are not
// msgq rings are skipped.
#include <string>
#include <vector>

namespace msgq {

struct TopicInfo {
  std::string name;
  uint64_t ring_bytes = 0;
  int publisher_pid = 0;  // 0 when no live publisher
  uint64_t messages = 0;  // published since the ring was created
  int subscribers = 0;    // live subscriber slots
};

std::vector<TopicInfo> list_topics();

// Removes the ring files of the topics nobody uses (no live publisher, no live
// subscriber): what a stopped pipeline leaves. Returns their names. A process
// that attaches at that very moment maps a file that is gone, so call it once
// the pipeline has stopped.
std::vector<std::string> remove_unused_topics();

}  // namespace msgq
