// Our own reader and writer of the safetensors format (https://github.com/huggingface/safetensors):
//   u64 little-endian N | N bytes of JSON header | data buffer
// The header maps tensor names to {dtype, shape, data_offsets: [begin, end]} (offsets relative to
// the data buffer) plus an optional "__metadata__" of string pairs. Everything in the header is
// untrusted: each check below names the file and the tensor, so a bad download is diagnosed
// before any value is used. Floats load as f32 host tensors (BF16/F16/F64 converted), integers
// as i32 (I64 range-checked).

import { open, type FileHandle } from 'node:fs/promises';
import * as t from 'io-ts';
import { formatShape, numel, type DType, type Shape } from '../graph/index.js';
import { f16Bits, f16Value, type HostTensor } from '../ops/host.js';
import { decodeOrThrow } from '../util/decode.js';
import { writeFileAtomic } from '../util/atomic.js';

export class SafetensorsError extends Error {
  override name = 'SafetensorsError';
}

/** The reference implementation's limit; a larger header means the file is not safetensors. */
export const MAX_HEADER_BYTES = 100_000_000;

const DTYPE_BYTES = { F32: 4, F16: 2, BF16: 2, F64: 8, I32: 4, I64: 8 } as const;
export type SafetensorsDType = keyof typeof DTYPE_BYTES;
export const SUPPORTED_DTYPES = Object.keys(DTYPE_BYTES) as readonly SafetensorsDType[];

/** How each host dtype is stored. */
const STORED_AS: Record<DType, SafetensorsDType> = { f32: 'F32', i32: 'I32', f16: 'F16' };

export interface TensorEntry {
  readonly dtype: SafetensorsDType;
  readonly shape: Shape;
  /** [begin, end) in bytes, relative to the start of the data buffer. */
  readonly dataOffsets: readonly [number, number];
}

export interface SafetensorsHeader {
  /** In header order. */
  readonly entries: Map<string, TensorEntry>;
  readonly metadata: Record<string, string>;
  /** N, the JSON header's length in bytes (padding included). */
  readonly headerLength: number;
  /** Length of the data buffer that follows the header. */
  readonly dataLength: number;
}

export interface Safetensors {
  readonly tensors: Map<string, HostTensor>;
  readonly metadata: Record<string, string>;
}

// ---- header validation ------------------------------------------------------------------------

const integer = (name: string, ok: (n: number) => boolean): t.Type<number, number, unknown> =>
  new t.Type<number, number, unknown>(name, (u): u is number => typeof u === 'number' && Number.isSafeInteger(u) && ok(u),
    (u, c) => (typeof u === 'number' && Number.isSafeInteger(u) && ok(u) ? t.success(u) : t.failure(u, c)), t.identity);

const JsonObject = new t.Type<Record<string, unknown>, Record<string, unknown>, unknown>('JSON object',
  (u): u is Record<string, unknown> => typeof u === 'object' && u !== null && !Array.isArray(u),
  (u, c) => (typeof u === 'object' && u !== null && !Array.isArray(u) ? t.success(u as Record<string, unknown>) : t.failure(u, c)), t.identity);

// Offsets are decoded as any integer so that negative or reversed ones get a sentence of their own.
const EntryCodec = t.type({ dtype: t.string, shape: t.array(integer('non-negative integer', (n) => n >= 0)), data_offsets: t.tuple([integer('integer', () => true), integer('integer', () => true)]) });
const MetadataCodec = t.union([t.null, t.record(t.string, t.string)]);

function fail(message: string): never {
  throw new SafetensorsError(message);
}

/** Reads N from the first 8 bytes and checks it against the file size. */
function headerLength(first8: Uint8Array, fileSize: number, what: string): number {
  if (fileSize < 8) fail(`${what}: file is ${fileSize} bytes, too short to hold the 8-byte header length`);
  const n = new DataView(first8.buffer, first8.byteOffset, 8).getBigUint64(0, true);
  if (n > BigInt(MAX_HEADER_BYTES)) fail(`${what}: header length ${n} bytes is absurd (limit ${MAX_HEADER_BYTES}); not a safetensors file?`);
  if (8n + n > BigInt(fileSize)) fail(`${what}: header length ${n} bytes exceeds the file (${fileSize} bytes in all); truncated, or not a safetensors file`);
  return Number(n);
}

