// Draws build/icon.png (512×512): a lens ring over three telemetry bars. No image library needed.
import { deflateSync } from 'node:zlib';
import { writeFileSync } from 'node:fs';

const S = 512;
const px = Buffer.alloc(S * S * 4);
const set = (x, y, [r, g, b, a]) => { const i = (y * S + x) * 4; px[i] = r; px[i + 1] = g; px[i + 2] = b; px[i + 3] = a; };
for (let y = 0; y < S; y++) for (let x = 0; x < S; x++) {
  const dx = x - S / 2, dy = y - S / 2, d = Math.hypot(dx, dy);
  const r = 96, e = S / 2 - r; // rounded-square corners
  const corner = Math.abs(dx) > e && Math.abs(dy) > e && Math.hypot(Math.abs(dx) - e, Math.abs(dy) - e) > r;
  if (corner) { set(x, y, [0, 0, 0, 0]); continue; }
  let c = [24, 39, 64, 255];
  const bar = (x0, h) => x > x0 && x < x0 + 44 && y > 330 - h && y < 330;
  if (bar(150, 90) || bar(214, 150) || bar(278, 60)) c = [92, 196, 255, 255];
  if (d > 150 && d < 178) c = [255, 183, 77, 255];
  if (dx > 110 && dy > 110 && Math.abs(dx - dy) < 26 && d < 250) c = [255, 183, 77, 255];
  set(x, y, c);
}
const raw = Buffer.alloc(S * (S * 4 + 1));
for (let y = 0; y < S; y++) { raw[y * (S * 4 + 1)] = 0; px.copy(raw, y * (S * 4 + 1) + 1, y * S * 4, (y + 1) * S * 4); }
const crcTable = Array.from({ length: 256 }, (_, n) => { let c = n; for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1; return c >>> 0; });
const crc = (b) => { let c = 0xffffffff; for (const v of b) c = crcTable[(c ^ v) & 0xff] ^ (c >>> 8); return (c ^ 0xffffffff) >>> 0; };
const chunk = (type, data) => { const len = Buffer.alloc(4); len.writeUInt32BE(data.length); const td = Buffer.concat([Buffer.from(type), data]); const c = Buffer.alloc(4); c.writeUInt32BE(crc(td)); return Buffer.concat([len, td, c]); };
const ihdr = Buffer.alloc(13); ihdr.writeUInt32BE(S, 0); ihdr.writeUInt32BE(S, 4); ihdr[8] = 8; ihdr[9] = 6;
writeFileSync('build/icon.png', Buffer.concat([Buffer.from([137, 80, 78, 71, 13, 10, 26, 10]), chunk('IHDR', ihdr), chunk('IDAT', deflateSync(raw)), chunk('IEND', Buffer.alloc(0))]));
