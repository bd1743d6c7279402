/**
 * `npm run fuzz -- [--seconds N] [--only NAME]`: builds the libFuzzer harnesses in fuzz/
 * (clang++ with -fsanitize=fuzzer,address,undefined; Debian clang-14, libfuzzer-14-dev, libclang-rt-14-dev),
 * seeds each corpus from real data, and runs each harness for N seconds (default 60).
 * Exits 1 when a harness crashes, leaks or trips a sanitizer (the input is kept under
 * build-fuzz/crashes/; once fixed, copy it to fuzz/regressions/<harness>-<what> so every run
 * replays it first), 2 when no clang++ is installed.
 *
 * Seeds (real data only): OIP v2 JSON bodies of real speech chunks (linphone's
 * hello16000.wav) and /predict bodies of real February 2001 flights for the JSON scanner;
 * PCM16 slices of real speech (16 kHz WAV, codec2's 8 kHz ve9qrp.raw) for decode+resample;
 * the flights' timestamps as the clients send them for the ISO-8601 parser.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { readWav, chunks } from '../src/audio/wav';
import { vadInferBody } from '../bench/lib/oip';
import { featureDict, flightsParquet, loadFebruaryFlights, predictBody } from '../bench/lib/flights';

const ROOT = path.resolve(__dirname, '../..');
const OUT = path.join(ROOT, 'build-fuzz');
const HELLO_WAV = '/usr/share/sounds/linphone/hello16000.wav';
const CODEC2_RAW = '/usr/share/codec2/raw/ve9qrp.raw';

interface Harness {
  name: string;
  sources: string[];
  seeds: () => Promise<Buffer[]>;
  /** libFuzzer -max_len, where shorter inputs find the same paths faster. */
  maxLen?: number;
}

const HARNESSES: Harness[] = [
  {
    name: 'json_number_arrays',
    sources: ['native/src/json/number_arrays.cc', 'native/src/json/double_buffer.cc'],
    seeds: async () => {
      const speech = chunks(readWav(HELLO_WAV).samples, 1536).slice(0, 6);
      const flights = await loadFebruaryFlights(flightsParquet(ROOT), 8);
      return [
        ...speech.map((c, k) => Buffer.from(vadInferBody(String(k), c))),
        ...Array.from({ length: flights.rows }, (_, i) => predictBody(flights, i)),
      ];
    },
  },
  {
    name: 'pcm_resample',
    sources: ['native/src/audio/resample.cc'],
    // A frame of 2,048 bytes covers every filter edge (the longest filter spans ~100 samples).
    maxLen: 2048,
    seeds: async () => {
      const wav = fs.readFileSync(HELLO_WAV);
      const out: Buffer[] = [];
      // First byte: rate 8000 / 16000 / 48000 (mod 3) and channels (1 + (b / 3) % 2).
      for (let k = 0; k < 6; k++) out.push(Buffer.concat([Buffer.from([1]), wav.subarray(44 + k * 2046, 44 + (k + 1) * 2046)]));
      if (fs.existsSync(CODEC2_RAW)) {
        const raw = fs.readFileSync(CODEC2_RAW);
        for (let k = 0; k < 4; k++) out.push(Buffer.concat([Buffer.from([0]), raw.subarray(k * 2046, (k + 1) * 2046)]));
      }
      return out;
    },
  },
  {
    name: 'iso_time',
    sources: ['native/src/features/iso_time.cc'],
    seeds: async () => {
      const flights = await loadFebruaryFlights(flightsParquet(ROOT), 32);
      const dates = Array.from({ length: flights.rows }, (_, i) => featureDict(flights, i).date);
      return [...dates, '2001-02-03T14:05:00Z', '2001-02-03T14:05:00.250+01:00', ' 2001-02-03 '].map((d) => Buffer.from(d, 'utf16le'));
    },
  },
];

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