function parseHeader(bytes: Uint8Array, dataLength: number, what: string): SafetensorsHeader {
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    fail(`${what}: header is not valid UTF-8`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    fail(`${what}: header is not JSON (${e instanceof Error ? e.message : String(e)})`);
  }
  const raw = decodeOrThrow(JsonObject, json, `${what}: header`);
  const entries = new Map<string, TensorEntry>();
  let metadata: Record<string, string> = {};
  for (const [name, value] of Object.entries(raw)) {
    if (name === '__metadata__') {
      const m = decodeOrThrow(MetadataCodec, value, `${what}: __metadata__`);
      metadata = Object.fromEntries(Object.entries(m ?? {}));
      continue;
    }
    const where = `${what}: tensor "${name}"`;
    const e = decodeOrThrow(EntryCodec, value, where);
    if (!(e.dtype in DTYPE_BYTES)) fail(`${where}: dtype "${e.dtype}" is not supported (supported: ${SUPPORTED_DTYPES.join(', ')})`);
    const dtype = e.dtype as SafetensorsDType;
    const [begin, end] = e.data_offsets;
    const offsets = `data_offsets [${begin}, ${end}]`;
    if (begin < 0 || end < 0) fail(`${where}: ${offsets} are negative`);
    if (end < begin) fail(`${where}: ${offsets} are reversed (end before begin)`);
    const need = numel(e.shape) * DTYPE_BYTES[dtype];
    if (end - begin !== need) fail(`${where}: ${offsets} span ${end - begin} bytes, but ${dtype}${formatShape(e.shape)} needs ${need}`);
    entries.set(name, { dtype, shape: e.shape, dataOffsets: [begin, end] });
  }
  checkLayout(entries, dataLength, what);
  return { entries, metadata, headerLength: bytes.length, dataLength };
}

/** No two tensors share bytes; every tensor lies inside the data buffer. */
function checkLayout(entries: ReadonlyMap<string, TensorEntry>, dataLength: number, what: string): void {
  const spans = [...entries].filter(([, e]) => e.dataOffsets[1] > e.dataOffsets[0]).sort(([, a], [, b]) => a.dataOffsets[0] - b.dataOffsets[0]);
  for (let i = 1; i < spans.length; i++) {
    const [prevName, prev] = spans[i - 1], [name, cur] = spans[i];
    if (cur.dataOffsets[0] < prev.dataOffsets[1]) {
      fail(`${what}: tensor "${name}" (data_offsets [${cur.dataOffsets}]) overlaps tensor "${prevName}" (data_offsets [${prev.dataOffsets}])`);
    }
  }
  const beyond = spans.filter(([, e]) => e.dataOffsets[1] > dataLength);
  if (beyond.length === 0) return;
  const [name, e] = beyond[0];
  // Tensors packed end to end from 0 (as every writer lays them out) but running past the end: the
  // file was cut short. Otherwise the header itself points outside the file.
  const packed = spans.every(([, s], i) => s.dataOffsets[0] === (i === 0 ? 0 : spans[i - 1][1].dataOffsets[1]));
  const needed = spans[spans.length - 1][1].dataOffsets[1];
  if (packed) fail(`${what}: file is truncated: the header's tensors need ${needed} data bytes, only ${dataLength} follow the header (tensor "${name}" is cut off)`);
  fail(`${what}: tensor "${name}": data_offsets [${e.dataOffsets}] extend beyond the data buffer (${dataLength} bytes)`);
}

// ---- decoding ---------------------------------------------------------------------------------

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** The bytes aligned for `size`-byte elements in host order: a view when possible, else a copy. */
function nativeBytes(bytes: Uint8Array, size: number): Uint8Array {
  if (LITTLE_ENDIAN && bytes.byteOffset % size === 0) return bytes;
  const copy = new Uint8Array(bytes); // a fresh buffer starts at offset 0, so it is aligned
  if (!LITTLE_ENDIAN) for (let i = 0; i < copy.length; i += size) copy.subarray(i, i + size).reverse();
  return copy;
}

