/**
 * Command-line flags that mirror the original notebooks' parameters, turned into experiment overrides: a
 * pure function from argv to what the CLI should do, so every flag is testable without a process.
 */
import { MrlError } from "../core/errors";
import { DEFAULT_SWEEP_GRID, type FirstStage, type FunnelRule, type SweepGrid } from "../sweep/grid";
import { FIRST_STAGE_GRAMMAR, isFirstStageName } from "../search/firstStages";
import type { ExperimentOverrides } from "./experiment";
import type { FunnelSpec, RerankSpec } from "./types";

export const FLAG_USAGE = `[--experiment FILE] [--root DIR] [--dataset TAG] [--model mrl|mrl_e|ff[,...]] [--model-config CONFIG]
             [--index exactl2|hnsw8|hnsw32[,...]] [--dims 8,16,...] [--k N] [--ef-search N] [--exact-engine nested|faiss]
             [--adaptive DR:DS:L]... [--funnel DR:D1,D2,...:S1,S2,...]... [--recall-denominator class-count|N]
             [--shortlist-format csv|npy] [--rerank-precision float32|float64] [--rerank-access auto|load|rows] [--memory-gb N]
             [--no-index-files] [--force] [--no-wait] [--results DIR] [--no-notebooks] [--shard I/N] [--shards N]
             sweep: [--retrieval-dims 8,16|none] [--shortlists 100,200|none] [--rerank-dims 2048|none] [--exact-dims 16,2048|none]
             [--first-stages exact,hnsw32,ivf256-p16-c8,pq8,opq8,sq8,binary] [--funnel-shortlists 200,...] [--funnel-steps 3,...] [--no-funnels]
             [--sweep-queries N] [--latency-queries N]
             postgres: [--database-url postgres://...] [--pg-dims 16,32] [--pg-ef-search N] [--halfvec]`;

/** How `mrl sweep` runs, beside its grid (which goes into the experiment's "sweep" field). */
export interface SweepRunFlags {
  /** --sweep-queries: evaluate on a seeded sample of this many queries (sweep/sample.ts). */
  queries?: number;
  /** --latency-queries: queries timed one at a time for p50 / p95. */
  latencyQueries?: number;
  /** --no-funnels: the grid without funnels. */
  noFunnels?: boolean;
  /** The grid flags given (e.g. "--shortlists"), so that a grid error can name the flag that set the field. */
  gridFlags: string[];
}

/** The experiment's "sweep" field each grid flag sets. */
export const SWEEP_GRID_FLAGS: Record<string, string> = {
  "--retrieval-dims": "retrievalDims", "--shortlists": "shortlists", "--rerank-dims": "rerankDims", "--exact-dims": "exactDims",
  "--first-stages": "firstStages", "--funnel-shortlists": "funnels.firstShortlists", "--funnel-steps": "funnels.steps",
};

/** A grid error (`sweep grid field "x" ...`) prefixed with the flag that set field x, when a flag did. */
export function withSweepFlag(message: string, gridFlags: readonly string[]): string {
  const field = /sweep grid field "([\w.]+)"/.exec(message)?.[1];
  const flag = gridFlags.find((f) => SWEEP_GRID_FLAGS[f] === field);
  return flag ? `${flag}: ${message}` : message;
}

export interface ParsedFlags {
  /** --experiment, as typed (the caller resolves it). */
  experimentFile?: string;
  overrides: ExperimentOverrides;
  /** Paths as typed: resolve them against where the user typed the command. */
  paths: { root?: string; results?: string };
  force: boolean;
  /** --no-wait: when another run holds the root, stop at once instead of waiting for it (core/lock.ts). */
  wait: boolean;
  notebooks: boolean;
  sweep: SweepRunFlags;
  positional: string[];
  /** The experiment fields the flags set, so an error about one names the flag the user typed. */
  origins: FlagOrigin[];
  /** --shard I/N as typed (shard/plan.ts parses it, with the scheduler's variables). */
  shard?: string;
  /** --shards N: the shard count (a merge's, or beside JOB_COMPLETION_INDEX). */
  shards?: number;
}

/** An experiment field (or list item, e.g. `funnels[1]`, whose position is `index`) and the flag and value that set it. */
export interface FlagOrigin { field: string; flag: string; value: string; index?: number }

