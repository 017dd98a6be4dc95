// Reads an MCAP file with the reference reader (@mcap/core's indexed reader:
// footer -> summary -> chunk indexes -> message indexes) and prints one JSON
// object describing it, for tools/tests/test_foxglove.py to assert on:
//   {statistics, chunks, channels: {topic: {schema_name, count, invalid, samples, frames?}}}
// Every message is parsed as JSON and validated against its channel's schema
// with Ajv; samples hold up to SAMPLES evenly spaced messages per channel
// (log_time as a decimal string, the message JSON text); video channels list
// every frame as [log_time, timestamp_ns, has_parameter_sets, format].
// usage: node check_mcap.mjs FILE [SAMPLES]
import { open } from "node:fs/promises";
import { McapIndexedReader } from "@mcap/core";
import Ajv from "ajv";
import { decompress } from "fzstd";

const [file, samplesArg] = process.argv.slice(2);
const SAMPLES = Number(samplesArg ?? 40);
const fh = await open(file, "r");
const readable = {
  size: async () => BigInt((await fh.stat()).size),
  read: async (offset, length) => {
    const buf = Buffer.alloc(Number(length));
    await fh.read(buf, 0, Number(length), Number(offset));
    return buf;
  },
};
const reader = await McapIndexedReader.Initialize({
  readable,
  decompressHandlers: { zstd: (data, size) => decompress(data, new Uint8Array(Number(size))) },
});

const ajv = new Ajv({ strict: true, allowUnionTypes: true });
const channels = {};
const validators = new Map();
for (const [id, ch] of reader.channelsById) {
  const schema = reader.schemasById.get(ch.schemaId);
  const text = new TextDecoder().decode(schema.data);
  validators.set(id, ajv.compile(JSON.parse(text)));
  channels[ch.topic] = {
    schema_name: schema.name, schema_encoding: schema.encoding, message_encoding: ch.messageEncoding,
    count: 0, invalid: [], texts: [], samples: [],
  };
}

// H.265 SPS is NAL type 33, H.264 SPS type 7.
function hasSps(bytes, hevc) {
  for (let i = 0; i + 3 < bytes.length; i++) {
    if (bytes[i] === 0 && bytes[i + 1] === 0 && bytes[i + 2] === 1) {
      const t = hevc ? (bytes[i + 3] >> 1) & 0x3f : bytes[i + 3] & 0x1f;
      if (t === (hevc ? 33 : 7)) return true;
    }
  }
  return false;
}

const decoder = new TextDecoder();
for await (const m of reader.readMessages()) {
  const ch = reader.channelsById.get(m.channelId);
  const out = channels[ch.topic];
  out.count++;
  const text = decoder.decode(m.data);
  const value = JSON.parse(text);
  const validate = validators.get(m.channelId);
  if (!validate(value) && out.invalid.length < 5) out.invalid.push({ log_time: String(m.logTime), errors: validate.errors });
  if (out.schema_name === "foxglove.CompressedVideo") {
    const data = Buffer.from(value.data, "base64");
    const ts = BigInt(value.timestamp.sec) * 1000000000n + BigInt(value.timestamp.nsec);
    (out.frames ??= []).push([String(m.logTime), String(ts), hasSps(data, value.format === "h265"), value.format, data.length]);
  } else {
    out.texts.push([String(m.logTime), text]);
  }
}
for (const out of Object.values(channels)) {
  const n = out.texts.length;
  const step = Math.max(1, Math.floor(n / SAMPLES));
  for (let i = 0; i < n && out.samples.length < SAMPLES; i += step) out.samples.push(out.texts[i]);
  delete out.texts;
}
const s = reader.statistics;
const topicOf = (id) => reader.channelsById.get(id).topic;
console.log(JSON.stringify({
  statistics: s && {
    message_count: String(s.messageCount), chunk_count: s.chunkCount, channel_count: s.channelCount,
    start: String(s.messageStartTime), end: String(s.messageEndTime),
    channel_message_counts: Object.fromEntries([...s.channelMessageCounts].map(([id, n]) => [topicOf(id), Number(n)])),
  },
  chunks: reader.chunkIndexes.map((c) => ({ compression: c.compression, start: String(c.messageStartTime), end: String(c.messageEndTime) })),
  channels,
}));
await fh.close();
