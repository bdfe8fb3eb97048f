// Host tensor <-> device bytes, for each storage dtype.

import { numel, type TensorType } from '../graph/index.js';
import { roundF16, type HostTensor } from '../ops/host.js';

export { deviceByteSize } from '../ops/wgsl.js';
import { deviceByteSize } from '../ops/wgsl.js';

export function toDeviceBytes(t: HostTensor): ArrayBuffer {
  const n = t.data.length;
  const buf = new ArrayBuffer(deviceByteSize(t));
  if (t.dtype === 'f32') new Float32Array(buf, 0, n).set(t.data);
  else if (t.dtype === 'i32') new Int32Array(buf, 0, n).set(t.data);
  else {
    const u16 = new Uint16Array(buf, 0, n);
    for (let i = 0; i < n; i++) u16[i] = f16Bits(t.data[i]);
  }
  return buf;
}

export function fromDeviceBytes(bytes: ArrayBuffer, type: TensorType): HostTensor {
  const n = numel(type.shape);
  const shape = [...type.shape];
  if (type.dtype === 'i32') return { shape, dtype: 'i32', data: new Int32Array(bytes.slice(0, n * 4)) };
  if (type.dtype === 'f32') return { shape, dtype: 'f32', data: Float64Array.from(new Float32Array(bytes, 0, n)) };
  const u16 = new Uint16Array(bytes, 0, n);
  return { shape, dtype: 'f16', data: Float64Array.from(u16, f16Value) };
}

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

export function f16Value(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const e = (bits >> 10) & 0x1f;
  const m = bits & 0x3ff;
  if (e === 0) return sign * m * 2 ** -24;
  if (e === 31) return m ? NaN : sign * Infinity;
  return sign * (1 + m / 1024) * 2 ** (e - 15);
}