/** The experiment field each plain flag sets (--adaptive and --funnel set one list item each). */
const FLAG_FIELDS: Record<string, string> = {
  "--root": "root", "--dataset": "dataset", "--model": "models", "--model-config": "models", "--index": "indexTypes", "--dims": "nesting",
  "--k": "k", "--ef-search": "efSearch", "--exact-engine": "exactEngine", "--recall-denominator": "recallDenominator",
  "--shortlist-format": "shortlistFormat", "--rerank-precision": "rerankPrecision", "--rerank-access": "rerankAccess",
  "--memory-gb": "memoryGb",
  "--database-url": "postgres.databaseUrl", "--pg-dims": "postgres.dims", "--pg-ef-search": "postgres.efSearch",
};

/**
 * An error a stage raised about a setting a flag gave (the memory budget: the stages name the array file), with
 * the flag and its value in front; other errors unchanged.
 */
export function blameStageFlag(err: unknown, origins: readonly FlagOrigin[]): unknown {
  const budget = origins.find((o) => o.flag === "--memory-gb");
  if (err instanceof MrlError && budget && /memory budget/.test(err.message)) return new MrlError(`${budget.flag} "${budget.value}": ${err.message}`);
  // a setting the stage names at the start of its message (postgres.databaseUrl, postgres.dims) is named by its flag
  const setting = err instanceof MrlError ? origins.find((o) => o.field.startsWith("postgres.") && err.message.startsWith(`${o.field} `)) : undefined;
  if (setting) return new MrlError(`${setting.flag} ${(err as MrlError).message.slice(setting.field.length + 1)}`);
  return err;
}

/**
 * An experiment error about a field a flag set (`<file>: field "funnels[0].shortlists" is ...; expected ...`) as
 * the same problem told about the flag (`--funnel "8:16,32:10,20": shortlists is [10,20]; expected ...`); other
 * errors unchanged.
 */
export function blameFlag(err: unknown, origins: readonly FlagOrigin[]): unknown {
  if (!(err instanceof MrlError)) return err;
  const problem = err.file && err.message.startsWith(`${err.file}: `) ? err.message.slice(err.file.length + 2) : err.message;
  const m = /^field "([^"]+)" (is .*?); (expected .*)$/s.exec(problem);
  if (!m) return err;
  const [, field, is, expected] = m;
  const origin = [...origins].reverse().find((o) => field === o.field || field.startsWith(`${o.field}.`) || field.startsWith(`${o.field}[`));
  if (!origin) return err;
  const inner = field.slice(origin.field.length).replace(/^\[\d+\]/, "").replace(/^\./, "");
  return new MrlError(`${origin.flag} "${origin.value}": ${inner ? `${inner} ${is}; ` : ""}${expected}`);
}

const bad = (flag: string, value: string, expected: string): never => {
  throw new MrlError(`${flag} "${value}" does not parse; expected ${expected}`);
};

/** Digits only, and not zero. */
const isPositiveInteger = (text: string): boolean => /^\d+$/.test(text) && Number(text) > 0;

function positiveInteger(flag: string, text: string): number {
  return isPositiveInteger(text) ? Number(text) : bad(flag, text, "a positive integer");
}

function integerList(flag: string, text: string, example: string): number[] {
  const parts = text.split(",");
  if (!parts.every((p) => isPositiveInteger(p.trim()))) bad(flag, text, `comma-separated positive integers (e.g. ${example})`);
  return parts.map(Number);
}

/** A grid axis: comma-separated positive integers, or "none" for an empty axis (e.g. no exact baselines). */
function gridAxis(flag: string, text: string, example: string): number[] {
  return text === "none" ? [] : integerList(flag, text, `${example}, or none`);
}

/** `--first-stages exact,hnsw32,ivf256-p16-c8`: first-stage specs (search/firstStages.ts), at least one. */
function firstStages(flag: string, text: string): FirstStage[] {
  const names = text.split(",").map((s) => s.trim());
  return names.every(isFirstStageName) ? names : bad(flag, text, `comma-separated first stages (${FIRST_STAGE_GRAMMAR})`);
}

/** `--adaptive DR:DS:L`, e.g. 16:2048:200 (shortlist at 16 dims, rerank the first 200 at 2048). */
export function parseAdaptive(text: string): RerankSpec {
  const expected = "DR:DS:L, e.g. 16:2048:200 (retrieve at 16 dims, rerank the first 200 at 2048)";
  const parts = text.split(":");
  if (parts.length !== 3 || !parts.every(isPositiveInteger)) bad("--adaptive", text, expected);
  return { retrievalDim: Number(parts[0]), rerankDim: Number(parts[1]), shortlist: Number(parts[2]) };
}

