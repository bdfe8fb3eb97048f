# The prefix-tuning step of bench/step.ts in PyTorch on the CPU (random frozen weights), timed
# inside Python. Run by bench/step.ts only when `import torch` works. Args: L D H inner vocab
# batch seq prefix warmup steps samples. Prints one JSON line: {"ms_per_step": median sample}.
import json, math, sys, time
import torch

L, D, H, I, V, B, S, P, WARM, STEPS, SAMPLES = map(int, sys.argv[1:12])
torch.manual_seed(0)
dh = D // H
w = lambda *s: torch.randn(*s) * 0.02  # frozen: requires_grad False
wte, wpe = w(V, D), w(128, D)
layers = [dict(ln1=(torch.ones(D), torch.zeros(D)), qkv=(w(D, 3 * D), torch.zeros(3 * D)), proj=(w(D, D), torch.zeros(D)),
               ln2=(torch.ones(D), torch.zeros(D)), fc=(w(D, I), torch.zeros(I)), out=(w(I, D), torch.zeros(D))) for _ in range(L)]
lnf = (torch.ones(D), torch.zeros(D))
prefix = torch.nn.Parameter(w(P, L * 2 * D))
opt = torch.optim.Adam([prefix], lr=1e-3)
ids = torch.randint(0, V, (B, S))
mask = torch.cat([torch.zeros(S, P), torch.triu(torch.full((S, S), -1e9), 1)], 1)
ln = lambda x, p: torch.nn.functional.layer_norm(x, (D,), p[0], p[1], 1e-5)
heads = lambda x: x.view(B, -1, H, dh).transpose(1, 2)

def loss_fn():
    x = wte[ids] + wpe[P:P + S]
    for l, p in enumerate(layers):
        q, k, v = (ln(x, p['ln1']) @ p['qkv'][0] + p['qkv'][1]).split(D, 2)
        blk = lambda j: prefix[:, j * D:(j + 1) * D].view(P, H, dh).transpose(0, 1).unsqueeze(0).expand(B, H, P, dh)
        k, v = torch.cat([blk(2 * l), heads(k)], 2), torch.cat([blk(2 * l + 1), heads(v)], 2)
        a = torch.softmax(heads(q) @ k.transpose(-1, -2) / math.sqrt(dh) + mask, -1) @ v
        x = x + a.transpose(1, 2).reshape(B, S, D) @ p['proj'][0] + p['proj'][1]
        h = torch.nn.functional.gelu(ln(x, p['ln2']) @ p['fc'][0] + p['fc'][1], approximate='tanh')
        x = x + h @ p['out'][0] + p['out'][1]
    logits = ln(x, lnf)[:, :-1] @ wte.t()
    return torch.nn.functional.cross_entropy(logits.reshape(-1, V), ids[:, 1:].reshape(-1))

def step():
    opt.zero_grad()
    loss = loss_fn()
    loss.backward()
    opt.step()
    return loss

for _ in range(WARM):
    step()
samples = []
for _ in range(SAMPLES):
    t0 = time.perf_counter()
    for _ in range(STEPS):
        loss = step()
    loss.item()
    samples.append((time.perf_counter() - t0) * 1000 / STEPS)
print(json.dumps({"ms_per_step": sorted(samples)[len(samples) // 2], "samples": samples, "threads": torch.get_num_threads()}))
