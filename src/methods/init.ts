// Initializers methods ask for, beyond the runtime's generic ones (normal, zeros...):
// `rows:<param>:<i,j,...>` copies rows of another parameter (e.g. vocabulary embeddings of
// given token ids). The runtime resolves them against loaded backbone weights.

export function rowsInit(param: string, rows: readonly number[]): string {
  return `rows:${param}:${rows.join(',')}`;
}
