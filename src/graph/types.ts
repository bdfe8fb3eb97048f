// Core value types of the IR: dtypes, shapes, tensor types and node attributes.

export const DTYPES = ['f32', 'i32', 'f16'] as const;
export type DType = (typeof DTYPES)[number];

export type Shape = readonly number[];

/** The static type of a value in the graph. Every node produces exactly one value. */
export interface TensorType {
  readonly shape: Shape;
  readonly dtype: DType;
}

/** Attribute values are JSON-representable so graphs round-trip through JSON. */
export type AttrValue = number | string | boolean | null | readonly number[] | readonly string[];
export type Attrs = { readonly [key: string]: AttrValue };

export function numel(shape: Shape): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

export function sameShape(a: Shape, b: Shape): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

export function sameType(a: TensorType, b: TensorType): boolean {
  return a.dtype === b.dtype && sameShape(a.shape, b.shape);
}

export function formatShape(shape: Shape): string {
  return `[${shape.join(',')}]`;
}

export function formatType(t: TensorType): string {
  return `${t.dtype}${formatShape(t.shape)}`;
}

/** Row-major strides of a shape. */
export function stridesOf(shape: Shape): number[] {
  const s = new Array<number>(shape.length);
  let acc = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    s[i] = acc;
    acc *= shape[i];
  }
  return s;
}

export function bytesPerElement(dtype: DType): number {
  return dtype === 'f16' ? 2 : 4;
}

export function isFloat(dtype: DType): boolean {
  return dtype === 'f32' || dtype === 'f16';
}
