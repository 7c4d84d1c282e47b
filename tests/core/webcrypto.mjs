// Encrypts/decrypts exactly as the SGraph Send browser UI does, with Node's built-in Web Crypto.
// Usage:
//   node webcrypto.mjs encrypt KEY_B64URL IN NAME OUT   -> OUT = IV ‖ AES-GCM(SGMETA ‖ file) (tag appended)
//   node webcrypto.mjs decrypt KEY_B64URL PAYLOAD OUT    -> OUT = content; prints {"filename": ...}
//   node webcrypto.mjs friendly TOKEN                    -> prints {"transfer_id": ..., "key": ...}
import { webcrypto as crypto } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";

const b64urlDecode = (s) => Buffer.from(s.replace(/-/g, "+").replace(/_/g, "/"), "base64");
const b64urlEncode = (b) => Buffer.from(b).toString("base64").replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");

async function importKey(raw) {
  return crypto.subtle.importKey("raw", raw, { name: "AES-GCM" }, false, ["encrypt", "decrypt"]);
}

function packageWithMetadata(content, filename) {
  // upstream v0.3: "SGMETA" + uint32 BE length + JSON + content
  const meta = new TextEncoder().encode(JSON.stringify({ filename }));
  const out = new Uint8Array(6 + 4 + meta.length + content.length);
  out.set(new TextEncoder().encode("SGMETA"), 0);
  new DataView(out.buffer).setUint32(6, meta.length, false);
  out.set(meta, 10);
  out.set(content, 10 + meta.length);
  return out;
}

function extractMetadata(plain) {
  const magic = new TextDecoder().decode(plain.subarray(0, 6));
  if (magic !== "SGMETA") return { filename: null, content: plain };
  const len = new DataView(plain.buffer, plain.byteOffset).getUint32(6, false);
  const meta = JSON.parse(new TextDecoder().decode(plain.subarray(10, 10 + len)));
  return { filename: meta.filename ?? null, content: plain.subarray(10 + len) };
}

const [mode, ...args] = process.argv.slice(2);
if (mode === "encrypt") {
  const [keyText, input, name, output] = args;
  const key = await importKey(b64urlDecode(keyText));
  const iv = crypto.getRandomValues(new Uint8Array(12));
  const plain = packageWithMetadata(new Uint8Array(readFileSync(input)), name);
  const ct = new Uint8Array(await crypto.subtle.encrypt({ name: "AES-GCM", iv }, key, plain));
  const out = new Uint8Array(12 + ct.length);
  out.set(iv, 0);
  out.set(ct, 12);
  writeFileSync(output, out);
} else if (mode === "decrypt") {
  const [keyText, input, output] = args;
  const key = await importKey(b64urlDecode(keyText));
  const payload = new Uint8Array(readFileSync(input));
  const plain = new Uint8Array(await crypto.subtle.decrypt({ name: "AES-GCM", iv: payload.subarray(0, 12) }, key,
                                                          payload.subarray(12)));
  const { filename, content } = extractMetadata(plain);
  writeFileSync(output, content);
  console.log(JSON.stringify({ filename }));
} else if (mode === "friendly") {
  const [token] = args;
  const base = await crypto.subtle.importKey("raw", new TextEncoder().encode(token), "PBKDF2", false, ["deriveBits"]);
  const bits = await crypto.subtle.deriveBits(
    { name: "PBKDF2", salt: new TextEncoder().encode("sgraph-send-v1"), iterations: 600000, hash: "SHA-256" }, base, 256);
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(token)));
  const id = Buffer.from(digest.subarray(0, 6)).toString("hex");
  console.log(JSON.stringify({ transfer_id: id, key: b64urlEncode(new Uint8Array(bits)) }));
} else {
  console.error("unknown mode");
  process.exit(2);
}
