// P-tuning's prompt encoders as graph builders: they map the P virtual-token embeddings [P, D]
// to the [P, D] vectors that replace the placeholder positions. Nothing here has a batch
// dimension: the encoder runs once per step, not once per example.
//   lstm: bidirectional 2-layer LSTM (hidden D/2 per direction, so the concat is D), unrolled
//         over the P steps, then Linear(D,D) -> ReLU -> Linear(D,D), as THUDM/P-tuning's
//         LAMA/p_tuning/prompt_encoder.py (no dropout between the LSTM layers).
//   mlp:  Linear(D,D) -> ReLU -> Linear(D,D).
//   none: the embeddings themselves.
// Parameter names are the reference's state-dict names (module `prompt_encoder`, children
// `embedding`, `lstm_head`, `mlp_head`), with PyTorch's LSTM layout: weight_ih [4H, in],
// weight_hh [4H, H], gates in the order i, f, g, o, `_reverse` for the backward direction.
// Inits are PyTorch's defaults (the LSTM and Linear ones uniform in +-1/sqrt(fan)).

import type { GraphBuilder, Ref } from '../ops/index.js';

export type EncoderKind = 'lstm' | 'mlp' | 'none';

export const ENCODER_SCOPE = 'prompt_encoder';

export const ENCODER_PARAMS = {
  embedding: `${ENCODER_SCOPE}.embedding.weight`,
  lstm: (what: 'weight_ih' | 'weight_hh' | 'bias_ih' | 'bias_hh', layer: number, reverse: boolean) =>
    `${ENCODER_SCOPE}.lstm_head.${what}_l${layer}${reverse ? '_reverse' : ''}`,
  mlp: (k: 0 | 2, what: 'weight' | 'bias') => `${ENCODER_SCOPE}.mlp_head.${k}.${what}`,
} as const;

export const LSTM_LAYERS = 2;

/** The encoder's parameter names, in a fixed order. */
export function encoderParamNames(kind: EncoderKind): string[] {
  const names: string[] = [ENCODER_PARAMS.embedding];
  if (kind === 'lstm') {
    for (let l = 0; l < LSTM_LAYERS; l++) {
      for (const reverse of [false, true]) {
        for (const w of ['weight_ih', 'weight_hh', 'bias_ih', 'bias_hh'] as const) names.push(ENCODER_PARAMS.lstm(w, l, reverse));
      }
    }
  }
  if (kind !== 'none') for (const k of [0, 2] as const) for (const w of ['weight', 'bias'] as const) names.push(ENCODER_PARAMS.mlp(k, w));
  return names;
}

/**
 * Adds the encoder under the current builder position and returns its output [P, D].
 * `embeddingInit` is the init of the [P, D] embedding (e.g. `normal:1`, or `rows:` of the vocabulary).
 */
export function buildPromptEncoder(b: GraphBuilder, kind: EncoderKind, P: number, D: number, embeddingInit: string): Ref {
  return b.within(ENCODER_SCOPE, () => {
    const emb = b.within('embedding', () => b.param(ENCODER_PARAMS.embedding, [P, D], { trainable: true, init: embeddingInit }));
    if (kind === 'none') return emb;
    const x = kind === 'lstm' ? b.within('lstm_head', () => biLstm(b, emb, P, D)) : emb;
    return b.within('mlp_head', () => mlpHead(b, x, D));
  });
}

/** x·Wᵀ + bias with nn.Linear's layout ([out, in]) and init. */
function linear(b: GraphBuilder, x: Ref, k: 0 | 2, nIn: number, nOut: number): Ref {
  const init = `uniform:${1 / Math.sqrt(nIn)}`;
  return b.within(String(k), () => b.add(
    b.matmul(x, b.param(ENCODER_PARAMS.mlp(k, 'weight'), [nOut, nIn], { trainable: true, init }), { transB: true }),
    b.param(ENCODER_PARAMS.mlp(k, 'bias'), [nOut], { trainable: true, init })));
}

function mlpHead(b: GraphBuilder, x: Ref, D: number): Ref {
  return linear(b, b.relu(linear(b, x, 0, D, D)), 2, D, D);
}

/** Two bidirectional layers; each direction's hidden size is D/2, so every layer outputs [P, D]. */
function biLstm(b: GraphBuilder, x: Ref, P: number, D: number): Ref {
  const H = D / 2;
  let h = x;
  for (let l = 0; l < LSTM_LAYERS; l++) {
    const input = h;
    h = b.within(`l${l}`, () => b.concat([direction(b, input, l, false, P, H), direction(b, input, l, true, P, H)], 1));
  }
  return h;
}

/** One direction of one layer over the P steps: [P, in] -> [P, H], rows in sequence order. */
function direction(b: GraphBuilder, x: Ref, layer: number, reverse: boolean, P: number, H: number): Ref {
  return b.within(reverse ? 'reverse' : 'forward', () => {
    const nIn = x.type.shape[1];
    const init = `uniform:${1 / Math.sqrt(H)}`;
    const w = (what: 'weight_ih' | 'weight_hh' | 'bias_ih' | 'bias_hh', shape: number[]): Ref =>
      b.param(ENCODER_PARAMS.lstm(what, layer, reverse), shape, { trainable: true, init });
    const wIh = w('weight_ih', [4 * H, nIn]), wHh = w('weight_hh', [4 * H, H]);
    // The input projection of all steps at once; only the recurrent part is per step.
    const xProj = b.add(b.add(b.matmul(x, wIh, { transB: true }), w('bias_ih', [4 * H])), w('bias_hh', [4 * H]));
    const outs: Ref[] = new Array<Ref>(P);
    let hPrev: Ref | undefined, cPrev: Ref | undefined;
    for (let s = 0; s < P; s++) {
      const t = reverse ? P - 1 - s : s;
      [hPrev, cPrev] = b.within(`t${t}`, () => {
        const xt = b.slice(xProj, 0, t, t + 1);
        const gates = hPrev ? b.add(xt, b.matmul(hPrev, wHh, { transB: true })) : xt; // h_0 = 0
        const gate = (k: number): Ref => b.slice(gates, 1, k * H, (k + 1) * H);
        const i = b.sigmoid(gate(0)), f = b.sigmoid(gate(1)), g = b.tanh(gate(2)), o = b.sigmoid(gate(3));
        const c = cPrev ? b.add(b.mul(f, cPrev), b.mul(i, g)) : b.mul(i, g); // c_0 = 0
        return [b.mul(o, b.tanh(c)), c];
      });
      outs[t] = hPrev;
    }
    return P === 1 ? outs[0] : b.concat(outs, 0);
  });
}
