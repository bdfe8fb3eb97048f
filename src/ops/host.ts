// Host tensors: the CPU side of every value (reference kernels, feeds, parameters, results).
// Floating values are held as float64 so the reference can run in f64 for gradient checks;
// the f32 executor rounds each result with Math.fround.

import { numel, formatType, sameShape, type DType, type Shape, type TensorType } from '../graph/index.js';

export interface HostTensor {
  readonly shape: Shape;
  readonly dtype: DType;
  readonly data: Float64Array | Int32Array;
}

/** Parameter values by name. */
export type ParamStore = Map<string, HostTensor>;
/** Input values by name. */
export type Feeds = Readonly<Record<string, HostTensor>>;

export function hostZeros(type: TensorType): HostTensor {
  const n = numel(type.shape);
  return { shape: [...type.shape], dtype: type.dtype, data: type.dtype === 'i32' ? new Int32Array(n) : new Float64Array(n) };
}

export function hostTensor(shape: Shape, dtype: DType, values: ArrayLike<number>): HostTensor {
  const n = numel(shape);
  if (values.length !== n) throw new Error(`hostTensor: ${values.length} values for ${formatType({ shape, dtype })} (needs ${n})`);
  return { shape: [...shape], dtype, data: dtype === 'i32' ? Int32Array.from(values) : Float64Array.from(values) };
}

export function hostScalar(value: number, dtype: DType = 'f32'): HostTensor {
  return hostTensor([], dtype, [value]);
}

export function typeOf(t: HostTensor): TensorType {
  return { shape: t.shape, dtype: t.dtype };
}

/** Rounds float data to the storage precision of its dtype (f32 here; f16 stored as f32 on the host too). */
export function roundToDType(t: HostTensor): HostTensor {
  if (t.dtype === 'i32') return t;
  const data = new Float64Array(t.data.length);
  if (t.dtype === 'f16') for (let i = 0; i < data.length; i++) data[i] = roundF16(t.data[i]);
  else for (let i = 0; i < data.length; i++) data[i] = Math.fround(t.data[i]);
  return { shape: t.shape, dtype: t.dtype, data };
}

/** Largest finite binary16 value. */
export const F16_MAX = 65504;

const halves = new WeakMap<HostTensor, HostTensor>();

/**
 * An f32 value as an f16-stored parameter holds it (the `half-storage` pass retypes frozen
 * parameters to f16): rounded to binary16. The same object comes back for the same `t`, so a
 * device copy shared between programs by tensor identity (GpuContext.shareFrozen) stays shared
 * and a step converts nothing. A finite value beyond the f16 range is an error, never an Inf.
 */
export function asF16(t: HostTensor, what: string): HostTensor {
  if (t.dtype === 'f16') return t;
  if (t.dtype !== 'f32') throw new Error(`${what}: cannot store ${t.dtype} values as f16`);
  let h = halves.get(t);
  if (!h) {
    for (const v of t.data) {
      if (Number.isFinite(v) && Math.abs(v) > F16_MAX) throw new Error(`${what} holds ${v}, beyond the f16 range (±${F16_MAX}): compile with frozenStorage 'f32'`);
    }
    h = roundToDType({ shape: t.shape, dtype: 'f16', data: t.data });
    halves.set(t, h);
  }
  return h;
}

/** Round-to-nearest-even to binary16, returned as a number (overflow gives Inf; subnormals kept). */
export function roundF16(x: number): number {
  if (!Number.isFinite(x) || x === 0) return x;
  const a = Math.abs(x);
  if (a >= 65520) return x > 0 ? Infinity : -Infinity;
  const e = Math.max(Math.floor(Math.log2(a)), -14);
  const q = Math.pow(2, e - 10); // the binary16 ulp at this exponent
  const m = a / q; // exact: q is a power of two
  let r = Math.round(m);
  if (m - Math.floor(m) === 0.5 && r % 2 === 1) r -= 1;
  return Math.sign(x) * r * q;
}

export function assertShape(t: HostTensor, shape: Shape, what: string): void {
  if (!sameShape(t.shape, shape)) throw new Error(`${what}: expected shape [${shape.join(',')}], got [${t.shape.join(',')}]`);
}

/** Deterministic PRNG (mulberry32) for tests, init and data shuffling. */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Standard normal samples via Box-Muller over a seeded uniform source. */
export function normalSampler(rand: () => number): () => number {
  return () => {
    const u = Math.max(rand(), 1e-12);
    const v = rand();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  };
}

export function randomTensor(shape: Shape, seed: number, opts: { dtype?: DType; scale?: number; low?: number; high?: number } = {}): HostTensor {
  const dtype = opts.dtype ?? 'f32';
  const rand = mulberry32(seed);
  const n = numel(shape);
  if (dtype === 'i32') {
    const low = opts.low ?? 0, high = opts.high ?? 10;
    return hostTensor(shape, dtype, Array.from({ length: n }, () => low + Math.floor(rand() * (high - low))));
  }
  const normal = normalSampler(rand);
  const scale = opts.scale ?? 1;
  return roundToDType(hostTensor(shape, dtype, Array.from({ length: n }, () => normal() * scale)));
}

/** Bits of the binary16 nearest to x (round to nearest even). */
export function f16Bits(x: number): number {
  const v = roundF16(x);
  if (Number.isNaN(v)) return 0x7e00;
  const sign = v < 0 || Object.is(v, -0) ? 0x8000 : 0;
  const a = Math.abs(v);
  if (a === Infinity) return sign | 0x7c00;
  if (a === 0) return sign;
  if (a < 2 ** -14) return sign | Math.round(a / 2 ** -24); // subnormal
  const e = Math.floor(Math.log2(a));
  const m = Math.round((a / 2 ** e - 1) * 1024);
  return sign | ((e + 15) << 10) | m;
}

/** Value of binary16 bits. */
export function f16Value(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const e = (bits >> 10) & 0x1f;
  const m = bits & 0x3ff;
  if (e === 0) return sign * m * 2 ** -24;
  if (e === 31) return m ? NaN : sign * Infinity;
  return sign * (1 + m / 1024) * 2 ** (e - 15);
}
