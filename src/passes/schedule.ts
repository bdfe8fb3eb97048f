// Learning-rate schedules, evaluated on the host each step and fed to the compiled step as the
// scalar input `optim.lr` (a schedule change never recompiles anything).

import * as t from 'io-ts';

export const ScheduleCodec = t.union([
  t.type({ kind: t.literal('constant') }),
  t.intersection([
    t.type({ kind: t.literal('linear') }),
    t.partial({ warmupSteps: t.number, totalSteps: t.number, finalFactor: t.number }),
  ]),
], 'schedule');
export type Schedule = t.TypeOf<typeof ScheduleCodec>;

/** Learning rate at 1-based step `step`: linear warm-up to `base`, then linear decay to base*finalFactor at totalSteps. */
export function learningRate(base: number, schedule: Schedule, step: number): number {
  if (schedule.kind === 'constant') return base;
  const warm = schedule.warmupSteps ?? 0;
  if (step <= warm) return (base * step) / Math.max(1, warm);
  const total = schedule.totalSteps;
  if (total === undefined || total <= warm) return base;
  const final = schedule.finalFactor ?? 0;
  const frac = Math.min(1, (step - warm) / (total - warm));
  return base * (1 - frac * (1 - final));
}
