#include "tools/mcap/mcap_writer.h"

#include <cerrno>
#include <cstring>
#include <stdexcept>

#include <zlib.h>
#include <zstd.h>

namespace mcap {

namespace {

constexpr char kMagic[] = "\x89MCAP0\r\n";
enum Opcode : uint8_t {
  kHeader = 0x01, kFooter = 0x02, kSchema = 0x03, kChannel = 0x04, kMessage = 0x05, kChunk = 0x06,
  kMessageIndex = 0x07, kChunkIndex = 0x08, kStatistics = 0x0B, kSummaryOffset = 0x0E, kDataEnd = 0x0F,
};

// Little-endian field writers for record bodies.
template <typename T>
void put_int(std::string &out, T v) {
  for (size_t i = 0; i < sizeof(T); ++i) out += char(uint64_t(v) >> (8 * i));
}
void put_str(std::string &out, std::string_view s) {
  put_int<uint32_t>(out, s.size());
  out += s;
}

// Appends a record: opcode, u64 length, body produced by fill(body).
template <typename F>
void put_record(std::string &out, Opcode op, F fill) {
  out += char(op);
  size_t len_at = out.size();
  put_int<uint64_t>(out, 0);
  fill(out);
  uint64_t len = out.size() - len_at - 8;
  for (size_t i = 0; i < 8; ++i) out[len_at + i] = char(len >> (8 * i));
}

uint32_t crc(uint32_t c, std::string_view s) {
  return uint32_t(crc32_z(c, reinterpret_cast<const Bytef *>(s.data()), s.size()));
}

}  // namespace

McapWriter::McapWriter(const std::string &path, WriterOptions opts) : path_(path), opts_(std::move(opts)) {
  file_ = std::fopen(path.c_str(), "wb");
  if (!file_) throw std::runtime_error("mcap: cannot create " + path + ": " + std::strerror(errno));
  std::setvbuf(file_, nullptr, _IOFBF, 1 << 20);
  if (opts_.zstd_level > 0) zstd_ = ZSTD_createCCtx();
  std::string head(kMagic, 8);
  put_record(head, kHeader, [&](std::string &b) {
    put_str(b, opts_.profile);
    put_str(b, "conduit tools/mcap");
  });
  put(head);
}

McapWriter::~McapWriter() {
  if (file_) std::fclose(file_);
  ZSTD_freeCCtx(static_cast<ZSTD_CCtx *>(zstd_));
}

void McapWriter::fail(const std::string &what) {
  throw std::runtime_error("mcap: " + what + " " + path_ + ": " + std::strerror(errno));
}

void McapWriter::put(std::string_view bytes) {
  if (std::fwrite(bytes.data(), 1, bytes.size(), file_) != bytes.size()) fail("writing");
  data_crc_ = crc(data_crc_, bytes);
  offset_ += bytes.size();
}

uint16_t McapWriter::add_schema(std::string_view name, std::string_view encoding, std::string_view data) {
  uint16_t id = ++schema_count_;  // 0 means "no schema"
  std::string record;
  put_record(record, kSchema, [&](std::string &b) {
    put_int<uint16_t>(b, id);
    put_str(b, name);
    put_str(b, encoding);
    put_str(b, data);
  });
  schemas_ += record;
  chunk_ += record;
  return id;
}

uint16_t McapWriter::add_channel(uint16_t schema_id, std::string_view topic, std::string_view message_encoding) {
  uint16_t id = channel_count_++;
  std::string record;
  put_record(record, kChannel, [&](std::string &b) {
    put_int<uint16_t>(b, id);
    put_int<uint16_t>(b, schema_id);
    put_str(b, topic);
    put_str(b, message_encoding);
    put_int<uint32_t>(b, 0);  // metadata: empty map
  });
  channels_ += record;
  chunk_ += record;
  sequence_.push_back(0);
  return id;
}

void McapWriter::write(uint16_t channel, uint64_t log_time, uint64_t publish_time, std::string_view data) {
  if (channel >= channel_count_) throw std::invalid_argument("mcap: write to unknown channel " + std::to_string(channel));
  if (chunk_messages_.empty() || log_time < chunk_start_) chunk_start_ = log_time;
  if (chunk_messages_.empty() || log_time > chunk_end_) chunk_end_ = log_time;
  chunk_messages_[channel].emplace_back(log_time, chunk_.size());
  chunk_ += char(kMessage);
  put_int<uint64_t>(chunk_, 2 + 4 + 8 + 8 + data.size());
  put_int<uint16_t>(chunk_, channel);
  put_int<uint32_t>(chunk_, sequence_[channel]++);
  put_int<uint64_t>(chunk_, log_time);
  put_int<uint64_t>(chunk_, publish_time);
  chunk_ += data;
  message_count_++;
  channel_counts_[channel]++;
  start_time_ = std::min(start_time_, log_time);
  end_time_ = std::max(end_time_, log_time);
  if (chunk_.size() >= opts_.chunk_size) flush_chunk();
}

void McapWriter::flush_chunk() {
  if (chunk_.empty()) return;
  std::string_view records = chunk_;
  std::string compression;
  if (zstd_) {
    compressed_.resize(ZSTD_compressBound(chunk_.size()));
    size_t n = ZSTD_compressCCtx(static_cast<ZSTD_CCtx *>(zstd_), compressed_.data(), compressed_.size(),
                                 chunk_.data(), chunk_.size(), opts_.zstd_level);
    if (ZSTD_isError(n)) throw std::runtime_error(std::string("mcap: zstd: ") + ZSTD_getErrorName(n));
    records = std::string_view(compressed_.data(), n);
    compression = "zstd";
  }
  uint64_t chunk_offset = offset_;
  std::string &out = chunk_record_;
  out.clear();
  put_record(out, kChunk, [&](std::string &b) {
    put_int<uint64_t>(b, chunk_start_);
    put_int<uint64_t>(b, chunk_end_);
    put_int<uint64_t>(b, chunk_.size());
    put_int<uint32_t>(b, crc(0, chunk_));
    put_str(b, compression);
    put_int<uint64_t>(b, records.size());
    b += records;
  });
  uint64_t chunk_length = out.size();
  // A message index per channel right after the chunk; the chunk index points at each.
  std::map<uint16_t, uint64_t> index_offsets;
  for (auto &[channel, entries] : chunk_messages_) {
    index_offsets[channel] = chunk_offset + out.size();
    put_record(out, kMessageIndex, [&](std::string &b) {
      put_int<uint16_t>(b, channel);
      put_int<uint32_t>(b, entries.size() * 16);
      for (auto [t, off] : entries) {
        put_int<uint64_t>(b, t);
        put_int<uint64_t>(b, off);
      }
    });
  }
  uint64_t index_length = out.size() - chunk_length;
  put(out);

  std::string ci;
  put_record(ci, kChunkIndex, [&](std::string &b) {
    put_int<uint64_t>(b, chunk_start_);
    put_int<uint64_t>(b, chunk_end_);
    put_int<uint64_t>(b, chunk_offset);
    put_int<uint64_t>(b, chunk_length);
    put_int<uint32_t>(b, index_offsets.size() * 10);
    for (auto [channel, off] : index_offsets) {
      put_int<uint16_t>(b, channel);
      put_int<uint64_t>(b, off);
    }
    put_int<uint64_t>(b, index_length);
    put_str(b, compression);
    put_int<uint64_t>(b, records.size());
    put_int<uint64_t>(b, chunk_.size());
  });
  chunk_indexes_.push_back(std::move(ci));
  chunk_count_++;
  chunk_.clear();
  chunk_messages_.clear();
}

void McapWriter::close() {
  if (closed_) return;
  closed_ = true;
  flush_chunk();
  std::string end;
  put_record(end, kDataEnd, [&](std::string &b) { put_int<uint32_t>(b, data_crc_); });
  put(end);

  // Summary: one group per record kind, each found through a summary offset.
  uint64_t summary_start = offset_;
  std::string summary, offsets;
  auto group = [&](Opcode op, std::string_view records) {
    if (records.empty()) return;
    put_record(offsets, kSummaryOffset, [&](std::string &b) {
      put_int<uint8_t>(b, op);
      put_int<uint64_t>(b, summary_start + summary.size());
      put_int<uint64_t>(b, records.size());
    });
    summary += records;
  };
  group(kSchema, schemas_);
  group(kChannel, channels_);
  std::string stats;
  put_record(stats, kStatistics, [&](std::string &b) {
    put_int<uint64_t>(b, message_count_);
    put_int<uint16_t>(b, schema_count_);
    put_int<uint32_t>(b, channel_count_);
    put_int<uint32_t>(b, 0);  // attachments
    put_int<uint32_t>(b, 0);  // metadata
    put_int<uint32_t>(b, chunk_count_);
    put_int<uint64_t>(b, message_count_ ? start_time_ : 0);
    put_int<uint64_t>(b, end_time_);
    put_int<uint32_t>(b, channel_counts_.size() * 10);
    for (auto [channel, n] : channel_counts_) {
      put_int<uint16_t>(b, channel);
      put_int<uint64_t>(b, n);
    }
  });
  group(kStatistics, stats);
  std::string indexes;
  for (auto &ci : chunk_indexes_) indexes += ci;
  group(kChunkIndex, indexes);

  uint64_t offsets_start = summary_start + summary.size();
  std::string tail = summary + offsets;
  tail += char(kFooter);
  put_int<uint64_t>(tail, 8 + 8 + 4);
  put_int<uint64_t>(tail, summary_start);
  put_int<uint64_t>(tail, offsets_start);
  // The summary CRC covers the summary through the footer's summary_offset_start.
  put_int<uint32_t>(tail, crc(0, tail));
  tail.append(kMagic, 8);
  put(tail);
  if (std::fflush(file_) != 0) fail("flushing");
  if (std::fclose(file_) != 0) {
    file_ = nullptr;
    fail("closing");
  }
  file_ = nullptr;
}

}  // namespace mcap
