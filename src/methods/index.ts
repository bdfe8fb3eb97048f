// Importing this module registers every method.
import './prompt-tuning.js';
import './prefix-tuning.js';
import './p-tuning-v2.js';

export * from './method.js';
export * from '../graph/index.js';
export * from './sequence.js';
export * from './layers.js';
export * from './init.js';
export { PROMPT_PARAM } from './prompt-tuning.js';
export { PREFIX, DeepPromptConfig, buildPromptTensor, type PromptTensorNames } from './deep-prompt.js';
export { INFIX, InfixTuningConfig } from './infix-tuning.js';

// P-tuning v1: templates (data side), prompt encoders, the transform, and the verbalizer.
import './p-tuning.js';
import './verbalizer.js';
import './infix-tuning.js';
export { PROMPT_POSITIONS, PTuningConfig, templateOf } from './p-tuning.js';
export { MASK_POSITION, LABEL, VerbalizerConfig } from './verbalizer.js';
export { ENCODER_PARAMS, ENCODER_SCOPE, encoderParamNames, buildPromptEncoder, type EncoderKind } from './prompt-encoder.js';
export { parseTemplate, applyTemplate, templateFeeds, TemplateError, type Template, type TemplateItem, type TemplateOptions, type TemplatedExample } from './template.js';

// Baselines (fine-tuning, LoRA, adapters) and task heads.
import './fine-tune.js';
import './lora.js';
import './adapter.js';
import './heads.js';
export { FineTuneConfig } from './fine-tune.js';
export { LoraConfig, LORA, linearModules, type LinearModule } from './lora.js';
export { AdapterConfig, adapterParam } from './adapter.js';
export { HeadConfig, HEAD, headNames, type HeadTask } from './heads.js';
export { checkSequenceAlignment, type AddedPositions } from './checks.js';
