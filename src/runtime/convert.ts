// Host tensor <-> device bytes, for each storage dtype.

import { numel, type TensorType } from '../graph/index.js';
import { f16Bits, f16Value, type HostTensor } from '../ops/host.js';

export { f16Bits, f16Value };

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

