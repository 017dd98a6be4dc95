#pragma once
// McapWriter: writes an MCAP file (https://mcap.dev/spec, major version 0):
// messages go into zstd-compressed chunks with a message index per channel
// after each chunk; close() writes the summary (schemas, channels, statistics,
// chunk indexes) and summary offsets, so readers seek without scanning.
//
//   McapWriter w("out.mcap");
//   uint16_t s = w.add_schema("conduit.Event.can", "jsonschema", schema_json);
//   uint16_t c = w.add_channel(s, "can", "json");
//   w.write(c, log_time_ns, json);
//   w.close();
//
// Schemas and channels are also written into the data section before their
// first message, so streaming readers see them in order. Messages may come in
// any time order; each chunk records its own time span.
// Threads: one. Errors: std::runtime_error naming the file and the failing call;
// after an error the file is incomplete (no footer) and should be discarded.
#include <cstdint>
#include <cstdio>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace mcap {

struct WriterOptions {
  size_t chunk_size = 4 << 20;  // uncompressed bytes of records that close a chunk
  int zstd_level = 1;           // 0: no compression
  std::string profile;          // Header.profile ("" for none)
};

class McapWriter {
 public:
  explicit McapWriter(const std::string &path, WriterOptions opts = {});
  ~McapWriter();  // closes the file; if close() was not called the file has no summary
  McapWriter(const McapWriter &) = delete;
  McapWriter &operator=(const McapWriter &) = delete;

  uint16_t add_schema(std::string_view name, std::string_view encoding, std::string_view data);
  uint16_t add_channel(uint16_t schema_id, std::string_view topic, std::string_view message_encoding);
  void write(uint16_t channel_id, uint64_t log_time, std::string_view data) { write(channel_id, log_time, log_time, data); }
  void write(uint16_t channel_id, uint64_t log_time, uint64_t publish_time, std::string_view data);
  void close();

  uint64_t bytes_written() const { return offset_; }
  uint64_t message_count() const { return message_count_; }

 private:
  void flush_chunk();
  void put(std::string_view bytes);
  void fail(const std::string &what);

  std::string path_;
  WriterOptions opts_;
  std::FILE *file_ = nullptr;
  uint64_t offset_ = 0;
  uint32_t data_crc_ = 0;
  std::string schemas_, channels_;  // their records, repeated in the summary
  uint16_t schema_count_ = 0, channel_count_ = 0;

  std::string chunk_;  // uncompressed records of the open chunk
  uint64_t chunk_start_ = 0, chunk_end_ = 0;
  std::map<uint16_t, std::vector<std::pair<uint64_t, uint64_t>>> chunk_messages_;  // channel -> (time, offset)
  std::string compressed_, chunk_record_;  // reused from chunk to chunk
  void *zstd_ = nullptr;

  std::vector<std::string> chunk_indexes_;  // ChunkIndex records
  std::vector<uint32_t> sequence_;          // per channel
  std::map<uint16_t, uint64_t> channel_counts_;
  uint64_t message_count_ = 0, start_time_ = UINT64_MAX, end_time_ = 0;
  uint32_t chunk_count_ = 0;
  bool closed_ = false;
};

}  // namespace mcap
