// Names of the insertion points backbones mark (op `mark`) so methods can find them.

export const POINTS = {
  /** Token embeddings [B,S,D] before positions are added: prompt tuning / P-tuning edit here. */
  inputEmbeds: 'input_embeds',
  /** Position embeddings [S,D]: a `slice` of the table whose start is the position offset. */
  positionEmbeds: 'position_embeds',
  /** The 0/1 attention mask [B,S] (i32) as fed. */
  attentionMask: 'attention_mask',
  /** GPT-2's additive causal mask [S,T] (`causal_mask` node with queries/keys attributes). */
  causalMask: 'causal_mask',
  /** Per layer: queries, keys and values [B,H,S,dh] before the attention scores. */
  query: 'attn.query',
  key: 'attn.key',
  value: 'attn.value',
  /** Per layer: the attention block's output projection [B,S,D], before the residual add (adapters). */
  attnOutput: 'attn.output',
  /** Per layer: the MLP block's output [B,S,D], before the residual add (adapters). */
  mlpOutput: 'mlp.output',
  /** Final hidden states [B,S,D] (after the last layer norm for GPT-2; the encoder output for BERT). */
  hiddenStates: 'hidden_states',
  /** BERT's segment ids [B,S] (i32) as fed. */
  tokenTypeIds: 'token_type_ids',
  /** Labels [B,S] (i32, -100 ignored) as fed. */
  labels: 'labels',
} as const;

export type PointName = (typeof POINTS)[keyof typeof POINTS];
