// A Foxglove WebSocket client built on @foxglove/ws-protocol (the library
// Foxglove's own clients use). Connects to URL, waits for the advertisement,
// subscribes to TOPICS, receives for SECONDS, then unsubscribes from the first
// topic and listens one more second. Prints one JSON object:
//   {server, advertised: {topic: {schemaName, encoding, schemaEncoding, schemaOk}},
//    topics: {topic: {count, invalid, span_s, latency_ms: [...], keyframes, first_keyframe}},
//    after_unsubscribe, others_after_unsubscribe, statuses}
// Counts and rates cover the SECONDS window only.
// latency_ms: receive time (CLOCK_MONOTONIC, as process.hrtime) minus the
// message timestamp (its logMonoTime).
// usage: node ws_client.mjs URL SECONDS TOPIC...
import wsProtocol from "@foxglove/ws-protocol";
import Ajv from "ajv";
import WebSocket from "ws";

const { FoxgloveClient } = wsProtocol;
const [url, secondsArg, ...topics] = process.argv.slice(2);
const seconds = Number(secondsArg);
const ajv = new Ajv({ strict: true, allowUnionTypes: true });
const client = new FoxgloveClient({ ws: new WebSocket(url, [FoxgloveClient.SUPPORTED_SUBPROTOCOL]) });
const out = { server: null, advertised: {}, topics: {}, after_unsubscribe: 0, others_after_unsubscribe: 0, statuses: [] };
const subs = new Map(); // subscription id -> {topic, validate}
const decoder = new TextDecoder();
let unsubscribedId = null;
let unsubscribedAt = 0n;

function hasSps(bytes, hevc) {
  for (let i = 0; i + 3 < bytes.length; i++) {
    if (bytes[i] === 0 && bytes[i + 1] === 0 && bytes[i + 2] === 1) {
      const t = hevc ? (bytes[i + 3] >> 1) & 0x3f : bytes[i + 3] & 0x1f;
      if (t === (hevc ? 33 : 7)) return true;
    }
  }
  return false;
}

const done = new Promise((resolve, reject) => {
  client.on("error", (e) => reject(e));
  client.on("close", () => resolve());
  client.on("serverInfo", (info) => (out.server = info.name));
  client.on("status", (s) => out.statuses.push(s.message));
  client.on("advertise", (channels) => {
    const byTopic = new Map(channels.map((c) => [c.topic, c]));
    for (const c of channels) {
      let schemaOk = true;
      try { ajv.compile(JSON.parse(c.schema)); } catch (e) { schemaOk = String(e); }
      out.advertised[c.topic] = { schemaName: c.schemaName, encoding: c.encoding, schemaEncoding: c.schemaEncoding, schemaOk };
    }
    for (const topic of topics) {
      const c = byTopic.get(topic);
      if (!c) continue;
      const id = client.subscribe(c.id);
      subs.set(id, { topic, validate: ajv.compile(JSON.parse(c.schema)) });
      out.topics[topic] = { count: 0, invalid: 0, first: null, last: null, latency_ms: [], keyframes: 0, first_keyframe: null };
    }
    setTimeout(() => {
      unsubscribedId = [...subs.keys()][0];
      unsubscribedAt = process.hrtime.bigint();
      client.unsubscribe(unsubscribedId);
      setTimeout(() => client.close(), 1000);
    }, seconds * 1000);
  });
  client.on("message", ({ subscriptionId, timestamp, data }) => {
    const now = process.hrtime.bigint();
    const sub = subs.get(subscriptionId);
    if (subscriptionId === unsubscribedId) {
      // Frames already queued when the request left may still arrive; later ones must not.
      if (now - unsubscribedAt > 300_000_000n) out.after_unsubscribe++;
      return;
    }
    if (unsubscribedId !== null) {
      out.others_after_unsubscribe++; // the stream still flows: the silence above means something
      return;
    }
    const t = out.topics[sub.topic];
    t.count++;
    t.latency_ms.push(Number(now - timestamp) / 1e6);
    t.first ??= now;
    t.last = now;
    const value = JSON.parse(decoder.decode(new Uint8Array(data.buffer, data.byteOffset, data.byteLength)));
    if (!sub.validate(value)) t.invalid++;
    if (value.format) {
      const key = hasSps(Buffer.from(value.data, "base64"), value.format === "h265");
      t.first_keyframe ??= key;
      if (key) t.keyframes++;
    }
  });
});
await done;
for (const t of Object.values(out.topics)) {
  t.span_s = t.first === null ? 0 : Number(t.last - t.first) / 1e9;
  delete t.first;
  delete t.last;
}
console.log(JSON.stringify(out));
