import { expect } from 'chai';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomTensor, type HostTensor } from '../src/ops/host.js';
import {
  parseSafetensors, readSafetensors, readSafetensorsHeader, serializeSafetensors, writeSafetensors,
} from '../src/models/safetensors.js';

/** A file built by hand: u64 LE header length, header text (unpadded unless given so), data. */
function fileOf(header: unknown, data: Uint8Array | number[] = [], headerLength?: bigint): Uint8Array {
  const text = new TextEncoder().encode(typeof header === 'string' ? header : JSON.stringify(header));
  const out = new Uint8Array(8 + text.length + data.length);
  new DataView(out.buffer).setBigUint64(0, headerLength ?? BigInt(text.length), true);
  out.set(text, 8);
  out.set(data, 8 + text.length);
  return out;
}

function expectThrow(fn: () => unknown, ...patterns: (RegExp | string)[]): void {
  let message: string | undefined;
  try {
    fn();
  } catch (e) {
    message = (e as Error).message;
  }
  expect(message, 'should have thrown').to.be.a('string');
  for (const p of patterns) {
    if (typeof p === 'string') expect(message).to.include(p);
    else expect(message).to.match(p);
  }
}

const f32 = (shape: number[], values: number[]): HostTensor => ({ shape, dtype: 'f32', data: Float64Array.from(values) });
const BAD = 'bad.safetensors';