type View<T> = new (buffer: ArrayBufferLike, byteOffset: number, length: number) => T;
function view<T>(Ctor: View<T>, bytes: Uint8Array, size: number): T {
  const b = nativeBytes(bytes, size);
  return new Ctor(b.buffer, b.byteOffset, b.length / size);
}

/** `bytes` holds exactly the tensor's data. */
function decodeTensor(name: string, e: TensorEntry, bytes: Uint8Array, what: string): HostTensor {
  const shape = [...e.shape];
  const f32 = (data: Float64Array): HostTensor => ({ shape, dtype: 'f32', data });
  switch (e.dtype) {
    case 'F32': return f32(Float64Array.from(view(Float32Array, bytes, 4)));
    case 'F64': return f32(Float64Array.from(view(Float64Array, bytes, 8), Math.fround));
    case 'F16': return f32(Float64Array.from(view(Uint16Array, bytes, 2), f16Value));
    case 'BF16': {
      // bf16 is the top half of an f32: shifting the bits up gives the value exactly.
      const u16 = view(Uint16Array, bytes, 2);
      const u32 = new Uint32Array(u16.length);
      for (let i = 0; i < u16.length; i++) u32[i] = u16[i] << 16;
      return f32(Float64Array.from(new Float32Array(u32.buffer)));
    }
    case 'I32': return { shape, dtype: 'i32', data: Int32Array.from(view(Int32Array, bytes, 4)) };
    case 'I64': {
      // Read as (low, high) i32 pairs: a value fits in i32 exactly when high is low's sign extension.
      const halves = view(Int32Array, nativeBytes(bytes, 8), 4);
      const data = new Int32Array(halves.length / 2);
      for (let i = 0; i < data.length; i++) {
        const lo = halves[LITTLE_ENDIAN ? 2 * i : 2 * i + 1], hi = halves[LITTLE_ENDIAN ? 2 * i + 1 : 2 * i];
        if (hi !== lo >> 31) {
          const value = (BigInt(hi) << 32n) | BigInt(lo >>> 0);
          fail(`${what}: tensor "${name}": I64 value ${value} at index ${i} does not fit in i32 (integers are held as i32)`);
        }
        data[i] = lo;
      }
      return { shape, dtype: 'i32', data };
    }
  }
}


// ---- reading ----------------------------------------------------------------------------------

/** Parses a whole safetensors file held in memory; `what` names it in errors. */
export function parseSafetensors(bytes: Uint8Array, what: string): Safetensors {
  const n = headerLength(bytes.subarray(0, 8), bytes.length, what);
  const dataStart = 8 + n;
  const header = parseHeader(bytes.subarray(8, dataStart), bytes.length - dataStart, what);
  const tensors = new Map<string, HostTensor>();
  for (const [name, e] of header.entries) {
    tensors.set(name, decodeTensor(name, e, bytes.subarray(dataStart + e.dataOffsets[0], dataStart + e.dataOffsets[1]), what));
  }
  return { tensors, metadata: header.metadata };
}

/** Reads and validates only the header (cheap even for multi-gigabyte files). */
export async function readSafetensorsHeader(path: string): Promise<SafetensorsHeader> {
  return withFile(path, (fh, size) => readHeader(fh, size, path));
}

/** Reads a safetensors file tensor by tensor, so the raw file is never held in memory whole. */
export async function readSafetensors(path: string): Promise<Safetensors> {
  return withFile(path, async (fh, size) => {
    const header = await readHeader(fh, size, path);
    const dataStart = 8 + header.headerLength;
    const tensors = new Map<string, HostTensor>();
    for (const [name, e] of header.entries) {
      const [begin, end] = e.dataOffsets;
      tensors.set(name, decodeTensor(name, e, await readAt(fh, dataStart + begin, end - begin, path), path));
    }
    return { tensors, metadata: header.metadata };
  });
}

async function withFile<T>(path: string, body: (fh: FileHandle, size: number) => Promise<T>): Promise<T> {
  const fh = await open(path, 'r');
  try {
    return await body(fh, (await fh.stat()).size);
  } finally {
    await fh.close();
  }
}