/** `--funnel DR:D1,D2,...:S1,S2,...`, e.g. 8:16,32,64,128,2048:200,100,50,25,10. */
export function parseFunnel(text: string): FunnelSpec {
  const expected = "DR:D1,D2,...:S1,S2,..., e.g. 8:16,32,64,128,2048:200,100,50,25,10 (as many dims as shortlists)";
  const parts = text.split(":");
  if (parts.length !== 3 || !isPositiveInteger(parts[0])) bad("--funnel", text, expected);
  const list = (p: string): number[] => (p.split(",").every(isPositiveInteger) ? p.split(",").map(Number) : bad("--funnel", text, expected));
  const dims = list(parts[1]), shortlists = list(parts[2]);
  if (dims.length !== shortlists.length) bad("--funnel", text, expected);
  return { retrievalDim: Number(parts[0]), dims, shortlists };
}

/** Parses the flags after the command name. Unknown flags and values that do not parse are one-line errors. */
export function parseFlags(args: string[]): ParsedFlags {
  const out: ParsedFlags = { overrides: {}, paths: {}, force: false, wait: true, notebooks: true, sweep: { gridFlags: [] }, positional: [], origins: [] };
  const o = out.overrides;
  const grid: Partial<SweepGrid> = {}, funnelRule: Partial<FunnelRule> = {};
  const adaptive: RerankSpec[] = [], funnels: FunnelSpec[] = [];
  const value = (i: number): string => {
    if (i >= args.length || args[i].startsWith("--")) throw new MrlError(`option ${args[i - 1]} needs a value`);
    return args[i];
  };
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a in FLAG_FIELDS && i + 1 < args.length) out.origins.push({ field: FLAG_FIELDS[a], flag: a, value: args[i + 1] });
    if (a === "--adaptive" && i + 1 < args.length) out.origins.push({ field: `adaptive[${adaptive.length}]`, flag: a, value: args[i + 1], index: adaptive.length });
    if (a === "--funnel" && i + 1 < args.length) out.origins.push({ field: `funnels[${funnels.length}]`, flag: a, value: args[i + 1], index: funnels.length });
    if (a in SWEEP_GRID_FLAGS && !out.sweep.gridFlags.includes(a)) out.sweep.gridFlags.push(a);
    if (a === "--experiment") out.experimentFile = value(++i);
    else if (a === "--root") out.paths.root = value(++i);
    else if (a === "--results") out.paths.results = value(++i);
    else if (a === "--dataset") o.dataset = value(++i);
    else if (a === "--model") o.models = value(++i).split(",");
    else if (a === "--model-config") o.models = [value(++i)];
    else if (a === "--index") o.indexTypes = value(++i).split(",") as ExperimentOverrides["indexTypes"];
    else if (a === "--dims") o.nesting = integerList(a, value(++i), "8,16,32,64,2048");
    else if (a === "--k") o.k = positiveInteger(a, value(++i));
    else if (a === "--ef-search") o.efSearch = positiveInteger(a, value(++i));
    else if (a === "--exact-engine") o.exactEngine = value(++i) as ExperimentOverrides["exactEngine"];
    else if (a === "--adaptive") adaptive.push(parseAdaptive(value(++i)));
    else if (a === "--funnel") funnels.push(parseFunnel(value(++i)));
    else if (a === "--recall-denominator") {
      const v = value(++i);
      o.recallDenominator = v === "class-count" ? v : isPositiveInteger(v) ? Number(v) : bad(a, v, 'class-count or a positive integer (the original: 1300)');
    } else if (a === "--shortlist-format") o.shortlistFormat = value(++i) as ExperimentOverrides["shortlistFormat"];
    else if (a === "--rerank-precision") o.rerankPrecision = value(++i) as ExperimentOverrides["rerankPrecision"];
    else if (a === "--rerank-access") o.rerankAccess = value(++i) as ExperimentOverrides["rerankAccess"];
    else if (a === "--memory-gb") {
      const v = value(++i);
      o.memoryGb = Number.isFinite(Number(v)) && Number(v) > 0 ? Number(v) : bad(a, v, "a positive number of GB (e.g. 4 or 0.5)");
    } else if (a === "--no-index-files") o.indexFiles = false;
    else if (a === "--force") out.force = true;
    else if (a === "--no-wait") out.wait = false;
    else if (a === "--no-notebooks") out.notebooks = false;
    else if (a === "--shard") out.shard = value(++i);
    else if (a === "--shards") out.shards = positiveInteger(a, value(++i));
    else if (a === "--retrieval-dims") grid.retrievalDims = gridAxis(a, value(++i), "8,16");
    else if (a === "--shortlists") grid.shortlists = gridAxis(a, value(++i), "100,200,400");
    else if (a === "--rerank-dims") grid.rerankDims = gridAxis(a, value(++i), "256,2048");
    else if (a === "--exact-dims") grid.exactDims = gridAxis(a, value(++i), "16,2048");
    else if (a === "--first-stages") grid.firstStages = firstStages(a, value(++i));
    else if (a === "--funnel-shortlists") funnelRule.firstShortlists = integerList(a, value(++i), "200,400");
    else if (a === "--funnel-steps") funnelRule.steps = integerList(a, value(++i), "3,5");
    else if (a === "--no-funnels") out.sweep.noFunnels = true;
    else if (a === "--database-url") o.postgres = { ...o.postgres, databaseUrl: value(++i) };
    else if (a === "--pg-dims") o.postgres = { ...o.postgres, dims: integerList(a, value(++i), "16,32") };
    else if (a === "--pg-ef-search") o.postgres = { ...o.postgres, efSearch: positiveInteger(a, value(++i)) };
    else if (a === "--halfvec") o.postgres = { ...o.postgres, halfvec: true };
    else if (a === "--sweep-queries") out.sweep.queries = positiveInteger(a, value(++i));
    else if (a === "--latency-queries") out.sweep.latencyQueries = positiveInteger(a, value(++i));
    else if (a.startsWith("--")) throw new MrlError(`unknown option ${a}; expected one of: ${FLAG_USAGE.replace(/\s+/g, " ")}`);
    else out.positional.push(a);
  }
  if (adaptive.length > 0) o.adaptive = adaptive;
  if (funnels.length > 0) o.funnels = funnels;
  if (out.sweep.noFunnels && Object.keys(funnelRule).length > 0) {
    throw new MrlError("--no-funnels and --funnel-shortlists / --funnel-steps contradict each other; expected one or the other");
  }
  if (Object.keys(funnelRule).length > 0) grid.funnels = funnelRule as FunnelRule;
  if (Object.keys(grid).length > 0) o.sweep = grid;
  return out;
}