function compiler(): string | null {
  for (const c of [process.env.FUZZ_CXX, 'clang++-14', 'clang++'].filter(Boolean) as string[]) {
    if (spawnSync(c, ['--version'], { stdio: 'ignore' }).status === 0) return c;
  }
  return null;
}

async function main(): Promise<number> {
  const seconds = Number(arg('seconds') ?? 60);
  const only = arg('only');
  if (!(seconds > 0)) throw new Error('--seconds must be positive');
  const cxx = compiler();
  if (!cxx) {
    console.error('fuzz: no clang++ found (Debian: apt-get install clang-14 libfuzzer-14-dev libclang-rt-14-dev)');
    return 2;
  }
  let passed = 0;
  let failed = 0;
  for (const h of HARNESSES.filter((x) => !only || x.name === only)) {
    const bin = path.join(OUT, `${h.name}_fuzzer`);
    const corpus = path.join(OUT, 'corpus', h.name);
    const crashes = path.join(OUT, 'crashes');
    fs.mkdirSync(corpus, { recursive: true });
    fs.mkdirSync(crashes, { recursive: true });
    const build = spawnSync(cxx, [
      '-std=c++17', '-g', '-O1', '-fsanitize=fuzzer,address,undefined', '-fno-sanitize-recover=undefined',
      '-I', path.join(ROOT, 'native/src'), path.join(ROOT, 'fuzz', `${h.name}_fuzzer.cc`), ...h.sources.map((s) => path.join(ROOT, s)), '-o', bin,
    ], { encoding: 'utf8' });
    if (build.status !== 0) throw new Error(`fuzz: building ${h.name} failed:\n${build.stderr}`);
    const seeds = await h.seeds();
    seeds.forEach((s, i) => fs.writeFileSync(path.join(corpus, `seed-${i}`), s));
    // Inputs that once failed (fuzz/regressions/<name>-*) run first, once each.
    const regressions = fs.readdirSync(path.join(ROOT, 'fuzz/regressions')).filter((f) => f.startsWith(`${h.name}-`)).map((f) => path.join(ROOT, 'fuzz/regressions', f));
    if (regressions.length > 0) {
      const again = spawnSync(bin, regressions, { encoding: 'utf8' });
      if (again.status !== 0) {
        failed += 1;
        console.log(`fuzz ${h.name}: FAILED on a saved regression input\n${again.stderr.split('\n').slice(-30).join('\n')}`);
        continue;
      }
    }
    const run = spawnSync(bin, [...(h.maxLen ? [`-max_len=${h.maxLen}`] : []), `-max_total_time=${seconds}`, '-timeout=10', '-rss_limit_mb=2048', '-print_final_stats=1', `-artifact_prefix=${crashes}/${h.name}-`, corpus], {
      encoding: 'utf8',
      env: { ...process.env, ASAN_OPTIONS: 'detect_leaks=1:abort_on_error=1', UBSAN_OPTIONS: 'print_stacktrace=1:halt_on_error=1' },
    });
    const runs = /stat::number_of_executed_units:\s*(\d+)/.exec(run.stderr)?.[1] ?? '?';
    const cov = /cov: (\d+)/.exec(run.stderr.split('\n').reverse().find((l) => l.includes('cov:')) ?? '')?.[1] ?? '?';
    if (run.status === 0) {
      passed += 1;
      console.log(`fuzz ${h.name}: ${runs} inputs in ${seconds} s, ${seeds.length} real seeds, coverage ${cov} edges, no crash`);
    } else {
      failed += 1;
      console.log(`fuzz ${h.name}: FAILED (exit ${run.status}); the input is under ${crashes}\n${run.stderr.split('\n').slice(-40).join('\n')}`);
    }
  }
  console.log(`fuzz: ${passed} passed, ${failed} failed`);
  return failed > 0 ? 1 : 0;
}

main().then((code) => process.exit(code), (e: unknown) => {
  console.error(e instanceof Error ? e.message : e);
  process.exit(1);
});
