// The Dawn device: adapter acquisition, pipeline cache, buffer pool, batched dispatch,
// upload/download. All waits are bounded and a lost device becomes an error.

import { create, globals } from 'webgpu';
import type { KernelTarget } from '../ops/registry.js';
import type { HostTensor } from '../ops/host.js';
import type { TensorType } from '../graph/index.js';
import { bounded, DEFAULT_GPU_TIMEOUT_MS } from './bounded.js';
import { deviceByteSize, fromDeviceBytes, toDeviceBytes } from './convert.js';
import { DeviceLostError, GpuValidationError, KernelCompileError, NoAdapterError } from './errors.js';
import { silentLogger, type Logger } from './logger.js';

export interface GpuOptions {
  /** Dawn backend, e.g. 'vulkan' (env PROMPTGRAPH_BACKEND). */
  backend?: string;
  /** Adapter name as Dawn lists it (env PROMPTGRAPH_ADAPTER). */
  adapter?: string;
  powerPreference?: GPUPowerPreference;
  timeoutMs?: number;
  logger?: Logger;
}

export interface AdapterDescription {
  readonly name: string;
  readonly vendor: string;
  readonly architecture: string;
  readonly description: string;
  readonly software: boolean;
  readonly features: readonly string[];
  readonly limits: Readonly<Record<string, number>>;
}

/** A value on the device. */
export interface GpuTensor {
  readonly buffer: GPUBuffer;
  readonly type: TensorType;
}

const STORAGE_USAGE = 0x80 /* STORAGE */ | 0x04 /* COPY_SRC */ | 0x08; /* COPY_DST */

let dawnInstance: GPU | null = null;
let dawnUsers = 0;

function dawn(opts: GpuOptions): GPU {
  if (!dawnInstance) {
    Object.assign(globalThis, globals);
    process.env.XDG_RUNTIME_DIR ??= '/tmp';
    const flags: string[] = [];
    const backend = opts.backend ?? process.env.PROMPTGRAPH_BACKEND;
    const adapter = opts.adapter ?? process.env.PROMPTGRAPH_ADAPTER;
    if (backend) flags.push(`backend=${backend}`);
    if (adapter) flags.push(`adapter=${adapter}`);
    dawnInstance = create(flags);
  }
  dawnUsers++;
  return dawnInstance;
}

function releaseDawn(): void {
  if (--dawnUsers <= 0) {
    dawnUsers = 0;
    // Dawn keeps the process alive while this object is referenced.
    dawnInstance = null;
  }
}

export class GpuContext {
  private readonly pipelines = new Map<string, Promise<GPUComputePipeline>>();
  private readonly layouts = new Map<number, { group: GPUBindGroupLayout; pipeline: GPUPipelineLayout }>();
  private readonly pool = new Map<number, GPUBuffer[]>();
  private readonly lost: Promise<never>;
  private lostReason: string | null = null;
  private released = false;
  readonly timeoutMs: number;

  private constructor(
    readonly device: GPUDevice,
    readonly adapter: AdapterDescription,
    readonly target: KernelTarget,
    readonly logger: Logger,
    timeoutMs: number,
  ) {
    this.timeoutMs = timeoutMs;
    this.lost = device.lost.then((info) => {
      this.lostReason = `${info.reason}: ${info.message}`;
      throw new DeviceLostError(`the WebGPU device was lost (${this.lostReason})`);
    });
    this.lost.catch(() => undefined);
  }

