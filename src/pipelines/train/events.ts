// What a training or evaluation run reports, as typed events on an Observable.

export type TrainEvent =
  | { readonly type: 'start'; readonly totalSteps: number; readonly startStep: number; readonly trainable: readonly string[]; readonly trainableCount: number; readonly device: string; readonly deviceBytes?: number }
  | { readonly type: 'step'; readonly step: number; readonly epoch: number; readonly loss: number | null; readonly lr: number; readonly tokensPerSecond: number; readonly elapsedMs: number }
  | { readonly type: 'checkpoint'; readonly step: number; readonly path: string }
  | { readonly type: 'eval'; readonly step: number; readonly metrics: Readonly<Record<string, number>> }
  | { readonly type: 'end'; readonly step: number; readonly reason: 'done' | 'interrupted'; readonly elapsedMs: number };

export class TrainingDivergedError extends Error {
  override name = 'TrainingDivergedError';
}