/**
 * The funnel rule after --funnel-shortlists / --funnel-steps: the flags' fields over the experiment file's rule, or
 * over the default grid's when the file has none (a rule needs both fields). Undefined when no funnel flag was given.
 */
export function fitSweepFunnels(base: Partial<SweepGrid> | undefined, o: ExperimentOverrides): FunnelRule | undefined {
  const flags = o.sweep?.funnels;
  return flags ? { ...DEFAULT_SWEEP_GRID.funnels!, ...base?.funnels, ...flags } as FunnelRule : undefined;
}

/**
 * When flags change the nesting dims or k but name no adaptive / funnel configurations, the experiment's own
 * ones that no longer fit (retrieval dim not searched, shortlist over k) are left out rather than failing;
 * returns the overrides to apply and a note saying what was left out.
 */
export function fitRerankConfigs(base: { nesting: number[]; k: number; adaptive: RerankSpec[]; funnels: FunnelSpec[] }, o: ExperimentOverrides):
  { adaptive?: RerankSpec[]; funnels?: FunnelSpec[]; note?: string } {
  const nesting = o.nesting ?? base.nesting, k = o.k ?? base.k;
  const fits = (dim: number, shortlist: number): boolean => nesting.includes(dim) && shortlist <= k;
  const result: { adaptive?: RerankSpec[]; funnels?: FunnelSpec[]; note?: string } = {};
  const dropped: string[] = [];
  if (!o.adaptive) {
    const kept = base.adaptive.filter((a) => fits(a.retrievalDim, a.shortlist));
    base.adaptive.filter((a) => !kept.includes(a)).forEach((a) => dropped.push(`adaptive ${a.retrievalDim}:${a.rerankDim}:${a.shortlist}`));
    if (kept.length !== base.adaptive.length) result.adaptive = kept;
  }
  if (!o.funnels) {
    const kept = base.funnels.filter((f) => fits(f.retrievalDim, f.shortlists[0]));
    base.funnels.filter((f) => !kept.includes(f)).forEach((f) => dropped.push(`funnel ${f.retrievalDim}:${f.dims}:${f.shortlists}`));
    if (kept.length !== base.funnels.length) result.funnels = kept;
  }
  if (dropped.length > 0) result.note = `left out (their retrieval dim is not among --dims or their shortlist is over --k): ${dropped.join("; ")}`;
  return result;
}
