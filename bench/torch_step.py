# The prefix-tuning training step of bench/step.ts in PyTorch (fp32, eager), timed inside Python:
# frozen GPT-2 backbone, one trainable prefix [P, L*2*D] in PEFT's layout (layer l's keys are
# columns (2l)*D.., its values (2l+1)*D..), real tokens at positions P.., causal LM loss over all
# tokens, Adam (= our AdamW at weight decay 0). Hand-written (PEFT is not used), the same math as
# the graph of src/methods/deep-prompt.ts, so the first-step loss agrees with ours.
#
#   python3 bench/torch_step.py --weights FILE.safetensors [--device cpu|cuda]   (what bench/step.ts runs)
#   python3 bench/torch_step.py --config tiny|gpt2-small [--device cuda]         (random weights, standalone)
#
# FILE holds the backbone weights under our (= Hugging Face GPT-2) names, `prefix.embeddings`,
# `input_ids` [B, S] (i32) and, as metadata `config`, the model and batch dimensions.
# Prints one JSON line: ms_per_step (median sample), samples, first_loss, last_loss, ...
import argparse, json, math, struct, sys, time

import torch

CONFIGS = {
    'tiny': dict(layers=4, dim=128, heads=4, inner=512, vocab=1024, positions=128, eps=1e-5, batch=8, seq=64, prefix=10),
    'gpt2-small': dict(layers=12, dim=768, heads=12, inner=3072, vocab=50257, positions=1024, eps=1e-5, batch=8, seq=64, prefix=10),
}
DTYPES = {'F32': torch.float32, 'I32': torch.int32, 'F16': torch.float16}


def read_safetensors(path):
    """Tensors and metadata of a safetensors file (the format is 8 bytes of header length, JSON, data)."""
    with open(path, 'rb') as f:
        raw = f.read()
    (n,) = struct.unpack('<Q', raw[:8])
    header = json.loads(raw[8:8 + n])
    meta = header.pop('__metadata__', {})
    data = memoryview(raw)[8 + n:]
    out = {}
    for name, e in header.items():
        if e['dtype'] not in DTYPES:
            sys.exit(f'{path}: tensor {name}: dtype {e["dtype"]} not supported (expected one of {", ".join(DTYPES)})')
        a, b = e['data_offsets']
        t = torch.frombuffer(bytearray(data[a:b]), dtype=DTYPES[e['dtype']]) if b > a else torch.empty(0, dtype=DTYPES[e['dtype']])
        out[name] = t.reshape(e['shape'])
    return out, meta


def random_inputs(cfg, seed=0):
    """Seeded random weights like randomWeights (normal 0.02, layer norms 1/0, biases 0): a standalone run."""
    g = torch.Generator().manual_seed(seed)
    D, I, L, V = cfg['dim'], cfg['inner'], cfg['layers'], cfg['vocab']
    w = lambda *s: torch.randn(*s, generator=g) * 0.02
    t = {'wte.weight': w(V, D), 'wpe.weight': w(cfg['positions'], D), 'ln_f.weight': torch.ones(D), 'ln_f.bias': torch.zeros(D)}
    for l in range(L):
        h = f'h.{l}'
        t.update({f'{h}.ln_1.weight': torch.ones(D), f'{h}.ln_1.bias': torch.zeros(D), f'{h}.ln_2.weight': torch.ones(D), f'{h}.ln_2.bias': torch.zeros(D),
                  f'{h}.attn.c_attn.weight': w(D, 3 * D), f'{h}.attn.c_attn.bias': torch.zeros(3 * D),
                  f'{h}.attn.c_proj.weight': w(D, D), f'{h}.attn.c_proj.bias': torch.zeros(D),
                  f'{h}.mlp.c_fc.weight': w(D, I), f'{h}.mlp.c_fc.bias': torch.zeros(I),
                  f'{h}.mlp.c_proj.weight': w(I, D), f'{h}.mlp.c_proj.bias': torch.zeros(D)})
    t['prefix.embeddings'] = w(cfg['prefix'], L * 2 * D)
    t['input_ids'] = torch.randint(0, V, (cfg['batch'], cfg['seq']), generator=g, dtype=torch.int32)
    return t


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument('--weights', help='safetensors file written by bench/step.ts')
    ap.add_argument('--config', choices=sorted(CONFIGS), help='random weights of this shape (when no --weights)')
    ap.add_argument('--device', default='cpu', help="'cpu' or 'cuda'")
    ap.add_argument('--warmup', type=int, default=2)
    ap.add_argument('--steps', type=int, default=5)
    ap.add_argument('--samples', type=int, default=3)
    ap.add_argument('--lr', type=float, default=1e-3)
    ap.add_argument('--threads', type=int, default=0, help='CPU threads (0: torch default)')
    args = ap.parse_args()
    if not args.weights and not args.config:
        ap.error('give --weights FILE or --config NAME')
    if args.device.startswith('cuda') and not torch.cuda.is_available():
        sys.exit(f'--device {args.device}: torch {torch.__version__} sees no CUDA device')
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    torch.backends.cuda.matmul.allow_tf32 = False  # fp32 eager, like ours
    torch.backends.cudnn.allow_tf32 = False
    if args.weights:
        tensors, meta = read_safetensors(args.weights)
        if 'config' not in meta:
            sys.exit(f'{args.weights}: no "config" metadata (write it with bench/step.ts)')
        cfg = json.loads(meta['config'])
    else:
        cfg = CONFIGS[args.config]
        tensors = random_inputs(cfg)
    dev = torch.device(args.device)
    print(json.dumps(run(cfg, {k: v.to(dev) for k, v in tensors.items()}, dev, args)))