async function readHeader(fh: FileHandle, size: number, path: string): Promise<SafetensorsHeader> {
  const n = headerLength(await readAt(fh, 0, Math.min(8, size), path), size, path);
  return parseHeader(await readAt(fh, 8, n, path), size - 8 - n, path);
}

async function readAt(fh: FileHandle, position: number, length: number, path: string): Promise<Uint8Array> {
  const out = new Uint8Array(length);
  let done = 0;
  while (done < length) {
    // Reads are capped below 2 GiB by Node, hence the chunks.
    const { bytesRead } = await fh.read(out, done, Math.min(length - done, 1 << 30), position + done);
    if (bytesRead === 0) fail(`${path}: file ended at byte ${position + done} while reading (changed while being read?)`);
    done += bytesRead;
  }
  return out;
}

// ---- writing ----------------------------------------------------------------------------------

export type TensorsIn = ReadonlyMap<string, HostTensor> | Readonly<Record<string, HostTensor>>;

/**
 * Tensors sorted by name, packed end to end; the header is padded with spaces to a multiple of 8
 * bytes like the reference writer does, so the data buffer starts 8-aligned.
 */
export function serializeSafetensors(tensors: TensorsIn, metadata?: Readonly<Record<string, string>>): Uint8Array {
  const list: [string, HostTensor][] = isMap(tensors) ? [...tensors] : Object.entries(tensors);
  list.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  // Built as text so that no tensor name (even "__proto__") is ever an object key here.
  const parts: string[] = metadata ? [`"__metadata__":${JSON.stringify(metadata)}`] : [];
  const blobs: Uint8Array[] = [];
  let offset = 0;
  for (const [name, tensor] of list) {
    if (name === '__metadata__') throw new SafetensorsError('serializeSafetensors: "__metadata__" is reserved and cannot name a tensor');
    const blob = encodeTensor(name, tensor);
    parts.push(`${JSON.stringify(name)}:${JSON.stringify({ dtype: STORED_AS[tensor.dtype], shape: tensor.shape, data_offsets: [offset, offset + blob.length] })}`);
    blobs.push(blob);
    offset += blob.length;
  }
  const header = new TextEncoder().encode(`{${parts.join(',')}}`);
  const padded = header.length + ((8 - (header.length % 8)) % 8);
  const out = new Uint8Array(8 + padded + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(padded), true);
  out.set(header, 8);
  out.fill(0x20, 8 + header.length, 8 + padded);
  let at = 8 + padded;
  for (const blob of blobs) {
    out.set(blob, at);
    at += blob.length;
  }
  return out;
}

export async function writeSafetensors(path: string, tensors: TensorsIn, metadata?: Readonly<Record<string, string>>): Promise<void> {
  await writeFileAtomic(path, serializeSafetensors(tensors, metadata));
}

function isMap(x: TensorsIn): x is ReadonlyMap<string, HostTensor> {
  return x instanceof Map;
}

/** The tensor's little-endian bytes. */
function encodeTensor(name: string, tensor: HostTensor): Uint8Array {
  const { shape, dtype, data } = tensor;
  if (!shape.every((d) => Number.isSafeInteger(d) && d >= 0)) throw new SafetensorsError(`serializeSafetensors: tensor "${name}": bad shape ${formatShape(shape)}`);
  if (data.length !== numel(shape)) throw new SafetensorsError(`serializeSafetensors: tensor "${name}": ${data.length} values for shape ${formatShape(shape)}`);
  let native: ArrayBufferView;
  if (dtype === 'f32') native = Float32Array.from(data);
  else if (dtype === 'i32') native = Int32Array.from(data);
  else native = Uint16Array.from(data, f16Bits);
  const bytes = new Uint8Array(native.buffer, native.byteOffset, native.byteLength);
  const size = native.byteLength / Math.max(data.length, 1);
  if (!LITTLE_ENDIAN) for (let i = 0; i < bytes.length; i += size) bytes.subarray(i, i + size).reverse();
  return bytes;
}