describe('safetensors', () => {
  let dir: string;
  before(async () => { dir = await mkdtemp(join(tmpdir(), 'pg-st-')); });
  after(async () => { await rm(dir, { recursive: true, force: true }); });

  it('round-trips f32, f16 and i32 tensors through a file, with metadata', async () => {
    const tensors = new Map<string, HostTensor>([
      ['w.f32', randomTensor([3, 5], 1)],
      ['w.f16', randomTensor([4, 2, 3], 2, { dtype: 'f16' })],
      ['ids', randomTensor([7], 3, { dtype: 'i32', low: -1000, high: 1000 })],
      ['scalar', f32([], [2.5])],
      ['empty', f32([0, 3], [])],
    ]);
    const path = join(dir, 'rt.safetensors');
    await writeSafetensors(path, tensors, { format: 'pt', note: 'é' });
    const back = await readSafetensors(path);
    expect(back.metadata).to.deep.equal({ format: 'pt', note: 'é' });
    expect([...back.tensors.keys()]).to.deep.equal(['empty', 'ids', 'scalar', 'w.f16', 'w.f32']); // sorted
    for (const [name, t] of tensors) {
      const b = back.tensors.get(name)!;
      expect(b.shape, name).to.deep.equal(t.shape);
      // f16 loads as f32 (exactly: every f16 value is an f32 value)
      expect(b.dtype, name).to.equal(t.dtype === 'f16' ? 'f32' : t.dtype);
      expect([...b.data], name).to.deep.equal([...t.data]);
    }
    const inMemory = parseSafetensors(serializeSafetensors(Object.fromEntries(tensors), { format: 'pt', note: 'é' }), 'mem');
    expect(inMemory.tensors).to.deep.equal(back.tensors);
  });

  it('writes the reference layout: u64 LE length, space-padded header, sorted packed data', () => {
    const bytes = serializeSafetensors({ b: f32([1], [1]), a: { shape: [2], dtype: 'i32', data: Int32Array.from([1, 2]) } }, { k: 'v' });
    const n = Number(new DataView(bytes.buffer).getBigUint64(0, true));
    expect(n % 8).to.equal(0);
    const header = new TextDecoder().decode(bytes.subarray(8, 8 + n));
    const json = '{"__metadata__":{"k":"v"},"a":{"dtype":"I32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}}';
    expect(header).to.equal(json + ' '.repeat(n - json.length));
    expect([...bytes.subarray(8 + n)]).to.deep.equal([1, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0x80, 0x3f]);
  });

  it('encodes f16 bit patterns exactly', () => {
    const bytes = serializeSafetensors({ h: { shape: [7], dtype: 'f16', data: Float64Array.from([1, -2, 65504, Infinity, 2 ** -24, -0, 1 + 2 ** -11]) } });
    const n = Number(new DataView(bytes.buffer).getBigUint64(0, true));
    const data = new DataView(bytes.buffer, 8 + n);
    const bits = Array.from({ length: 7 }, (_, i) => data.getUint16(2 * i, true));
    // 1 + 2^-11 is a tie between 1 and 1 + 2^-10: rounds to even (1.0)
    expect(bits).to.deep.equal([0x3c00, 0xc000, 0x7bff, 0x7c00, 0x0001, 0x8000, 0x3c00]);
  });

  it('reads a hand-built file of every supported dtype, unaligned offsets included', () => {
    const data = new DataView(new ArrayBuffer(54));
    [0x3c00, 0xc000, 0x7c00].forEach((b, i) => data.setUint16(2 * i, b, true)); // F16 at [0,6]
    [1.5, -0.1].forEach((v, i) => data.setFloat32(6 + 4 * i, v, true)); // F32 at [6,14]: not 4-aligned
    [0x3f80, 0xc0a0].forEach((b, i) => data.setUint16(14 + 2 * i, b, true)); // BF16 at [14,18]
    [7, -3].forEach((v, i) => data.setInt32(18 + 4 * i, v, true)); // I32 at [18,26]
    [5n, -7n].forEach((v, i) => data.setBigInt64(26 + 8 * i, v, true)); // I64 at [26,42]
    data.setFloat64(42, 0.1, true); // F64 at [42,50]
    data.setFloat32(50, 2.5, true); // scalar at [50,54]
    const header = {
      __metadata__: { format: 'pt' },
      h16: { dtype: 'F16', shape: [3], data_offsets: [0, 6] },
      f32: { dtype: 'F32', shape: [2], data_offsets: [6, 14] },
      bf: { dtype: 'BF16', shape: [2, 1], data_offsets: [14, 18] },
      i32: { dtype: 'I32', shape: [2], data_offsets: [18, 26] },
      i64: { dtype: 'I64', shape: [2], data_offsets: [26, 42] },
      f64: { dtype: 'F64', shape: [1], data_offsets: [42, 50] },
      empty: { dtype: 'F32', shape: [0, 4], data_offsets: [50, 50] },
      scalar: { dtype: 'F32', shape: [], data_offsets: [50, 54] },
    };
    const { tensors, metadata } = parseSafetensors(fileOf(header, new Uint8Array(data.buffer)), 'hand.safetensors');
    expect(metadata).to.deep.equal({ format: 'pt' });
    const got = Object.fromEntries([...tensors].map(([k, t]) => [k, { shape: t.shape, dtype: t.dtype, data: [...t.data] }]));
    expect(got).to.deep.equal({
      h16: { shape: [3], dtype: 'f32', data: [1, -2, Infinity] },
      f32: { shape: [2], dtype: 'f32', data: [1.5, Math.fround(-0.1)] },
      bf: { shape: [2, 1], dtype: 'f32', data: [1, -5] },
      i32: { shape: [2], dtype: 'i32', data: [7, -3] },
      i64: { shape: [2], dtype: 'i32', data: [5, -7] },
      f64: { shape: [1], dtype: 'f32', data: [Math.fround(0.1)] },
      empty: { shape: [0, 4], dtype: 'f32', data: [] },
      scalar: { shape: [], dtype: 'f32', data: [2.5] },
    });
  });

  describe('rejects bad input, naming the file and the tensor', () => {
    const one = (entry: object, data: number): Uint8Array => fileOf({ x: entry }, new Uint8Array(data));

    it('truncated file', () => {
      const bytes = serializeSafetensors({ a: f32([4], [1, 2, 3, 4]), b: f32([4], [5, 6, 7, 8]) });
      expectThrow(() => parseSafetensors(bytes.subarray(0, bytes.length - 2), BAD), BAD, 'truncated', '"b"', 'need 32 data bytes, only 30');
    });

    it('overlapping offsets', () => {
      const bytes = fileOf({ a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] }, b: { dtype: 'F32', shape: [2], data_offsets: [4, 12] } }, new Uint8Array(12));
      expectThrow(() => parseSafetensors(bytes, BAD), BAD, '"b"', 'overlaps', '"a"');
    });

    it('offsets beyond the data buffer', () => {
      const bytes = fileOf({ a: { dtype: 'F32', shape: [1], data_offsets: [0, 4] }, b: { dtype: 'F32', shape: [1], data_offsets: [100, 104] } }, new Uint8Array(8));
      expectThrow(() => parseSafetensors(bytes, BAD), BAD, '"b"', 'beyond the data buffer (8 bytes)');
    });

    it('negative and reversed offsets', () => {
      expectThrow(() => parseSafetensors(one({ dtype: 'F32', shape: [1], data_offsets: [-4, 0] }, 4), BAD), BAD, '"x"', 'negative');
      expectThrow(() => parseSafetensors(one({ dtype: 'F32', shape: [1], data_offsets: [4, 0] }, 4), BAD), BAD, '"x"', 'reversed');
    });

    it('header length beyond the file, or absurd', () => {
      expectThrow(() => parseSafetensors(fileOf({}, [], 1000n), BAD), BAD, 'header length 1000', 'exceeds the file');
      expectThrow(() => parseSafetensors(fileOf({}, [], 2n ** 40n), BAD), BAD, 'absurd');
      expectThrow(() => parseSafetensors(new Uint8Array(5), BAD), BAD, 'too short');
    });

    it('header that is not JSON, or not an object', () => {
      expectThrow(() => parseSafetensors(fileOf('{"x": '), BAD), BAD, 'not JSON');
      expectThrow(() => parseSafetensors(fileOf([1, 2]), BAD), BAD, 'header', 'JSON object');
      expectThrow(() => parseSafetensors(fileOf({ __metadata__: { a: 1 } }), BAD), BAD, '__metadata__', '$.a');
    });

    it('malformed entries, by JSON path', () => {
      expectThrow(() => parseSafetensors(one({ dtype: 'F32', shape: [-1], data_offsets: [0, 0] }, 0), BAD), BAD, '"x"', '$.shape[0]', 'non-negative integer');
      expectThrow(() => parseSafetensors(one({ dtype: 'F32', shape: [1] }, 4), BAD), BAD, '"x"', '$.data_offsets');
    });

    it('unsupported dtype, listing the supported ones', () => {
      expectThrow(() => parseSafetensors(one({ dtype: 'BOOL', shape: [4], data_offsets: [0, 4] }, 4), BAD), BAD, '"x"', '"BOOL"', 'F32, F16, BF16, F64, I32, I64');
    });

    it('byte length that disagrees with dtype and shape', () => {
      expectThrow(() => parseSafetensors(one({ dtype: 'F32', shape: [3], data_offsets: [0, 8] }, 8), BAD), BAD, '"x"', 'span 8 bytes', 'F32[3] needs 12');
    });

    it('I64 values that do not fit in i32', () => {
      for (const v of [2n ** 31n, -(2n ** 31n) - 1n, 2n ** 40n]) {
        const data = new DataView(new ArrayBuffer(16));
        data.setBigInt64(0, 1n, true);
        data.setBigInt64(8, v, true);
        expectThrow(() => parseSafetensors(fileOf({ big: { dtype: 'I64', shape: [2], data_offsets: [0, 16] } }, new Uint8Array(data.buffer)), BAD), BAD, '"big"', `I64 value ${v} at index 1`);
      }
      const edge = new DataView(new ArrayBuffer(16));
      edge.setBigInt64(0, 2n ** 31n - 1n, true);
      edge.setBigInt64(8, -(2n ** 31n), true);
      const ok = parseSafetensors(fileOf({ e: { dtype: 'I64', shape: [2], data_offsets: [0, 16] } }, new Uint8Array(edge.buffer)), BAD);
      expect([...ok.tensors.get('e')!.data]).to.deep.equal([2 ** 31 - 1, -(2 ** 31)]);
    });
  });

  it('reads headers alone, and names the path in file errors', async () => {
    const path = join(dir, 'h.safetensors');
    await writeSafetensors(path, { a: f32([2, 3], [1, 2, 3, 4, 5, 6]) }, { format: 'pt' });
    const header = await readSafetensorsHeader(path);
    expect([...header.entries]).to.deep.equal([['a', { dtype: 'F32', shape: [2, 3], dataOffsets: [0, 24] }]]);
    expect(header.metadata).to.deep.equal({ format: 'pt' });
    expect(header.dataLength).to.equal(24);
    const bytes = serializeSafetensors({ a: f32([2, 3], [1, 2, 3, 4, 5, 6]) });
    const cut = join(dir, 'cut.safetensors');
    await writeFile(cut, bytes.subarray(0, bytes.length - 1));
    for (const read of [readSafetensors, readSafetensorsHeader]) {
      const err = await read(cut).then(() => undefined, (e: Error) => e);
      expect(err?.message).to.include(cut).and.to.include('truncated').and.to.include('"a"');
    }
  });

  it('refuses to write inconsistent tensors', () => {
    expectThrow(() => serializeSafetensors({ a: f32([2, 2], [1, 2, 3]) }), '"a"', '3 values for shape [2,2]');
    expectThrow(() => serializeSafetensors({ __metadata__: f32([1], [1]) }), 'reserved');
  });
});