  static async acquire(opts: GpuOptions = {}): Promise<GpuContext> {
    const logger = opts.logger ?? silentLogger;
    const timeoutMs = opts.timeoutMs ?? DEFAULT_GPU_TIMEOUT_MS;
    let gpu: GPU;
    try {
      gpu = dawn(opts);
    } catch (e) {
      throw new NoAdapterError(`Dawn: ${(e as Error).message}`);
    }
    try {
      let adapter: GPUAdapter | null;
      try {
        adapter = await bounded(gpu.requestAdapter({ powerPreference: opts.powerPreference ?? 'high-performance' }), 'requestAdapter', timeoutMs);
      } catch (e) {
        // Dawn rejects (rather than returning null) when a named adapter or backend is missing.
        throw new NoAdapterError(`Dawn: ${(e as Error).message}`);
      }
      if (!adapter) throw new NoAdapterError();
      const limits: Record<string, number> = {};
      for (const k in adapter.limits) {
        const v = (adapter.limits as unknown as Record<string, unknown>)[k];
        if (typeof v === 'number') limits[k] = v;
      }
      const features = [...adapter.features] as string[];
      const wanted = (['shader-f16', 'subgroups', 'timestamp-query'] as const).filter((f) => adapter.features.has(f));
      // Ask for the adapter's real limits: the defaults (e.g. 128 MiB bindings, 8 storage buffers) are lower.
      const requiredLimits: Record<string, number> = {};
      for (const k of ['maxStorageBufferBindingSize', 'maxBufferSize', 'maxStorageBuffersPerShaderStage', 'maxComputeWorkgroupStorageSize',
        'maxComputeInvocationsPerWorkgroup', 'maxComputeWorkgroupSizeX', 'maxComputeWorkgroupSizeY', 'maxComputeWorkgroupSizeZ',
        'maxComputeWorkgroupsPerDimension', 'maxBindingsPerBindGroup']) {
        if (limits[k] !== undefined) requiredLimits[k] = limits[k];
      }
      const device = await bounded(adapter.requestDevice({ requiredFeatures: wanted, requiredLimits }), 'requestDevice', timeoutMs);
      const info = adapter.info;
      const software = info.architecture === 'software' || /llvmpipe|lavapipe|swiftshader/i.test(`${info.description} ${info.device}`);
      const desc: AdapterDescription = {
        name: info.device || info.description || 'unknown adapter',
        vendor: info.vendor,
        architecture: info.architecture,
        description: info.description,
        software,
        features,
        limits,
      };
      const target: KernelTarget = {
        kind: software ? 'cpu' : 'gpu',
        f16: device.features.has('shader-f16'),
        subgroups: device.features.has('subgroups'),
        subgroupMinSize: (info as { subgroupMinSize?: number }).subgroupMinSize,
        maxWorkgroupsPerDimension: device.limits.maxComputeWorkgroupsPerDimension,
        maxInvocationsPerWorkgroup: device.limits.maxComputeInvocationsPerWorkgroup,
        maxWorkgroupStorageSize: device.limits.maxComputeWorkgroupStorageSize,
        maxStorageBuffers: device.limits.maxStorageBuffersPerShaderStage,
        maxStorageBufferBindingSize: device.limits.maxStorageBufferBindingSize,
      };
      const ctx = new GpuContext(device, desc, target, logger, timeoutMs);
      device.onuncapturederror = (ev: GPUUncapturedErrorEvent) => logger.warn(`uncaptured WebGPU error: ${ev.error.message}`);
      logger.info(`adapter: ${desc.description} (${desc.vendor}/${desc.architecture})`);
      return ctx;
    } catch (e) {
      releaseDawn();
      throw e;
    }
  }

  get maxBindingBytes(): number {
    return this.device.limits.maxStorageBufferBindingSize;
  }

  private checkAlive(): void {
    if (this.released) throw new Error('GpuContext used after release()');
    if (this.lostReason) throw new DeviceLostError(`the WebGPU device was lost (${this.lostReason})`);
  }

  /** Waits on device work, bounded by the timeout and aborted if the device is lost. */
  wait<T>(p: Promise<T>, what: string): Promise<T> {
    return bounded(p, what, this.timeoutMs, this.lost);
  }

  // ---- pipelines --------------------------------------------------------------------------

  /** The bind group layout for `n` storage bindings: n-1 read-only inputs and one output. */
  private layoutFor(bindingCount: number): { group: GPUBindGroupLayout; pipeline: GPUPipelineLayout } {
    let l = this.layouts.get(bindingCount);
    if (!l) {
      const entries: GPUBindGroupLayoutEntry[] = [];
      for (let i = 0; i < bindingCount; i++) {
        entries.push({ binding: i, visibility: 4 /* COMPUTE */, buffer: { type: i < bindingCount - 1 ? 'read-only-storage' : 'storage' } });
      }
      const group = this.device.createBindGroupLayout({ entries });
      l = { group, pipeline: this.device.createPipelineLayout({ bindGroupLayouts: [group] }) };
      this.layouts.set(bindingCount, l);
    }
    return l;
  }

  /** Compiles (once per source) a kernel following the ops' binding convention. */
  pipeline(code: string, bindingCount: number, label = 'kernel'): Promise<GPUComputePipeline> {
    this.checkAlive();
    const key = `${bindingCount}\n${code}`;
    let p = this.pipelines.get(key);
    if (!p) {
      p = this.compile(code, bindingCount, label);
      this.pipelines.set(key, p);
      p.catch(() => this.pipelines.delete(key));
    }
    return p;
  }

  private async compile(code: string, bindingCount: number, label: string): Promise<GPUComputePipeline> {
    const module = this.device.createShaderModule({ code, label });
    const info = await this.wait(module.getCompilationInfo(), `compiling ${label}`);
    const errors = info.messages.filter((m) => m.type === 'error');
    if (errors.length) {
      const numbered = code.split('\n').map((l, i) => `${String(i + 1).padStart(4)}| ${l}`).join('\n');
      throw new KernelCompileError(`WGSL for ${label} does not compile:\n${errors.map((m) => `  line ${m.lineNum}:${m.linePos}: ${m.message}`).join('\n')}\n${numbered}`);
    }
    try {
      return await this.wait(this.device.createComputePipelineAsync({ label, layout: this.layoutFor(bindingCount).pipeline, compute: { module, entryPoint: 'main' } }), `creating pipeline ${label}`);
    } catch (e) {
      throw new KernelCompileError(`pipeline for ${label} was rejected: ${(e as Error).message}`);
    }
  }

