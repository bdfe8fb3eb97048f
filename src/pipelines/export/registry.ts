// The exporters by method name and by PEFT type.

import { deepExporter } from './deep.js';
import { ExportError, type PartExporter } from './common.js';
import { loraExporter } from './lora.js';
import { promptExporter } from './prompt.js';

export const EXPORTERS: readonly PartExporter[] = [promptExporter, deepExporter, loraExporter];

export function exporterFor(method: string): PartExporter {
  const e = EXPORTERS.find((x) => x.methods.includes(method));
  if (!e) throw new ExportError(`export supports ${EXPORTERS.flatMap((x) => x.methods).join(', ')} (and heads); got '${method}'`);
  return e;
}

/** The method that loads a PEFT-written artifact of this peft_type. */
export function peftMethod(cfg: Readonly<Record<string, unknown>>, dir: string): string {
  const type = cfg.peft_type;
  const e = EXPORTERS.find((x) => typeof type === 'string' && x.peftTypes.includes(type));
  if (!e) throw new ExportError(`${dir}/adapter_config.json: peft_type ${JSON.stringify(type)} is not supported (${EXPORTERS.flatMap((x) => x.peftTypes).join(', ')})`);
  // P_TUNING as PEFT runs it in inference mode is prompt tuning: the vectors prepended.
  return type === 'PREFIX_TUNING' ? 'prefix-tuning' : type === 'LORA' ? 'lora' : 'prompt-tuning';
}