def run(cfg, t, dev, args):
    L, D, H, P = cfg['layers'], cfg['dim'], cfg['heads'], cfg['prefix']
    B, S = t['input_ids'].shape
    dh = D // H
    eps = cfg['eps']
    ids = t['input_ids'].long()
    prefix = torch.nn.Parameter(t['prefix.embeddings'].float().clone())
    opt = torch.optim.Adam([prefix], lr=args.lr, betas=(0.9, 0.999), eps=1e-8)
    # Additive mask [S, P+S]: prefix keys always visible, causal over the real ones.
    mask = torch.cat([torch.zeros(S, P, device=dev), torch.triu(torch.full((S, S), -1e9, device=dev), 1)], 1)
    w = lambda name: t[name]
    ln = lambda x, name: torch.nn.functional.layer_norm(x, (D,), w(f'{name}.weight'), w(f'{name}.bias'), eps)
    linear = lambda x, name: x @ w(f'{name}.weight') + w(f'{name}.bias')
    heads = lambda x: x.view(B, S, H, dh).transpose(1, 2)
    pos = w('wpe.weight')[P:P + S]  # shifted: real tokens start after the prefix
    targets = ids[:, 1:].reshape(-1)

    def block(j):
        return prefix[:, j * D:(j + 1) * D].view(P, H, dh).transpose(0, 1).unsqueeze(0).expand(B, H, P, dh)

    def loss_fn():
        x = w('wte.weight')[ids] + pos
        for l in range(L):
            h = f'h.{l}'
            q, k, v = linear(ln(x, f'{h}.ln_1'), f'{h}.attn.c_attn').split(D, 2)
            k = torch.cat([block(2 * l), heads(k)], 2)
            v = torch.cat([block(2 * l + 1), heads(v)], 2)
            a = torch.softmax(heads(q) @ k.transpose(-1, -2) / math.sqrt(dh) + mask, -1) @ v
            x = x + linear(a.transpose(1, 2).reshape(B, S, D), f'{h}.attn.c_proj')
            m = torch.nn.functional.gelu(linear(ln(x, f'{h}.ln_2'), f'{h}.mlp.c_fc'), approximate='tanh')
            x = x + linear(m, f'{h}.mlp.c_proj')
        logits = ln(x, 'ln_f')[:, :-1] @ w('wte.weight').t()
        return torch.nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets)

    def step():
        opt.zero_grad(set_to_none=True)
        loss = loss_fn()
        loss.backward()
        opt.step()
        return loss

    sync = (lambda: torch.cuda.synchronize(dev)) if dev.type == 'cuda' else (lambda: None)
    first_loss = None
    for i in range(args.warmup):
        loss = step()
        if i == 0:
            first_loss = loss.item()  # before any update: compared with ours
    sync()
    samples, loss = [], None
    for _ in range(args.samples):
        t0 = time.perf_counter()
        for _ in range(args.steps):
            loss = step()
        last = loss.item()  # read back once per sample, like ours
        sync()
        samples.append((time.perf_counter() - t0) * 1000 / args.steps)
    return {
        'ms_per_step': sorted(samples)[len(samples) // 2], 'samples': samples, 'first_loss': first_loss, 'last_loss': last,
        'device': str(dev) if dev.type == 'cpu' else torch.cuda.get_device_name(dev), 'impl': 'hand-written (no PEFT)',
        'torch': torch.__version__, 'threads': torch.get_num_threads(), 'config': cfg,
    }


if __name__ == '__main__':
    main()
