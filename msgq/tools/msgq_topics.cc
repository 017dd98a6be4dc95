// msgq_topics: prints the topics of the current CONDUIT_PREFIX as JSON lines
// {"name", "ring_bytes", "publisher_pid", "messages", "subscribers"}; used by tools/topics.
#include <cstdio>
#include <cstring>

#include "msgq/introspect.h"

int main(int argc, char **argv) {
  if (argc > 1 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
    printf("usage: msgq_topics\nPrints one JSON object per msgq topic of $CONDUIT_PREFIX.\n");
    return 0;
  }
  for (const auto &t : msgq::list_topics()) {
    printf("{\"name\": \"%s\", \"ring_bytes\": %lu, \"publisher_pid\": %d, \"messages\": %lu, \"subscribers\": %d}\n",
           t.name.c_str(), t.ring_bytes, t.publisher_pid, t.messages, t.subscribers);
  }
  return 0;
}