  bindGroup(bindingCount: number, buffers: readonly GPUBuffer[]): GPUBindGroup {
    return this.device.createBindGroup({
      layout: this.layoutFor(bindingCount).group,
      entries: buffers.map((buffer, binding) => ({ binding, resource: { buffer } })),
    });
  }

  // ---- buffers ----------------------------------------------------------------------------

  /** A storage buffer of at least the tensor's size, reused from the pool when possible. */
  allocate(type: TensorType): GpuTensor {
    this.checkAlive();
    const size = deviceByteSize(type);
    const free = this.pool.get(size);
    const buffer = free?.pop() ?? this.device.createBuffer({ size, usage: STORAGE_USAGE });
    return { buffer, type };
  }

  /** Returns a buffer to the pool. */
  free(t: GpuTensor): void {
    if (this.released) return;
    const size = t.buffer.size;
    let list = this.pool.get(size);
    if (!list) this.pool.set(size, (list = []));
    list.push(t.buffer);
  }

  private readonly frozen = new WeakMap<HostTensor, { buffer: GPUBuffer; users: number }>();

  /**
   * The device copy of a frozen (read-only) host tensor, shared by every program that binds the
   * same tensor object: a backbone's weights are uploaded once however many programs use them.
   */
  shareFrozen(host: HostTensor): GPUBuffer {
    let entry = this.frozen.get(host);
    if (!entry) {
      entry = { buffer: this.upload(host).buffer, users: 0 };
      this.frozen.set(host, entry);
    }
    entry.users++;
    return entry.buffer;
  }

  /** Drops one program's use of a shared frozen tensor; the last one returns the buffer. */
  unshareFrozen(host: HostTensor): void {
    const entry = this.frozen.get(host);
    if (!entry || --entry.users > 0) return;
    this.frozen.delete(host);
    this.free({ buffer: entry.buffer, type: { shape: host.shape, dtype: host.dtype } });
  }

  upload(host: HostTensor): GpuTensor {
    const t = this.allocate({ shape: host.shape, dtype: host.dtype });
    this.write(t, host);
    return t;
  }

  write(t: GpuTensor, host: HostTensor): void {
    this.checkAlive();
    this.device.queue.writeBuffer(t.buffer, 0, toDeviceBytes(host));
  }

  async download(t: GpuTensor): Promise<HostTensor> {
    return (await this.downloadMany([t]))[0];
  }

  /** Copies several tensors back in one submission and one wait. */
  async downloadMany(ts: readonly GpuTensor[]): Promise<HostTensor[]> {
    this.checkAlive();
    const enc = this.device.createCommandEncoder({ label: 'download' });
    const staging = ts.map((t) => {
      const size = deviceByteSize(t.type);
      const s = this.device.createBuffer({ size, usage: 0x01 /* MAP_READ */ | 0x08 /* COPY_DST */ });
      enc.copyBufferToBuffer(t.buffer, 0, s, 0, size);
      return s;
    });
    this.device.queue.submit([enc.finish()]);
    try {
      await this.wait(Promise.all(staging.map((s) => s.mapAsync(1 /* READ */))), 'reading results back from the device');
      return ts.map((t, i) => fromDeviceBytes(staging[i].getMappedRange().slice(0), t.type));
    } finally {
      for (const s of staging) s.destroy();
    }
  }

  // ---- submission -------------------------------------------------------------------------

  /**
   * Records many dispatches into one command encoder and one compute pass (then `after`, e.g.
   * buffer copies, in the same encoder), submits once, and reports validation errors.
   */
  async submit(record: (pass: GPUComputePassEncoder) => void, label = 'step', after?: (enc: GPUCommandEncoder) => void): Promise<void> {
    this.checkAlive();
    this.device.pushErrorScope('out-of-memory');
    this.device.pushErrorScope('validation');
    const enc = this.device.createCommandEncoder({ label });
    const pass = enc.beginComputePass({ label });
    record(pass);
    pass.end();
    after?.(enc);
    this.device.queue.submit([enc.finish()]);
    const validation = await this.wait(this.device.popErrorScope(), `${label}: validation`);
    const oom = await this.wait(this.device.popErrorScope(), `${label}: memory`);
    if (validation) throw new GpuValidationError(`${label}: ${validation.message}`);
    if (oom) throw new GpuValidationError(`${label}: out of device memory: ${oom.message}`);
  }

  /** Waits until the device has finished all submitted work. */
  async sync(what = 'device work'): Promise<void> {
    this.checkAlive();
    await this.wait(this.device.queue.onSubmittedWorkDone(), what);
  }

  /** Destroys the device and lets Dawn go, so the process can exit. Safe to call twice. */
  release(): void {
    if (this.released) return;
    this.released = true;
    for (const list of this.pool.values()) for (const b of list) b.destroy();
    this.pool.clear();
    this.pipelines.clear();
    this.device.onuncapturederror = null;
    this.device.destroy();
    releaseDawn();
  }
}
