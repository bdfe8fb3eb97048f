// The built CLI, run as users run it: `node bin/promptgraph.js ...` in a child process.
import { expect } from 'chai';
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { GraphBuilder, graphToJson } from '../src/index.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const BIN = join(ROOT, 'bin', 'promptgraph.js');

interface CliResult { code: number | null; stdout: string; stderr: string }

function runCli(args: readonly string[], env: Record<string, string | undefined> = {}, timeoutMs = 60_000): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], {
      cwd: ROOT,
      env: { ...process.env, XDG_RUNTIME_DIR: process.env.XDG_RUNTIME_DIR ?? '/tmp', PROMPTGRAPH_DEBUG: undefined, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '', stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    // A CLI that does not release the device never exits: that is a failure, not a hang.
    const timer = setTimeout(() => { child.kill('SIGKILL'); reject(new Error(`promptgraph ${args.join(' ')} did not exit within ${timeoutMs} ms\nstdout:\n${stdout}\nstderr:\n${stderr}`)); }, timeoutMs);
    child.on('error', (e) => { clearTimeout(timer); reject(e); });
    child.on('close', (code) => { clearTimeout(timer); resolve({ code, stdout, stderr }); });
  });
}

const COMMANDS = ['doctor', 'demo', 'smoke', 'train', 'eval', 'generate', 'pretrain', 'inspect', 'trace', 'export', 'print-graph'];
const INSTALL_HELP_LINES = [/No WebGPU adapter was found/, /bash scripts\/setup-webgpu\.sh/, /bookworm-backports mesa-vulkan-drivers/];

describe('CLI (node bin/promptgraph.js)', () => {
  let dir: string;
  before(async () => { dir = await mkdtemp(join(tmpdir(), 'promptgraph-cli-')); });
  after(async () => { await rm(dir, { recursive: true, force: true }); });

  it('doctor prints the adapter, limits, features and agreeing checks, and exits 0', async () => {
    const r = await runCli(['doctor']);
    expect(r.code, r.stderr).to.equal(0);
    expect(r.stdout).to.match(/^adapter\n {2}name {10}\S/);
    expect(r.stdout).to.match(/ {2}type {10}(software|hardware)/);
    expect(r.stdout).to.match(/maxStorageBufferBindingSize +\d+/);
    expect(r.stdout).to.match(/features \(\d+\)/);
    expect(r.stdout).to.match(/ {2}ok +add f32\[3,5,7\] \+ f32\[5,1\] \(broadcast\) +max abs err/);
    expect(r.stdout).to.match(/\nOK: \d+ of \d+ checks agree/);
  });

  it('doctor --json prints the report as JSON', async () => {
    const r = await runCli(['doctor', '--json']);
    expect(r.code, r.stderr).to.equal(0);
    const report = JSON.parse(r.stdout) as { ok: boolean; adapter: { name: string }; limits: Record<string, number>; checks: { status: string }[] };
    expect(report.ok).to.equal(true);
    expect(report.adapter.name).to.be.a('string').and.not.equal('');
    expect(report.limits.maxComputeInvocationsPerWorkgroup).to.be.a('number');
    expect(report.checks.map((c) => c.status)).to.include('ok');
  });

  it('--help lists every command and exits 0', async () => {
    const r = await runCli(['--help']);
    expect(r.code).to.equal(0);
    for (const c of COMMANDS) expect(r.stdout).to.match(new RegExp(`^  ${c} +\\S`, 'm'));
  });

  for (const c of COMMANDS) {
    it(`${c} --help prints its usage and exits 0`, async () => {
      const r = await runCli([c, '--help']);
      expect(r.code, r.stderr).to.equal(0);
      expect(r.stdout).to.match(new RegExp(`^Usage: promptgraph ${c}`));
      expect(r.stdout).to.contain('Exit status:');
    });
  }

  it('an unknown command exits non-zero and lists the commands', async () => {
    const r = await runCli(['frobnicate']);
    expect(r.code).to.equal(64);
    expect(r.stderr).to.contain("unknown command 'frobnicate'");
    for (const c of COMMANDS) expect(r.stderr).to.contain(c);
  });

  it('an unknown option is a usage error naming the option', async () => {
    const r = await runCli(['doctor', '--frob']);
    expect(r.code).to.equal(64);
    expect(r.stderr.trim()).to.equal("promptgraph: doctor: Unknown option '--frob'");
  });

  it('print-graph prints a valid graph file as text and as DOT', async () => {
    const b = new GraphBuilder();
    const x = b.input('x', [2, 3]);
    b.output('y', b.within('act', () => b.tanh(b.add(x, b.param('w', [3], { trainable: true })))));
    const file = join(dir, 'good.json');
    await writeFile(file, JSON.stringify(graphToJson(b.graph)));
    const text = await runCli(['print-graph', file]);
    expect(text.code, text.stderr).to.equal(0);
    expect(text.stdout).to.equal([
      'graph(%0:f32[2,3] x, %1:f32[3] w trainable) {',
      '  %2:f32[2,3] = add %0 %1  @act',
      '  %3:f32[2,3] = tanh %2  @act',
      '  return y=%3',
      '}',
      '',
    ].join('\n'));
    const dot = await runCli(['print-graph', '--dot', file]);
    expect(dot.code).to.equal(0);
    expect(dot.stdout).to.match(/^digraph promptgraph \{/);
  });

  it('print-graph on malformed graph JSON exits 1 naming the file and the JSON path, without a stack', async () => {
    const file = join(dir, 'bad.json');
    const json = graphToJson(new GraphBuilder().graph);
    await writeFile(file, JSON.stringify({ ...json, nodes: [{ id: 0, op: 7, inputs: [], attrs: {}, type: { shape: [2], dtype: 'f32' }, scope: '' }] }));
    const r = await runCli(['print-graph', file]);
    expect(r.code).to.equal(1);
    expect(r.stderr).to.contain(`${file}: at $.nodes[0].op: expected string, got 7`);
    expect(r.stderr).not.to.match(/\n\s+at /);
  });

  it('print-graph on a file that is not JSON exits 1 saying so', async () => {
    const file = join(dir, 'broken.json');
    await writeFile(file, '{"format": ');
    const r = await runCli(['print-graph', file]);
    expect(r.code).to.equal(1);
    expect(r.stderr).to.contain(`${file}: not valid JSON`);
  });

  it('PROMPTGRAPH_DEBUG=1 adds the stack trace', async () => {
    const r = await runCli(['print-graph', join(dir, 'missing.json')], { PROMPTGRAPH_DEBUG: '1' });
    expect(r.code).to.equal(1);
    expect(r.stderr).to.contain('missing.json: no such file');
    expect(r.stderr).to.match(/\n\s+at /);
  });

  // Two ways Dawn finds nothing: an adapter filter that matches no adapter (requestAdapter
  // rejects) and no Vulkan driver at all (requestAdapter resolves null).
  const noAdapterEnvs: [string, Record<string, string>][] = [
    ['PROMPTGRAPH_ADAPTER names no adapter', { PROMPTGRAPH_ADAPTER: 'no-such-adapter-promptgraph-test' }],
    ['the Vulkan loader finds no driver', { VK_DRIVER_FILES: join(tmpdir(), 'no-such-icd.json'), VK_ICD_FILENAMES: join(tmpdir(), 'no-such-icd.json') }],
  ];
  for (const [what, env] of noAdapterEnvs) {
    it(`doctor prints the install help and exits 2 when ${what}`, async () => {
      const r = await runCli(['doctor'], env);
      expect(r.code, `stdout:\n${r.stdout}\nstderr:\n${r.stderr}`).to.equal(2);
      for (const line of INSTALL_HELP_LINES) expect(r.stderr).to.match(line);
      expect(r.stdout).not.to.contain('self-check');
    });
  }

  it('smoke runs a graph on WebGPU and the CPU reference, exits 0', async () => {
    const r = await runCli(['smoke']);
    expect(r.code, r.stderr).to.equal(0);
    expect(r.stdout).to.match(/self-check on .*: \d+ of \d+ checks agree/);
    expect(r.stdout).to.match(/^graph\(/m);
    expect(r.stdout).to.match(/ {2}webgpu +f32\[/);
    expect(r.stdout).to.match(/ {2}cpu reference +f32\[/);
    expect(r.stdout).to.contain('OK: WebGPU and the CPU reference agree');
  });
});
